//! Layer unpacking: a (gzip, zstd or plain) tar stream from a registry unpacked
//! into a fresh directory, as root when run as root (device nodes, owners,
//! whiteouts). Around the layer's directory sit others, one with files in it;
//! after every unpack nothing outside the layer's directory may have changed: no
//! new entry, no changed content, mode, owner, link count or extended attribute.
//!
//! ```text
//! <tmp>/outside/{file, dir/, dir/inner}   must stay as they are
//! <tmp>/box/                              must hold only `layer`
//! <tmp>/box/layer/                        the destination
//! ```

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use wharf_image::unpack::{unpack_layer, UnpackOptions};

struct Place {
    _dir: tempfile::TempDir,
    top: PathBuf,
    layer: PathBuf,
    outside: Vec<Seen>,
}

/// What is checked of each entry outside the layer.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    path: PathBuf,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    content: Vec<u8>,
    xattrs: Vec<(String, Vec<u8>)>,
}

fn seen(path: &Path) -> Seen {
    let meta = fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{} outside the layer: {e}", path.display()));
    let content = if meta.is_file() {
        fs::read(path).expect("read a file outside the layer")
    } else {
        Vec::new()
    };
    let mut xattrs: Vec<(String, Vec<u8>)> = xattr::list(path)
        .map(|names| {
            names
                .map(|n| {
                    let value = xattr::get(path, &n).ok().flatten().unwrap_or_default();
                    (n.to_string_lossy().into_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    xattrs.sort();
    Seen {
        path: path.to_path_buf(),
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
        nlink: meta.nlink(),
        content,
        xattrs,
    }
}

/// Every entry under `dir` (itself included), depth first, sorted.
fn walk(dir: &Path, out: &mut Vec<Seen>) {
    out.push(seen(dir));
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list a directory outside the layer")
        .map(|e| e.expect("read a directory entry").path())
        .collect();
    names.sort();
    for path in names {
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            walk(&path, out);
        } else {
            out.push(seen(&path));
        }
    }
}

fn outside(top: &Path) -> Vec<Seen> {
    let mut out = Vec::new();
    walk(&top.join("outside"), &mut out);
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list a directory")
        .map(|e| {
            e.expect("read a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn place() -> &'static Mutex<Place> {
    static PLACE: OnceLock<Mutex<Place>> = OnceLock::new();
    PLACE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let top = dir.path().to_path_buf();
        let outside_dir = top.join("outside");
        fs::create_dir_all(outside_dir.join("dir")).expect("create outside/dir");
        fs::write(outside_dir.join("file"), b"outside the layer").expect("write outside/file");
        fs::write(outside_dir.join("dir/inner"), b"inner").expect("write outside/dir/inner");
        fs::create_dir(top.join("box")).expect("create box");
        let layer = top.join("box/layer");
        Mutex::new(Place {
            outside: outside(&top),
            _dir: dir,
            top,
            layer,
        })
    })
}

/// Remove the layer's tree, whatever modes it was given.
fn remove(layer: &Path) {
    if fs::remove_dir_all(layer).is_ok() || !layer.exists() {
        return;
    }
    fn open_up(dir: &Path) {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    open_up(&entry.path());
                }
            }
        }
    }
    open_up(layer);
    fs::remove_dir_all(layer)
        .unwrap_or_else(|e| panic!("remove the unpacked layer {}: {e}", layer.display()));
}

/// Unpack `data`; assert that nothing outside the destination changed.
pub fn run(data: &[u8]) {
    let place = place().lock().unwrap_or_else(|p| p.into_inner());
    fs::create_dir(&place.layer).expect("create the layer directory");
    let _ = unpack_layer(data, &place.layer, "layer", &UnpackOptions::default());
    assert_eq!(
        names(&place.top),
        ["box", "outside"],
        "an entry was written beside the layer's parent"
    );
    assert_eq!(
        names(&place.top.join("box")),
        ["layer"],
        "an entry was written beside the layer"
    );
    assert_eq!(
        outside(&place.top),
        place.outside,
        "something outside the layer changed"
    );
    remove(&place.layer);
}
