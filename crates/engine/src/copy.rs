//! `wharf cp` on the engine side: a container's root as a directory
//! descriptor — `/proc/<pid>/root` while it runs (its volumes and bind mounts
//! included, as its processes see them), else its overlay of image layers and
//! upper directory, opened and detached at once — and the tree operations of
//! `wharf_runtime::copy` on it.

use crate::store::ContainerRecord;
use crate::{runtime_err, LinuxEngine};
use std::sync::atomic::{AtomicU32, Ordering};
use wharf_engine_api::{ContainerState, CopyToOptions, EngineError, PathStat, Result};
use wharf_runtime::copy::{ExtractOptions, Ownership, PathInfo, RootDir};

/// Tells apart the temporary mount points of two copies in one process.
static MOUNTS: AtomicU32 = AtomicU32::new(0);

fn path_stat(info: PathInfo) -> PathStat {
    PathStat {
        name: info.name,
        size: info.size,
        mode: info.mode,
        mtime: info.mtime,
        link_target: info.link_target,
    }
}

/// A runtime error on `path` of `record` as the user should read it.
fn copy_error(
    error: wharf_runtime::RuntimeError,
    path: &str,
    record: &ContainerRecord,
) -> EngineError {
    if let wharf_runtime::RuntimeError::Io { source, .. } = &error {
        match source.raw_os_error() {
            Some(libc::ENOENT) => return EngineError::not_found("file", path),
            Some(libc::ENOTDIR) => {
                return EngineError::Invalid(format!(
                    "{path} in container {} is not a directory",
                    record.name
                ))
            }
            _ => {}
        }
    }
    EngineError::step(format!("container {}", record.name), error, "")
}

impl LinuxEngine {
    /// The root of `record` as its processes see it, and whether it runs.
    fn container_root(&self, record: &ContainerRecord) -> Result<(RootDir, bool)> {
        if let ContainerState::Running { pid, .. } = self.live_state(&record.id)?.state {
            if let Ok(root) = RootDir::open(std::path::Path::new(&format!("/proc/{pid}/root"))) {
                return Ok((root, true));
            }
        }
        let dir = self.layout.container(&record.id);
        let mountpoint = dir.join(format!(
            "cp-{}-{}",
            std::process::id(),
            MOUNTS.fetch_add(1, Ordering::Relaxed)
        ));
        let root = RootDir::open_overlay(
            &record.layers,
            &dir.join("upper"),
            &dir.join("work"),
            &mountpoint,
        );
        let _ = std::fs::remove_dir(&mountpoint);
        Ok((root.map_err(runtime_err)?, false))
    }

    pub(crate) fn stat_in(&self, id: &str, path: &str, follow: bool) -> Result<PathStat> {
        let record = self.find(id)?;
        let (root, _) = self.container_root(&record)?;
        root.stat(path, follow)
            .map(path_stat)
            .map_err(|e| copy_error(e, path, &record))
    }

    pub(crate) fn archive_from(
        &self,
        id: &str,
        path: &str,
        follow: bool,
        name: Option<&str>,
        out: &mut dyn std::io::Write,
    ) -> Result<PathStat> {
        let record = self.find(id)?;
        let (root, _) = self.container_root(&record)?;
        root.archive(path, follow, name, out)
            .map(path_stat)
            .map_err(|e| copy_error(e, path, &record))
    }

    pub(crate) fn extract_into(
        &self,
        id: &str,
        dir: &str,
        archive: &mut dyn std::io::Read,
        options: &CopyToOptions,
    ) -> Result<()> {
        let record = self.find(id)?;
        let (root, running) = self.container_root(&record)?;
        if !running && record.spec.security.read_only {
            return Err(EngineError::Invalid(format!(
                "container {} has a read-only root file system (read_only: true): nothing can be copied into it",
                record.name
            )));
        }
        let ownership = if options.keep_ownership {
            Ownership::Keep
        } else {
            Ownership::Set { uid: 0, gid: 0 }
        };
        let extract = ExtractOptions {
            ownership,
            confined: false,
            create_dir: options.create_dir,
            devices: true,
        };
        root.extract(dir, archive, &extract)
            .map_err(|e| copy_error(e, dir, &record))
    }

    pub(crate) fn remove_in(&self, id: &str, path: &str) -> Result<()> {
        let record = self.find(id)?;
        let (root, _) = self.container_root(&record)?;
        root.remove(path).map_err(|e| copy_error(e, path, &record))
    }
}

/// The host side of `wharf cp`: the same tree operations with the host's `/`
/// as the root (reading a source) or the destination directory as the root
/// with no symlink followed below it (writing), so an archive from a
/// container cannot place a file outside the destination.
pub mod host {
    use super::path_stat;
    use std::io::{Read, Write};
    use std::path::Path;
    use wharf_engine_api::{EngineError, PathStat, Result};
    use wharf_runtime::copy::{ExtractOptions, Ownership, RootDir};

    fn error(e: wharf_runtime::RuntimeError, path: &str) -> EngineError {
        match &e {
            wharf_runtime::RuntimeError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                EngineError::not_found("file", path)
            }
            _ => EngineError::Runtime(Box::new(e)),
        }
    }

    /// What is at the host path `path` (absolute).
    pub fn stat(path: &str, follow_link: bool) -> Result<PathStat> {
        let root = RootDir::open(Path::new("/")).map_err(|e| error(e, "/"))?;
        root.stat(path, follow_link)
            .map(path_stat)
            .map_err(|e| error(e, path))
    }

    /// A tar stream of the host path `path` (absolute), its top entry named `name`.
    pub fn archive(path: &str, follow_link: bool, name: &str, out: &mut dyn Write) -> Result<()> {
        let root = RootDir::open(Path::new("/")).map_err(|e| error(e, "/"))?;
        root.archive(path, follow_link, Some(name), out)
            .map(|_| ())
            .map_err(|e| error(e, path))
    }

    /// Extract `input` into the existing host directory `dir`, following no
    /// symlink below it; with `keep_ownership` the archive's owners are kept.
    pub fn extract(dir: &Path, input: &mut dyn Read, keep_ownership: bool) -> Result<()> {
        let shown = dir.display().to_string();
        let root = RootDir::open(dir).map_err(|e| error(e, &shown))?;
        let options = ExtractOptions {
            ownership: if keep_ownership {
                Ownership::Keep
            } else {
                Ownership::Caller
            },
            confined: true,
            create_dir: false,
            devices: false,
        };
        root.extract("/", input, &options)
            .map_err(|e| error(e, &shown))
    }
}
