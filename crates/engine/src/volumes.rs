//! The volume store: named volumes as records under `<root>/volumes/<name>/`
//! (`volume.json` plus the data in `_data/`, or a host directory / a mount
//! made from the local driver's `type`, `o` and `device` options), anonymous
//! volumes (64-hex names, remembered per container in
//! `containers/<id>/anonymous-volumes.json`), the `volume` commands, and the
//! checks `up` runs on a container's mounts before anything is created.
//! Preparing a container's mounts at each start is [`crate::mounts`]'s job.
use crate::lock::FileLock;
use crate::paths::{
    check_propagation, check_subpath_text, image_file_type, open_beneath, ImageFileType,
};
use crate::store::{self, Layout};
use crate::LinuxEngine;
use nix::mount::{MntFlags, MsFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wharf_engine_api::{
    ContainerSpec, EngineError, MountKind, Result, VolumeEngine, VolumeInfo, VolumeSpec, VolumeUser,
};

/// The record of a volume, `volumes/<name>/volume.json`.
pub(crate) const RECORD_FILE: &str = "volume.json";
/// The data directory of a volume of the plain local driver.
pub(crate) const DATA_DIR: &str = "_data";
/// Per container: mount target → name of the anonymous volume made for it.
pub(crate) const ANONYMOUS_FILE: &str = "anonymous-volumes.json";
/// Where wharf before volume records kept a container's anonymous volumes.
pub(crate) const LEGACY_ANONYMOUS_DIR: &str = "anonymous";
/// docker's label on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// A volume as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VolumeRecord {
    pub(crate) name: String,
    pub(crate) driver: String,
    #[serde(default)]
    pub(crate) options: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) created: i64,
    #[serde(default)]
    pub(crate) anonymous: bool,
    /// Set at the first mount: the image content is copied at most once.
    #[serde(default)]
    pub(crate) initialized: bool,
}

pub(crate) fn volume_dir(layout: &Layout, name: &str) -> PathBuf {
    layout.volumes().join(name)
}

pub(crate) fn volumes_lock(layout: &Layout) -> Result<FileLock> {
    FileLock::acquire(&layout.locks().join("volumes.lock"))
}

/// docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok && name.len() >= 2 {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!(
            "invalid volume name {name:?}: use at least two of the characters [a-zA-Z0-9_.-], \
             starting with a letter or digit"
        )))
    }
}

/// How the local driver's options are to be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Backing {
    /// A directory `_data` under the volume's record.
    Plain,
    /// `o: bind`: the host directory `device` itself.
    Bind(PathBuf),
    /// Anything else: `mount -t kind -o data device _data`, made on first use.
    Mount {
        kind: String,
        device: String,
        flags: MsFlags,
        data: String,
    },
}

/// Check the local driver's options (`type`, `o`, `device`) and say how to
/// honour them.
fn backing(name: &str, options: &BTreeMap<String, String>) -> Result<Backing> {
    if let Some(key) = options
        .keys()
        .find(|k| !["type", "o", "device"].contains(&k.as_str()))
    {
        return Err(EngineError::Invalid(format!(
            "volume {name}: unknown option {key:?} of the local driver: use type, o and device"
        )));
    }
    if options.is_empty() {
        return Ok(Backing::Plain);
    }
    let kind = options.get("type").map(String::as_str).unwrap_or("none");
    let device = options.get("device").cloned().unwrap_or_default();
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    let mut bind = false;
    for option in options
        .get("o")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|o| !o.is_empty())
    {
        match option {
            "bind" | "rbind" => bind = true,
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" | "suid" | "dev" | "exec" | "defaults" => {}
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            other => data.push(other.to_string()),
        }
    }
    if bind {
        let path = PathBuf::from(&device);
        if !path.is_absolute() {
            return Err(EngineError::Invalid(format!(
                "volume {name}: o=bind needs device set to an absolute host path, not {device:?}"
            )));
        }
        if !path.is_dir() {
            return Err(EngineError::Invalid(format!(
                "volume {name}: the bind device {} is not an existing directory: create it first",
                path.display()
            )));
        }
        return Ok(Backing::Bind(path));
    }
    if kind == "none" {
        return Err(EngineError::Invalid(format!(
            "volume {name}: type none needs o=bind and a device (type: none, o: bind, device: /path)"
        )));
    }
    if kind != "tmpfs" && device.is_empty() {
        return Err(EngineError::Invalid(format!(
            "volume {name}: type {kind} needs a device to mount"
        )));
    }
    Ok(Backing::Mount {
        kind: kind.to_string(),
        device: if device.is_empty() {
            kind.to_string()
        } else {
            device
        },
        flags,
        data: data.join(","),
    })
}

