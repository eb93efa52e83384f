//! Unit tests of tree copies: a temporary directory plays the root.

use super::*;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

const CALLER: ExtractOptions = ExtractOptions {
    ownership: Ownership::Caller,
    confined: false,
    create_dir: false,
    devices: false,
};

fn names(archive: &[u8]) -> Vec<String> {
    tar::Archive::new(archive)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn fixture() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("app/sub")).unwrap();
    std::fs::write(r.join("app/a.txt"), "alpha").unwrap();
    std::fs::write(r.join("app/sub/b.txt"), "beta").unwrap();
    std::fs::set_permissions(r.join("app/a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(r.join("etc/passwd"), "inside").unwrap();
    symlink("/etc", r.join("app/etc-link")).unwrap();
    symlink("../../../../../../etc", r.join("climb")).unwrap();
    root
}

#[test]
fn path_parsing_keeps_docker_trailing_forms() {
    let p = RootPath::parse(b"/app/./sub/../");
    assert_eq!(p.parts, vec![b"app".to_vec()]);
    assert_eq!(p.trailing, Trailing::Slash);
    assert_eq!(RootPath::parse(b"app/.").trailing, Trailing::Dot);
    assert_eq!(RootPath::parse(b"/").parts, Vec::<Vec<u8>>::new());
    assert_eq!(RootPath::parse(b"/../../x").parts, vec![b"x".to_vec()]);
    assert_eq!(clean(b"a/../../b", false), None);
}

#[test]
fn archive_names_the_top_entry_and_dot_means_contents() {
    let root = fixture();
    let dir = RootDir::open(root.path()).unwrap();
    let mut out = Vec::new();
    let info = dir.archive("/app", false, None, &mut out).unwrap();
    assert!(info.is_dir());
    assert_eq!(
        names(&out),
        [
            "app",
            "app/a.txt",
            "app/etc-link",
            "app/sub",
            "app/sub/b.txt"
        ]
    );
    let mut out = Vec::new();
    dir.archive("/app/.", false, None, &mut out).unwrap();
    assert_eq!(names(&out), [".", "a.txt", "etc-link", "sub", "sub/b.txt"]);
    let mut out = Vec::new();
    dir.archive("/app/a.txt", false, Some("renamed"), &mut out)
        .unwrap();
    assert_eq!(names(&out), ["renamed"]);
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let root = fixture();
    let dir = RootDir::open(root.path()).unwrap();
    // Followed, the link leads to the root's /etc, never the host's.
    let mut out = Vec::new();
    dir.archive("/climb/passwd", false, None, &mut out).unwrap();
    let mut archive = tar::Archive::new(&out[..]);
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    assert_eq!(text, "inside");
    let stat = dir.stat("/app/etc-link", false).unwrap();
    assert!(stat.is_symlink());
    assert_eq!(stat.link_target.as_deref(), Some("/etc"));
    assert!(dir.stat("/app/etc-link", true).unwrap().is_dir());
    let err = dir.stat("/missing", false).unwrap_err();
    assert!(
        matches!(err, RuntimeError::Io { ref source, .. } if source.kind() == io::ErrorKind::NotFound)
    );
}

#[test]
fn extraction_round_trips_modes_and_times_and_replaces_symlinks() {
    let root = fixture();
    let src = RootDir::open(root.path()).unwrap();
    let mut out = Vec::new();
    src.archive("/app", false, None, &mut out).unwrap();

    let dest = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    // A symlink where a directory of the archive goes must not be written through.
    symlink(outside.path(), dest.path().join("app")).unwrap();
    let host = RootDir::open(dest.path()).unwrap();
    let confined = ExtractOptions {
        confined: true,
        ..CALLER
    };
    host.extract("/", &mut &out[..], &confined).unwrap();
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    let a = dest.path().join("app/a.txt");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "alpha");
    assert_eq!(std::fs::metadata(&a).unwrap().mode() & 0o777, 0o640);
    assert_eq!(
        std::fs::metadata(&a).unwrap().mtime(),
        std::fs::metadata(root.path().join("app/a.txt"))
            .unwrap()
            .mtime()
    );
    assert_eq!(
        std::fs::read_link(dest.path().join("app/etc-link")).unwrap(),
        Path::new("/etc")
    );
    assert_eq!(
        std::fs::read_to_string(dest.path().join("app/sub/b.txt")).unwrap(),
        "beta"
    );
}

#[test]
fn extraction_refuses_entries_that_climb_out() {
    let mut data = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut data);
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // set_path refuses `..`, so write the name by hand.
        header.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        builder.finish().unwrap();
    }
    let dest = tempfile::tempdir().unwrap();
    std::fs::create_dir(dest.path().join("in")).unwrap();
    let dir = RootDir::open(dest.path()).unwrap();
    let err = dir.extract("/in", &mut &data[..], &CALLER).unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    assert!(!dest.path().join("escape").exists());
}

#[test]
fn extraction_into_the_root_follows_links_inside_it_and_remove_does_not_follow() {
    let root = fixture();
    let dir = RootDir::open(root.path()).unwrap();
    let mut data = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut data);
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o600);
        builder
            .append_data(&mut header, "etc-link/new.conf", &b"new"[..])
            .unwrap();
        builder.finish().unwrap();
    }
    dir.extract("/app", &mut &data[..], &CALLER).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/new.conf")).unwrap(),
        "new"
    );
    dir.remove("/app/etc-link").unwrap();
    assert!(root.path().join("etc/passwd").exists());
    assert!(!root.path().join("app/etc-link").exists());
    dir.remove("/app").unwrap();
    assert!(!root.path().join("app").exists());
    dir.remove("/app/never").unwrap();
    // A missing extraction directory is made on request.
    let make = ExtractOptions {
        create_dir: true,
        ..CALLER
    };
    dir.extract("/srv/www", &mut &data[..], &make).unwrap();
    assert!(root.path().join("srv/www").is_dir());
}
