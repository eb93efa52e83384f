//! Tar streams of overlay directory trees.
//!
//! - [`write_diff`]: one directory in overlayfs upper form (a build step's diff, a
//!   container's upper directory) as an OCI layer: whiteouts (0/0 character devices)
//!   become `.wh.NAME` entries, opaque directories (`trusted.overlay.opaque=y`) get a
//!   `.wh..wh..opq` entry.
//! - [`write_merged`]: a stack of such directories as overlayfs shows them, a flat
//!   file system (`container export`): the topmost entry of each name wins,
//!   whiteouts hide what is below them, opaque directories hide the lower content.
//!
//! Entries are sorted, so the same tree gives the same bytes. Other extended
//! attributes (file capabilities) go into PAX records; overlay's own are left out.
//!
//! The trees may belong to a running container, which can swap a directory for a
//! symlink while it is read. Nothing here follows a symlink: each directory is
//! held open and its entries are reached through `/proc/self/fd/N/NAME` (the
//! kernel resolves the open directory itself, and the last component is never
//! followed), so no path a container controls leads outside its tree.

use crate::error::{ioe, ImageError};
use nix::libc;
use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The extended attribute overlayfs marks an opaque directory with (value `y`).
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Entries of a diff to leave out: the path relative to the tree (no leading
/// `/`) and the entry's metadata. A directory left with nothing but left-out
/// entries is left out too (unless it is opaque).
pub type Skip<'a> = &'a dyn Fn(&str, &fs::Metadata) -> bool;

/// Leave nothing out.
pub fn keep_all(_: &str, _: &fs::Metadata) -> bool {
    false
}

/// An open directory of a tree and the path it is shown by in errors.
struct Dir {
    handle: File,
    shown: PathBuf,
}

impl Dir {
    fn open_root(path: &Path) -> Result<Dir, ImageError> {
        let handle = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)
            .map_err(ioe("open directory", path))?;
        Ok(Dir {
            handle,
            shown: path.to_path_buf(),
        })
    }

    /// The path that reaches `name` in this very directory.
    fn at(&self, name: &OsStr) -> PathBuf {
        Path::new(&format!("/proc/self/fd/{}", self.handle.as_raw_fd())).join(name)
    }

    fn shown(&self, name: &OsStr) -> PathBuf {
        self.shown.join(name)
    }

    /// The names in the directory, sorted.
    fn names(&self) -> Result<Vec<OsString>, ImageError> {
        let path = self.at(OsStr::new(""));
        let mut names: Vec<OsString> = fs::read_dir(&path)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
            .map_err(ioe("list", &self.shown))?;
        names.sort();
        Ok(names)
    }

    /// The entry's own metadata (a symlink's, not its target's); `None` when it
    /// is gone.
    fn lstat(&self, name: &OsStr) -> Result<Option<fs::Metadata>, ImageError> {
        match fs::symlink_metadata(self.at(name)) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::io("inspect", &self.shown(name), e)),
        }
    }

    /// Open the subdirectory `name`; `None` when it is gone or no longer a
    /// directory (it was replaced while we read).
    fn open_dir(&self, name: &OsStr) -> Result<Option<Dir>, ImageError> {
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.at(name));
        match opened {
            Ok(handle) => Ok(Some(Dir {
                handle,
                shown: self.shown(name),
            })),
            Err(e) if vanished(&e) => Ok(None),
            Err(e) => Err(ImageError::io("open directory", &self.shown(name), e)),
        }
    }

    /// Open the regular file `name`; `None` when it is gone or no longer a
    /// regular file.
    fn open_file(&self, name: &OsStr) -> Result<Option<File>, ImageError> {
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(self.at(name));
        match opened {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => Ok(Some(f)),
            Ok(_) => Ok(None),
            Err(e) if vanished(&e) => Ok(None),
            Err(e) => Err(ImageError::io("open", &self.shown(name), e)),
        }
    }

    fn read_link(&self, name: &OsStr) -> Result<PathBuf, ImageError> {
        fs::read_link(self.at(name)).map_err(ioe("read link", &self.shown(name)))
    }

    fn is_opaque(&self, name: &OsStr) -> bool {
        matches!(xattr::get(self.at(name), OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
    }

    /// Extended attributes worth keeping, as PAX records, sorted.
    fn pax_xattrs(&self, name: &OsStr) -> Vec<(String, Vec<u8>)> {
        let path = self.at(name);
        let Ok(names) = xattr::list(&path) else {
            return Vec::new();
        };
        let mut records = Vec::new();
        for attr in names {
            let attr = attr.to_string_lossy().into_owned();
            if attr.starts_with("trusted.overlay.") {
                continue;
            }
            if let Ok(Some(value)) = xattr::get(&path, &attr) {
                records.push((format!("SCHILY.xattr.{attr}"), value));
            }
        }
        records.sort();
        records
    }
}

/// ENOENT, ELOOP (now a symlink), ENOTDIR (now a file): the entry changed under us.
fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR))
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

