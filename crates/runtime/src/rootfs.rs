//! Build the container's root inside its new mount namespace (child side): rprivate,
//! overlay, /proc, /sys, /dev, the user's mounts, hostname, pivot_root, masked and
//! read-only paths.
//!
//! Mount targets are resolved with openat2(RESOLVE_IN_ROOT) below the overlay root and
//! mounted through `/proc/self/fd/N`, so a symlink in an image cannot redirect a mount
//! onto the host. Allocation-free: the plan is prepared by the parent.

use crate::child::{Reporter, StackPath};
use crate::mount_spec::MountKind;
use crate::sys::{errno, make_readonly_recursive, open_in_root};
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

/// One user mount, prepared by the parent.
pub(crate) struct PreparedMount {
    pub kind: MountKind,
    pub source: CString,
    /// Target relative to the container root (no leading '/').
    pub target: CString,
    pub is_dir: bool,
    pub read_only: bool,
    /// tmpfs: the mount flags (read-only included).
    pub flags: libc::c_ulong,
    /// tmpfs: the file system data (`size=…,mode=…`).
    pub data: Option<CString>,
    /// Binds: the propagation to set once mounted; 0 leaves it as made.
    pub propagation: libc::c_ulong,
}

/// The root file system to build, prepared by the parent.
pub(crate) struct RootfsPlan {
    pub merged: CString,
    pub overlay_data: CString,
    pub new_netns: bool,
    pub hostname: CString,
    pub mounts: Vec<PreparedMount>,
    /// The propagation `/` gets first: rprivate, or rslave when a bind is
    /// to receive the host's mount events.
    pub root_propagation: libc::c_ulong,
    /// What to mount on /dev/shm.
    pub shm: ShmPlan,
    /// Empty = leave the (new, empty) domain name alone.
    pub domainname: CString,
    /// (`/proc/sys/...` file, value), written before /proc/sys becomes read-only.
    pub sysctls: Vec<(CString, CString)>,
    /// Writable /sys, no masked or read-only paths.
    pub privileged: bool,
    /// Device nodes to create (explicit `devices`, or every host device when
    /// privileged).
    pub devices: Vec<crate::options::DeviceNode>,
}

/// The /dev/shm of a container: POSIX shared memory lives there, so containers
/// sharing an IPC namespace share it too.
pub(crate) enum ShmPlan {
    /// A tmpfs of its own, with these options (`mode=1777,size=N`).
    Tmpfs(CString),
    /// None (`ipc: none`).
    Absent,
    /// The host's /dev/shm (`ipc: host`).
    Host,
    /// The /dev/shm of the container whose mount namespace this descriptor (open
    /// in the parent) refers to: the one whose IPC namespace it joins.
    Joined(RawFd),
}

const DEVICES: [(&CStr, u32, u32); 6] = [
    (c"null", 1, 3),
    (c"zero", 1, 5),
    (c"full", 1, 7),
    (c"random", 1, 8),
    (c"urandom", 1, 9),
    (c"tty", 5, 0),
];

const DEV_LINKS: [(&CStr, &CStr); 5] = [
    (c"fd", c"/proc/self/fd"),
    (c"stdin", c"/proc/self/fd/0"),
    (c"stdout", c"/proc/self/fd/1"),
    (c"stderr", c"/proc/self/fd/2"),
    (c"ptmx", c"pts/ptmx"),
];

/// Docker's masked paths: /dev/null over files, an empty read-only tmpfs over dirs.
const MASKED: [&CStr; 11] = [
    c"/proc/asound",
    c"/proc/acpi",
    c"/proc/kcore",
    c"/proc/keys",
    c"/proc/latency_stats",
    c"/proc/timer_list",
    c"/proc/timer_stats",
    c"/proc/sched_debug",
    c"/proc/scsi",
    c"/sys/firmware",
    c"/sys/devices/virtual/powercap",
];

const READ_ONLY: [&CStr; 5] = [
    c"/proc/bus",
    c"/proc/fs",
    c"/proc/irq",
    c"/proc/sys",
    c"/proc/sysrq-trigger",
];

fn close(fd: RawFd) {
    // SAFETY: closing a descriptor this module opened, once.
    unsafe { libc::close(fd) };
}

