//! Layer unpacking: a (gzip, zstd or plain) tar layer becomes a directory that
//! overlayfs can use as a lower layer. Security-critical: no entry is ever written
//! outside the destination. Paths are made relative, `..` is refused, every parent is
//! checked with `symlink_metadata` so nothing is written *through* a symlink, and hard
//! links must point inside the layer. OCI whiteouts become overlayfs whiteouts
//! (`.wh.NAME` → a 0/0 character device, `.wh..wh..opq` → `trusted.overlay.opaque=y`).
//!
//! The destination is a fresh directory that only this unpacker writes to, so checking
//! each path before using it is not racy.

use crate::digest::Hashing;
use crate::error::{ioe, nixe, ImageError};
use nix::sys::stat::{lutimes, makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::{TimeSpec, TimeVal};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// How a stream is compressed, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

/// A compression wharf recognises but cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedCompression {
    #[error("it is xz-compressed, which is not supported; decompress it (xz -d) or recompress it with gzip")]
    Xz,
    #[error("it is bzip2-compressed, which is not supported; decompress it (bunzip2) or recompress it with gzip")]
    Bzip2,
}

impl Compression {
    /// Tell the compression from the first bytes of a stream.
    pub fn detect(magic: &[u8]) -> Result<Compression, UnsupportedCompression> {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Ok(Compression::Gzip)
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Ok(Compression::Zstd)
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Err(UnsupportedCompression::Xz)
        } else if magic.starts_with(b"BZh") {
            Err(UnsupportedCompression::Bzip2)
        } else {
            Ok(Compression::None)
        }
    }

    /// OCI layer media type for a layer stored with this compression.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compression::None => crate::oci::MEDIA_TYPE_LAYER_TAR,
            Compression::Gzip => crate::oci::MEDIA_TYPE_LAYER_GZIP,
            Compression::Zstd => crate::oci::MEDIA_TYPE_LAYER_ZSTD,
        }
    }
}

/// Sniff the compression of `r` and return a reader of the decompressed bytes.
/// `what` names the stream in errors.
pub fn decompress<'a>(r: impl Read + 'a, what: &str) -> Result<Box<dyn Read + 'a>, ImageError> {
    let mut buf = BufReader::with_capacity(64 * 1024, r);
    let magic = buf.fill_buf().map_err(|e| ImageError::BadLayer {
        layer: what.to_string(),
        reason: format!("cannot read it: {e}"),
    })?;
    let kind = Compression::detect(magic).map_err(|e| ImageError::BadLayer {
        layer: what.to_string(),
        reason: e.to_string(),
    })?;
    Ok(match kind {
        Compression::None => Box::new(buf),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buf)),
        Compression::Zstd => Box::new(ZstdFrames {
            src: buf,
            dec: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
        }),
    })
}

/// A zstd stream of any number of frames (skippable ones are skipped), decoded.
struct ZstdFrames<R> {
    src: R,
    dec: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

fn zstd_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("invalid zstd stream: {e}"),
    )
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.src.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.dec.init(&mut self.src) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let skip = u64::from(length);
                        let skipped = io::copy(&mut (&mut self.src).take(skip), &mut io::sink())?;
                        if skipped != skip {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        continue;
                    }
                    Err(e) => return Err(zstd_error(e)),
                }
            }
            while self.dec.can_collect() < buf.len() && !self.dec.is_finished() {
                let need = buf.len() - self.dec.can_collect();
                self.dec
                    .decode_blocks(
                        &mut self.src,
                        ruzstd::decoding::BlockDecodingStrategy::UptoBytes(need),
                    )
                    .map_err(zstd_error)?;
            }
            let n = self.dec.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // This frame is done; go on with the next one, if any.
            self.in_frame = false;
        }
    }
}

/// How to unpack.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Running with root privileges: restore ownership, create device nodes and
    /// overlay whiteouts. Without it ownership is left to the caller, device nodes are
    /// skipped, and whiteouts are refused (overlayfs needs them as devices).
    pub as_root: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            as_root: nix::unistd::geteuid().is_root(),
        }
    }
}

