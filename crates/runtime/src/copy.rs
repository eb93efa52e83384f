//! Copying file trees in and out of a directory that stands for a root (a
//! container's `/`), as `docker cp` does, with the data travelling as a tar
//! stream.
//!
//! Paths inside the root are resolved with openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS) relative to a descriptor of the root, so neither
//! `..` nor an absolute symlink can leave it. Below the resolved path every
//! file is reached by name from its parent's descriptor without following
//! symlinks. Extraction on the host side ([`ExtractOptions::confined`])
//! follows no symlink at all below the extraction directory: an entry never
//! lands outside it.

use crate::error::{CopyRefusal, RuntimeError};
use crate::sys::{openat2, resolve};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What [`RootDir::stat`] reports of one path (docker's `ContainerPathStat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// The last component of the path (`/` for the root).
    pub name: String,
    pub size: u64,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// For a symlink: where it finally points, as an absolute path in the root.
    pub link_target: Option<String>,
}

impl PathInfo {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
    pub fn is_regular(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

/// Who owns what an extraction writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// The uid and gid recorded in the archive.
    Keep,
    /// This uid and gid for everything.
    Set { uid: u32, gid: u32 },
    /// Whoever runs the extraction (no chown).
    Caller,
}

/// How [`RootDir::extract`] writes.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    pub ownership: Ownership,
    /// Follow no symlink below the extraction directory (the host side of a
    /// copy). Otherwise the parents of an entry resolve as the root's own
    /// processes would see them, still without leaving the root.
    pub confined: bool,
    /// Create the extraction directory (and its parents) when missing.
    pub create_dir: bool,
    /// Create character and block devices found in the archive.
    pub devices: bool,
}

/// A path in the root, cleaned: `..` stops at the root, and a trailing `/`
/// or `/.` (which change what docker copies) is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RootPath {
    parts: Vec<Vec<u8>>,
    trailing: Trailing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trailing {
    None,
    /// `dir/`: the directory itself, symlinks followed.
    Slash,
    /// `dir/.`: the directory's contents.
    Dot,
}

impl RootPath {
    fn parse(path: &[u8]) -> RootPath {
        let stripped = trim_trailing_slashes(path);
        let trailing = if stripped == b"." || stripped.ends_with(b"/.") {
            Trailing::Dot
        } else if stripped.len() < path.len() && !stripped.is_empty() {
            Trailing::Slash
        } else {
            Trailing::None
        };
        RootPath {
            parts: clean(path, true).unwrap_or_default(),
            trailing,
        }
    }

    fn absolute(&self) -> Vec<u8> {
        absolute(&self.parts)
    }
}

fn trim_trailing_slashes(path: &[u8]) -> &[u8] {
    let mut end = path.len();
    while end > 1 && path[end - 1] == b'/' {
        end -= 1;
    }
    &path[..end]
}

/// The normal components of `path`. `..` above the start is dropped when
/// `clamp` (a root's `..` is itself), else it makes the path invalid (None).
fn clean(path: &[u8], clamp: bool) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for part in path.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !clamp {
                    return None;
                }
            }
            name => out.push(name.to_vec()),
        }
    }
    Some(out)
}