/// Open `rel` (relative, "" = the root itself) below `root` without leaving it.
fn open_rel(root: RawFd, rel: &[u8]) -> Result<RawFd, i32> {
    let mut p = StackPath::new();
    let rel = if rel.is_empty() { b"." as &[u8] } else { rel };
    if !p.push(rel) {
        return Err(libc::ENAMETOOLONG);
    }
    open_in_root(root, p.as_cstr())
}

/// Create `rel` below `root` if missing, parents as directories and the last component
/// as a directory or an empty file, never following a path out of `root`. A dangling
/// symlink on the way (say /etc/resolv.conf -> /run/resolv.conf) gets its target
/// created, resolved inside `root`, as Docker does.
pub(crate) fn ensure_path(root: RawFd, rel: &[u8], last_is_dir: bool) -> Result<(), i32> {
    ensure_inner(root, rel, last_is_dir, 0)
}

fn ensure_inner(root: RawFd, rel: &[u8], last_is_dir: bool, depth: u32) -> Result<(), i32> {
    if depth > 16 {
        return Err(libc::ELOOP);
    }
    let rel = trim_slashes(rel);
    let mut start = 0;
    while start < rel.len() {
        let end = rel[start..]
            .iter()
            .position(|b| *b == b'/')
            .map_or(rel.len(), |i| start + i);
        let name = &rel[start..end];
        if !name.is_empty() {
            match open_rel(root, &rel[..end]) {
                Ok(fd) => close(fd),
                Err(libc::ENOENT) => {
                    let is_dir = end < rel.len() || last_is_dir;
                    let parent = open_rel(root, trim_slashes(&rel[..start]))?;
                    let made = create_at(parent, name, is_dir);
                    let result = match made {
                        Err(libc::EEXIST) => {
                            follow_dangling(root, parent, &rel[..start], name, is_dir, depth)
                        }
                        other => other,
                    };
                    close(parent);
                    result?;
                }
                Err(e) => return Err(e),
            }
        }
        start = end + 1;
    }
    Ok(())
}

