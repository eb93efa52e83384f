//! Checks on the paths of a container's mounts, shared by the checks `up`
//! runs before anything is created and the preparation of each start: a
//! volume subpath opened without leaving the volume, what the image has at a
//! path, and the propagation of a bind's host source.

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use wharf_engine_api::{EngineError, Mount, Result};

/// What the image has at a path (looked up literally, top layer first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageFileType {
    Dir,
    File,
}

pub(crate) fn image_file_type(layers: &[PathBuf], target: &str) -> Option<ImageFileType> {
    let rel = target.trim_start_matches('/');
    if rel.is_empty() {
        return Some(ImageFileType::Dir);
    }
    for layer in layers.iter().rev() {
        let Ok(meta) = fs::symlink_metadata(layer.join(rel)) else {
            continue;
        };
        let kind = meta.file_type();
        return if kind.is_dir() {
            Some(ImageFileType::Dir)
        } else if kind.is_symlink() || (kind.is_char_device() && meta.rdev() == 0) {
            // A symlink (resolved only at run time) or a whiteout: no verdict.
            None
        } else {
            Some(ImageFileType::File)
        };
    }
    None
}

/// A subpath must be relative and must not climb with `..`.
pub(crate) fn check_subpath_text(subpath: &str) -> std::result::Result<(), String> {
    let path = Path::new(subpath);
    if subpath.is_empty() || path.is_absolute() {
        return Err(format!(
            "subpath {subpath:?} must be a relative path inside the volume"
        ));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "subpath {subpath:?} must not contain `..`: it would leave the volume"
        ));
    }
    Ok(())
}

/// Open `subpath` under `base` without leaving it (symlinks included);
/// the returned file keeps the resolved directory pinned.
pub(crate) fn open_beneath(base: &Path, subpath: &str, volume: &str) -> Result<fs::File> {
    check_subpath_text(subpath).map_err(EngineError::Invalid)?;
    let root =
        fs::File::open(base).map_err(|e| EngineError::io(format!("opening volume {volume}"), e))?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let raw = nix::fcntl::openat2(root.as_raw_fd(), subpath, how).map_err(|e| match e {
        nix::errno::Errno::EXDEV => EngineError::Invalid(format!(
            "subpath {subpath:?} of volume {volume} leaves the volume through a symlink: \
             point it at a directory inside the volume"
        )),
        nix::errno::Errno::ENOENT => EngineError::Invalid(format!(
            "subpath {subpath:?} does not exist in volume {volume}: create it first"
        )),
        other => EngineError::io(
            format!("opening subpath {subpath:?} of volume {volume}"),
            other.into(),
        ),
    })?;
    // Re-open the O_PATH descriptor as an owned file (through its magic link,
    // which names the inode already resolved), then drop the raw one.
    let reopened = fs::File::open(format!("/proc/self/fd/{raw}"));
    let _ = nix::unistd::close(raw);
    reopened.map_err(|e| EngineError::io(format!("opening subpath {subpath:?} of {volume}"), e))
}

/// Check that a bind asking for slave propagation can have it: the host's
/// mount holding `source` must be shared (or itself a slave), else no mount
/// event would ever reach the container (docker's check).
pub(crate) fn check_propagation(source: &Path, mount: &Mount) -> Result<()> {
    let Some(propagation) = mount
        .options
        .iter()
        .find(|o| matches!(o.as_str(), "slave" | "rslave"))
    else {
        return Ok(());
    };
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| EngineError::io("reading /proc/self/mountinfo", e))?;
    let path = fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    match holding_mount(&mountinfo, &path) {
        Some((_, true)) => Ok(()),
        found => {
            let mount_point = found.map(|(m, _)| m).unwrap_or_else(|| "/".into());
            Err(EngineError::Invalid(format!(
                "bind source {} for {} asks for {propagation} propagation, but the mount {} \
                 holding it is private: make it shared (mount --make-rshared {}) or remove \
                 bind.propagation",
                source.display(),
                mount.target,
                mount_point,
                mount_point
            )))
        }
    }
}

/// The mount point holding `path` in a `/proc/self/mountinfo` text (the
/// last mounted of the deepest), and whether it is shared or a slave.
pub(crate) fn holding_mount(mountinfo: &str, path: &Path) -> Option<(String, bool)> {
    let mut best: Option<(PathBuf, bool)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(mount_point), Some(separator)) =
            (fields.get(4), fields.iter().position(|f| *f == "-"))
        else {
            continue;
        };
        let mount_point = PathBuf::from(unescape_mountinfo(mount_point));
        if !path.starts_with(&mount_point) {
            continue;
        }
        let propagates = fields[6.min(separator)..separator]
            .iter()
            .any(|f| f.starts_with("shared:") || f.starts_with("master:"));
        let deeper = best
            .as_ref()
            .is_none_or(|(b, _)| mount_point.components().count() >= b.components().count());
        if deeper {
            best = Some((mount_point, propagates));
        }
    }
    best.map(|(p, propagates)| (p.display().to_string(), propagates))
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
pub(crate) fn unescape_mountinfo(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_holding_a_path_and_its_propagation() {
        let info = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /srv rw,relatime - tmpfs tmpfs rw
31 30 0:41 / /srv/shared\\040dir rw master:7 - tmpfs tmpfs rw
32 30 0:42 / /srv rw - tmpfs tmpfs rw
";
        let at = |p: &str| holding_mount(info, Path::new(p));
        assert_eq!(at("/home/x"), Some(("/".into(), true)));
        // The later of two mounts on /srv covers the first.
        assert_eq!(at("/srv/data"), Some(("/srv".into(), false)));
        assert_eq!(
            at("/srv/shared dir/a"),
            Some(("/srv/shared dir".into(), true))
        );
        // A sibling whose name merely starts the same is not below it.
        assert_eq!(at("/srvx"), Some(("/".into(), true)));
    }

    #[test]
    fn subpath_text() {
        assert!(check_subpath_text("a/b").is_ok());
        assert!(check_subpath_text("/a").is_err());
        assert!(check_subpath_text("a/../../b").is_err());
        assert!(check_subpath_text("").is_err());
    }

    #[test]
    fn subpath_never_leaves_the_volume() {
        let dir = tempfile::tempdir().unwrap();
        let volume = dir.path().join("vol");
        fs::create_dir_all(volume.join("inside/deeper")).unwrap();
        std::os::unix::fs::symlink("/etc", volume.join("escape")).unwrap();
        std::os::unix::fs::symlink("inside/deeper", volume.join("ok-link")).unwrap();
        assert!(open_beneath(&volume, "inside", "v").is_ok());
        assert!(open_beneath(&volume, "ok-link", "v").is_ok());
        let err = open_beneath(&volume, "escape", "v")
            .unwrap_err()
            .to_string();
        assert!(err.contains("leaves the volume"), "{err}");
        let err = open_beneath(&volume, "missing", "v")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