fn absolute(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn cstring(bytes: &[u8]) -> Result<CString, RuntimeError> {
    CString::new(bytes).map_err(|_| RuntimeError::NulByte {
        what: "path",
        value: String::from_utf8_lossy(bytes).into_owned(),
    })
}

fn display(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

fn err(op: &'static str, path: &[u8], errno: Errno) -> RuntimeError {
    RuntimeError::io(op, display(path), io::Error::from(errno))
}

fn fstat_fd(fd: RawFd) -> Result<FileStat, Errno> {
    nix::sys::stat::fstat(fd)
}

fn lstat_at(dir: RawFd, name: &[u8]) -> Result<FileStat, Errno> {
    nix::sys::stat::fstatat(
        Some(dir),
        OsStr::from_bytes(name),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Open one name in `dir`, never following a symlink in it.
fn open_child(dir: RawFd, name: &[u8], flags: OFlag) -> Result<OwnedFd, Errno> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    openat2(
        dir,
        &name,
        (flags | OFlag::O_NOFOLLOW).bits(),
        resolve::BENEATH | resolve::NO_SYMLINKS | resolve::NO_MAGICLINKS,
    )
}

fn kind_of(mode: u32) -> u32 {
    mode & libc::S_IFMT
}

/// A directory that stands for `/`.
#[derive(Debug)]
pub struct RootDir {
    fd: OwnedFd,
}

impl RootDir {
    /// The directory at `path` (for a running container, `/proc/<pid>/root`).
    pub fn open(path: &Path) -> Result<RootDir, RuntimeError> {
        let c = cstring(path.as_os_str().as_bytes())?;
        let fd = openat2(
            libc::AT_FDCWD,
            &c,
            (OFlag::O_PATH | OFlag::O_DIRECTORY).bits(),
            0,
        )
        .map_err(|e| err("open", path.as_os_str().as_bytes(), e))?;
        Ok(RootDir { fd })
    }

    /// An overlay of `lower` (bottom first), `upper` and `work`, mounted at
    /// `mountpoint` only long enough to open it: the returned root keeps the
    /// file system alive and nothing stays mounted (a stopped container's `/`).
    pub fn open_overlay(
        lower: &[PathBuf],
        upper: &Path,
        work: &Path,
        mountpoint: &Path,
    ) -> Result<RootDir, RuntimeError> {
        for dir in [upper, work, mountpoint] {
            std::fs::create_dir_all(dir)
                .map_err(|e| RuntimeError::io("create directory", dir, e))?;
        }
        let data = crate::spawn::overlay_options(&crate::spawn::Rootfs {
            lower_dirs: lower.to_vec(),
            upper_dir: upper.to_path_buf(),
            work_dir: work.to_path_buf(),
            merged_dir: mountpoint.to_path_buf(),
        })?;
        nix::mount::mount(
            Some("overlay"),
            mountpoint,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(|e| RuntimeError::sys(format!("mount overlay at {}", mountpoint.display()), e))?;
        let opened = RootDir::open(mountpoint);
        // Detached at once: the descriptor keeps the file system usable.
        let detached = nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH);
        let root = opened?;
        detached.map_err(|e| {
            RuntimeError::sys(format!("unmount overlay at {}", mountpoint.display()), e)
        })?;
        Ok(root)
    }

    /// Resolve `path` in the root: every component but the last follows
    /// symlinks (inside the root); the last too when `follow_last`.
    fn resolve(&self, path: &RootPath, follow_last: bool) -> Result<OwnedFd, RuntimeError> {
        let abs = path.absolute();
        let flags = resolve::IN_ROOT | resolve::NO_MAGICLINKS;
        if path.parts.is_empty() || follow_last || path.trailing != Trailing::None {
            let mut open_flags = OFlag::O_PATH;
            if path.trailing != Trailing::None {
                open_flags |= OFlag::O_DIRECTORY;
            }
            return openat2(
                self.fd.as_raw_fd(),
                &cstring(&abs)?,
                open_flags.bits(),
                flags,
            )
            .map_err(|e| err("resolve", &abs, e));
        }
        let (name, parent) = path.parts.split_last().unwrap_or((&path.parts[0], &[]));
        let parent_fd = openat2(
            self.fd.as_raw_fd(),
            &cstring(&absolute(parent))?,
            (OFlag::O_PATH | OFlag::O_DIRECTORY).bits(),
            flags,
        )
        .map_err(|e| err("resolve", &abs, e))?;
        open_child(parent_fd.as_raw_fd(), name, OFlag::O_PATH).map_err(|e| err("resolve", &abs, e))
    }

    /// What is at `path` (docker's stat of a container path). With
    /// `follow_link`, a symlink at the end is followed.
    pub fn stat(&self, path: &str, follow_link: bool) -> Result<PathInfo, RuntimeError> {
        let parsed = RootPath::parse(path.as_bytes());
        let fd = self.resolve(&parsed, follow_link)?;
        let st = fstat_fd(fd.as_raw_fd()).map_err(|e| err("stat", path.as_bytes(), e))?;
        let link_target = if kind_of(st.st_mode) == libc::S_IFLNK {
            Some(self.link_target(&parsed))
        } else {
            None
        };
        Ok(PathInfo {
            name: parsed
                .parts
                .last()
                .map_or("/".to_string(), |n| String::from_utf8_lossy(n).into_owned()),
            size: st.st_size as u64,
            mode: st.st_mode,
            mtime: st.st_mtime,
            link_target,
        })
    }

    /// Where the symlink at `path` finally points, as an absolute path in the
    /// root (the last existing step when the chain breaks or loops).
    fn link_target(&self, path: &RootPath) -> String {
        let mut current = path.parts.clone();
        for _ in 0..40 {
            let here = RootPath {
                parts: current.clone(),
                trailing: Trailing::None,
            };
            let Ok(fd) = self.resolve(&here, false) else {
                break;
            };
            if fstat_fd(fd.as_raw_fd()).map(|s| kind_of(s.st_mode)) != Ok(libc::S_IFLNK) {
                break;
            }
            let Ok(target) = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "") else {
                break;
            };
            let target = target.into_vec();
            let mut joined = if target.starts_with(b"/") {
                Vec::new()
            } else {
                absolute(&current[..current.len().saturating_sub(1)])
            };
            joined.push(b'/');
            joined.extend_from_slice(&target);
            current = clean(&joined, true).unwrap_or_default();
        }
        String::from_utf8_lossy(&absolute(&current)).into_owned()
    }

    /// Write a tar stream of `path` to `out`, docker's way: the top entry is
    /// named after the path's last component (`name` instead, when given),
    /// `dir/.` archives the contents of `dir` under `.`. Symlinks below the
    /// path are archived as symlinks. Returns what the path is.
    pub fn archive(
        &self,
        path: &str,
        follow_link: bool,
        name: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<PathInfo, RuntimeError> {
        let parsed = RootPath::parse(path.as_bytes());
        let info = self.stat(path, follow_link)?;
        let fd = self.resolve(&parsed, follow_link)?;
        let top: Vec<u8> = match (name, parsed.trailing) {
            (Some(n), _) => n.as_bytes().to_vec(),
            (None, Trailing::Dot) => b".".to_vec(),
            (None, _) => parsed
                .parts
                .last()
                .cloned()
                .unwrap_or_else(|| b".".to_vec()),
        };
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        let mut writer = TarWriter {
            builder: &mut builder,
        };
        writer.top(fd, &top, path.as_bytes())?;
        builder
            .finish()
            .map_err(|e| RuntimeError::io("write archive of", display(path.as_bytes()), e))?;
        Ok(info)
    }

    /// Extract the tar stream `input` into the directory `dir` of the root.
    pub fn extract(
        &self,
        dir: &str,
        input: &mut dyn Read,
        options: &ExtractOptions,
    ) -> Result<(), RuntimeError> {
        let base = RootPath::parse(dir.as_bytes());
        if options.create_dir {
            self.mkdir_all(&base.parts)?;
        }
        let base_abs = base.absolute();
        let base_fd = openat2(
            self.fd.as_raw_fd(),
            &cstring(&base_abs)?,
            (OFlag::O_PATH | OFlag::O_DIRECTORY).bits(),
            resolve::IN_ROOT | resolve::NO_MAGICLINKS,
        )
        .map_err(|e| err("open extraction directory", &base_abs, e))?;
        let mut extractor = Extractor {
            root: self,
            base: base.parts.clone(),
            base_fd,
            options: *options,
            dir_times: Vec::new(),
        };
        let mut archive = tar::Archive::new(input);
        let entries = archive
            .entries()
            .map_err(|e| RuntimeError::io("read archive for", display(&base_abs), e))?;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| RuntimeError::io("read archive for", display(&base_abs), e))?;
            extractor.entry(&mut entry)?;
        }
        extractor.finish_dir_times();
        Ok(())
    }

    /// Remove `path` and everything below it (no error when it is missing).
    /// A symlink is removed, never what it points to.
    pub fn remove(&self, path: &str) -> Result<(), RuntimeError> {
        let parsed = RootPath::parse(path.as_bytes());
        let Some((name, parent)) = parsed.parts.split_last() else {
            return Err(CopyRefusal::RemoveRoot.into());
        };
        let parent_fd = match openat2(
            self.fd.as_raw_fd(),
            &cstring(&absolute(parent))?,
            (OFlag::O_PATH | OFlag::O_DIRECTORY).bits(),
            resolve::IN_ROOT | resolve::NO_MAGICLINKS,
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
            Err(e) => return Err(err("remove", path.as_bytes(), e)),
        };
        remove_entry(parent_fd.as_raw_fd(), name).map_err(|e| err("remove", path.as_bytes(), e))
    }

    /// Create the directory `parts` and its parents, resolving in the root.
    fn mkdir_all(&self, parts: &[Vec<u8>]) -> Result<(), RuntimeError> {
        for n in 1..=parts.len() {
            let prefix = absolute(&parts[..n]);
            let flags = (OFlag::O_PATH | OFlag::O_DIRECTORY).bits();
            let rflags = resolve::IN_ROOT | resolve::NO_MAGICLINKS;
            match openat2(self.fd.as_raw_fd(), &cstring(&prefix)?, flags, rflags) {
                Ok(_) => continue,
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(err("create directory", &prefix, e)),
            }
            let parent = openat2(
                self.fd.as_raw_fd(),
                &cstring(&absolute(&parts[..n - 1]))?,
                flags,
                rflags,
            )
            .map_err(|e| err("create directory", &prefix, e))?;
            match nix::sys::stat::mkdirat(
                Some(parent.as_raw_fd()),
                OsStr::from_bytes(&parts[n - 1]),
                Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(err("create directory", &prefix, e)),
            }
        }
        Ok(())
    }
}

/// Remove `name` in `dir`, recursively for a directory, following nothing.
fn remove_entry(dir: RawFd, name: &[u8]) -> Result<(), Errno> {
    let st = match lstat_at(dir, name) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    let os = OsStr::from_bytes(name);
    if kind_of(st.st_mode) == libc::S_IFDIR {
        let child = open_child(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        for entry in list_dir(child.as_raw_fd())? {
            remove_entry(child.as_raw_fd(), &entry)?;
        }
        nix::unistd::unlinkat(Some(dir), os, nix::unistd::UnlinkatFlags::RemoveDir)
    } else {
        nix::unistd::unlinkat(Some(dir), os, nix::unistd::UnlinkatFlags::NoRemoveDir)
    }
}

/// The names in the open directory `dir`, sorted, without `.` and `..`.
fn list_dir(dir: RawFd) -> Result<Vec<Vec<u8>>, Errno> {
    let own = nix::unistd::dup(dir)?;
    let mut reader = nix::dir::Dir::from_fd(own)?;
    let mut names = Vec::new();
    for entry in reader.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

struct TarWriter<'a, 'b> {
    builder: &'a mut tar::Builder<&'b mut dyn Write>,
}

fn header_for(st: &FileStat) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(st.st_mode & 0o7777);
    header.set_uid(st.st_uid as u64);
    header.set_gid(st.st_gid as u64);
    header.set_mtime(st.st_mtime.max(0) as u64);
    header.set_size(0);
    header
}

impl TarWriter<'_, '_> {
    fn io(&self, path: &[u8], e: io::Error) -> RuntimeError {
        RuntimeError::io("archive", display(path), e)
    }

    /// The resolved top object (an O_PATH descriptor), named `name`.
    fn top(&mut self, fd: OwnedFd, name: &[u8], shown: &[u8]) -> Result<(), RuntimeError> {
        let st = fstat_fd(fd.as_raw_fd()).map_err(|e| err("stat", shown, e))?;
        match kind_of(st.st_mode) {
            libc::S_IFDIR => {
                let dir = openat2(
                    fd.as_raw_fd(),
                    c".",
                    (OFlag::O_RDONLY | OFlag::O_DIRECTORY).bits(),
                    resolve::BENEATH,
                )
                .map_err(|e| err("open", shown, e))?;
                self.directory(dir, &st, name)
            }
            libc::S_IFREG => {
                // Reopen the resolved file for reading; check it is still the same one.
                let file = std::fs::File::open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                    .map_err(|e| self.io(shown, e))?;
                let now = fstat_fd(file.as_raw_fd()).map_err(|e| err("stat", shown, e))?;
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
                    return Err(err("open", shown, Errno::ESTALE));
                }
                self.file(file, &now, name)
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "")
                    .map_err(|e| err("read link", shown, e))?;
                self.symlink(&st, name, target.as_bytes())
            }
            _ => self.special(&st, name),
        }
    }

    fn directory(&mut self, dir: OwnedFd, st: &FileStat, name: &[u8]) -> Result<(), RuntimeError> {
        let mut header = header_for(st);
        header.set_entry_type(tar::EntryType::Directory);
        self.builder
            .append_data(&mut header, display(name), io::empty())
            .map_err(|e| self.io(name, e))?;
        let names = list_dir(dir.as_raw_fd()).map_err(|e| err("read directory", name, e))?;
        for child in names {
            let path = if name == b"." {
                child.clone()
            } else {
                [name, b"/", &child].concat()
            };
            let Ok(st) = lstat_at(dir.as_raw_fd(), &child) else {
                continue; // removed while we read
            };
            match kind_of(st.st_mode) {
                libc::S_IFDIR => {
                    let Ok(sub) = open_child(
                        dir.as_raw_fd(),
                        &child,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                    ) else {
                        continue;
                    };
                    self.directory(sub, &st, &path)?;
                }
                libc::S_IFREG => {
                    let Ok(fd) =
                        open_child(dir.as_raw_fd(), &child, OFlag::O_RDONLY | OFlag::O_NONBLOCK)
                    else {
                        continue;
                    };
                    let file = std::fs::File::from(fd);
                    match fstat_fd(file.as_raw_fd()) {
                        Ok(now) if kind_of(now.st_mode) == libc::S_IFREG => {
                            self.file(file, &now, &path)?
                        }
                        _ => continue, // replaced by something else meanwhile
                    }
                }
                libc::S_IFLNK => {
                    let Ok(target) =
                        nix::fcntl::readlinkat(Some(dir.as_raw_fd()), OsStr::from_bytes(&child))
                    else {
                        continue;
                    };
                    self.symlink(&st, &path, target.as_bytes())?;
                }
                _ => self.special(&st, &path)?,
            }
        }
        Ok(())
    }

    fn file(
        &mut self,
        file: std::fs::File,
        st: &FileStat,
        name: &[u8],
    ) -> Result<(), RuntimeError> {
        let size = st.st_size as u64;
        let mut header = header_for(st);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        // Exactly `size` bytes even if the file changes while we read it.
        let data = file.take(size).chain(io::repeat(0)).take(size);
        self.builder
            .append_data(&mut header, display(name), data)
            .map_err(|e| self.io(name, e))
    }

    fn symlink(&mut self, st: &FileStat, name: &[u8], target: &[u8]) -> Result<(), RuntimeError> {
        let mut header = header_for(st);
        header.set_entry_type(tar::EntryType::Symlink);
        self.builder
            .append_link(&mut header, display(name), display(target))
            .map_err(|e| self.io(name, e))
    }

    fn special(&mut self, st: &FileStat, name: &[u8]) -> Result<(), RuntimeError> {
        let kind = match kind_of(st.st_mode) {
            libc::S_IFIFO => tar::EntryType::Fifo,
            libc::S_IFCHR => tar::EntryType::Char,
            libc::S_IFBLK => tar::EntryType::Block,
            _ => return Ok(()), // sockets cannot be archived
        };
        let mut header = header_for(st);
        header.set_entry_type(kind);
        if kind != tar::EntryType::Fifo {
            let _ = header.set_device_major(libc::major(st.st_rdev));
            let _ = header.set_device_minor(libc::minor(st.st_rdev));
        }
        self.builder
            .append_data(&mut header, display(name), io::empty())
            .map_err(|e| self.io(name, e))
    }
}

