//! A container's secrets and configs: written once at create into
//! `containers/<id>/files/` (a directory only root can enter), owned and
//! moded as the service asks, and bind-mounted read-only one file each at
//! every start. Their content never goes into the container's root file
//! system, its logs or the state files.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wharf_engine_api::{ContainerSpec, EngineError, Result};
use wharf_runtime::{MountKind, MountSpec};

/// The directory under the container's state directory.
const FILES_DIR: &str = "files";

/// Where file `index` of the container lives on the host (by position, so
/// no name from the Compose file ever becomes part of a host path).
fn file_path(container_dir: &Path, index: usize) -> PathBuf {
    container_dir.join(FILES_DIR).join(index.to_string())
}

/// Check the files of `spec` before anything is written: absolute targets,
/// content present (it is not kept in the spec's serialized form).
pub(crate) fn validate(spec: &ContainerSpec) -> Result<()> {
    use sha2::{Digest, Sha256};
    for file in &spec.files {
        if !file.target.starts_with('/') {
            return Err(EngineError::Invalid(format!(
                "container {}: the target {:?} of {} {} must be an absolute path",
                spec.name, file.target, file.kind, file.name
            )));
        }
        if hex::encode(Sha256::digest(&file.content)) != file.digest {
            return Err(EngineError::Invalid(format!(
                "container {}: the content of {} {} does not match its digest: \
                 create the container from its service again",
                spec.name, file.kind, file.name
            )));
        }
    }
    Ok(())
}

/// Write the files of `spec` into `container_dir`.
pub(crate) fn write(container_dir: &Path, spec: &ContainerSpec) -> Result<()> {
    if spec.files.is_empty() {
        return Ok(());
    }
    let dir = container_dir.join(FILES_DIR);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| EngineError::io(format!("creating {}", dir.display()), e))?;
    for (index, file) in spec.files.iter().enumerate() {
        let path = file_path(container_dir, index);
        let io = |e| {
            EngineError::io(
                format!(
                    "writing {} {} of container {}",
                    file.kind, file.name, spec.name
                ),
                e,
            )
        };
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        out.write_all(&file.content).map_err(io)?;
        // Owner first: changing it clears set-id bits of the mode.
        std::os::unix::fs::fchown(&out, Some(file.uid), Some(file.gid)).map_err(io)?;
        out.set_permissions(fs::Permissions::from_mode(file.mode & 0o7777))
            .map_err(io)?;
        out.sync_all().map_err(io)?;
    }
    Ok(())
}

/// The read-only bind mounts of the files written for `spec`.
pub(crate) fn mounts(container_dir: &Path, spec: &ContainerSpec) -> Result<Vec<MountSpec>> {
    spec.files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let source = file_path(container_dir, index);
            if !source.is_file() {
                return Err(EngineError::Invalid(format!(
                    "container {}: the file of {} {} is missing from {}: recreate the \
                     container (wharf up --force-recreate)",
                    spec.name,
                    file.kind,
                    file.name,
                    container_dir.join(FILES_DIR).display()
                )));
            }
            Ok(MountSpec {
                kind: MountKind::Bind,
                source,
                target: file.target.clone(),
                read_only: true,
                options: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use wharf_engine_api::{FileKind, FileMount};

    fn spec(content: &[u8], mode: u32) -> ContainerSpec {
        use sha2::{Digest, Sha256};
        ContainerSpec {
            name: "p-app-1".into(),
            files: vec![FileMount {
                kind: FileKind::Secret,
                name: "../token".into(),
                target: "/run/secrets/token".into(),
                uid: nix::unistd::geteuid().as_raw(),
                gid: nix::unistd::getegid().as_raw(),
                mode,
                digest: hex::encode(Sha256::digest(content)),
                content: content.to_vec(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn files_are_written_private_with_their_mode_and_mounted_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(b"s3cret", 0o440);
        validate(&spec).unwrap();
        write(dir.path(), &spec).unwrap();
        let files = dir.path().join("files");
        assert_eq!(fs::metadata(&files).unwrap().mode() & 0o7777, 0o700);
        // Named by position: the secret's name never reaches a host path.
        let file = files.join("0");
        assert_eq!(fs::read(&file).unwrap(), b"s3cret");
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o7777, 0o440);
        let mounts = mounts(dir.path(), &spec).unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].source, file);
        assert_eq!(mounts[0].target, "/run/secrets/token");
        assert!(mounts[0].read_only);
        fs::remove_file(&file).unwrap();
        let err = super::mounts(dir.path(), &spec).unwrap_err().to_string();
        assert!(
            err.contains("is missing") && err.contains("--force-recreate"),
            "{err}"
        );
    }

    #[test]
    fn content_must_match_its_digest() {
        let mut spec = spec(b"s3cret", 0o444);
        spec.files[0].content.clear();
        let err = validate(&spec).unwrap_err().to_string();
        assert!(err.contains("does not match its digest"), "{err}");
        spec.files[0].target = "run/x".into();
        let err = validate(&spec).unwrap_err().to_string();
        assert!(err.contains("must be an absolute path"), "{err}");
    }
}
