//! Per-container mount preparation, at each start: a container's volume
//! mounts resolved to host paths (named and anonymous volumes found or made,
//! their first-mount copy-up of the image's content, subpaths pinned), the
//! mounts it inherits through `volumes_from`, and its image's `VOLUME`s.

use crate::paths::open_beneath;
use crate::store::{self, ContainerRecord, Layout};
use crate::volumes::{
    anonymous_map, anonymous_name, check_name, create_record, ensure_mounted, mountpoint,
    read_record, volume_dir, volumes_lock, VolumeRecord, ANONYMOUS_FILE, ANONYMOUS_LABEL, DATA_DIR,
    LEGACY_ANONYMOUS_DIR, MAX_VOLUMES_FROM_DEPTH, RECORD_FILE,
};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use wharf_engine_api::{EngineError, Mount, MountKind, Result};

/// Subpath descriptors of the last start, held until the next start.
pub(crate) static PINNED: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

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
                EngineError::step(
                    format!("volume {name}: copying the image content of {target}"),
                    e,
                    "",
                )
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

pub(crate) fn collect_inherited(
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
pub(crate) fn anonymous_for(
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
pub(crate) fn copy_up(
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

pub(crate) fn copy_dir_contents(
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

pub(crate) fn copy_entry(
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
pub(crate) fn copy_xattrs(src: &Path, dst: &Path) -> std::result::Result<(), String> {
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
pub(crate) fn set_attributes(path: &Path, meta: &fs::Metadata) -> std::result::Result<(), String> {
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