struct Extractor<'a> {
    root: &'a RootDir,
    base: Vec<Vec<u8>>,
    base_fd: OwnedFd,
    options: ExtractOptions,
    /// Directories whose times are set at the end (their children change them).
    dir_times: Vec<(Vec<Vec<u8>>, i64)>,
}

impl Extractor<'_> {
    fn shown(&self, rel: &[Vec<u8>]) -> Vec<u8> {
        let mut all = self.base.clone();
        all.extend(rel.iter().cloned());
        absolute(&all)
    }

    /// The directory `rel` below the extraction directory, created (0755)
    /// when missing.
    fn parent(&self, rel: &[Vec<u8>]) -> Result<OwnedFd, RuntimeError> {
        let dir_flags = (OFlag::O_PATH | OFlag::O_DIRECTORY).bits();
        if !self.options.confined {
            let mut all = self.base.clone();
            all.extend(rel.iter().cloned());
            self.root.mkdir_all(&all)?;
            let abs = absolute(&all);
            return openat2(
                self.root.fd.as_raw_fd(),
                &cstring(&abs)?,
                dir_flags,
                resolve::IN_ROOT | resolve::NO_MAGICLINKS,
            )
            .map_err(|e| err("open directory", &abs, e));
        }
        let mut current = nix::unistd::dup(self.base_fd.as_raw_fd())
            .map(owned)
            .map_err(|e| err("open directory", &self.shown(&[]), e))?;
        for (i, part) in rel.iter().enumerate() {
            let shown = || self.shown(&rel[..=i]);
            current = match open_child(
                current.as_raw_fd(),
                part,
                OFlag::O_PATH | OFlag::O_DIRECTORY,
            ) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    nix::sys::stat::mkdirat(
                        Some(current.as_raw_fd()),
                        OsStr::from_bytes(part),
                        Mode::from_bits_truncate(0o755),
                    )
                    .map_err(|e| err("create directory", &shown(), e))?;
                    open_child(
                        current.as_raw_fd(),
                        part,
                        OFlag::O_PATH | OFlag::O_DIRECTORY,
                    )
                    .map_err(|e| err("open directory", &shown(), e))?
                }
                Err(Errno::ELOOP | Errno::ENOTDIR | Errno::EXDEV) => {
                    return Err(CopyRefusal::NotADirectory {
                        path: String::from_utf8_lossy(&shown()).into_owned(),
                    }
                    .into())
                }
                Err(e) => return Err(err("open directory", &shown(), e)),
            };
        }
        Ok(current)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), RuntimeError> {
        let raw = entry.path_bytes().into_owned();
        let Some(rel) = clean(&raw, false) else {
            return Err(CopyRefusal::EntryOutside {
                entry: String::from_utf8_lossy(&raw).into_owned(),
                root: String::from_utf8_lossy(&self.shown(&[])).into_owned(),
            }
            .into());
        };
        let kind = entry.header().entry_type();
        let Some((name, parent_rel)) = rel.split_last() else {
            // `.`: the extraction directory itself, which stays as it is.
            return Ok(());
        };
        let shown = self.shown(&rel);
        let parent = self.parent(parent_rel)?;
        let dir = parent.as_raw_fd();
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let mtime = header.mtime().unwrap_or(0) as i64;
        let owner = (
            header.uid().unwrap_or(0) as u32,
            header.gid().unwrap_or(0) as u32,
        );
        let existing = lstat_at(dir, name).ok();
        let existing_dir = existing.is_some_and(|st| kind_of(st.st_mode) == libc::S_IFDIR);
        let os_name = OsStr::from_bytes(name);
        if kind.is_dir() {
            if !existing_dir {
                if existing.is_some() {
                    nix::unistd::unlinkat(
                        Some(dir),
                        os_name,
                        nix::unistd::UnlinkatFlags::NoRemoveDir,
                    )
                    .map_err(|e| err("replace", &shown, e))?;
                }
                nix::sys::stat::mkdirat(Some(dir), os_name, Mode::from_bits_truncate(0o700))
                    .map_err(|e| err("create directory", &shown, e))?;
            }
            self.set_meta(dir, name, &shown, owner, Some(mode), None)?;
            self.dir_times.push((rel.clone(), mtime));
            return Ok(());
        }
        if existing_dir {
            return Err(CopyRefusal::OverwriteDirectory {
                directory: String::from_utf8_lossy(&shown).into_owned(),
                entry: String::from_utf8_lossy(&raw).into_owned(),
            }
            .into());
        }
        if existing.is_some() {
            // Replace, never write through: the old entry may be a symlink.
            nix::unistd::unlinkat(Some(dir), os_name, nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(|e| err("replace", &shown, e))?;
        }
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let fd = openat2(
                    dir,
                    &cstring(name)?,
                    (OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW).bits(),
                    resolve::BENEATH | resolve::NO_SYMLINKS,
                )
                .map_err(|e| err("create", &shown, e))?;
                let mut file = std::fs::File::from(fd);
                io::copy(entry, &mut file)
                    .map_err(|e| RuntimeError::io("write", display(&shown), e))?;
                self.set_meta(dir, name, &shown, owner, Some(mode), Some(mtime))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                nix::unistd::symlinkat(OsStr::from_bytes(&target), Some(dir), os_name)
                    .map_err(|e| err("create symlink", &shown, e))?;
                self.set_meta(dir, name, &shown, owner, None, Some(mtime))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let Some(target_rel) = clean(&target, false).filter(|t| !t.is_empty()) else {
                    return Err(CopyRefusal::HardLinkOutside {
                        entry: String::from_utf8_lossy(&raw).into_owned(),
                        root: String::from_utf8_lossy(&self.shown(&[])).into_owned(),
                    }
                    .into());
                };
                let (target_name, target_parent) =
                    target_rel.split_last().unwrap_or((&target_rel[0], &[]));
                let from = self.parent(target_parent)?;
                let oldpath = OsStr::from_bytes(target_name);
                nix::unistd::linkat(
                    Some(from.as_raw_fd()),
                    oldpath,
                    Some(dir),
                    os_name,
                    AtFlags::empty(),
                )
                .map_err(|e| err("create hard link", &shown, e))?;
            }
            tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block => {
                let (flag, dev) = match kind {
                    tar::EntryType::Fifo => (SFlag::S_IFIFO, 0),
                    other => {
                        if !self.options.devices {
                            return Ok(());
                        }
                        let major = header.device_major().ok().flatten().unwrap_or(0);
                        let minor = header.device_minor().ok().flatten().unwrap_or(0);
                        let flag = if other == tar::EntryType::Char {
                            SFlag::S_IFCHR
                        } else {
                            SFlag::S_IFBLK
                        };
                        (flag, libc::makedev(major, minor))
                    }
                };
                nix::sys::stat::mknodat(
                    Some(dir),
                    os_name,
                    flag,
                    Mode::from_bits_truncate(0o600),
                    dev,
                )
                .map_err(|e| err("create node", &shown, e))?;
                self.set_meta(dir, name, &shown, owner, Some(mode), Some(mtime))?;
            }
            // pax and GNU extension headers are consumed by the reader; other
            // kinds carry nothing a file system can hold.
            _ => {}
        }
        Ok(())
    }

    /// Owner (per the options), then mode (a chown clears set-id bits), then
    /// times, on what `name` in `dir` is now. Nothing here follows a symlink:
    /// a symlink gets owner and times only, anything else is opened first.
    fn set_meta(
        &self,
        dir: RawFd,
        name: &[u8],
        shown: &[u8],
        archived_owner: (u32, u32),
        mode: Option<u32>,
        mtime: Option<i64>,
    ) -> Result<(), RuntimeError> {
        let owner = match self.options.ownership {
            Ownership::Keep => Some(archived_owner),
            Ownership::Set { uid, gid } => Some((uid, gid)),
            Ownership::Caller => None,
        };
        let chown = |fd: RawFd, path: &OsStr, flags: AtFlags| match owner {
            Some((uid, gid)) => nix::unistd::fchownat(
                Some(fd),
                path,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
                flags,
            )
            .map_err(|e| err("change owner of", shown, e)),
            None => Ok(()),
        };
        let Some(mode) = mode else {
            chown(dir, OsStr::from_bytes(name), AtFlags::AT_SYMLINK_NOFOLLOW)?;
            if let Some(mtime) = mtime {
                set_time(dir, name, mtime).map_err(|e| err("set times of", shown, e))?;
            }
            return Ok(());
        };
        let fd = open_child(dir, name, OFlag::O_PATH).map_err(|e| err("open", shown, e))?;
        chown(fd.as_raw_fd(), OsStr::new(""), AtFlags::AT_EMPTY_PATH)?;
        // The descriptor's own /proc link names exactly the inode opened above.
        let by_fd = format!("/proc/self/fd/{}", fd.as_raw_fd());
        nix::sys::stat::fchmodat(
            None,
            by_fd.as_str(),
            Mode::from_bits_truncate(mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| err("change mode of", shown, e))?;
        if let Some(mtime) = mtime {
            let time = TimeSpec::new(mtime, 0);
            nix::sys::stat::utimensat(
                None,
                by_fd.as_str(),
                &time,
                &time,
                nix::sys::stat::UtimensatFlags::FollowSymlink,
            )
            .map_err(|e| err("set times of", shown, e))?;
        }
        Ok(())
    }

    fn finish_dir_times(&mut self) {
        // Deepest first, so setting a parent's time comes after its children changed it.
        let mut times = std::mem::take(&mut self.dir_times);
        times.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.len()));
        for (rel, mtime) in times {
            let Some((name, parent_rel)) = rel.split_last() else {
                continue;
            };
            if let Ok(parent) = self.parent(parent_rel) {
                let _ = set_time(parent.as_raw_fd(), name, mtime);
            }
        }
    }
}

fn set_time(dir: RawFd, name: &[u8], mtime: i64) -> Result<(), Errno> {
    let time = TimeSpec::new(mtime, 0);
    nix::sys::stat::utimensat(
        Some(dir),
        OsStr::from_bytes(name),
        &time,
        &time,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
}

fn owned(fd: RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` was just returned by dup(2) and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
