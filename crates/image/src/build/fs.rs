//! File trees a build reads and writes: the build context (with `.dockerignore`),
//! the merged view of a stage's or image's layer snapshots (overlayfs rules:
//! whiteouts, opaque directories, upper entries hiding lower ones), symlink
//! resolution that never leaves the tree's root, and copying into a step's diff
//! directory with docker's COPY rules for ownership and modes.

use super::ignore::{clean, has_glob, match_component, Ignore};
use crate::error::{ioe, nixe, ImageError};
use nix::sys::stat::{utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// A read-only tree of files: the build context or a stack of layer snapshots.
#[derive(Debug, Clone)]
pub enum Tree<'a> {
    /// The build context directory, filtered by `.dockerignore`.
    Context {
        /// The context directory.
        root: PathBuf,
        /// Its ignore rules.
        ignore: &'a Ignore,
    },
    /// Layer snapshots, bottom first.
    Layers(Vec<PathBuf>),
}

/// One visible entry: where it really is and its metadata.
#[derive(Debug, Clone)]
pub struct Found {
    /// Host path of the entry.
    pub host: PathBuf,
    /// Its metadata (not following symlinks).
    pub meta: Metadata,
}

fn is_whiteout(m: &Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    matches!(xattr::get(p, OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

fn join(comps: &[String]) -> String {
    comps.join("/")
}

impl Tree<'_> {
    /// The entry at `rel` (normal components only), without following a final symlink.
    pub fn lookup(&self, rel: &[String]) -> Option<Found> {
        match self {
            Tree::Context { root, ignore } => {
                if !rel.is_empty() && ignore.is_ignored(&join(rel)) {
                    // An ignored directory can still hold re-included files.
                    let host = root.join(join(rel));
                    let meta = fs::symlink_metadata(&host).ok()?;
                    if meta.is_dir() && ignore.has_exceptions() {
                        return Some(Found { host, meta });
                    }
                    return None;
                }
                let host = if rel.is_empty() {
                    root.clone()
                } else {
                    root.join(join(rel))
                };
                fs::symlink_metadata(&host)
                    .ok()
                    .map(|meta| Found { host, meta })
            }
            Tree::Layers(dirs) => {
                if rel.is_empty() {
                    let host = dirs.last()?.clone();
                    let meta = fs::symlink_metadata(&host).ok()?;
                    return Some(Found { host, meta });
                }
                'layers: for layer in dirs.iter().rev() {
                    let mut p = layer.clone();
                    for (k, comp) in rel.iter().enumerate() {
                        p.push(comp);
                        match fs::symlink_metadata(&p) {
                            Err(_) => {
                                // Nothing here; an opaque parent hides the lower layers.
                                if k > 0 {
                                    let parent = p.parent().unwrap_or(layer);
                                    if is_opaque(parent) {
                                        return None;
                                    }
                                }
                                continue 'layers;
                            }
                            Ok(m) if is_whiteout(&m) => return None,
                            Ok(m) if k + 1 == rel.len() => return Some(Found { host: p, meta: m }),
                            Ok(m) if m.is_dir() => {}
                            Ok(_) => return None,
                        }
                    }
                }
                None
            }
        }
    }

    /// The visible names in directory `rel`, sorted.
    pub fn list(&self, rel: &[String]) -> Vec<String> {
        let mut names = BTreeSet::new();
        match self {
            Tree::Context { root, ignore } => {
                let dir = root.join(join(rel));
                for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let mut child = rel.to_vec();
                    child.push(name.clone());
                    if self.lookup(&child).is_some() {
                        let _ = ignore;
                        names.insert(name);
                    }
                }
            }
            Tree::Layers(dirs) => {
                let mut hidden = BTreeSet::new();
                for layer in dirs.iter().rev() {
                    let dir = layer.join(join(rel));
                    match fs::symlink_metadata(&dir) {
                        Ok(m) if m.is_dir() => {}
                        Ok(_) => break,
                        Err(_) => continue,
                    }
                    for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let wh = e.metadata().is_ok_and(|m| is_whiteout(&m));
                        if wh {
                            hidden.insert(name);
                        } else if !hidden.contains(&name) {
                            names.insert(name);
                        }
                    }
                    if is_opaque(&dir) {
                        break;
                    }
                }
            }
        }
        names.into_iter().collect()
    }

    /// Resolve `path` (absolute or relative to the root) component by component,
    /// following symlinks inside the tree (an absolute link target starts again at
    /// the tree's root; `..` never leaves it). With `follow_last`, a final symlink is
    /// followed too. Returns the resolved components; missing trailing parts are kept.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Vec<String> {
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .rev()
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = todo.pop() {
            if comp == ".." {
                done.pop();
                continue;
            }
            done.push(comp);
            let last = todo.is_empty();
            if last && !follow_last {
                break;
            }
            let Some(found) = self.lookup(&done) else {
                // Missing: the rest is taken as written.
                while let Some(c) = todo.pop() {
                    if c == ".." {
                        done.pop();
                    } else {
                        done.push(c);
                    }
                }
                break;
            };
            if found.meta.file_type().is_symlink() {
                hops += 1;
                if hops > 40 {
                    break;
                }
                let Ok(target) = fs::read_link(&found.host) else {
                    break;
                };
                let target = target.to_string_lossy().into_owned();
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                for c in target
                    .split('/')
                    .filter(|c| !c.is_empty() && *c != ".")
                    .rev()
                {
                    todo.push(c.to_string());
                }
            }
        }
        done
    }

    /// Sources matching `pattern` (docker COPY rules: globs per component, a plain
    /// path is taken literally). Returns resolved component lists, sorted.
    pub fn matches(&self, pattern: &str) -> Vec<Vec<String>> {
        let comps = clean(pattern);
        if !comps.iter().any(|c| has_glob(c)) {
            let resolved = self.resolve(&join(&comps), true);
            return if self.lookup(&resolved).is_some() || comps.is_empty() {
                vec![resolved]
            } else {
                Vec::new()
            };
        }
        let mut out = Vec::new();
        self.glob(&comps, Vec::new(), &mut out);
        out.sort();
        out
    }

    fn glob(&self, pat: &[String], at: Vec<String>, out: &mut Vec<Vec<String>>) {
        let Some(first) = pat.first() else {
            out.push(at);
            return;
        };
        if !has_glob(first) {
            let mut next = at;
            next.push(first.clone());
            if self.lookup(&next).is_some() {
                self.glob(&pat[1..], next, out);
            }
            return;
        }
        for name in self.list(&at) {
            if match_component(first, &name) {
                let mut next = at.clone();
                next.push(name);
                self.glob(&pat[1..], next, out);
            }
        }
    }

    /// Hash the content and metadata under `rel` (for cache keys): paths, types,
    /// modes, sizes, file contents and link targets; not times or owners.
    pub fn hash_into(&self, rel: &[String], h: &mut Sha256) -> Result<(), ImageError> {
        let Some(found) = self.lookup(rel) else {
            return Ok(());
        };
        let m = &found.meta;
        h.update(join(rel).as_bytes());
        h.update([0]);
        h.update((m.mode() & 0o177777).to_le_bytes());
        if m.is_dir() {
            h.update(b"d");
            for name in self.list(rel) {
                let mut child = rel.to_vec();
                child.push(name);
                self.hash_into(&child, h)?;
            }
        } else if m.file_type().is_symlink() {
            let t = fs::read_link(&found.host).map_err(ioe("read link", &found.host))?;
            h.update(b"l");
            h.update(t.as_os_str().as_encoded_bytes());
        } else if m.is_file() {
            h.update(b"f");
            h.update(m.len().to_le_bytes());
            let mut f = File::open(&found.host).map_err(ioe("open", &found.host))?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf).map_err(ioe("read", &found.host))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        } else {
            h.update(b"o");
            h.update(m.rdev().to_le_bytes());
        }
        h.update([0]);
        Ok(())
    }
}

