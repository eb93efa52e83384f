//! Unpack tests: layout, metadata, compression, whiteouts, and that no entry ever
//! writes outside the snapshot.

use super::*;
use crate::digest::sha256_digest;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// One tar entry; paths are written raw into the header so that hostile names survive.
enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str, u32),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Fifo(&'a str),
    Owned(&'a str, u64, u64),
}

fn raw_header(path: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    let name = &mut h.as_old_mut().name;
    assert!(path.len() < name.len(), "test path too long");
    name[..path.len()].copy_from_slice(path.as_bytes());
    h
}

fn set_link(h: &mut tar::Header, target: &str) {
    let l = &mut h.as_old_mut().linkname;
    l[..target.len()].copy_from_slice(target.as_bytes());
}

fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (mut h, data): (tar::Header, &[u8]) = match e {
            E::File(p, d, m) => (
                raw_header(p, tar::EntryType::Regular, *m, d.len() as u64),
                d,
            ),
            E::Dir(p, m) => (raw_header(p, tar::EntryType::Directory, *m, 0), &[]),
            E::Sym(p, t) => {
                let mut h = raw_header(p, tar::EntryType::Symlink, 0o777, 0);
                set_link(&mut h, t);
                (h, &[])
            }
            E::Hard(p, t) => {
                let mut h = raw_header(p, tar::EntryType::Link, 0o644, 0);
                set_link(&mut h, t);
                (h, &[])
            }
            E::Char(p, maj, min) => {
                let mut h = raw_header(p, tar::EntryType::Char, 0o666, 0);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                (h, &[])
            }
            E::Fifo(p) => (raw_header(p, tar::EntryType::Fifo, 0o640, 0), &[]),
            E::Owned(p, uid, gid) => {
                let mut h = raw_header(p, tar::EntryType::Regular, 0o4755, 2);
                h.set_uid(*uid);
                h.set_gid(*gid);
                (h, b"hi")
            }
        };
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

struct Sandbox {
    _tmp: tempfile::TempDir,
    snap: PathBuf,
    sibling: PathBuf,
}

/// `<tmp>/snap` (the destination) and `<tmp>/sibling` holding `secret`.
fn sandbox() -> Sandbox {
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    let sibling = tmp.path().join("sibling");
    fs::create_dir(&snap).unwrap();
    fs::create_dir(&sibling).unwrap();
    fs::write(sibling.join("secret"), b"untouched").unwrap();
    Sandbox {
        _tmp: tmp,
        snap,
        sibling,
    }
}

impl Sandbox {
    fn assert_sibling_untouched(&self, case: &str) {
        let mut names: Vec<_> = fs::read_dir(&self.sibling)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("secret")],
            "{case}: sibling dir changed"
        );
        let meta = fs::symlink_metadata(self.sibling.join("secret")).unwrap();
        assert!(meta.is_file(), "{case}");
        assert_eq!(meta.nlink(), 1, "{case}: secret was hard-linked");
        assert_eq!(
            fs::read(self.sibling.join("secret")).unwrap(),
            b"untouched",
            "{case}"
        );
        assert!(!self.snap.parent().unwrap().join("evil").exists(), "{case}");
    }
}