/// What unpacking found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackSummary {
    /// `sha256:` of the uncompressed tar stream (the layer's diff id).
    pub diff_id: String,
    /// Length of the uncompressed tar stream.
    pub size: u64,
}

/// Unpack the layer `layer` (compression detected) into the existing, empty directory
/// `dest`. `what` names the layer in errors. On error `dest` holds a partial tree that
/// the caller must discard.
pub fn unpack_layer(
    layer: impl Read,
    dest: &Path,
    what: &str,
    opts: &UnpackOptions,
) -> Result<UnpackSummary, ImageError> {
    let reader = Hashing::new(decompress(layer, what)?);
    let mut archive = tar::Archive::new(reader);
    let mut unpacker = Unpacker {
        root: dest,
        opts,
        what,
        dirs: HashMap::new(),
    };
    let bad = |e: io::Error| ImageError::BadLayer {
        layer: what.to_string(),
        reason: format!("not a valid tar archive: {e}"),
    };
    for entry in archive.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        unpacker.entry(entry)?;
    }
    unpacker.finish_dirs()?;
    // Hash the end-of-archive blocks and any padding too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(bad)?;
    let (diff_id, size, _) = rest.finish();
    Ok(UnpackSummary { diff_id, size })
}

/// Turn a tar path into a relative path with only normal components.
/// `None` for the root itself. `..` is refused; leading `/` and `.` are dropped.
fn sanitize(raw: &[u8]) -> Result<Option<PathBuf>, ImageError> {
    let path = Path::new(OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(ImageError::UnsafeEntry {
                    entry: String::from_utf8_lossy(raw).into_owned(),
                    reason: "its path has a '..' component, which could escape the layer".into(),
                })
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    })
}

struct DirMeta {
    mode: u32,
    mtime: u64,
}

