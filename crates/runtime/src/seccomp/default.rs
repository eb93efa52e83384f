//! The default profile: the effect of Docker's default seccomp profile on x86_64 and aarch64.
//!
//! An allowlist: the default action is `ERRNO(EPERM)`. Allowed always: the ordinary
//! process, file, memory, signal, socket, IPC and time calls. Allowed only with
//! arguments: `personality` (the personas Docker allows), `socket` (not AF_VSOCK),
//! `clone` (no namespace flags) unless CAP_SYS_ADMIN is held. `clone3` answers ENOSYS
//! without CAP_SYS_ADMIN (its flags are in memory, so they cannot be checked; ENOSYS
//! makes glibc fall back to clone). Allowed only with a capability, as Docker does:
//! mount, unshare, setns, bpf, ... (CAP_SYS_ADMIN), init_module and friends
//! (CAP_SYS_MODULE), reboot, chroot, acct, ptrace-like calls, iopl/ioperm, clock
//! setting, vhangup, NUMA policy calls, syslog, open_by_handle_at. Never allowed:
//! keyctl/add_key/request_key, userfaultfd, kexec, pivot_root, swapon/swapoff, the
//! io_uring calls (Docker removed them), vm86, uselib, ustat, sysfs, _sysctl, nfsservctl.

use super::{Arch, Cond, Filter, Op, Rule, RET_ALLOW, RET_ERRNO};

/// Always allowed (names that do not exist on the architecture are skipped).
const ALLOWED: &str = "accept accept4 access adjtimex alarm bind brk cachestat capget capset \
chdir chmod chown clock_adjtime clock_getres clock_gettime clock_nanosleep close close_range \
connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old \
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit \
exit_group faccessat faccessat2 fadvise64 fallocate fanotify_mark fchdir fchmod fchmodat \
fchmodat2 fchown fchownat fcntl fdatasync fgetxattr flistxattr flock fork fremovexattr \
fsetxattr fstat fstatfs fsync ftruncate futex futex_requeue futex_wait futex_waitv futex_wake \
futimesat getcpu getcwd getdents getdents64 getegid geteuid getgid getgroups getitimer \
getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresuid \
getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid \
gettimeofday getuid getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch \
io_cancel ioctl io_destroy io_getevents io_pgetevents ioprio_get ioprio_set io_setup \
io_submit kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown \
lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat madvise \
map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat \
mlock mlock2 mlockall mmap mprotect mq_getsetattr mq_notify mq_open mq_timedreceive \
mq_timedsend mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall \
munmap nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 \
pkey_alloc pkey_free pkey_mprotect poll ppoll prctl pread64 preadv preadv2 prlimit64 \
process_mrelease pselect6 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv \
recvfrom recvmmsg recvmsg remap_file_pages removexattr rename renameat renameat2 \
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo \
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity sched_getattr \
sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler \
sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam sched_setscheduler \
sched_yield seccomp select semctl semget semop semtimedop sendfile sendmmsg sendmsg sendto \
setfsgid setfsuid setgid setgroups setitimer setpgid setpriority setregid setresgid setresuid \
setreuid setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid \
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 socketpair splice \
stat statfs statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time \
timer_create timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create \
timerfd_gettime timerfd_settime times tkill truncate umask uname unlink unlinkat utime \
utimensat utimes vfork vmsplice wait4 waitid write writev \
arch_prctl modify_ldt ptrace process_vm_readv process_vm_writev";

/// Allowed when the container holds the capability (number, names).
const WITH_CAP: &[(u32, &str)] = &[
    (
        21, // CAP_SYS_ADMIN
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount \
         mount_setattr move_mount name_to_handle_at open_tree perf_event_open quotactl \
         quotactl_fd setdomainname sethostname setns syslog umount2 unshare",
    ),
    (22, "reboot"),                                 // CAP_SYS_BOOT
    (18, "chroot"),                                 // CAP_SYS_CHROOT
    (16, "delete_module init_module finit_module"), // CAP_SYS_MODULE
    (20, "acct"),                                   // CAP_SYS_PACCT
    (19, "kcmp pidfd_getfd process_madvise"),       // CAP_SYS_PTRACE
    (17, "iopl ioperm"),                            // CAP_SYS_RAWIO
    (25, "settimeofday clock_settime"),             // CAP_SYS_TIME
    (26, "vhangup"),                                // CAP_SYS_TTY_CONFIG
    (
        23,
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node move_pages",
    ), // CAP_SYS_NICE
    (34, "syslog"),                                 // CAP_SYSLOG
    (39, "bpf"),                                    // CAP_BPF
    (38, "perf_event_open"),                        // CAP_PERFMON
    (2, "open_by_handle_at"),                       // CAP_DAC_READ_SEARCH
];

const CAP_SYS_ADMIN: u32 = 21;
/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;
/// The personas Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and
/// 0xffffffff (query).
const PERSONAS: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];
const AF_VSOCK: u64 = 40;

/// The default filter for a container holding the capability set `caps`.
pub(crate) fn profile(arch: Arch, caps: u64) -> Filter {
    let mut rules = Vec::new();
    let allow = |names: &str, conds: Vec<Cond>, rules: &mut Vec<Rule>| {
        for name in names.split_whitespace() {
            if let Some(nr) = arch.syscall_nr(name) {
                rules.push(Rule {
                    nr,
                    conds: conds.clone(),
                    action: RET_ALLOW,
                });
            }
        }
    };
    allow(ALLOWED, vec![], &mut rules);
    for (cap, names) in WITH_CAP {
        if caps & (1 << cap) != 0 {
            allow(names, vec![], &mut rules);
        }
    }
    for p in PERSONAS {
        allow(
            "personality",
            vec![Cond {
                arg: 0,
                op: Op::Eq,
                value: p,
            }],
            &mut rules,
        );
    }
    allow(
        "socket",
        vec![Cond {
            arg: 0,
            op: Op::Ne,
            value: AF_VSOCK,
        }],
        &mut rules,
    );
    if caps & (1 << CAP_SYS_ADMIN) == 0 {
        allow(
            "clone",
            vec![Cond {
                arg: 0,
                op: Op::MaskedEq(CLONE_NAMESPACE_FLAGS),
                value: 0,
            }],
            &mut rules,
        );
        if let Some(nr) = arch.syscall_nr("clone3") {
            rules.push(Rule {
                nr,
                conds: vec![],
                action: RET_ERRNO | libc::ENOSYS as u32,
            });
        }
    }
    Filter {
        default_action: RET_ERRNO | libc::EPERM as u32,
        rules,
    }
}