/// How copied entries are owned and moded.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOpts {
    /// `--chown`: the owner of everything copied; otherwise root for context
    /// sources and the source's owner for stage and image sources.
    pub chown: Option<(u32, u32)>,
    /// Keep the source's owner (sources from stages and images).
    pub keep_owner: bool,
    /// `--chmod`.
    pub chmod: Option<u32>,
}

impl CopyOpts {
    fn owner(&self, m: &Metadata) -> (u32, u32) {
        match self.chown {
            Some(o) => o,
            None if self.keep_owner => (m.uid(), m.gid()),
            None => (0, 0),
        }
    }
    fn mode(&self, m: &Metadata) -> u32 {
        self.chmod.unwrap_or(m.mode() & 0o7777)
    }
}

/// Writes into a step's diff directory over the layers of the stage being built.
pub struct Diff<'a> {
    /// The diff (upper) directory.
    pub dir: &'a Path,
    /// The stage's layers, bottom first.
    pub below: Tree<'a>,
}

impl Diff<'_> {
    /// Make sure directory `rel` exists in the diff, creating each missing component
    /// with the metadata it has below (or 0755 root when new).
    pub fn ensure_dir(&self, rel: &[String], new_owner: (u32, u32)) -> Result<PathBuf, ImageError> {
        let mut p = self.dir.to_path_buf();
        for k in 0..rel.len() {
            p.push(&rel[k]);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => fs::remove_file(&p).map_err(ioe("replace", &p))?,
                Err(_) => {}
            }
            fs::create_dir(&p).map_err(ioe("create directory", &p))?;
            match self.below.lookup(&rel[..=k]) {
                Some(f) if f.meta.is_dir() => set_meta(
                    &p,
                    &f.meta,
                    (f.meta.uid(), f.meta.gid()),
                    f.meta.mode() & 0o7777,
                )?,
                _ => {
                    fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
                        .map_err(ioe("chmod", &p))?;
                    chown(&p, new_owner)?;
                }
            }
        }
        Ok(p)
    }

    /// Copy the entry `src_rel` of `src` to `dst` in the diff (a directory's
    /// contents go into `dst`, which becomes a directory).
    pub fn copy(
        &self,
        src: &Tree<'_>,
        src_rel: &[String],
        dst: &[String],
        opts: &CopyOpts,
    ) -> Result<(), ImageError> {
        let Some(found) = src.lookup(src_rel) else {
            return Ok(());
        };
        let parent = &dst[..dst.len().saturating_sub(1)];
        self.ensure_dir(parent, (0, 0))?;
        self.copy_entry(src, src_rel, &found, dst, opts)
    }

    fn copy_entry(
        &self,
        src: &Tree<'_>,
        src_rel: &[String],
        found: &Found,
        dst: &[String],
        opts: &CopyOpts,
    ) -> Result<(), ImageError> {
        let target = self.dir.join(join(dst));
        let m = &found.meta;
        let ft = m.file_type();
        let existing = fs::symlink_metadata(&target).ok();
        if ft.is_dir() {
            match existing {
                Some(e) if e.is_dir() => {}
                Some(_) => {
                    fs::remove_file(&target).map_err(ioe("replace", &target))?;
                    fs::create_dir(&target).map_err(ioe("create directory", &target))?;
                }
                None => fs::create_dir(&target).map_err(ioe("create directory", &target))?,
            }
            for name in src.list(src_rel) {
                let mut s = src_rel.to_vec();
                s.push(name.clone());
                let mut d = dst.to_vec();
                d.push(name);
                if let Some(f) = src.lookup(&s) {
                    self.copy_entry(src, &s, &f, &d, opts)?;
                }
            }
            if dst.is_empty() {
                return Ok(()); // the root of the layer keeps its own metadata
            }
            return set_meta(&target, m, opts.owner(m), opts.mode(m));
        }
        if let Some(e) = existing {
            if e.is_dir() {
                crate::fsutil::remove_tree(&target)?;
            } else {
                fs::remove_file(&target).map_err(ioe("replace", &target))?;
            }
        }
        if ft.is_symlink() {
            let t = fs::read_link(&found.host).map_err(ioe("read link", &found.host))?;
            std::os::unix::fs::symlink(&t, &target).map_err(ioe("create symlink", &target))?;
            let (u, g) = opts.owner(m);
            nix::unistd::fchownat(
                None,
                &target,
                Some(u.into()),
                Some(g.into()),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(nixe("chown", &target))?;
            return Ok(());
        }
        if ft.is_file() {
            fs::copy(&found.host, &target).map_err(ioe("copy to", &target))?;
        } else {
            let kind = if ft.is_char_device() {
                SFlag::S_IFCHR
            } else if ft.is_block_device() {
                SFlag::S_IFBLK
            } else if ft.is_fifo() {
                SFlag::S_IFIFO
            } else {
                return Ok(()); // sockets are not copied
            };
            nix::sys::stat::mknod(&target, kind, Mode::from_bits_truncate(0o600), m.rdev())
                .map_err(nixe("create device node", &target))?;
        }
        set_meta(&target, m, opts.owner(m), opts.mode(m))
    }
}