/// Where a volume's data is seen on the host.
pub(crate) fn mountpoint(layout: &Layout, record: &VolumeRecord) -> PathBuf {
    match backing(&record.name, &record.options) {
        Ok(Backing::Bind(path)) => path,
        _ => volume_dir(layout, &record.name).join(DATA_DIR),
    }
}

pub(crate) fn read_record(layout: &Layout, name: &str) -> Result<Option<VolumeRecord>> {
    let path = volume_dir(layout, name).join(RECORD_FILE);
    if !path.exists() {
        return Ok(None);
    }
    store::read_json(&path).map(Some)
}

pub(crate) fn all_volume_records(layout: &Layout) -> Result<Vec<VolumeRecord>> {
    let dir = layout.volumes();
    let entries =
        fs::read_dir(&dir).map_err(|e| EngineError::io(format!("reading {}", dir.display()), e))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join(RECORD_FILE);
        if path.exists() {
            out.push(store::read_json::<VolumeRecord>(&path)?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Write a new record (the caller holds the volumes lock). The record is
/// written last, so a crash leaves no half-made volume behind that counts.
pub(crate) fn create_record(layout: &Layout, record: &VolumeRecord) -> Result<()> {
    let backing = backing(&record.name, &record.options)?;
    let dir = volume_dir(layout, &record.name);
    let io = |e| EngineError::io(format!("creating volume directory {}", dir.display()), e);
    fs::create_dir_all(&dir).map_err(io)?;
    if !matches!(backing, Backing::Bind(_)) {
        let data = dir.join(DATA_DIR);
        if !data.exists() {
            fs::create_dir(&data).map_err(io)?;
            // docker's local driver: root-owned 0755 until copy-up says otherwise.
            fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
    }
    store::write_json(&dir.join(RECORD_FILE), record)
}

/// Make a volume's mount (tmpfs, a device) when its options ask for one and
/// it is not there yet.
pub(crate) fn ensure_mounted(layout: &Layout, record: &VolumeRecord) -> Result<()> {
    let Backing::Mount {
        kind,
        device,
        flags,
        data,
    } = backing(&record.name, &record.options)?
    else {
        return Ok(());
    };
    let dir = volume_dir(layout, &record.name);
    let target = dir.join(DATA_DIR);
    let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).ok();
    if dev(&dir) != dev(&target) {
        return Ok(());
    }
    let data = (!data.is_empty()).then_some(data.as_str());
    nix::mount::mount(
        Some(device.as_str()),
        &target,
        Some(kind.as_str()),
        flags,
        data,
    )
    .map_err(|e| {
        EngineError::io(
            format!(
                "volume {}: mounting {device} (type {kind}) on {}",
                record.name,
                target.display()
            ),
            e.into(),
        )
    })
}

pub(crate) fn anonymous_map(container_dir: &Path) -> BTreeMap<String, String> {
    store::read_json(&container_dir.join(ANONYMOUS_FILE)).unwrap_or_default()
}

/// A new anonymous volume's name: 64 hex characters, like docker's.
pub(crate) fn anonymous_name() -> Result<String> {
    store::new_id()
}

impl LinuxEngine {
    /// Whether the container may mount an anonymous volume: one made for it
    /// at a start, one a recreate carried over by name, or one that
    /// `volumes_from` gives it. Cheap, so that the removal of a container
    /// without any volume skips listing the volumes.
    pub(crate) fn has_anonymous_volumes(&self, record: &store::ContainerRecord) -> bool {
        !record.spec.volumes_from.is_empty()
            || record
                .spec
                .mounts
                .iter()
                .any(|m| m.kind == MountKind::Volume)
            || self
                .layout
                .container(&record.id)
                .join(ANONYMOUS_FILE)
                .exists()
    }

    fn volume_info(&self, record: &VolumeRecord, users: &[VolumeUse]) -> VolumeInfo {
        VolumeInfo {
            name: record.name.clone(),
            driver: record.driver.clone(),
            mountpoint: mountpoint(&self.layout, record).display().to_string(),
            created: record.created,
            labels: record.labels.clone(),
            options: record.options.clone(),
            scope: "local".into(),
            anonymous: record.anonymous,
            used_by: users
                .iter()
                .filter(|u| u.volume == record.name)
                .map(|u| u.user.clone())
                .collect(),
        }
    }

    /// Every (volume, container) mount of a volume, from the container records;
    /// a container mounts what it takes through `volumes_from` too.
    fn volume_uses(&self) -> Result<Vec<VolumeUse>> {
        let records = self.all_records()?;
        // (volume, target) that each container mounts itself.
        let mut own: Vec<Vec<(String, String)>> = Vec::new();
        for record in &records {
            let mut mounts: Vec<(String, String)> = record
                .spec
                .mounts
                .iter()
                .filter(|m| m.kind == MountKind::Volume && !m.source.is_empty())
                .map(|m| (m.source.clone(), m.target.clone()))
                .collect();
            for (target, name) in anonymous_map(&self.layout.container(&record.id)) {
                mounts.push((name, target));
            }
            own.push(mounts);
        }
        let index_of = |name: &str| records.iter().position(|r| r.name == name || r.id == name);
        let mut out = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let running = self
                .live_state(&record.id)
                .map(|s| {
                    s.state.is_running()
                        || matches!(s.state, wharf_engine_api::ContainerState::Restarting)
                })
                .unwrap_or(false);
            let user = |target: &str| VolumeUser {
                container_id: record.id.clone(),
                container_name: record.name.clone(),
                target: target.to_string(),
                running,
            };
            let mut seen = vec![index];
            let mut queue = vec![index];
            while let Some(next) = queue.pop() {
                for (volume, target) in &own[next] {
                    out.push(VolumeUse {
                        volume: volume.clone(),
                        user: user(target),
                    });
                }
                for from in &records[next].spec.volumes_from {
                    if let Some(source) = index_of(&from.container) {
                        if !seen.contains(&source) && seen.len() <= MAX_VOLUMES_FROM_DEPTH {
                            seen.push(source);
                            queue.push(source);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

struct VolumeUse {
    volume: String,
    user: VolumeUser,
}

impl VolumeEngine for LinuxEngine {
    fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        check_name(&spec.name)?;
        let driver = spec.driver.clone().unwrap_or_else(|| "local".into());
        if driver != "local" {
            return Err(EngineError::Invalid(format!(
                "volume {}: driver {driver:?} is not supported: wharf has only the local driver \
                 (remove `driver:`, or create the volume elsewhere and mark it external)",
                spec.name
            )));
        }
        let _lock = volumes_lock(&self.layout)?;
        if read_record(&self.layout, &spec.name)?.is_some() {
            return Err(EngineError::Conflict {
                kind: "volume",
                name: spec.name.clone(),
            });
        }
        let record = VolumeRecord {
            name: spec.name.clone(),
            driver,
            options: spec.driver_opts.clone(),
            labels: spec.labels.clone(),
            created: store::now_secs(),
            anonymous: spec.labels.contains_key(ANONYMOUS_LABEL),
            initialized: false,
        };
        create_record(&self.layout, &record)?;
        Ok(self.volume_info(&record, &[]))
    }

    fn list_volumes(&self, wanted: &[(&str, &str)]) -> Result<Vec<VolumeInfo>> {
        let uses = self.volume_uses()?;
        Ok(all_volume_records(&self.layout)?
            .iter()
            .filter(|r| {
                wanted
                    .iter()
                    .all(|(k, v)| r.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|r| self.volume_info(r, &uses))
            .collect())
    }

    fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        let record = read_record(&self.layout, name)?
            .ok_or_else(|| EngineError::not_found("volume", name))?;
        Ok(self.volume_info(&record, &self.volume_uses()?))
    }

    fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let _lock = volumes_lock(&self.layout)?;
        let record = read_record(&self.layout, name)?
            .ok_or_else(|| EngineError::not_found("volume", name))?;
        let users: Vec<VolumeUser> = self
            .volume_uses()?
            .into_iter()
            .filter(|u| u.volume == name)
            .map(|u| u.user)
            .collect();
        let names = |users: &[&VolumeUser]| {
            users
                .iter()
                .map(|u| u.container_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let running: Vec<&VolumeUser> = users.iter().filter(|u| u.running).collect();
        if !running.is_empty() {
            return Err(EngineError::Invalid(format!(
                "volume {name} is in use by running container {}: stop and remove it first",
                names(&running)
            )));
        }
        if !users.is_empty() && !force {
            let all: Vec<&VolumeUser> = users.iter().collect();
            return Err(EngineError::Invalid(format!(
                "volume {name} is in use by container {}: remove the container first, or force",
                names(&all)
            )));
        }
        let dir = volume_dir(&self.layout, name);
        if matches!(backing(name, &record.options), Ok(Backing::Mount { .. })) {
            let _ = nix::mount::umount2(&dir.join(DATA_DIR), MntFlags::MNT_DETACH);
        }
        // The record goes first: a half-removed volume then reads as absent.
        let _ = fs::remove_file(dir.join(RECORD_FILE));
        // A bind-backed volume's data is the user's directory: never removed.
        fs::remove_dir_all(&dir)
            .map_err(|e| EngineError::io(format!("removing volume {}", dir.display()), e))
    }

    fn validate_mounts(&self, spec: &ContainerSpec) -> Result<()> {
        let image = self.images.resolve(&spec.image).ok().flatten();
        for mount in &spec.mounts {
            let in_image = image
                .as_ref()
                .and_then(|i| image_file_type(&i.layers, &mount.target));
            match mount.kind {
                MountKind::Bind => {
                    let source = Path::new(&mount.source);
                    if !source.is_absolute() {
                        return Err(EngineError::Invalid(format!(
                            "container {}: bind source {:?} for {} must be an absolute path",
                            spec.name, mount.source, mount.target
                        )));
                    }
                    let source_is_dir = match fs::metadata(source) {
                        Ok(m) => m.is_dir(),
                        Err(_) if mount.require_host_path => {
                            return Err(EngineError::Invalid(format!(
                                "container {}: bind source path {} does not exist (for {}): \
                                 create it, or set bind.create_host_path: true",
                                spec.name, mount.source, mount.target
                            )))
                        }
                        // It will be created as a directory.
                        Err(_) => true,
                    };
                    if source.exists() {
                        check_propagation(source, mount).map_err(|e| {
                            EngineError::Invalid(format!("container {}: {e}", spec.name))
                        })?;
                    }
                    match (source_is_dir, in_image) {
                        (true, Some(ImageFileType::File)) => {
                            return Err(EngineError::Invalid(format!(
                                "container {}: cannot mount {} on {}: the source is {} but {} is a \
                                 file in the image {}; mount a file there instead",
                                spec.name,
                                mount.source,
                                mount.target,
                                if source.exists() {
                                    "a directory"
                                } else {
                                    "missing (and would be created as a directory)"
                                },
                                mount.target,
                                spec.image
                            )))
                        }
                        (false, Some(ImageFileType::Dir)) => {
                            return Err(EngineError::Invalid(format!(
                                "container {}: cannot mount the file {} on {}: {} is a directory \
                                 in the image {}; mount a directory there, or target a file",
                                spec.name, mount.source, mount.target, mount.target, spec.image
                            )))
                        }
                        _ => {}
                    }
                }
                MountKind::Volume => {
                    if !mount.source.is_empty() {
                        check_name(&mount.source).map_err(|e| {
                            EngineError::Invalid(format!(
                                "container {}, mount {}: {e}",
                                spec.name, mount.target
                            ))
                        })?;
                    }
                    if let Some(subpath) = &mount.subpath {
                        check_subpath_text(subpath).map_err(|m| {
                            EngineError::Invalid(format!(
                                "container {}, mount {}: {m}",
                                spec.name, mount.target
                            ))
                        })?;
                        if mount.source.is_empty() {
                            return Err(EngineError::Invalid(format!(
                                "container {}, mount {}: subpath needs a named volume",
                                spec.name, mount.target
                            )));
                        }
                        if let Some(record) = read_record(&self.layout, &mount.source)? {
                            open_beneath(
                                &mountpoint(&self.layout, &record),
                                subpath,
                                &mount.source,
                            )
                            .map_err(|e| {
                                EngineError::Invalid(format!(
                                    "container {}, mount {}: {e}",
                                    spec.name, mount.target
                                ))
                            })?;
                        }
                    }
                }
                MountKind::Tmpfs => {}
            }
        }
        Ok(())
    }
}

/// How deep `volumes_from` chains may go (a loop would never end).
pub(crate) const MAX_VOLUMES_FROM_DEPTH: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_rules() {
        assert!(check_name("hello_data").is_ok());
        assert!(check_name("a.b-c_1").is_ok());
        for bad in ["", "a", "_x", "a/b", "a b", "../x", "x:y"] {
            assert!(check_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn driver_options() {
        let opts = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(backing("v", &opts(&[])).unwrap(), Backing::Plain);
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().display().to_string();
        assert_eq!(
            backing(
                "v",
                &opts(&[("type", "none"), ("o", "bind"), ("device", &device)])
            )
            .unwrap(),
            Backing::Bind(dir.path().to_path_buf())
        );
        let missing = format!("{device}/nope");
        let err = backing(
            "v",
            &opts(&[("type", "none"), ("o", "bind"), ("device", &missing)]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("not an existing directory"),
            "{err}"
        );
        match backing("v", &opts(&[("type", "tmpfs"), ("o", "size=10m,noexec")])).unwrap() {
            Backing::Mount {
                kind, flags, data, ..
            } => {
                assert_eq!(kind, "tmpfs");
                assert_eq!(data, "size=10m");
                assert!(flags.contains(MsFlags::MS_NOEXEC));
            }
            other => panic!("{other:?}"),
        }
        assert!(backing("v", &opts(&[("color", "red")])).is_err());
        assert!(backing("v", &opts(&[("type", "ext4")])).is_err());
    }
}