/// The archive being written and the hard links seen so far.
struct Writer<W: Write> {
    tar: tar::Builder<W>,
    links: HashMap<(u64, u64), String>,
    entries: u64,
}

impl<W: Write> Writer<W> {
    fn new(out: W) -> Self {
        Writer {
            tar: tar::Builder::new(out),
            links: HashMap::new(),
            entries: 0,
        }
    }

    fn finish(self, tree: &Path) -> Result<u64, ImageError> {
        let entries = self.entries;
        self.tar
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(ioe("finish the archive of", tree))?;
        Ok(entries)
    }

    /// A zero-length marker (`.wh.NAME`, `.wh..wh..opq`).
    fn marker(&mut self, path: &str, m: &fs::Metadata, shown: &Path) -> Result<(), ImageError> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(m.mtime().max(0) as u64);
        self.entries += 1;
        self.tar
            .append_data(&mut h, path, io::empty())
            .map_err(ioe("add to the archive", shown))
    }

    /// The entry `name` of `dir` at `rel` (a directory as `rel/`, its content not
    /// included). Returns false when it vanished before it could be read.
    fn entry(
        &mut self,
        dir: &Dir,
        name: &OsStr,
        rel: &str,
        m: &fs::Metadata,
    ) -> Result<bool, ImageError> {
        let shown = dir.shown(name);
        let e = |err: io::Error| ImageError::io("add to the archive", &shown, err);
        let ft = m.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(m, tar::HeaderMode::Complete);
        h.set_mtime(m.mtime().max(0) as u64);
        h.set_size(0);
        let xattrs = dir.pax_xattrs(name);
        let pax = |tar: &mut tar::Builder<W>| -> Result<(), ImageError> {
            if xattrs.is_empty() {
                return Ok(());
            }
            tar.append_pax_extensions(xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .map_err(ioe("add extended attributes of", &shown))
        };
        if ft.is_dir() {
            pax(&mut self.tar)?;
            self.tar
                .append_data(&mut h, format!("{rel}/"), io::empty())
                .map_err(e)?;
        } else if ft.is_symlink() {
            let target = dir.read_link(name)?;
            pax(&mut self.tar)?;
            self.tar.append_link(&mut h, rel, &target).map_err(e)?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                    let first = first.clone();
                    h.set_entry_type(tar::EntryType::Link);
                    self.tar.append_link(&mut h, rel, &first).map_err(e)?;
                    self.entries += 1;
                    return Ok(true);
                }
            }
            let Some(file) = dir.open_file(name)? else {
                return Ok(false);
            };
            if m.nlink() > 1 {
                self.links.insert((m.dev(), m.ino()), rel.to_string());
            }
            pax(&mut self.tar)?;
            h.set_size(m.len());
            self.tar
                .append_data(&mut h, rel, Exactly::new(file, m.len()))
                .map_err(e)?;
        } else {
            // Devices and fifos: headers only.
            let dev = m.rdev();
            let _ = h.set_device_major(nix::sys::stat::major(dev) as u32);
            let _ = h.set_device_minor(nix::sys::stat::minor(dev) as u32);
            pax(&mut self.tar)?;
            self.tar.append_data(&mut h, rel, io::empty()).map_err(e)?;
        }
        self.entries += 1;
        Ok(true)
    }
}

/// `len` bytes of a file that may change while it is read: cut when it grew,
/// padded with zeros when it shrank, so the archive stays well-formed.
struct Exactly {
    file: io::Take<File>,
    padding: u64,
}

impl Exactly {
    fn new(file: File, len: u64) -> Self {
        Exactly {
            file: file.take(len),
            padding: len,
        }
    }
}

impl Read for Exactly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            self.padding -= n as u64;
            return Ok(n);
        }
        let n = buf.len().min(self.padding as usize);
        buf[..n].fill(0);
        self.padding -= n as u64;
        Ok(n)
    }
}

/// Write the diff directory `dir` as an OCI layer to `out`, leaving out what
/// `skip` says. Returns the number of entries written.
pub fn write_diff(dir: &Path, out: impl Write, skip: Skip<'_>) -> Result<u64, ImageError> {
    let root = Dir::open_root(dir)?;
    let mut w = Writer::new(out);
    diff_dir(&mut w, &root, "", skip)?;
    w.finish(dir)
}

