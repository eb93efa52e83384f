//! The compiled programs are run in a small classic-BPF interpreter, so the profile's
//! effect is tested without installing anything.

use super::*;

const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

/// Run `p` on a `seccomp_data` for syscall `name` with `args` (x86_64 unless `arch`).
fn run_arch(p: &Program, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let insns = p.insns();
    let (mut pc, mut acc) = (0usize, 0u32);
    for _ in 0..100_000 {
        let i = insns[pc];
        let class = u32::from(i.code) & 0x07;
        match class {
            c if c == libc::BPF_LD => {
                let off = i.k as usize;
                acc = u32::from_le_bytes(data[off..off + 4].try_into().unwrap());
                pc += 1;
            }
            c if c == libc::BPF_ALU => {
                assert_eq!(
                    u32::from(i.code),
                    libc::BPF_ALU | libc::BPF_AND | libc::BPF_K
                );
                acc &= i.k;
                pc += 1;
            }
            c if c == libc::BPF_RET => return i.k,
            c if c == libc::BPF_JMP => {
                let op = u32::from(i.code) & 0xf0;
                if op == libc::BPF_JA {
                    pc += 1 + i.k as usize;
                    continue;
                }
                let taken = match op {
                    o if o == libc::BPF_JEQ => acc == i.k,
                    o if o == libc::BPF_JGT => acc > i.k,
                    o if o == libc::BPF_JGE => acc >= i.k,
                    o => panic!("unexpected jump {o:#x}"),
                };
                pc += 1 + usize::from(if taken { i.jt } else { i.jf });
            }
            c => panic!("unexpected class {c}"),
        }
    }
    panic!("program did not return");
}

fn run(p: &Program, name: &str, args: [u64; 6]) -> u32 {
    run_arch(
        p,
        AUDIT_ARCH_X86_64,
        Arch::X86_64.syscall_nr(name).expect(name),
        args,
    )
}

fn default_program(caps: u64) -> Program {
    default::profile(Arch::X86_64, caps)
        .compile(Arch::X86_64)
        .unwrap()
}

