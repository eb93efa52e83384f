//! `docker container diff`: what a container changed in its file system, read
//! from its overlay upper directory — `A` added, `C` changed (a file replaced or
//! a directory whose content changed), `D` deleted (an overlay whiteout).

use crate::LinuxEngine;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use wharf_engine_api::{EngineError, Result};

/// The kind of one change, as docker prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        }
    }
}

impl LinuxEngine {
    /// The changes of a container, parents before children, each path absolute.
    pub fn container_changes(&self, id_or_name: &str) -> Result<Vec<(ChangeKind, String)>> {
        let record = self.find(id_or_name)?;
        let upper = self.layout.container(&record.id).join("upper");
        let mut out = Vec::new();
        walk(&upper, Path::new(""), &record.layers, false, &mut out).map_err(|e| {
            EngineError::io(
                format!("reading the changes of container {}", record.name),
                e,
            )
        })?;
        Ok(out)
    }
}

fn walk(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    below_opaque: bool,
    out: &mut Vec<(ChangeKind, String)>,
) -> std::io::Result<()> {
    let dir = upper.join(rel);
    let mut entries: Vec<_> = match fs::read_dir(&dir) {
        Ok(entries) => entries.collect::<std::io::Result<_>>()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = rel.join(entry.file_name());
        let text = path.to_string_lossy().into_owned();
        let meta = fs::symlink_metadata(entry.path())?;
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push((ChangeKind::Deleted, format!("/{text}")));
            continue;
        }
        if crate::commit::is_etc_mount_point(&text, &meta) {
            continue;
        }
        let in_lower = !below_opaque
            && lowers
                .iter()
                .any(|layer| fs::symlink_metadata(layer.join(&path)).is_ok());
        let kind = if in_lower {
            ChangeKind::Changed
        } else {
            ChangeKind::Added
        };
        out.push((kind, format!("/{text}")));
        if meta.is_dir() {
            let opaque = xattr::get(entry.path(), wharf_image::tree_tar::OPAQUE_XATTR)
                .ok()
                .flatten()
                .is_some_and(|v| v == b"y");
            walk(
                upper,
                &path,
                lowers,
                below_opaque || opaque || !in_lower,
                out,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_changed_and_deleted_entries() {
        let lower = tempfile::tempdir().unwrap();
        let upper = tempfile::tempdir().unwrap();
        fs::create_dir_all(lower.path().join("etc")).unwrap();
        fs::write(lower.path().join("etc/passwd"), "root").unwrap();
        fs::write(lower.path().join("gone"), "x").unwrap();
        fs::create_dir_all(upper.path().join("etc")).unwrap();
        fs::write(upper.path().join("etc/passwd"), "root\napp").unwrap();
        fs::write(upper.path().join("etc/new.conf"), "x").unwrap();
        fs::write(upper.path().join("etc/hosts"), "").unwrap();
        fs::create_dir_all(upper.path().join("srv/app")).unwrap();
        fs::write(upper.path().join("srv/app/data"), "x").unwrap();
        // A whiteout is a 0/0 character device, which only root can make.
        let root = nix::unistd::geteuid().is_root();
        if root {
            nix::sys::stat::mknod(
                &upper.path().join("gone"),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .unwrap();
        }
        let mut out = Vec::new();
        walk(
            upper.path(),
            Path::new(""),
            &[lower.path().to_path_buf()],
            false,
            &mut out,
        )
        .unwrap();
        let text: Vec<String> = out
            .iter()
            .map(|(k, p)| format!("{} {p}", k.letter()))
            .collect();
        let mut want = vec!["C /etc", "A /etc/new.conf", "C /etc/passwd", "D /gone"];
        want.extend(["A /srv", "A /srv/app", "A /srv/app/data"]);
        if !root {
            want.retain(|l| *l != "D /gone");
        }
        assert_eq!(text, want);
    }
}
