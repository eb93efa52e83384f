use super::*;
use nix::sys::stat::{mknod, Mode, SFlag};
use std::os::unix::fs::symlink;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn write(path: &Path, data: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

fn whiteout(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    mknod(path, SFlag::S_IFCHR, Mode::from_bits_truncate(0o600), 0).unwrap();
}

fn opaque(path: &Path) {
    fs::create_dir_all(path).unwrap();
    xattr::set(path, OPAQUE_XATTR, b"y").unwrap();
}

/// (path, kind, content or link target) of every entry, in archive order.
fn entries(data: &[u8]) -> Vec<(String, char, String)> {
    let mut archive = tar::Archive::new(data);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let kind = match e.header().entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Link => 'h',
                tar::EntryType::Char => 'c',
                _ => 'f',
            };
            let mut content = String::new();
            if let Some(target) = e.link_name().unwrap() {
                content = target.to_string_lossy().into_owned();
            } else {
                e.read_to_string(&mut content).unwrap();
            }
            (path, kind, content)
        })
        .collect()
}

fn paths(list: &[(String, char, String)]) -> Vec<&str> {
    list.iter().map(|(p, _, _)| p.as_str()).collect()
}

/// A lower layer and an upper directory over it, as a container leaves them.
fn stack(t: &Path) -> (PathBuf, PathBuf) {
    let lower = t.join("lower");
    let upper = t.join("upper");
    write(&lower.join("a/kept"), "kept");
    write(&lower.join("a/gone"), "gone");
    write(&lower.join("b/x"), "old x");
    write(&lower.join("c"), "a file");
    write(&lower.join("d/old"), "hidden by opaque");
    symlink("a/kept", lower.join("link")).unwrap();
    fs::create_dir_all(&upper).unwrap();
    whiteout(&upper.join("a/gone"));
    write(&upper.join("b/x"), "new x");
    write(&upper.join("c/new"), "dir replaced a file");
    opaque(&upper.join("d"));
    write(&upper.join("d/new"), "fresh");
    write(&upper.join("e"), "added");
    (lower, upper)
}

#[test]
fn merged_view_applies_whiteouts_and_opaque_directories() {
    if !is_root() {
        eprintln!("skipped: whiteouts need root (mknod, trusted.* xattrs)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (lower, upper) = stack(t.path());
    let mut out = Vec::new();
    let n = write_merged(&[upper, lower], &mut out).unwrap();
    let list = entries(&out);
    assert_eq!(n as usize, list.len());
    assert_eq!(
        paths(&list),
        ["a/", "a/kept", "b/", "b/x", "c/", "c/new", "d/", "d/new", "e", "link"]
    );
    let get = |p: &str| list.iter().find(|(q, _, _)| q == p).unwrap().clone();
    assert_eq!(get("b/x").2, "new x");
    assert_eq!(get("link"), ("link".into(), 'l', "a/kept".into()));
    assert_eq!(get("c/").1, 'd');
}

#[test]
fn diff_writes_oci_whiteouts_and_leaves_mount_points_out() {
    if !is_root() {
        eprintln!("skipped: whiteouts need root (mknod, trusted.* xattrs)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (_, upper) = stack(t.path());
    // What the runtime made for its bind mounts, and a directory made empty on purpose.
    write(&upper.join("etc/hosts"), "");
    fs::create_dir_all(upper.join("empty")).unwrap();
    let skip = |rel: &str, m: &fs::Metadata| rel == "etc/hosts" && m.len() == 0;
    let mut out = Vec::new();
    write_diff(&upper, &mut out, &skip).unwrap();
    let list = entries(&out);
    assert_eq!(
        paths(&list),
        [
            "a/",
            "a/.wh.gone",
            "b/",
            "b/x",
            "c/",
            "c/new",
            "d/",
            "d/.wh..wh..opq",
            "d/new",
            "e",
            "empty/"
        ]
    );

    let only_mount_points = t.path().join("only");
    write(&only_mount_points.join("etc/hosts"), "");
    assert!(diff_is_empty(&only_mount_points, &skip).unwrap());
    assert!(!diff_is_empty(&only_mount_points, &keep_all).unwrap());
    assert!(!diff_is_empty(&upper, &skip).unwrap());
}

#[test]
fn symlinks_are_written_never_followed() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    write(&outside.join("secret"), "host data");
    let upper = t.path().join("upper");
    fs::create_dir_all(&upper).unwrap();
    symlink(&outside, upper.join("escape")).unwrap();
    symlink("../../outside/secret", upper.join("file-link")).unwrap();
    for archive in [
        {
            let mut out = Vec::new();
            write_merged(std::slice::from_ref(&upper), &mut out).unwrap();
            out
        },
        {
            let mut out = Vec::new();
            write_diff(&upper, &mut out, &keep_all).unwrap();
            out
        },
    ] {
        let list = entries(&archive);
        assert_eq!(paths(&list), ["escape", "file-link"]);
        assert!(list
            .iter()
            .all(|(_, kind, content)| *kind == 'l' && !content.contains("host data")));
    }
}

#[test]
fn hard_links_are_kept_and_a_file_that_changes_size_keeps_the_archive_valid() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("tree");
    write(&dir.join("one"), "shared");
    fs::hard_link(dir.join("one"), dir.join("two")).unwrap();
    let mut out = Vec::new();
    write_diff(&dir, &mut out, &keep_all).unwrap();
    let list = entries(&out);
    assert_eq!(list[1], ("two".into(), 'h', "one".into()));

    // A reader bound to the size seen first: a grown file is cut, a shrunk one padded.
    let file = dir.join("one");
    let mut grown = String::new();
    Exactly::new(File::open(&file).unwrap(), 3)
        .read_to_string(&mut grown)
        .unwrap();
    assert_eq!(grown, "sha");
    let mut padded = Vec::new();
    Exactly::new(File::open(&file).unwrap(), 8)
        .read_to_end(&mut padded)
        .unwrap();
    assert_eq!(padded, b"shared\0\0");
}