fn unpack(data: &[u8], dest: &Path) -> Result<UnpackSummary, ImageError> {
    unpack_layer(data, dest, "test layer", &UnpackOptions::default())
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn unpacks_files_dirs_links_and_metadata() {
    let data = tar_of(&[
        E::Dir("./", 0o755),
        E::Dir("./etc/", 0o750),
        E::File("./etc/hostname", b"box\n", 0o640),
        E::File("bin/sh", b"#!shell", 0o755),
        E::Sym("bin/ash", "sh"),
        E::Sym("abs", "/etc/hostname"),
        E::Hard("bin/sh2", "bin/sh"),
        E::Fifo("run/fifo"),
        E::Dir("ro/", 0o555),
        E::File("ro/inside", b"x", 0o444),
    ]);
    let sb = sandbox();
    let summary = unpack(&data, &sb.snap).unwrap();
    assert_eq!(summary.diff_id, sha256_digest(&data));
    assert_eq!(summary.size, data.len() as u64);

    let s = &sb.snap;
    assert_eq!(fs::read(s.join("etc/hostname")).unwrap(), b"box\n");
    let m = fs::metadata(s.join("etc/hostname")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!(m.mtime(), 1_600_000_000);
    assert_eq!(fs::metadata(s.join("etc")).unwrap().mode() & 0o7777, 0o750);
    assert_eq!(fs::metadata(s.join("etc")).unwrap().mtime(), 1_600_000_000);
    assert_eq!(fs::read_link(s.join("bin/ash")).unwrap(), Path::new("sh"));
    assert_eq!(
        fs::read_link(s.join("abs")).unwrap(),
        Path::new("/etc/hostname")
    );
    assert_eq!(
        fs::symlink_metadata(s.join("abs")).unwrap().mtime(),
        1_600_000_000
    );
    let sh = fs::metadata(s.join("bin/sh")).unwrap();
    assert_eq!(sh.ino(), fs::metadata(s.join("bin/sh2")).unwrap().ino());
    assert_eq!(sh.nlink(), 2);
    assert!(fs::metadata(s.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        fs::metadata(s.join("run/fifo")).unwrap().mode() & 0o777,
        0o640
    );
    // Implicit parents get 0755.
    assert_eq!(fs::metadata(s.join("run")).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(fs::metadata(s.join("ro")).unwrap().mode() & 0o7777, 0o555);
    assert_eq!(fs::read(s.join("ro/inside")).unwrap(), b"x");
    let _ = fs::set_permissions(s.join("ro"), fs::Permissions::from_mode(0o755));
}

#[test]
fn gzip_and_zstd_layers_have_the_plain_diff_id() {
    let data = tar_of(&[E::File("a", b"hello", 0o644)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    io::Write::write_all(&mut gz, &data).unwrap();
    let gz = gz.finish().unwrap();
    let zst =
        ruzstd::encoding::compress_to_vec(&data[..], ruzstd::encoding::CompressionLevel::Fastest);
    // Two zstd frames with a skippable frame between (as zstd:chunked writes).
    let half = data.len() / 2;
    let fast = || ruzstd::encoding::CompressionLevel::Fastest;
    let mut multi = ruzstd::encoding::compress_to_vec(&data[..half], fast());
    multi.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    multi.extend(ruzstd::encoding::compress_to_vec(&data[half..], fast()));
    // gzip with two members.
    let member = |d: &[u8]| {
        let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        io::Write::write_all(&mut g, d).unwrap();
        g.finish().unwrap()
    };
    let mut gz2 = member(&data[..half]);
    gz2.extend(member(&data[half..]));
    let cases = [
        ("gzip", gz),
        ("zstd", zst),
        ("zstd frames", multi),
        ("gzip members", gz2),
    ];
    for (name, bytes) in cases {
        let sb = sandbox();
        let summary = unpack(&bytes, &sb.snap).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(summary.diff_id, sha256_digest(&data), "{name}");
        assert_eq!(fs::read(sb.snap.join("a")).unwrap(), b"hello", "{name}");
    }
}

#[test]
fn compression_detection() {
    assert_eq!(
        Compression::detect(&[0x1f, 0x8b, 8]).unwrap(),
        Compression::Gzip
    );
    assert_eq!(
        Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]).unwrap(),
        Compression::Zstd
    );
    assert_eq!(Compression::detect(b"bin/").unwrap(), Compression::None);
    let e = Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]).unwrap_err();
    assert_eq!(e, crate::unpack::UnsupportedCompression::Xz);
    assert!(e.to_string().contains("xz"), "{e}");
    let sb = sandbox();
    let e = unpack(b"BZh91AY&SY", &sb.snap).unwrap_err().to_string();
    assert!(e.contains("bzip2") && e.contains("test layer"), "{e}");
    let e = unpack(&[7u8; 1000], &sb.snap).unwrap_err().to_string();
    assert!(e.contains("not a valid tar archive"), "{e}");
}

#[test]
fn absolute_paths_are_made_relative() {
    let sb = sandbox();
    unpack(
        &tar_of(&[E::File("/abs", b"in", 0o644), E::Dir("/d/", 0o755)]),
        &sb.snap,
    )
    .unwrap();
    assert_eq!(fs::read(sb.snap.join("abs")).unwrap(), b"in");
    assert!(sb.snap.join("d").is_dir());
    sb.assert_sibling_untouched("/abs");
}

/// Hostile layers, built for a sandbox whose sibling directory is `sibling`.
fn hostile_layers(sibling: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let sib = sibling.to_str().unwrap();
    // Relative to "/": followed through a symlink to "/", it lands in the sibling dir.
    let sib_rel = sib.trim_start_matches('/');
    let via_root = |rest: &str| format!("link/{sib_rel}/{rest}");
    vec![
        ("../evil", tar_of(&[E::File("../evil", b"x", 0o644)])),
        (
            "../sibling/evil",
            tar_of(&[E::File("../sibling/evil", b"x", 0o644)]),
        ),
        (
            "a/../../evil",
            tar_of(&[E::File("a/../../evil", b"x", 0o644)]),
        ),
        (
            "dir ../sibling/d",
            tar_of(&[E::Dir("../sibling/d/", 0o755)]),
        ),
        ("fifo ../evil", tar_of(&[E::Fifo("../evil")])),
        (
            "whiteout ../sibling/.wh.secret",
            tar_of(&[E::File("../sibling/.wh.secret", b"", 0o644)]),
        ),
        (
            "link -> / then link/<sibling>/evil",
            tar_of(&[E::Sym("link", "/"), E::File(&via_root("evil"), b"x", 0o644)]),
        ),
        (
            "link -> ../sibling then link/evil",
            tar_of(&[
                E::Sym("link", "../sibling"),
                E::File("link/evil", b"x", 0o644),
            ]),
        ),
        (
            "link -> sibling then dir link/sub",
            tar_of(&[E::Sym("link", sib), E::Dir("link/sub/", 0o755)]),
        ),
        (
            "link -> sibling then symlink link/evil",
            tar_of(&[E::Sym("link", sib), E::Sym("link/evil", "/")]),
        ),
        (
            "whiteout through a symlink",
            tar_of(&[
                E::Sym("link", "/"),
                E::File(&via_root(".wh.secret"), b"", 0o644),
            ]),
        ),
        (
            "opaque whiteout through a symlink",
            tar_of(&[
                E::Sym("link", "/"),
                E::File(&via_root(".wh..wh..opq"), b"", 0o644),
            ]),
        ),
        ("hard link to ../../x", tar_of(&[E::Hard("hl", "../../x")])),
        (
            "hard link to ../sibling/secret",
            tar_of(&[E::Hard("hl", "../sibling/secret")]),
        ),
        (
            "hard link to the absolute sibling path",
            tar_of(&[E::Hard("hl", &format!("{sib}/secret"))]),
        ),
        (
            "hard link through a symlink",
            tar_of(&[E::Sym("link", "/"), E::Hard("hl", &via_root("secret"))]),
        ),
    ]
}

#[test]
fn no_entry_writes_outside_the_snapshot() {
    let count = hostile_layers(Path::new("/x")).len();
    for i in 0..count {
        let sb = sandbox();
        let (case, data) = hostile_layers(&sb.sibling).swap_remove(i);
        let err = unpack(&data, &sb.snap).expect_err(case).to_string();
        assert!(err.contains("unsafe layer entry"), "{case}: {err}");
        sb.assert_sibling_untouched(case);
    }
}

#[test]
fn an_entry_replaces_a_symlink_instead_of_following_it() {
    let sb = sandbox();
    let target = sb.sibling.join("secret");
    let data = tar_of(&[
        E::Sym("f", target.to_str().unwrap()),
        E::File("f", b"new", 0o644),
        E::Sym("d", sb.sibling.to_str().unwrap()),
        E::Dir("d/", 0o755),
    ]);
    unpack(&data, &sb.snap).unwrap();
    assert!(fs::symlink_metadata(sb.snap.join("f")).unwrap().is_file());
    assert_eq!(fs::read(sb.snap.join("f")).unwrap(), b"new");
    assert!(fs::symlink_metadata(sb.snap.join("d")).unwrap().is_dir());
    sb.assert_sibling_untouched("replace symlink");
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    if !is_root() {
        eprintln!("skipped: whiteouts need root (mknod, trusted.* xattrs)");
        return;
    }
    let sb = sandbox();
    let data = tar_of(&[
        E::File(".wh.gone", b"", 0o644),
        E::Dir("dir/", 0o755),
        E::File("dir/.wh..wh..opq", b"", 0o644),
        E::File("dir/kept", b"k", 0o644),
        E::File("other/.wh..wh..opq", b"", 0o644),
        E::File("x/.wh..wh.plnk", b"", 0o644),
    ]);
    unpack(&data, &sb.snap).unwrap();
    let wh = fs::symlink_metadata(sb.snap.join("gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!sb.snap.join(".wh.gone").exists());
    for d in ["dir", "other"] {
        let v = xattr::get(sb.snap.join(d), crate::tree_tar::OPAQUE_XATTR).unwrap();
        assert_eq!(v.as_deref(), Some(&b"y"[..]), "{d}");
        assert!(!sb.snap.join(d).join(WHITEOUT_OPAQUE).exists());
    }
    assert_eq!(fs::read(sb.snap.join("dir/kept")).unwrap(), b"k");
    assert!(!sb.snap.join("x/.wh..wh.plnk").exists());
}

#[test]
fn whiteouts_without_root_are_refused_clearly() {
    let sb = sandbox();
    let opts = UnpackOptions { as_root: false };
    let e = unpack_layer(
        &tar_of(&[E::File("a/.wh.b", b"", 0o644)])[..],
        &sb.snap,
        "L",
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("whiteout") && e.contains("root"), "{e}");
}

#[test]
fn device_nodes_and_owners_as_root_only() {
    let data = tar_of(&[E::Char("dev/null", 1, 3), E::Owned("bin/su", 1234, 5678)]);
    // Unprivileged path: devices skipped, owners not restored.
    let sb = sandbox();
    unpack_layer(&data[..], &sb.snap, "L", &UnpackOptions { as_root: false }).unwrap();
    assert!(!sb.snap.join("dev/null").exists());
    assert!(sb.snap.join("bin/su").is_file());
    if !is_root() {
        eprintln!("skipped: the mknod/lchown half needs root");
        return;
    }
    let sb = sandbox();
    unpack(&data, &sb.snap).unwrap();
    let dev = fs::symlink_metadata(sb.snap.join("dev/null")).unwrap();
    assert!(dev.file_type().is_char_device());
    assert_eq!(dev.rdev(), makedev(1, 3));
    assert_eq!(dev.mode() & 0o777, 0o666);
    let su = fs::metadata(sb.snap.join("bin/su")).unwrap();
    assert_eq!((su.uid(), su.gid()), (1234, 5678));
    // setuid survives the chown because the mode is applied after it.
    assert_eq!(su.mode() & 0o7777, 0o4755);
}
