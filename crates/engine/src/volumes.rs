//! Volumes: named volumes as records under `<root>/volumes/<name>/`
//! (`volume.json` plus the data in `_data/`, or a host directory / a mount
//! made from the local driver's `type`, `o` and `device` options), anonymous
//! volumes made for a container on its first start (image `VOLUME`s and
//! mounts without a source, remembered per container in
//! `containers/<id>/anonymous-volumes.json`), copy-up of the image's content
//! into an empty volume on its first mount, subpaths resolved without
//! leaving the volume, and the checks `up` runs on a container's mounts
//! before anything is created.

use crate::lock::FileLock;
use crate::store::{self, ContainerRecord, Layout};
use crate::LinuxEngine;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use wharf_engine_api::{
    ContainerSpec, EngineError, Mount, MountKind, Result, VolumeEngine, VolumeInfo, VolumeSpec,
    VolumeUser,
};

/// The record of a volume, `volumes/<name>/volume.json`.
const RECORD_FILE: &str = "volume.json";
/// The data directory of a volume of the plain local driver.
const DATA_DIR: &str = "_data";
/// Per container: mount target → name of the anonymous volume made for it.
pub(crate) const ANONYMOUS_FILE: &str = "anonymous-volumes.json";
/// Where wharf before volume records kept a container's anonymous volumes.
const LEGACY_ANONYMOUS_DIR: &str = "anonymous";
/// docker's label on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// A volume as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct VolumeRecord {
    name: String,
    driver: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    created: i64,
    #[serde(default)]
    anonymous: bool,
    /// Set at the first mount: the image content is copied at most once.
    #[serde(default)]
    initialized: bool,
}

fn volume_dir(layout: &Layout, name: &str) -> PathBuf {
    layout.volumes().join(name)
}

