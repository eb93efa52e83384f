//! Small helpers to read and write cgroupfs files with errors that name the file.

use crate::RuntimeError;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Write `value` to an existing cgroup file (never creates it: a missing file means a
/// missing controller). One `write` call, as the kernel wants.
pub(crate) fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
    f.write_all(value.as_bytes())
}

pub(crate) fn write(path: &Path, value: &str) -> Result<(), RuntimeError> {
    write_raw(path, value).map_err(|e| RuntimeError::io("write cgroup file", path, e))
}

pub(crate) fn read(path: &Path) -> Result<String, RuntimeError> {
    read_raw(path).map_err(|e| RuntimeError::io("read cgroup file", path, e))
}

/// The whole text of a cgroupfs or procfs file. Such files report a size of
/// 0, so `fs::read_to_string` would probe with 32 bytes and grow its buffer
/// read by read (seven reads for a v1 `memory.stat`); a page-sized buffer
/// takes the whole file in one read, which matters when `/metrics` reads a
/// dozen files of every container.
pub(crate) fn read_raw(path: &Path) -> io::Result<String> {
    let mut text = String::with_capacity(READ_BUFFER);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Large enough for any cgroup file the stats read (`memory.stat` of v1,
/// the largest, is about 1.5 KiB) and a container's `/proc/<pid>/net/dev`.
const READ_BUFFER: usize = 4096;

/// Read a file holding one number; `max` reads as `u64::MAX`.
pub(crate) fn read_u64(path: &Path) -> Result<u64, RuntimeError> {
    let text = read(path)?;
    parse_u64(path, text.trim())
}

pub(crate) fn parse_u64(path: &Path, text: &str) -> Result<u64, RuntimeError> {
    if text == "max" {
        return Ok(u64::MAX);
    }
    text.parse().map_err(|_| RuntimeError::Parse {
        file: path.to_path_buf(),
        detail: format!("expected a number, found {text:?}"),
    })
}

/// Value of `key` in a flat-keyed file such as memory.stat or cpu.stat ("key value" lines).
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        if it.next() == Some(key) {
            it.next().and_then(|v| v.parse().ok())
        } else {
            None
        }
    })
}

/// A cgroup directory held open: its files are opened relative to it, so
/// reading several of them walks the directory's long path (each step a
/// sysfs lookup) once rather than once a file.
pub(crate) struct OpenDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl OpenDir {
    pub(crate) fn open(path: PathBuf) -> io::Result<Self> {
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&path)?;
        Ok(OpenDir {
            fd: dir.into(),
            path,
        })
    }

    fn text(&self, name: &str) -> io::Result<String> {
        let raw = nix::fcntl::openat(
            Some(self.fd.as_raw_fd()),
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: `openat` has just returned this descriptor; nothing else owns it.
        let mut file = unsafe { std::fs::File::from_raw_fd(raw) };
        let mut text = String::with_capacity(READ_BUFFER);
        file.read_to_string(&mut text)?;
        Ok(text)
    }

    /// The whole text of the file `name` in the directory.
    pub(crate) fn read(&self, name: &str) -> Result<String, RuntimeError> {
        self.text(name)
            .map_err(|e| RuntimeError::io("read cgroup file", self.path.join(name), e))
    }

    /// The file `name` holding one number; `max` reads as `u64::MAX`.
    pub(crate) fn read_u64(&self, name: &str) -> Result<u64, RuntimeError> {
        let text = self.read(name)?;
        parse_u64(&self.path.join(name), text.trim())
    }

    /// The text of the file `name`, `None` when it does not exist.
    pub(crate) fn optional(&self, name: &str) -> Result<Option<String>, RuntimeError> {
        match self.text(name) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RuntimeError::io(
                "read cgroup file",
                self.path.join(name),
                e,
            )),
        }
    }
}