#[test]
fn default_profile_allows_the_usual_and_blocks_what_docker_blocks() {
    let p = default_program(crate::caps::default_mask());
    assert!(p.insns().len() < 1500, "{} instructions", p.insns().len());
    for ok in [
        "read",
        "write",
        "openat",
        "execve",
        "mmap",
        "futex",
        "exit_group",
        "capset",
        "setresuid",
        "prctl",
        "close_range",
        "chown",
        "kill",
        "epoll_wait",
        "ptrace",
    ] {
        assert_eq!(run(&p, ok, [0; 6]), RET_ALLOW, "{ok}");
    }
    for denied in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "keyctl",
        "add_key",
        "request_key",
        "init_module",
        "finit_module",
        "delete_module",
        "kexec_load",
        "pivot_root",
        "reboot",
        "swapon",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "open_by_handle_at",
        "acct",
        "settimeofday",
        "clock_settime",
        "iopl",
        "chroot_",
        "io_uring_setup",
        "sethostname",
    ] {
        let Some(nr) = Arch::X86_64.syscall_nr(denied) else {
            assert_eq!(denied, "chroot_");
            continue;
        };
        assert_eq!(
            run_arch(&p, AUDIT_ARCH_X86_64, nr, [0; 6]),
            EPERM,
            "{denied}"
        );
    }
    // chroot is allowed: CAP_SYS_CHROOT is a default capability.
    assert_eq!(run(&p, "chroot", [0; 6]), RET_ALLOW);
    // Arguments: clone without namespace flags, personality personas, not AF_VSOCK.
    let sigchld = libc::SIGCHLD as u64;
    assert_eq!(run(&p, "clone", [sigchld, 0, 0, 0, 0, 0]), RET_ALLOW);
    let newns = (libc::CLONE_NEWNS as u64) | sigchld;
    assert_eq!(run(&p, "clone", [newns, 0, 0, 0, 0, 0]), EPERM);
    let newuser = libc::CLONE_NEWUSER as u64;
    assert_eq!(run(&p, "clone", [newuser, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(&p, "clone3", [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
    assert_eq!(
        run(&p, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(run(&p, "personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&p, "personality", [0x0040_0000, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        run(&p, "socket", [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(run(&p, "socket", [40, 1, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        run(&p, "socket", [40 | 1 << 32, 1, 0, 0, 0, 0]),
        RET_ALLOW,
        "64-bit compare"
    );
    // Unknown numbers, x32 and foreign architectures.
    assert_eq!(run_arch(&p, AUDIT_ARCH_X86_64, 999, [0; 6]), EPERM);
    assert_eq!(
        run_arch(&p, AUDIT_ARCH_X86_64, 0x4000_0000, [0; 6]),
        RET_KILL_PROCESS
    );
    assert_eq!(run_arch(&p, 0x4000_0003, 0, [0; 6]), RET_KILL_PROCESS);
}

#[test]
fn default_profile_follows_capabilities() {
    let admin = crate::caps::default_mask() | 1 << 21 | 1 << 16;
    let p = default_program(admin);
    for ok in [
        "mount",
        "unshare",
        "setns",
        "sethostname",
        "clone3",
        "init_module",
    ] {
        assert_eq!(run(&p, ok, [0; 6]), RET_ALLOW, "{ok}");
    }
    let newns = libc::CLONE_NEWNS as u64;
    assert_eq!(run(&p, "clone", [newns, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        run(&p, "keyctl", [0; 6]),
        EPERM,
        "no capability unlocks keyctl"
    );
    let p = default_program(0);
    assert_eq!(
        run(&p, "chroot", [0; 6]),
        EPERM,
        "chroot needs CAP_SYS_CHROOT"
    );
}

#[test]
fn comparisons_are_64_bit_and_exact() {
    let nr = Arch::X86_64.syscall_nr("read").unwrap();
    let c = |op, value| Cond { arg: 1, op, value };
    let cases: [(Op, u64, u64, bool); 14] = [
        (Op::Eq, 5, 5, true),
        (Op::Eq, 5, 5 | 1 << 32, false),
        (Op::Ne, 5, 6, true),
        (Op::Ne, 5, 5, false),
        (Op::Gt, 5, 6, true),
        (Op::Gt, 5, 5, false),
        (Op::Gt, 1 << 32, 5, false),
        (Op::Gt, 5, 1 << 32, true),
        (Op::Ge, 5, 5, true),
        (Op::Lt, 5, 4, true),
        (Op::Lt, 5, 1 << 32, false),
        (Op::Le, 5, 5, true),
        (Op::Le, 1 << 32 | 7, 1 << 32 | 8, false),
        (Op::MaskedEq(0xff00), 0x1200, 0x0055_1234, true),
    ];
    for (op, value, arg, want) in cases {
        let f = Filter {
            default_action: EPERM,
            rules: vec![Rule {
                nr,
                conds: vec![c(op, value)],
                action: RET_ALLOW,
            }],
        };
        let got = run(
            &f.compile(Arch::X86_64).unwrap(),
            "read",
            [0, arg, 0, 0, 0, 0],
        );
        assert_eq!(got == RET_ALLOW, want, "{op:?} {value:#x} vs {arg:#x}");
    }
}

const SAMPLE: &str = r#"{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["read", "write", "exit_group", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]},
     "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
    {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
    {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"}
  ]
}"#;

#[test]
fn docker_profiles_parse_with_docker_semantics() {
    let f =
        parse_docker_profile(Arch::X86_64, SAMPLE.as_bytes(), crate::caps::default_mask()).unwrap();
    let p = f.compile(Arch::X86_64).unwrap();
    assert_eq!(run(&p, "read", [0; 6]), RET_ALLOW);
    assert_eq!(run(&p, "getpid", [0; 6]), RET_ERRNO | 38);
    assert_eq!(
        run(&p, "personality", [8, 0, 0, 0, 0, 0]),
        RET_ALLOW,
        "OR on one arg"
    );
    assert_eq!(run(&p, "personality", [0; 6]), RET_ALLOW);
    assert_eq!(run(&p, "personality", [3, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(&p, "mount", [0; 6]), EPERM, "needs CAP_SYS_ADMIN");
    assert_eq!(run(&p, "clone", [0x11, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&p, "ptrace", [0; 6]), EPERM, "minKernel not reached");
    assert_eq!(
        run(&p, "arch_prctl", [0; 6]),
        EPERM,
        "other architecture only"
    );
    assert_eq!(run(&p, "kill", [0; 6]), RET_KILL_PROCESS);
    let admin = parse_docker_profile(Arch::X86_64, SAMPLE.as_bytes(), 1 << 21)
        .unwrap()
        .compile(Arch::X86_64)
        .unwrap();
    assert_eq!(run(&admin, "mount", [0; 6]), RET_ALLOW);
    assert_eq!(
        run(&admin, "clone", [0x11, 0, 0, 0, 0, 0]),
        EPERM,
        "excluded with SYS_ADMIN"
    );

    for (bad, want) in [
        ("{", "EOF"),
        (r#"{"syscalls": []}"#, "defaultAction"),
        (r#"{"defaultAction": "SCMP_ACT_NOPE"}"#, "unknown action"),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "syscalls[0]: argument index 9",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_NOPE"]}}]}"#,
            "unknown capability",
        ),
    ] {
        let err = parse_docker_profile(Arch::X86_64, bad.as_bytes(), 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{bad}: {err}");
    }
}

#[test]
fn prepare_caches_programs_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let caps = crate::caps::default_mask();
    assert!(prepare(&SeccompProfile::Unconfined, caps, Some(&cache))
        .unwrap()
        .is_none());
    let first = prepare(&SeccompProfile::Default, caps, Some(&cache))
        .unwrap()
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "one cached program");
    let cached = files[0].path();
    assert_eq!(std::fs::read(&cached).unwrap(), first.to_bytes());
    // A cache hit returns the stored program: prove it by planting a different one.
    let planted = Filter {
        default_action: RET_ALLOW,
        rules: vec![],
    }
    .compile(Arch::X86_64)
    .unwrap();
    std::fs::write(&cached, planted.to_bytes()).unwrap();
    let again = prepare(&SeccompProfile::Default, caps, Some(&cache))
        .unwrap()
        .unwrap();
    assert_eq!(again.to_bytes(), planted.to_bytes());
    // Other capabilities, another entry.
    prepare(&SeccompProfile::Default, caps | 1 << 21, Some(&cache)).unwrap();
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);

    let file = dir.path().join("profile.json");
    std::fs::write(&file, SAMPLE).unwrap();
    let p = prepare(&SeccompProfile::File(file.clone()), caps, None)
        .unwrap()
        .unwrap();
    assert_eq!(run(&p, "getpid", [0; 6]), RET_ERRNO | 38);
    std::fs::write(&file, "{ not json").unwrap();
    let err = prepare(&SeccompProfile::File(file.clone()), caps, Some(&cache)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("profile.json is not a valid Docker seccomp profile"),
        "{msg}"
    );
    assert!(msg.contains("seccomp=unconfined"), "{msg}");
    let err = prepare(
        &SeccompProfile::File(dir.path().join("missing.json")),
        caps,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
}

#[test]
fn aarch64_filters_use_its_numbers_and_audit_arch() {
    let arm = Arch::Aarch64;
    let p = default::profile(arm, crate::caps::default_mask())
        .compile(arm)
        .unwrap();
    let nr = |name: &str| arm.syscall_nr(name).expect(name);
    assert_eq!(
        (nr("read"), nr("openat"), nr("clone"), nr("clone3")),
        (63, 56, 220, 435)
    );
    assert_eq!(arm.syscall_nr("open"), None, "aarch64 has only openat");
    assert_eq!(arm.syscall_nr("arch_prctl"), None);
    assert_eq!(
        run_arch(&p, AUDIT_ARCH_AARCH64, nr("openat"), [0; 6]),
        RET_ALLOW
    );
    assert_eq!(run_arch(&p, AUDIT_ARCH_AARCH64, nr("mount"), [0; 6]), EPERM);
    assert_eq!(
        run_arch(&p, AUDIT_ARCH_AARCH64, nr("clone3"), [0; 6]),
        RET_ERRNO | libc::ENOSYS as u32
    );
    let new_net = 0x4000_0000;
    assert_eq!(
        run_arch(
            &p,
            AUDIT_ARCH_AARCH64,
            nr("clone"),
            [new_net, 0, 0, 0, 0, 0]
        ),
        EPERM
    );
    assert_eq!(
        run_arch(&p, AUDIT_ARCH_AARCH64, nr("clone"), [0x11, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    // 0x4000_0000 is no x32 bit on aarch64: an unknown number, denied but not killed.
    assert_eq!(run_arch(&p, AUDIT_ARCH_AARCH64, 0x4000_0000, [0; 6]), EPERM);
    // Another architecture's calls (x86_64, 32-bit arm) are killed.
    assert_eq!(run_arch(&p, AUDIT_ARCH_X86_64, 0, [0; 6]), RET_KILL_PROCESS);
    assert_eq!(run_arch(&p, 0x4000_0028, 3, [0; 6]), RET_KILL_PROCESS);
    // A profile's arch-specific entries follow Docker's names for it.
    let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}}]}"#;
    let p = parse_docker_profile(arm, json.as_bytes(), 0)
        .unwrap()
        .compile(arm)
        .unwrap();
    assert_eq!(
        run_arch(&p, AUDIT_ARCH_AARCH64, nr("read"), [0; 6]),
        RET_ALLOW
    );
    assert_eq!(run_arch(&p, AUDIT_ARCH_AARCH64, nr("write"), [0; 6]), EPERM);
}

#[test]
fn every_table_names_each_call_once() {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let table: Vec<_> = arch.syscalls().iter().chain(unified::SYSCALLS).collect();
        for (i, (name, nr)) in table.iter().enumerate() {
            assert!(
                !table[..i].iter().any(|(n, m)| n == name || m == nr),
                "{arch:?}: {name} {nr} repeated"
            );
        }
    }
    assert_eq!(
        Arch::native().unwrap(),
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    );
}