struct Unpacker<'a> {
    root: &'a Path,
    opts: &'a UnpackOptions,
    what: &'a str,
    /// Directory modes and mtimes, applied at the end (children change mtimes, and a
    /// read-only mode would stop us writing children when not root).
    dirs: HashMap<PathBuf, DirMeta>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ImageError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().ok().and_then(|u| u32::try_from(u).ok());
        let gid = header.gid().ok().and_then(|g| u32::try_from(g).ok());
        let mtime = header.mtime().unwrap_or(0);

        let Some(rel) = sanitize(&raw)? else {
            // The root directory itself: keep its metadata.
            if kind.is_dir() {
                self.chown(self.root, uid, gid)?;
                self.dirs.insert(PathBuf::new(), DirMeta { mode, mtime });
            }
            return Ok(());
        };
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();

        // Whiteouts.
        if name == WHITEOUT_OPAQUE {
            let dir_rel = rel.parent().unwrap_or(Path::new(""));
            let dir = if dir_rel.as_os_str().is_empty() {
                self.root.to_path_buf()
            } else {
                let full = self.prepare_parent(dir_rel, &shown)?;
                if !is_real_dir(&full)? {
                    fsutil_remove(&full)?;
                    fs::create_dir(&full).map_err(ioe("create directory", &full))?;
                }
                full
            };
            self.need_root(&shown, "an opaque-directory whiteout")?;
            xattr::set(&dir, crate::tree_tar::OPAQUE_XATTR, b"y")
                .map_err(ioe("set trusted.overlay.opaque on", &dir))?;
            return Ok(());
        }
        if name.starts_with(WHITEOUT_META_PREFIX) {
            return Ok(()); // aufs bookkeeping (.wh..wh.plnk and the like)
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.contains('/') {
                return Err(ImageError::UnsafeEntry {
                    entry: shown,
                    reason: "it is a whiteout of an invalid name".into(),
                });
            }
            let target_rel = rel.with_file_name(hidden);
            let full = self.prepare_parent(&target_rel, &shown)?;
            self.need_root(&shown, "a whiteout")?;
            fsutil_remove(&full)?;
            mknod(&full, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                .map_err(nixe("create whiteout device", &full))?;
            return Ok(());
        }

        let full = self.prepare_parent(&rel, &shown)?;
        let xattrs = pax_xattrs(&mut entry);
        match kind {
            tar::EntryType::Directory => {
                if !is_real_dir(&full)? {
                    fsutil_remove(&full)?;
                    fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&full)
                        .map_err(ioe("create directory", &full))?;
                }
                self.chown(&full, uid, gid)?;
                self.dirs.insert(rel.clone(), DirMeta { mode, mtime });
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                fsutil_remove(&full)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(&full)
                    .map_err(ioe("create file", &full))?;
                io::copy(&mut entry, &mut file).map_err(|e| ImageError::BadLayer {
                    layer: self.what.to_string(),
                    reason: format!("cannot read the content of {shown:?}: {e}"),
                })?;
                self.chown(&full, uid, gid)?;
                file.set_permissions(fs::Permissions::from_mode(mode))
                    .map_err(ioe("set mode of", &full))?;
                file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
                    .map_err(ioe("set mtime of", &full))?;
                drop(file);
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ImageError::BadLayer {
                        layer: self.what.to_string(),
                        reason: format!("symbolic link {shown:?} has no target"),
                    })?
                    .into_owned();
                fsutil_remove(&full)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &full)
                    .map_err(ioe("create symbolic link", &full))?;
                self.chown(&full, uid, gid)?;
                let t = TimeVal::new(mtime as i64, 0);
                lutimes(&full, &t, &t).map_err(nixe("set mtime of", &full))?;
            }
            tar::EntryType::Link => {
                let raw_target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ImageError::BadLayer {
                        layer: self.what.to_string(),
                        reason: format!("hard link {shown:?} has no target"),
                    })?
                    .into_owned();
                let unsafe_link = |reason: String| ImageError::UnsafeEntry {
                    entry: format!("{shown} => {}", String::from_utf8_lossy(&raw_target)),
                    reason,
                };
                let target_rel = sanitize(&raw_target)
                    .map_err(|_| unsafe_link("the hard link's target has a '..' component".into()))?
                    .ok_or_else(|| unsafe_link("a hard link cannot point at the root".into()))?;
                let target = self.checked_existing(&target_rel).map_err(unsafe_link)?;
                if target == full {
                    return Ok(());
                }
                fsutil_remove(&full)?;
                fs::hard_link(&target, &full).map_err(ioe("create hard link", &full))?;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                if !self.opts.as_root {
                    return Ok(()); // device nodes need root; skip them like rootless engines do
                }
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                let sflag = if kind == tar::EntryType::Char {
                    SFlag::S_IFCHR
                } else {
                    SFlag::S_IFBLK
                };
                fsutil_remove(&full)?;
                mknod(
                    &full,
                    sflag,
                    Mode::from_bits_truncate(mode),
                    makedev(u64::from(major), u64::from(minor)),
                )
                .map_err(nixe("create device node", &full))?;
                self.finish_node(&full, uid, gid, mode, mtime)?;
            }
            tar::EntryType::Fifo => {
                fsutil_remove(&full)?;
                nix::unistd::mkfifo(&full, Mode::from_bits_truncate(mode))
                    .map_err(nixe("create fifo", &full))?;
                self.finish_node(&full, uid, gid, mode, mtime)?;
            }
            _ => return Ok(()), // pax/GNU bookkeeping and unknown types carry no file
        }
        for (name, value) in xattrs {
            // Best effort: the filesystem or our privileges may not allow them.
            let _ = xattr::set(&full, &name, &value);
        }
        Ok(())
    }

    /// Ensure every parent directory of `rel` exists as a real directory inside the
    /// root (creating missing ones), refusing to go through symlinks. Returns the full
    /// path of `rel`.
    fn prepare_parent(&self, rel: &Path, shown: &str) -> Result<PathBuf, ImageError> {
        let mut cur = self.root.to_path_buf();
        if let Some(parent) = rel.parent() {
            for comp in parent.components() {
                cur.push(comp);
                match fs::symlink_metadata(&cur) {
                    Ok(m) if m.is_dir() => {}
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(ImageError::UnsafeEntry {
                            entry: shown.to_string(),
                            reason: format!(
                                "its parent {:?} is a symbolic link; writing through it could escape the layer",
                                cur.strip_prefix(self.root).unwrap_or(&cur)
                            ),
                        })
                    }
                    Ok(_) => {
                        return Err(ImageError::BadLayer {
                            layer: self.what.to_string(),
                            reason: format!(
                                "entry {shown:?} needs {:?} to be a directory, but the layer made it a file",
                                cur.strip_prefix(self.root).unwrap_or(&cur)
                            ),
                        })
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        fs::DirBuilder::new()
                            .mode(0o755)
                            .create(&cur)
                            .map_err(ioe("create directory", &cur))?;
                    }
                    Err(e) => return Err(ImageError::io("inspect", &cur, e)),
                }
            }
        }
        Ok(self.root.join(rel))
    }

    /// Full path of an existing non-directory `rel` reached without symlinked parents.
    fn checked_existing(&self, rel: &Path) -> Result<PathBuf, String> {
        let mut cur = self.root.to_path_buf();
        if let Some(parent) = rel.parent() {
            for comp in parent.components() {
                cur.push(comp);
                match fs::symlink_metadata(&cur) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        return Err(format!(
                            "the hard link's target goes through {:?}, which is not a directory",
                            cur.strip_prefix(self.root).unwrap_or(&cur)
                        ))
                    }
                    Err(_) => {
                        return Err("the hard link's target does not exist in the layer".into())
                    }
                }
            }
        }
        let full = self.root.join(rel);
        match fs::symlink_metadata(&full) {
            Ok(m) if m.is_dir() => Err("a hard link cannot point at a directory".into()),
            Ok(_) => Ok(full),
            Err(_) => Err("the hard link's target does not exist in the layer".into()),
        }
    }

    fn need_root(&self, shown: &str, what: &str) -> Result<(), ImageError> {
        if self.opts.as_root {
            Ok(())
        } else {
            Err(ImageError::BadLayer {
                layer: self.what.to_string(),
                reason: format!(
                    "entry {shown:?} is {what}, which overlayfs needs as a device node or trusted \
                     xattr; only root can create those, run wharf as root"
                ),
            })
        }
    }

    fn chown(&self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<(), ImageError> {
        if self.opts.as_root {
            std::os::unix::fs::lchown(path, uid, gid).map_err(ioe("change owner of", path))?;
        }
        Ok(())
    }

    fn finish_node(
        &self,
        path: &Path,
        uid: Option<u32>,
        gid: Option<u32>,
        mode: u32,
        mtime: u64,
    ) -> Result<(), ImageError> {
        self.chown(path, uid, gid)?;
        // mknod/mkfifo apply the umask; set the mode exactly.
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(ioe("set mode of", path))?;
        let t = TimeSpec::new(mtime as i64, 0);
        utimensat(None, path, &t, &t, UtimensatFlags::NoFollowSymlink)
            .map_err(nixe("set mtime of", path))
    }

    /// Apply directory modes and mtimes, deepest first.
    fn finish_dirs(&mut self) -> Result<(), ImageError> {
        let mut dirs: Vec<_> = self.dirs.drain().collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (rel, meta) in dirs {
            let full = self.root.join(&rel);
            if !is_real_dir(&full)? {
                continue; // replaced by a later entry
            }
            fs::set_permissions(&full, fs::Permissions::from_mode(meta.mode))
                .map_err(ioe("set mode of", &full))?;
            let t = TimeSpec::new(meta.mtime as i64, 0);
            utimensat(None, &full, &t, &t, UtimensatFlags::NoFollowSymlink)
                .map_err(nixe("set mtime of", &full))?;
        }
        Ok(())
    }
}

/// `SCHILY.xattr.*` PAX records, minus overlayfs' own attributes (a layer must not
/// forge redirects or opaque markers that way).
fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            if let Ok(key) = ext.key() {
                if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                    if !name.starts_with("trusted.overlay.") && !name.starts_with("user.overlay.") {
                        out.push((name.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    out
}

fn is_real_dir(path: &Path) -> Result<bool, ImageError> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(m.is_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ImageError::io("inspect", path, e)),
    }
}

fn fsutil_remove(path: &Path) -> Result<(), ImageError> {
    crate::fsutil::remove_tree(path)
}

#[cfg(test)]
mod tests;