/// Create one directory or empty file `name` in the directory `parent`.
fn create_at(parent: RawFd, name: &[u8], is_dir: bool) -> Result<(), i32> {
    let mut n = StackPath::new();
    if !n.push(name) {
        return Err(libc::ENAMETOOLONG);
    }
    // SAFETY: parent is an open directory descriptor, n is NUL-terminated.
    let rc = unsafe {
        if is_dir {
            libc::mkdirat(parent, n.as_cstr().as_ptr(), 0o755)
        } else {
            let flags =
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW;
            let fd = libc::openat(parent, n.as_cstr().as_ptr(), flags, 0o644);
            if fd >= 0 {
                libc::close(fd);
            }
            fd.min(0)
        }
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `name` exists in `parent` (at `parent_rel`) but does not resolve: if it is a
/// symlink, create what it points to, inside `root`.
fn follow_dangling(
    root: RawFd,
    parent: RawFd,
    parent_rel: &[u8],
    name: &[u8],
    is_dir: bool,
    depth: u32,
) -> Result<(), i32> {
    let mut n = StackPath::new();
    if !n.push(name) {
        return Err(libc::ENAMETOOLONG);
    }
    let mut link = [0u8; 4096];
    // SAFETY: parent is an open directory descriptor, n is NUL-terminated, link is a
    // writable buffer of the length passed.
    let len = unsafe {
        libc::readlinkat(
            parent,
            n.as_cstr().as_ptr(),
            link.as_mut_ptr().cast(),
            link.len(),
        )
    };
    if len < 0 {
        return Err(errno());
    }
    let link = &link[..len as usize];
    let mut target = StackPath::new();
    let fits = if link.first() == Some(&b'/') {
        target.push(link)
    } else {
        target.push(parent_rel) && target.push(b"/") && target.push(link)
    };
    if !fits {
        return Err(libc::ENAMETOOLONG);
    }
    ensure_inner(root, target.bytes(), is_dir, depth + 1)
}

fn trim_slashes(mut s: &[u8]) -> &[u8] {
    while let [b'/', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'/'] = s {
        s = rest;
    }
    s
}

/// Mount onto `rel` below `root` (created if needed) through its /proc/self/fd path.
fn mount_on(
    root: RawFd,
    rel: &[u8],
    source: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
    is_dir: bool,
) -> Result<(), i32> {
    ensure_path(root, rel, is_dir)?;
    let fd = open_rel(root, trim_slashes(rel))?;
    let mut p = StackPath::new();
    p.push(b"/proc/self/fd/");
    p.push_num(fd as u64);
    // SAFETY: all strings are NUL-terminated or NULL where the kernel allows it.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            p.as_cstr().as_ptr(),
            fstype.map_or(std::ptr::null(), |f| f.as_ptr()),
            flags,
            data.map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    };
    let e = errno();
    close(fd);
    if rc < 0 {
        Err(e)
    } else {
        Ok(())
    }
}

/// Change the propagation of the mount now at `rel` (`MS_SLAVE`, …).
fn propagation_on(root: RawFd, rel: &[u8], propagation: libc::c_ulong) -> Result<(), i32> {
    let fd = open_rel(root, trim_slashes(rel))?;
    let mut p = StackPath::new();
    p.push(b"/proc/self/fd/");
    p.push_num(fd as u64);
    let nul = std::ptr::null::<libc::c_char>();
    // SAFETY: NULL source, type and data with a NUL-terminated target only
    // change the propagation of that mount.
    let rc = unsafe {
        libc::mount(
            nul,
            p.as_cstr().as_ptr(),
            nul,
            propagation,
            std::ptr::null(),
        )
    };
    let e = errno();
    close(fd);
    if rc < 0 {
        Err(e)
    } else {
        Ok(())
    }
}

/// Make the mount now at `rel` (and everything below it) read-only.
fn readonly_on(root: RawFd, rel: &[u8]) -> Result<(), i32> {
    let fd = open_rel(root, trim_slashes(rel))?;
    let r = make_readonly_recursive(fd, c"", libc::AT_EMPTY_PATH as libc::c_uint);
    close(fd);
    r
}

/// Build the root file system and pivot into it. Never returns on failure.
pub(crate) fn build(plan: &RootfsPlan, rep: &Reporter) {
    let nul = std::ptr::null::<libc::c_char>();
    // SAFETY: mount with NULL source/type/data only changes propagation of "/".
    if unsafe {
        libc::mount(
            nul,
            c"/".as_ptr(),
            nul,
            plan.root_propagation,
            std::ptr::null(),
        )
    } < 0
    {
        rep.setup(errno(), &[b"set the mount propagation of /"]);
    }
    // SAFETY: umask only changes the file creation mask (0 so device modes are exact).
    unsafe { libc::umask(0) };
    // SAFETY: all arguments are NUL-terminated strings prepared by the parent.
    if unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            plan.merged.as_ptr(),
            c"overlay".as_ptr(),
            0,
            plan.overlay_data.as_ptr().cast(),
        )
    } < 0
    {
        rep.setup(
            errno(),
            &[
                b"mount overlay on ",
                plan.merged.to_bytes(),
                b" (",
                plan.overlay_data.to_bytes(),
                b")",
            ],
        );
    }
    // SAFETY: merged is NUL-terminated.
    let root = unsafe {
        libc::open(
            plan.merged.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if root < 0 {
        rep.setup(errno(), &[b"open ", plan.merged.to_bytes()]);
    }
    let must = |r: Result<(), i32>, what: &[u8], target: &[u8]| {
        if let Err(e) = r {
            rep.setup(e, &[what, b" on /", trim_slashes(target)]);
        }
    };
    use libc::{MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_STRICTATIME};
    must(
        mount_on(
            root,
            b"proc",
            c"proc",
            Some(c"proc"),
            MS_NOSUID | MS_NODEV | MS_NOEXEC,
            None,
            true,
        ),
        b"mount proc",
        b"proc",
    );
    if plan.new_netns {
        let ro = if plan.privileged { 0 } else { MS_RDONLY };
        let flags = ro | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        must(
            mount_on(root, b"sys", c"sysfs", Some(c"sysfs"), flags, None, true),
            b"mount sysfs",
            b"sys",
        );
    } else {
        // sysfs can only be mounted in a network namespace of one's own: bind the host's.
        must(
            mount_on(root, b"sys", c"/sys", None, MS_BIND | MS_REC, None, true),
            b"bind /sys",
            b"sys",
        );
        if plan.root_propagation & libc::MS_SLAVE != 0 {
            must(
                propagation_on(root, b"sys", libc::MS_PRIVATE | MS_REC),
                b"make private",
                b"sys",
            );
        }
        if !plan.privileged {
            must(readonly_on(root, b"sys"), b"make read-only", b"sys");
        }
    }
    let dev_flags = MS_NOSUID | MS_STRICTATIME;
    must(
        mount_on(
            root,
            b"dev",
            c"tmpfs",
            Some(c"tmpfs"),
            dev_flags,
            Some(c"mode=755,size=65536k"),
            true,
        ),
        b"mount tmpfs",
        b"dev",
    );
    let dev = open_rel(root, b"dev").unwrap_or_else(|e| rep.setup(e, &[b"open /dev"]));
    for (name, major, minor) in DEVICES {
        // SAFETY: dev is an open directory descriptor, name is NUL-terminated.
        let rc = unsafe {
            libc::mknodat(
                dev,
                name.as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(major, minor),
            )
        };
        if rc < 0 {
            rep.setup(errno(), &[b"mknod /dev/", name.to_bytes()]);
        }
    }
    for (name, target) in DEV_LINKS {
        // SAFETY: strings are NUL-terminated, dev is an open directory descriptor.
        if unsafe { libc::symlinkat(target.as_ptr(), dev, name.as_ptr()) } < 0 {
            rep.setup(errno(), &[b"symlink /dev/", name.to_bytes()]);
        }
    }
    close(dev);
    let pts_data = c"newinstance,ptmxmode=0666,mode=0620,gid=5";
    must(
        mount_on(
            root,
            b"dev/pts",
            c"devpts",
            Some(c"devpts"),
            MS_NOSUID | MS_NOEXEC,
            Some(pts_data),
            true,
        ),
        b"mount devpts",
        b"dev/pts",
    );
    let shm_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    match &plan.shm {
        ShmPlan::Tmpfs(data) => must(
            mount_on(
                root,
                b"dev/shm",
                c"shm",
                Some(c"tmpfs"),
                shm_flags,
                Some(data),
                true,
            ),
            b"mount tmpfs",
            b"dev/shm",
        ),
        ShmPlan::Absent => {}
        ShmPlan::Host => must(
            mount_on(root, b"dev/shm", c"/dev/shm", None, MS_BIND, None, true),
            b"bind the host's /dev/shm",
            b"dev/shm",
        ),
        ShmPlan::Joined(donor) => must(
            share_shm(root, *donor),
            b"mount the /dev/shm of the container whose IPC namespace it joins",
            b"dev/shm",
        ),
    }
    must(
        mount_on(
            root,
            b"dev/mqueue",
            c"mqueue",
            Some(c"mqueue"),
            shm_flags,
            None,
            true,
        ),
        b"mount mqueue",
        b"dev/mqueue",
    );

    for d in &plan.devices {
        if let Err(e) = make_device(root, d) {
            rep.setup(e, &[b"create device node /", d.path.to_bytes()]);
        }
    }

    for m in &plan.mounts {
        let target = m.target.to_bytes();
        match m.kind {
            MountKind::Bind => {
                if let Err(e) = mount_on(
                    root,
                    target,
                    &m.source,
                    None,
                    MS_BIND | MS_REC,
                    None,
                    m.is_dir,
                ) {
                    rep.setup(e, &[b"bind mount ", m.source.to_bytes(), b" on /", target]);
                }
                if m.propagation != 0 {
                    must(
                        propagation_on(root, target, m.propagation),
                        b"set the propagation of the bind mount",
                        target,
                    );
                }
                if m.read_only {
                    must(
                        readonly_on(root, target),
                        b"make bind mount read-only",
                        target,
                    );
                }
            }
            MountKind::Tmpfs => {
                must(
                    mount_on(
                        root,
                        target,
                        c"tmpfs",
                        Some(c"tmpfs"),
                        m.flags,
                        m.data.as_deref(),
                        true,
                    ),
                    b"mount tmpfs",
                    target,
                );
            }
        }
    }
    close(root);

    let host = plan.hostname.to_bytes();
    // SAFETY: host is a valid slice of host.len() bytes.
    if !host.is_empty() && unsafe { libc::sethostname(host.as_ptr().cast(), host.len()) } < 0 {
        rep.setup(errno(), &[b"sethostname ", host]);
    }
    let domain = plan.domainname.to_bytes();
    if !domain.is_empty() {
        // SAFETY: domain is a valid slice of domain.len() bytes.
        if unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) } < 0 {
            rep.setup(errno(), &[b"setdomainname ", domain]);
        }
    }

    // SAFETY: chdir/pivot_root/umount2 on NUL-terminated paths; "." is the new root.
    unsafe {
        if libc::chdir(plan.merged.as_ptr()) < 0 {
            rep.setup(errno(), &[b"chdir ", plan.merged.to_bytes()]);
        }
        if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) < 0 {
            rep.setup(errno(), &[b"pivot_root into ", plan.merged.to_bytes()]);
        }
        if libc::umount2(c".".as_ptr(), libc::MNT_DETACH) < 0 {
            rep.setup(errno(), &[b"unmount the old root"]);
        }
        if libc::chdir(c"/".as_ptr()) < 0 {
            rep.setup(errno(), &[b"chdir /"]);
        }
    }

    for (file, value) in &plan.sysctls {
        if let Err(e) = write_file(file, value.to_bytes()) {
            rep.setup(
                e,
                &[b"set sysctl ", file.to_bytes(), b" = ", value.to_bytes()],
            );
        }
    }
    if plan.privileged {
        return;
    }
    for path in MASKED {
        // SAFETY: NUL-terminated paths; binding /dev/null or mounting an empty tmpfs.
        let rc = unsafe {
            libc::mount(
                c"/dev/null".as_ptr(),
                path.as_ptr(),
                nul,
                MS_BIND,
                std::ptr::null(),
            )
        };
        let e = errno();
        if rc == 0 || e == libc::ENOENT {
            continue;
        }
        if e == libc::ENOTDIR {
            // SAFETY: as above.
            let rc = unsafe {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    path.as_ptr(),
                    c"tmpfs".as_ptr(),
                    MS_RDONLY,
                    std::ptr::null(),
                )
            };
            if rc == 0 {
                continue;
            }
        }
        rep.setup(errno(), &[b"mask ", path.to_bytes()]);
    }
    for path in READ_ONLY {
        // SAFETY: NUL-terminated paths; a recursive bind of a path onto itself.
        let rc = unsafe {
            libc::mount(
                path.as_ptr(),
                path.as_ptr(),
                nul,
                MS_BIND | MS_REC,
                std::ptr::null(),
            )
        };
        if rc < 0 {
            let e = errno();
            if e == libc::ENOENT {
                continue;
            }
            rep.setup(e, &[b"bind ", path.to_bytes(), b" onto itself"]);
        }
        if let Err(e) = make_readonly_recursive(libc::AT_FDCWD, path, 0) {
            rep.setup(e, &[b"make read-only ", path.to_bytes()]);
        }
    }
}