/// Whether [`write_diff`] of `dir` would write nothing.
pub fn diff_is_empty(dir: &Path, skip: Skip<'_>) -> Result<bool, ImageError> {
    Ok(!has_content(&Dir::open_root(dir)?, "", skip)?)
}

/// Whether the diff directory `dir` (at `prefix`) holds an entry that is not
/// left out (a directory with only left-out entries does not count).
fn has_content(dir: &Dir, prefix: &str, skip: Skip<'_>) -> Result<bool, ImageError> {
    for name in dir.names()? {
        let Some(m) = dir.lstat(&name)? else {
            continue;
        };
        let rel = format!("{prefix}{}", name.to_string_lossy());
        if skip(&rel, &m) {
            continue;
        }
        if !m.is_dir() || dir_is_kept(dir, &name, &rel, skip)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A directory of a diff is written when it is opaque, empty (made empty on
/// purpose), or holds something that is not left out.
fn dir_is_kept(parent: &Dir, name: &OsStr, rel: &str, skip: Skip<'_>) -> Result<bool, ImageError> {
    if parent.is_opaque(name) {
        return Ok(true);
    }
    let Some(dir) = parent.open_dir(name)? else {
        return Ok(false);
    };
    Ok(dir.names()?.is_empty() || has_content(&dir, &format!("{rel}/"), skip)?)
}

fn diff_dir<W: Write>(
    w: &mut Writer<W>,
    dir: &Dir,
    prefix: &str,
    skip: Skip<'_>,
) -> Result<(), ImageError> {
    for name in dir.names()? {
        let Some(m) = dir.lstat(&name)? else {
            continue;
        };
        let text = name.to_string_lossy();
        let rel = format!("{prefix}{text}");
        if skip(&rel, &m) {
            continue;
        }
        if is_whiteout(&m) {
            w.marker(&format!("{prefix}.wh.{text}"), &m, &dir.shown(&name))?;
            continue;
        }
        if !m.is_dir() {
            w.entry(dir, &name, &rel, &m)?;
            continue;
        }
        if !dir_is_kept(dir, &name, &rel, skip)? {
            continue;
        }
        let Some(sub) = dir.open_dir(&name)? else {
            continue;
        };
        w.entry(dir, &name, &rel, &m)?;
        if dir.is_opaque(&name) {
            w.marker(&format!("{rel}/.wh..wh..opq"), &m, &sub.shown)?;
        }
        diff_dir(w, &sub, &format!("{rel}/"), skip)?;
    }
    Ok(())
}

/// Write the file system that overlayfs makes of `layers` (the top layer first,
/// each in upper form) to `out` as a plain tar. Returns the number of entries.
pub fn write_merged(layers: &[PathBuf], out: impl Write) -> Result<u64, ImageError> {
    let roots = layers
        .iter()
        .map(|l| Dir::open_root(l))
        .collect::<Result<Vec<_>, _>>()?;
    let mut w = Writer::new(out);
    merged_dir(&mut w, &roots, "")?;
    w.finish(layers.first().map_or(Path::new("/"), PathBuf::as_path))
}

/// One directory of the merged view, seen in `dirs` (top first: each a real
/// directory of its layer, the last one opaque or the bottom layer's).
fn merged_dir<W: Write>(w: &mut Writer<W>, dirs: &[Dir], prefix: &str) -> Result<(), ImageError> {
    let mut names = BTreeSet::new();
    for dir in dirs {
        names.extend(dir.names()?);
    }
    for name in names {
        // The topmost layer that has the name decides what it is.
        let mut top = None;
        for (i, dir) in dirs.iter().enumerate() {
            if let Some(m) = dir.lstat(&name)? {
                top = Some((i, m));
                break;
            }
        }
        let Some((i, m)) = top else {
            continue;
        };
        if is_whiteout(&m) {
            continue;
        }
        let rel = format!("{prefix}{}", name.to_string_lossy());
        if !m.is_dir() {
            w.entry(&dirs[i], &name, &rel, &m)?;
            continue;
        }
        // The directory's content: this layer's and that of the lower layers
        // down to a whiteout, a non-directory or an opaque directory.
        let mut below = Vec::new();
        for dir in &dirs[i..] {
            let Some(lower) = dir.lstat(&name)? else {
                continue;
            };
            if !lower.is_dir() {
                break;
            }
            let Some(sub) = dir.open_dir(&name)? else {
                break;
            };
            let opaque = dir.is_opaque(&name);
            below.push(sub);
            if opaque {
                break;
            }
        }
        if below.is_empty() {
            continue;
        }
        w.entry(&dirs[i], &name, &rel, &m)?;
        merged_dir(w, &below, &format!("{rel}/"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