/// Owner, mode and times of a new entry (never through a symlink).
pub fn set_meta(p: &Path, m: &Metadata, owner: (u32, u32), mode: u32) -> Result<(), ImageError> {
    chown(p, owner)?;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(ioe("chmod", p))?;
    let t = TimeSpec::new(m.mtime(), m.mtime_nsec());
    utimensat(None, p, &t, &t, UtimensatFlags::NoFollowSymlink).map_err(nixe("set times of", p))
}

/// Owner, mode and modification time (`None`: leave it) of a file written by a step.
pub fn set_file_meta(
    p: &Path,
    owner: (u32, u32),
    mode: u32,
    mtime: Option<i64>,
) -> Result<(), ImageError> {
    chown(p, owner)?;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(ioe("chmod", p))?;
    if let Some(secs) = mtime {
        let t = TimeSpec::new(secs, 0);
        utimensat(None, p, &t, &t, UtimensatFlags::NoFollowSymlink)
            .map_err(nixe("set times of", p))?;
    }
    Ok(())
}

fn chown(p: &Path, (u, g): (u32, u32)) -> Result<(), ImageError> {
    if !nix::unistd::geteuid().is_root() {
        // Unprivileged (tests): ownership cannot be given away; keep ours.
        return Ok(());
    }
    nix::unistd::fchownat(
        None,
        p,
        Some(u.into()),
        Some(g.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(nixe("chown", p))
}

/// Read a small file of a tree (`/etc/passwd`), following symlinks.
pub fn read_small(tree: &Tree<'_>, path: &str) -> Option<String> {
    let rel = tree.resolve(path, true);
    let f = tree.lookup(&rel)?;
    if !f.meta.is_file() || f.meta.len() > 4 << 20 {
        return None;
    }
    fs::read_to_string(&f.host).ok()
}

/// A `--chown` name the stage does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    #[error("--chown: no user {0:?} in the stage's /etc/passwd; use a numeric id")]
    NoUser(String),
    #[error("--chown: no group {0:?} in the stage's /etc/group; use a numeric id")]
    NoGroup(String),
}

/// `--chown=user:group` against the stage's `/etc/passwd` and `/etc/group`.
pub fn resolve_owner(tree: &Tree<'_>, spec: &str) -> Result<(u32, u32), OwnerError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let lookup = |file: &str, name: &str| -> Option<(u32, u32)> {
        let text = read_small(tree, file)?;
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 3 && f[0] == name {
                let id = f[2].parse().ok()?;
                let gid = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(id);
                Some((id, gid))
            } else {
                None
            }
        })
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(id) => (id, lookup_by_id(tree, id).unwrap_or(id)),
        Err(_) => {
            lookup("/etc/passwd", user).ok_or_else(|| OwnerError::NoUser(user.to_string()))?
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(id) => id,
            Err(_) => lookup("/etc/group", g)
                .map(|(gid, _)| gid)
                .ok_or_else(|| OwnerError::NoGroup(g.to_string()))?,
        },
    };
    Ok((uid, gid))
}

fn lookup_by_id(tree: &Tree<'_>, uid: u32) -> Option<u32> {
    let text = read_small(tree, "/etc/passwd")?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[3].parse().ok())?
    })
}

/// Whether the directory is empty (a step that changed nothing).
pub fn is_empty_dir(p: &Path) -> Result<bool, ImageError> {
    Ok(fs::read_dir(p).map_err(ioe("list", p))?.next().is_none())
}

/// Whether a file is a tar archive (plain, gzip or zstd) that ADD extracts.
pub fn is_archive(p: &Path) -> bool {
    let Ok(f) = File::open(p) else {
        return false;
    };
    let Ok(mut r) = crate::unpack::decompress(f, "archive") else {
        return false;
    };
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < 512 {
        match r.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got == 512 && &head[257..262] == b"ustar"
}

/// A `io::Error` as an `ImageError` on `p`.
pub fn io_err(action: &str, p: &Path, e: io::Error) -> ImageError {
    ImageError::io(action, p, e)
}