/// Put the /dev/shm mount of the container whose mount namespace is `donor` on
/// dev/shm below `root`: enter that namespace, take a detached copy of its
/// /dev/shm (resolved inside its root without magic links, so the other
/// container cannot point it at the host), come back and attach the copy here.
/// Both then use the same tmpfs.
fn share_shm(root: RawFd, donor: RawFd) -> Result<(), i32> {
    // SAFETY: opening a NUL-terminated path.
    let own = unsafe {
        libc::open(
            c"/proc/self/ns/mnt".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if own < 0 {
        return Err(errno());
    }
    let copy = crate::sys::setns(donor, libc::CLONE_NEWNS).and_then(|()| {
        // SAFETY: opening "/" (the other container's root after setns) as O_PATH.
        let donor_root = unsafe {
            libc::open(
                c"/".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if donor_root < 0 {
            return Err(errno());
        }
        let shm = open_in_root(donor_root, c"dev/shm");
        close(donor_root);
        let shm = shm?;
        let tree = crate::sys::clone_mount(shm);
        close(shm);
        tree
    });
    // Back home before anything else: the rest of the setup happens here.
    let back = crate::sys::setns(own, libc::CLONE_NEWNS);
    close(own);
    if let Err(e) = back {
        if let Ok(tree) = copy {
            close(tree);
        }
        return Err(e);
    }
    let tree = copy?;
    let attached = ensure_path(root, b"dev/shm", true)
        .and_then(|()| open_rel(root, b"dev/shm"))
        .and_then(|target| {
            let r = crate::sys::attach_mount(tree, target);
            close(target);
            r
        });
    close(tree);
    attached
}

/// Write `value` to an existing file (a sysctl).
fn write_file(path: &CStr, value: &[u8]) -> Result<(), i32> {
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: value is a valid slice of value.len() bytes.
    let rc = unsafe { libc::write(fd, value.as_ptr().cast(), value.len()) };
    let e = errno();
    close(fd);
    if rc < 0 {
        Err(e)
    } else {
        Ok(())
    }
}

/// mknod `d` below `root` (replacing whatever is there), owned as on the host.
fn make_device(root: RawFd, d: &crate::options::DeviceNode) -> Result<(), i32> {
    let rel = d.path.to_bytes();
    let (parent_rel, name) = match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&[][..], rel),
    };
    if !parent_rel.is_empty() {
        ensure_path(root, parent_rel, true)?;
    }
    let parent = open_rel(root, parent_rel)?;
    let mut n = StackPath::new();
    if !n.push(name) {
        close(parent);
        return Err(libc::ENAMETOOLONG);
    }
    // SAFETY: parent is an open directory descriptor, n is NUL-terminated.
    let result = unsafe {
        let mut rc = libc::mknodat(parent, n.as_cstr().as_ptr(), d.mode, d.rdev as libc::dev_t);
        if rc < 0 && errno() == libc::EEXIST {
            libc::unlinkat(parent, n.as_cstr().as_ptr(), 0);
            rc = libc::mknodat(parent, n.as_cstr().as_ptr(), d.mode, d.rdev as libc::dev_t);
        }
        if rc == 0 {
            rc = libc::fchownat(
                parent,
                n.as_cstr().as_ptr(),
                d.uid,
                d.gid,
                libc::AT_SYMLINK_NOFOLLOW,
            );
        }
        if rc < 0 {
            Err(errno())
        } else {
            Ok(())
        }
    };
    close(parent);
    result
}

/// After pivot_root and the working directory: make the root mount (only it, not
/// /proc, /dev, /sys or the user's mounts) read-only.
pub(crate) fn remount_root_readonly(rep: &Reporter) {
    let nul = std::ptr::null::<libc::c_char>();
    // SAFETY: a bind remount of "/" with NULL source, type and data.
    let rc = unsafe {
        libc::mount(
            nul,
            c"/".as_ptr(),
            nul,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        rep.setup(errno(), &[b"remount the root file system read-only"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_slashes_strips_both_ends() {
        assert_eq!(trim_slashes(b"//a/b/"), b"a/b");
        assert_eq!(trim_slashes(b"/"), b"");
        assert_eq!(trim_slashes(b"a"), b"a");
    }

    #[test]
    fn ensure_path_creates_dirs_and_files_inside_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        let root = std::fs::File::open(dir.path()).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&root);
        ensure_path(fd, b"/a/b/c", true).unwrap();
        assert!(dir.path().join("a/b/c").is_dir());
        ensure_path(fd, b"x/y/file", false).unwrap();
        assert!(dir.path().join("x/y/file").is_file());
        ensure_path(fd, b"a/b/c", true).unwrap();
        // An absolute symlink is resolved inside the root, not on the host.
        // An absolute symlink is resolved inside the root, never on the host; a
        // dangling one gets its target created there.
        ensure_path(fd, b"escape/z", true).unwrap();
        assert!(!outside.path().join("z").exists());
        let inside = dir.path().join(outside.path().strip_prefix("/").unwrap());
        assert!(inside.join("z").is_dir());
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/run/resolv.conf", dir.path().join("etc/resolv.conf")).unwrap();
        ensure_path(fd, b"/etc/resolv.conf", false).unwrap();
        assert!(dir.path().join("run/resolv.conf").is_file());
        std::os::unix::fs::symlink("../loop", dir.path().join("loop")).unwrap();
        assert_eq!(ensure_path(fd, b"loop/x", true), Err(libc::ELOOP));
    }
}