fn volumes_lock(layout: &Layout) -> Result<FileLock> {
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
fn mountpoint(layout: &Layout, record: &VolumeRecord) -> PathBuf {
    match backing(&record.name, &record.options) {
        Ok(Backing::Bind(path)) => path,
        _ => volume_dir(layout, &record.name).join(DATA_DIR),
    }
}

fn read_record(layout: &Layout, name: &str) -> Result<Option<VolumeRecord>> {
    let path = volume_dir(layout, name).join(RECORD_FILE);
    if !path.exists() {
        return Ok(None);
    }
    store::read_json(&path).map(Some)
}

fn all_volume_records(layout: &Layout) -> Result<Vec<VolumeRecord>> {
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
fn create_record(layout: &Layout, record: &VolumeRecord) -> Result<()> {
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
fn ensure_mounted(layout: &Layout, record: &VolumeRecord) -> Result<()> {
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

fn anonymous_map(container_dir: &Path) -> BTreeMap<String, String> {
    store::read_json(&container_dir.join(ANONYMOUS_FILE)).unwrap_or_default()
}

/// A new anonymous volume's name: 64 hex characters, like docker's.
fn anonymous_name() -> Result<String> {
    store::new_id()
}

impl LinuxEngine {
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

/// What the image has at a path (looked up literally, top layer first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageFileType {
    Dir,
    File,
}

fn image_file_type(layers: &[PathBuf], target: &str) -> Option<ImageFileType> {
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
fn check_subpath_text(subpath: &str) -> std::result::Result<(), String> {
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

/// Subpath descriptors of the last start, held until the next start.
static PINNED: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

/// A volume ready to be bind-mounted: the host path to mount.
pub(crate) struct PreparedVolume {
    pub source: PathBuf,
}

/// Start of a container's mount preparation: forget the previous start's pins.
pub(crate) fn begin_start() {
    PINNED.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// Resolve one volume mount of `record` for a start: find or create the
/// volume (an anonymous one for a mount without a source, remembered for the
/// container), make its mount, copy the image content in on its first
/// mount, and pin its subpath.
pub(crate) fn prepare_volume(
    layout: &Layout,
    record: &ContainerRecord,
    container_dir: &Path,
    source: &str,
    target: &str,
    no_copy: bool,
    subpath: Option<&str>,
) -> Result<PreparedVolume> {
    let _lock = volumes_lock(layout)?;
    let name = if source.is_empty() {
        anonymous_for(layout, record, container_dir, target)?
    } else {
        source.to_string()
    };
    let volume = match read_record(layout, &name)? {
        Some(v) => v,
        None => {
            // Named volumes are created on first use, as docker does.
            check_name(&name)?;
            let v = VolumeRecord {
                name: name.clone(),
                driver: "local".into(),
                options: BTreeMap::new(),
                labels: BTreeMap::new(),
                created: store::now_secs(),
                anonymous: source.is_empty(),
                initialized: false,
            };
            create_record(layout, &v)?;
            v
        }
    };
    ensure_mounted(layout, &volume)?;
    let data = mountpoint(layout, &volume);
    if !volume.initialized {
        let empty = fs::read_dir(&data)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if empty && !no_copy {
            copy_up(
                &record.layers,
                target,
                &data,
                &container_dir.join("copy-up"),
            )
            .map_err(|e| {
                EngineError::Other(format!(
                    "volume {name}: copying the image content of {target}: {e}"
                ))
            })?;
        }
        let mut done = volume.clone();
        done.initialized = true;
        store::write_json(&volume_dir(layout, &name).join(RECORD_FILE), &done)?;
    }
    let source = match subpath {
        None => data,
        Some(subpath) => {
            // Resolved beneath the volume, then named by the path the kernel
            // resolved. (The descriptor itself cannot be the bind source: its
            // mount belongs to this namespace, not the container's copy.)
            let file = open_beneath(&data, subpath, &name)?;
            let path =
                fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(|e| {
                    EngineError::io(format!("resolving subpath {subpath:?} of {name}"), e)
                })?;
            if !path.starts_with(&data) {
                return Err(EngineError::Invalid(format!(
                    "subpath {subpath:?} of volume {name} resolves outside the volume"
                )));
            }
            // Pinned so the directory cannot be removed and replaced before the mount.
            PINNED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(OwnedFd::from(file));
            path
        }
    };
    Ok(PreparedVolume { source })
}

/// A mount target without trailing slashes (`/data/` → `/data`).
pub(crate) fn normalize_target(target: &str) -> String {
    let trimmed = target.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

/// The volume and bind mounts `record` takes from its `volumes_from`
/// containers: each one's own binds and volumes (an anonymous one by the
/// name made for it, made now if that container never started), its
/// image's `VOLUME`s and, in turn, what it takes from its own
/// `volumes_from`; read-only where they are, and all of them with `:ro`.
/// Never its tmpfs mounts, secrets or configs.
pub(crate) fn inherited_mounts(layout: &Layout, record: &ContainerRecord) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    collect_inherited(layout, record, false, 0, &mut out)?;
    Ok(out)
}

/// How deep `volumes_from` chains may go (a loop would never end).
const MAX_VOLUMES_FROM_DEPTH: usize = 16;

fn collect_inherited(
    layout: &Layout,
    record: &ContainerRecord,
    read_only: bool,
    depth: usize,
    out: &mut Vec<Mount>,
) -> Result<()> {
    if depth > MAX_VOLUMES_FROM_DEPTH {
        return Err(EngineError::Invalid(format!(
            "container {}: volumes_from goes through more than {MAX_VOLUMES_FROM_DEPTH} \
             containers (do they name each other?)",
            record.name
        )));
    }
    for source in &record.spec.volumes_from {
        let other = crate::netmode::find(layout, &source.container).map_err(|_| {
            EngineError::Invalid(format!(
                "container {}: volumes_from names container {}, which does not exist: \
                 create it first or correct the name",
                record.name, source.container
            ))
        })?;
        let read_only = read_only || source.read_only;
        let mut taken = Vec::new();
        collect_inherited(layout, &other, read_only, depth + 1, &mut taken)?;
        let mut own: Vec<Mount> = other
            .spec
            .mounts
            .iter()
            .filter(|m| m.kind != MountKind::Tmpfs)
            .cloned()
            .collect();
        for target in image_volumes(layout, &other) {
            let target = normalize_target(&target);
            if !own.iter().any(|m| normalize_target(&m.target) == target) {
                own.push(Mount::new(MountKind::Volume, "", target));
            }
        }
        let other_dir = layout.container(&other.id);
        for mut mount in own {
            if mount.kind == MountKind::Volume && mount.source.is_empty() {
                let _lock = volumes_lock(layout)?;
                mount.source = anonymous_for(layout, &other, &other_dir, &mount.target)?;
            }
            mount.read_only |= read_only;
            taken.retain(|m| normalize_target(&m.target) != normalize_target(&mount.target));
            taken.push(mount);
        }
        for mount in taken {
            out.retain(|m| normalize_target(&m.target) != normalize_target(&mount.target));
            out.push(mount);
        }
    }
    Ok(())
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
fn holding_mount(mountinfo: &str, path: &Path) -> Option<(String, bool)> {
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
fn unescape_mountinfo(text: &str) -> String {
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

/// The image `VOLUME`s of the container's image.
pub(crate) fn image_volumes(layout: &Layout, record: &ContainerRecord) -> Vec<String> {
    wharf_image::ImageStore::open(&layout.images())
        .ok()
        .and_then(|store| store.resolve(&record.image_id).ok().flatten())
        .map(|image| image.config.volumes)
        .unwrap_or_default()
}

/// The anonymous volume of the container at `target`, made on first use
/// (the caller holds the volumes lock).
fn anonymous_for(
    layout: &Layout,
    record: &ContainerRecord,
    container_dir: &Path,
    target: &str,
) -> Result<String> {
    let mut map = anonymous_map(container_dir);
    if let Some(name) = map.get(target) {
        if read_record(layout, name)?.is_some() {
            return Ok(name.clone());
        }
    }
    let name = anonymous_name()?;
    let mut labels = BTreeMap::new();
    labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
    let volume = VolumeRecord {
        name: name.clone(),
        driver: "local".into(),
        options: BTreeMap::new(),
        labels,
        created: store::now_secs(),
        anonymous: true,
        initialized: false,
    };
    create_record(layout, &volume)?;
    // Data kept by an older wharf with the container moves into the volume.
    let legacy = container_dir
        .join(LEGACY_ANONYMOUS_DIR)
        .join(target.trim_start_matches('/').replace('/', "_"));
    if legacy.is_dir() {
        let data = volume_dir(layout, &name).join(DATA_DIR);
        let _ = fs::remove_dir(&data);
        fs::rename(&legacy, &data).map_err(|e| {
            EngineError::io(
                format!("moving the anonymous volume data of {}", record.name),
                e,
            )
        })?;
        let mut v = volume.clone();
        v.initialized = true;
        store::write_json(&volume_dir(layout, &name).join(RECORD_FILE), &v)?;
    }
    map.insert(target.to_string(), name.clone());
    store::write_json(&container_dir.join(ANONYMOUS_FILE), &map)?;
    Ok(name)
}

/// Copy what the image has at `target` into the empty directory `dest`,
/// keeping owners, modes, times, extended attributes, symlinks, hard links
/// and device nodes.
/// Several layers are viewed through a read-only overlay mounted at
/// `scratch` for the copy.
fn copy_up(
    layers: &[PathBuf],
    target: &str,
    dest: &Path,
    scratch: &Path,
) -> std::result::Result<(), String> {
    let (root, mounted) = match layers {
        [] => return Ok(()),
        [one] => (one.clone(), false),
        many => {
            fs::create_dir_all(scratch)
                .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
            let lower: Vec<String> = many.iter().rev().map(|p| p.display().to_string()).collect();
            let options = format!("lowerdir={}", lower.join(":"));
            nix::mount::mount(
                Some("overlay"),
                scratch,
                Some("overlay"),
                MsFlags::MS_RDONLY,
                Some(options.as_str()),
            )
            .map_err(|e| format!("mounting the image layers read-only: {e}"))?;
            (scratch.to_path_buf(), true)
        }
    };
    let result = (|| {
        let Some(source) = resolve_in_root(&root, target) else {
            return Ok(());
        };
        let meta = match fs::symlink_metadata(&source) {
            Ok(m) if m.is_dir() => m,
            // Nothing there, or not a directory: nothing to copy.
            _ => return Ok(()),
        };
        let mut links = HashMap::new();
        copy_dir_contents(&source, dest, &mut links)?;
        set_attributes(dest, &meta)
    })();
    if mounted {
        let _ = nix::mount::umount2(scratch, MntFlags::MNT_DETACH);
        let _ = fs::remove_dir(scratch);
    }
    result
}

/// `path` (absolute, as seen in the container) resolved inside `root`:
/// symlinks followed, absolute ones and `..` kept within `root`. None when
/// a component is missing.
pub(crate) fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = Path::new(path)
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            parts.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&parts);
        candidate.push(&part);
        let meta = fs::symlink_metadata(&candidate).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let link = fs::read_link(&candidate).ok()?;
            if link.is_absolute() {
                parts.clear();
            }
            for c in link.components().rev() {
                match c {
                    Component::Normal(n) => pending.push(n.to_os_string()),
                    Component::ParentDir => pending.push("..".into()),
                    _ => {}
                }
            }
        } else {
            parts.push(part);
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&parts);
    Some(out)
}

fn copy_dir_contents(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> std::result::Result<(), String> {
    let entries = fs::read_dir(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading {}: {e}", src.display()))?;
        copy_entry(&entry.path(), &dst.join(entry.file_name()), links)?;
    }
    Ok(())
}

fn copy_entry(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> std::result::Result<(), String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what} {}: {e}", dst.display());
    let meta = fs::symlink_metadata(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        fs::create_dir(dst).map_err(|e| fail("creating", &e))?;
        copy_dir_contents(src, dst, links)?;
        return set_attributes(dst, &meta);
    }
    if meta.nlink() > 1 {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            return fs::hard_link(first, dst).map_err(|e| fail("linking", &e));
        }
        links.insert((meta.dev(), meta.ino()), dst.to_path_buf());
    }
    if kind.is_symlink() {
        let to = fs::read_link(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
        std::os::unix::fs::symlink(&to, dst).map_err(|e| fail("creating symlink", &e))?;
    } else if kind.is_file() {
        fs::copy(src, dst).map_err(|e| fail("copying to", &e))?;
    } else if kind.is_fifo() {
        nix::unistd::mkfifo(dst, Mode::from_bits_truncate(0o600))
            .map_err(|e| fail("creating fifo", &e))?;
    } else if kind.is_char_device() || kind.is_block_device() {
        let sflag = if kind.is_char_device() {
            SFlag::S_IFCHR
        } else {
            SFlag::S_IFBLK
        };
        nix::sys::stat::mknod(dst, sflag, Mode::from_bits_truncate(0o600), meta.rdev())
            .map_err(|e| fail("creating device node", &e))?;
    } else {
        // Sockets are not content.
        return Ok(());
    }
    if !kind.is_symlink() {
        copy_xattrs(src, dst)?;
    }
    set_attributes(dst, &meta)
}

/// Extended attributes (capabilities, ACLs, labels), but not overlayfs's
/// own bookkeeping.
fn copy_xattrs(src: &Path, dst: &Path) -> std::result::Result<(), String> {
    let Ok(names) = xattr::list(src) else {
        // No xattr support on the source file system: nothing to copy.
        return Ok(());
    };
    for name in names {
        if name.to_string_lossy().starts_with("trusted.overlay.") {
            continue;
        }
        if let Ok(Some(value)) = xattr::get(src, &name) {
            xattr::set(dst, &name, &value).map_err(|e| {
                format!(
                    "copying the attribute {} to {}: {e}",
                    name.to_string_lossy(),
                    dst.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Owner, then mode (chown clears set-id bits), then times.
fn set_attributes(path: &Path, meta: &fs::Metadata) -> std::result::Result<(), String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what} {}: {e}", path.display());
    std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| fail("setting the owner of", &e))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(|e| fail("setting the mode of", &e))?;
    }
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    nix::sys::stat::utimensat(None, path, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| fail("setting the times of", &e))
}

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

    #[test]
    fn resolve_in_root_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("real/data")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../real", root.join("climb")).unwrap();
        assert_eq!(
            resolve_in_root(root, "/abs/data"),
            Some(root.join("real/data"))
        );
        assert_eq!(
            resolve_in_root(root, "/climb/data"),
            Some(root.join("real/data"))
        );
        assert_eq!(resolve_in_root(root, "/nope"), None);
    }

    #[test]
    fn copy_keeps_modes_symlinks_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        let src = layer.join("var/lib/app");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("file"), b"hello").unwrap();
        fs::set_permissions(src.join("file"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(src.join("file"), src.join("again")).unwrap();
        std::os::unix::fs::symlink("file", src.join("link")).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o700)).unwrap();
        let dest = dir.path().join("dest");
        fs::create_dir(&dest).unwrap();
        copy_up(&[layer], "/var/lib/app", &dest, &dir.path().join("scratch")).unwrap();
        assert_eq!(fs::read(dest.join("file")).unwrap(), b"hello");
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&dest.join("file")), 0o640);
        assert_eq!(mode(&dest), 0o700);
        assert_eq!(fs::read_link(dest.join("link")).unwrap(), Path::new("file"));
        assert_eq!(
            fs::metadata(dest.join("file")).unwrap().ino(),
            fs::metadata(dest.join("again")).unwrap().ino()
        );
        assert!(dest.join("sub").is_dir());
    }
}
