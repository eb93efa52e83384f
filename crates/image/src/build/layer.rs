//! A step's diff directory becomes a layer: an uncompressed tar (entries sorted, so
//! the same tree gives the same digest) in which overlayfs whiteouts (0/0 character
//! devices) become OCI `.wh.NAME` files and opaque directories
//! (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry; other extended attributes
//! (file capabilities) go into PAX records. The directory itself then becomes the
//! layer's snapshot, so nothing is unpacked again.
//!
//! The build cache: `build-cache/<hex of the step's cache key>.json` records when the
//! step was made and its layer (if it made one). A record whose blob or snapshot has
//! been garbage-collected is a miss.

use crate::digest;
use crate::error::{ioe, ImageError};
use crate::fsutil::{atomic_write, ensure_dir};
use crate::oci::Descriptor;
use crate::store::ImageStore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const CACHE_DIR: &str = "build-cache";

/// A layer of an image being built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltLayer {
    /// The layer blob.
    pub desc: Descriptor,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
}

/// What the cache knows about one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// RFC 3339 time the step was first made (its history entry's `created`).
    pub created: String,
    /// The layer it made, if any.
    pub layer: Option<BuiltLayer>,
}

/// Look up the cache record of `key`; `None` when absent or its content is gone.
pub fn cache_get(store: &ImageStore, key: &str) -> Option<CacheRecord> {
    let hex = digest::hex_of(key).ok()?;
    let data = fs::read(store.root().join(CACHE_DIR).join(format!("{hex}.json"))).ok()?;
    let rec: CacheRecord = serde_json::from_slice(&data).ok()?;
    if let Some(l) = &rec.layer {
        if !store.has_blob(&l.desc.digest) || !store.snapshot_path(&l.diff_id).ok()?.is_dir() {
            return None;
        }
    }
    Some(rec)
}

/// Record the result of the step with cache key `key`.
pub fn cache_put(store: &ImageStore, key: &str, rec: &CacheRecord) -> Result<(), ImageError> {
    let dir = store.root().join(CACHE_DIR);
    ensure_dir(&dir)?;
    let hex = digest::hex_of(key)?;
    let data = serde_json::to_vec(rec).expect("cache records serialize");
    atomic_write(&dir.join(format!("{hex}.json")), &data)
}

/// Write the diff directory `dir` as a tar stream to `out`.
pub fn write_tar(dir: &Path, out: impl Write) -> Result<(), ImageError> {
    let mut b = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    walk(&mut b, dir, "", &mut links)?;
    b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(ioe("finish the layer of", dir))
}

fn walk<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &str,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<(), ImageError> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(ioe("list", dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(ioe("list", dir))?;
    names.sort();
    for name in names {
        let host = dir.join(&name);
        let name = name.to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let m = fs::symlink_metadata(&host).map_err(ioe("inspect", &host))?;
        let ft = m.file_type();
        let e = |err: io::Error| ImageError::io("add to layer", &host, err);
        if ft.is_char_device() && m.rdev() == 0 {
            let mut h = empty_header(&m);
            b.append_data(&mut h, format!("{prefix}.wh.{name}"), io::empty())
                .map_err(e)?;
            continue;
        }
        pax_xattrs(b, &host)?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&m, tar::HeaderMode::Complete);
        h.set_mtime(m.mtime().max(0) as u64);
        if ft.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, format!("{rel}/"), io::empty())
                .map_err(e)?;
            if matches!(xattr::get(&host, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y") {
                let mut o = empty_header(&m);
                b.append_data(&mut o, format!("{rel}/.wh..wh..opq"), io::empty())
                    .map_err(e)?;
            }
            walk(b, &host, &format!("{rel}/"), links)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&host).map_err(ioe("read link", &host))?;
            h.set_size(0);
            b.append_link(&mut h, &rel, &target).map_err(e)?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, &rel, first).map_err(e)?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), rel.clone());
            }
            let f = File::open(&host).map_err(ioe("open", &host))?;
            b.append_data(&mut h, &rel, f).map_err(e)?;
        } else {
            // Devices and fifos: headers only.
            h.set_size(0);
            let dev = m.rdev();
            let _ = h.set_device_major(nix::sys::stat::major(dev) as u32);
            let _ = h.set_device_minor(nix::sys::stat::minor(dev) as u32);
            b.append_data(&mut h, &rel, io::empty()).map_err(e)?;
        }
    }
    Ok(())
}

fn empty_header(m: &fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(m.mtime().max(0) as u64);
    h
}

fn pax_xattrs<W: Write>(b: &mut tar::Builder<W>, host: &Path) -> Result<(), ImageError> {
    let Ok(names) = xattr::list(host) else {
        return Ok(());
    };
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    for n in names {
        let n = n.to_string_lossy().into_owned();
        if n.starts_with("trusted.overlay.") {
            continue;
        }
        if let Ok(Some(v)) = xattr::get(host, &n) {
            records.push((format!("SCHILY.xattr.{n}"), v));
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    records.sort();
    b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
        .map_err(ioe("add extended attributes of", host))
}

/// Turn the finished diff directory `diff` into a layer of `store`: its tar becomes
/// a blob and the directory the layer's snapshot. Returns the layer and the
/// snapshot's path.
pub fn commit_diff(
    store: &ImageStore,
    lease: &crate::ContentLease,
    diff: &Path,
) -> Result<(BuiltLayer, PathBuf), ImageError> {
    let (digest, size) = store.write_blob_with(lease, &mut |w| write_tar(diff, w))?;
    let dir = store.commit_snapshot(lease, diff, &digest, size)?;
    Ok((
        BuiltLayer {
            desc: Descriptor {
                media_type: crate::oci::MEDIA_TYPE_LAYER_TAR.to_string(),
                digest: digest.clone(),
                size,
                annotations: Default::default(),
                platform: None,
            },
            diff_id: digest,
        },
        dir,
    ))
}
