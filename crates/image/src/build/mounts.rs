//! `RUN --mount`: BuildKit's mount flags (`type=cache|bind|tmpfs|secret`, comma
//! separated `key=value` fields, quoted like CSV), and the host side of the
//! mounts of one step: persistent cache directories under
//! `<root>/build-cache-mounts/<sha256 of the id>` with their `sharing` locks,
//! secret files, and the removal of the mount points a step's mounts left in its
//! diff directory, so that nothing of a mount lands in a layer.

use super::words::WordError;
use crate::error::{ioe, ImageError};
use crate::fsutil::{ensure_dir, remove_tree, unique_suffix, TMP_MARK};
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest as _, Sha256};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a `--mount` mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    /// A directory or file of the context, a stage or an image (read-only unless `rw`).
    Bind,
    /// A directory kept between builds, never part of a layer.
    Cache,
    /// An empty tmpfs.
    Tmpfs,
    /// A secret given to the build, as a read-only file.
    Secret,
}

impl MountType {
    fn name(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Any number of steps use it at once (the default).
    Shared,
    /// A step that finds it in use gets a fresh, temporary directory instead.
    Private,
    /// A step waits until nobody else uses it.
    Locked,
}

/// One `--mount` of a RUN instruction, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    /// The type.
    pub kind: MountType,
    /// Absolute, clean path inside the step; `None` only for a secret given as `env`.
    pub target: Option<String>,
    /// Path in the source (`source=`), for bind and cache mounts.
    pub source: Option<String>,
    /// Stage or image the source comes from (`from=`); the build context when unset.
    pub from: Option<String>,
    /// Mounted read-only.
    pub read_only: bool,
    /// Cache or secret id (a cache defaults to its target, a secret to its file name).
    pub id: Option<String>,
    /// Cache sharing.
    pub sharing: Sharing,
    /// Mode of a new cache directory (default 0755) or of a secret file (0400).
    pub mode: Option<u32>,
    /// Owner of a new cache directory or of a secret file.
    pub uid: Option<u32>,
    /// Group of a new cache directory or of a secret file.
    pub gid: Option<u32>,
    /// Size limit of a tmpfs in bytes.
    pub size: Option<u64>,
    /// A missing secret fails the step instead of leaving the mount out.
    pub required: bool,
    /// Environment variable that receives a secret's value.
    pub env: Option<String>,
}

/// A `RUN --mount` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RUN --mount={spec}: {problem}")]
pub struct MountError {
    /// The value as written.
    pub spec: String,
    pub problem: MountProblem,
}

/// What is wrong with a `RUN --mount` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountProblem {
    /// A key, a type or a combination the mount does not take; says what to write.
    #[error("{0}")]
    Invalid(String),
    /// A variable reference in a value.
    #[error(transparent)]
    Word(#[from] WordError),
    /// `size=` of a tmpfs.
    #[error("size={text:?} is not a size ({source})")]
    Size {
        text: String,
        #[source]
        source: wharf_units::UnitError,
    },
}

/// The keys each type accepts (besides `type`).
fn keys_of(kind: MountType) -> &'static [&'static str] {
    match kind {
        MountType::Bind => &["target", "source", "from", "readonly", "readwrite"],
        MountType::Cache => &[
            "target",
            "source",
            "from",
            "readonly",
            "readwrite",
            "id",
            "sharing",
            "mode",
            "uid",
            "gid",
        ],
        MountType::Tmpfs => &["target", "size"],
        MountType::Secret => &["target", "id", "required", "mode", "uid", "gid", "env"],
    }
}

/// Split `a=1,"b=x,y",c` at commas outside double quotes (`""` is a quote inside
/// quotes), as BuildKit's CSV reader does.
fn split_fields(spec: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("{spec:?} has an unterminated quote"));
    }
    fields.push(cur);
    Ok(fields)
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{key}={v:?} is not a boolean; write true or false")),
    }
}

/// Clean absolute form of `target`, relative ones taken from `workdir`.
fn absolute(target: &str, workdir: &str) -> String {
    let joined = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{workdir}/{target}")
    };
    format!("/{}", super::ignore::clean(&joined).join("/"))
}

/// Parse one `--mount` value. `expand` substitutes variables in each value;
/// `workdir` resolves a relative target. Errors say what is wrong; the caller
/// adds the Dockerfile line.
pub fn parse_mount(
    spec: &str,
    workdir: &str,
    expand: &dyn Fn(&str) -> Result<String, WordError>,
) -> Result<RunMount, MountError> {
    let fail = |problem: MountProblem| MountError {
        spec: spec.to_string(),
        problem,
    };
    let ctx = |m: String| fail(MountProblem::Invalid(m));
    let mut kind = MountType::Bind;
    let mut given: Vec<(&'static str, Option<String>)> = Vec::new();
    for field in split_fields(spec).map_err(ctx)? {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (
                k.trim().to_ascii_lowercase(),
                Some(expand(v).map_err(|e| fail(e.into()))?),
            ),
            None => (field.to_ascii_lowercase(), None),
        };
        let canonical: &'static str = match key.as_str() {
            "type" => {
                let v = value.unwrap_or_default();
                kind = match v.as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => {
                        return Err(ctx(
                            "type=ssh is not supported by wharf yet; remove the mount".into(),
                        ))
                    }
                    other => {
                        return Err(ctx(format!(
                            "unknown mount type {other:?}; use bind, cache, tmpfs or secret"
                        )))
                    }
                };
                continue;
            }
            "target" | "dst" | "destination" => "target",
            "source" | "src" => "source",
            "from" => "from",
            "readonly" | "ro" => "readonly",
            "readwrite" | "rw" => "readwrite",
            "id" => "id",
            "sharing" => "sharing",
            "mode" => "mode",
            "uid" => "uid",
            "gid" => "gid",
            "size" => "size",
            "required" => "required",
            "env" => "env",
            other => {
                return Err(ctx(format!(
                    "unknown key {other:?}; a mount takes type, target, source, from, readonly, rw, id, sharing, mode, uid, gid, size, required or env"
                )))
            }
        };
        let flag_like = matches!(canonical, "readonly" | "readwrite" | "required");
        if value.is_none() && !flag_like {
            return Err(ctx(format!("{canonical} needs a value: {canonical}=VALUE")));
        }
        given.push((canonical, value));
    }
    let allowed = keys_of(kind);
    let mut m = RunMount {
        kind,
        target: None,
        source: None,
        from: None,
        read_only: kind == MountType::Bind || kind == MountType::Secret,
        id: None,
        sharing: Sharing::Shared,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        required: false,
        env: None,
    };
    for (key, value) in given {
        if !allowed.contains(&key) {
            return Err(ctx(format!(
                "{key} does not apply to type={}; it takes {}",
                kind.name(),
                allowed.join(", ")
            )));
        }
        let text = value.clone().unwrap_or_default();
        let number = |radix: u32, max: u64| -> Result<u32, MountError> {
            u64::from_str_radix(&text, radix)
                .ok()
                .filter(|n| *n <= max)
                .map(|n| n as u32)
                .ok_or_else(|| {
                    ctx(if radix == 8 {
                        format!("{key}={text:?} is not an octal mode such as 0755")
                    } else {
                        format!("{key}={text:?} is not a numeric id")
                    })
                })
        };
        match key {
            "target" => m.target = Some(text),
            "source" => m.source = Some(text),
            "from" => m.from = Some(text),
            "readonly" => {
                m.read_only = value
                    .map_or(Ok(true), |v| parse_bool(key, &v))
                    .map_err(ctx)?
            }
            "readwrite" => {
                m.read_only = !value
                    .map_or(Ok(true), |v| parse_bool(key, &v))
                    .map_err(ctx)?
            }
            "required" => {
                m.required = value
                    .map_or(Ok(true), |v| parse_bool(key, &v))
                    .map_err(ctx)?
            }
            "id" => m.id = Some(text),
            "sharing" => {
                m.sharing = match text.as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => {
                        return Err(ctx(format!(
                            "sharing={text:?}: use shared, private or locked"
                        )))
                    }
                }
            }
            "mode" => m.mode = Some(number(8, 0o7777)?),
            "uid" => m.uid = Some(number(10, u32::MAX as u64)?),
            "gid" => m.gid = Some(number(10, u32::MAX as u64)?),
            "size" => {
                m.size = Some(wharf_units::parse_bytes(&text).map_err(|source| {
                    fail(MountProblem::Size {
                        text: text.clone(),
                        source,
                    })
                })?)
            }
            "env" => m.env = Some(text),
            _ => {}
        }
    }
    if let Some(t) = &m.target {
        if t.trim().is_empty() {
            return Err(ctx("target is empty; give the path to mount on".into()));
        }
        m.target = Some(absolute(t, workdir));
    }
    match kind {
        MountType::Secret => {
            if m.id.is_none() {
                m.id = m
                    .target
                    .as_deref()
                    .and_then(|t| t.rsplit('/').next())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string);
            }
            let Some(id) = &m.id else {
                return Err(ctx("a secret mount needs id=NAME (or a target)".into()));
            };
            if m.target.is_none() && m.env.is_none() {
                m.target = Some(format!("/run/secrets/{id}"));
            }
            if let Some(e) = &m.env {
                if e.is_empty() || e.contains('=') {
                    return Err(ctx(format!("env={e:?} is not a variable name")));
                }
            }
        }
        _ => {
            if m.target.is_none() {
                return Err(ctx(format!(
                    "type={} needs a target: add target=/path",
                    kind.name()
                )));
            }
        }
    }
    if kind == MountType::Cache && m.id.as_deref().is_none_or(str::is_empty) {
        m.id = m.target.clone();
    }
    if m.target.as_deref() == Some("/") {
        return Err(ctx("a mount cannot replace the root directory /".into()));
    }
    Ok(m)
}

/// A cache directory in use by a step; the lock (if any) is released on drop.
#[derive(Debug)]
pub struct CacheDir {
    /// The directory to bind.
    pub path: PathBuf,
    _lock: Option<Flock<File>>,
}

/// The directory of cache mount `id` under `root` (`<sha256 hex of the id>`).
pub fn cache_path(root: &Path, id: &str) -> PathBuf {
    root.join(hex::encode(Sha256::digest(id.as_bytes())))
}

fn open_lock(path: &Path) -> Result<File, ImageError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(ioe("open lock file", path))
}

/// Take the cache directory of `m` under `root`, creating it the first time
/// (mode, owner, and `seed` copying its first content in), locked as its
/// `sharing` says. A `private` cache in use by another step gives a fresh
/// directory under `scratch` instead, discarded after the step.
pub fn take_cache(
    root: &Path,
    m: &RunMount,
    scratch: &Path,
    seed: &dyn Fn(&Path) -> Result<(), ImageError>,
) -> Result<CacheDir, ImageError> {
    ensure_dir(root)?;
    let id = m.id.clone().unwrap_or_default();
    let path = cache_path(root, &id);
    let lock_path = path.with_extension("lock");
    let lock = open_lock(&lock_path)?;
    let lock_err = |e: nix::errno::Errno| ImageError::io("lock", &lock_path, e.into());
    let lock = match m.sharing {
        Sharing::Shared => Flock::lock(lock, FlockArg::LockShared).map_err(|(_, e)| lock_err(e))?,
        Sharing::Locked => {
            Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| lock_err(e))?
        }
        Sharing::Private => match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                let fresh = scratch.join(format!("private-cache-{}", unique_suffix()));
                create_cache_dir(&fresh, m, seed)?;
                return Ok(CacheDir {
                    path: fresh,
                    _lock: None,
                });
            }
            Err((_, e)) => return Err(lock_err(e)),
        },
    };
    if !path.is_dir() {
        // Made aside and renamed in, so a concurrent first use sees a whole one.
        let tmp = root.join(format!(
            "{}{TMP_MARK}{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            unique_suffix()
        ));
        create_cache_dir(&tmp, m, seed)?;
        if fs::rename(&tmp, &path).is_err() {
            let _ = remove_tree(&tmp);
            if !path.is_dir() {
                return Err(ImageError::io(
                    "create cache directory",
                    &path,
                    std::io::Error::other("it could not be renamed into place"),
                ));
            }
        }
    }
    Ok(CacheDir {
        path,
        _lock: Some(lock),
    })
}

fn create_cache_dir(
    dir: &Path,
    m: &RunMount,
    seed: &dyn Fn(&Path) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    fs::create_dir(dir).map_err(ioe("create cache directory", dir))?;
    seed(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(m.mode.unwrap_or(0o755)))
        .map_err(ioe("chmod", dir))?;
    chown_if_root(dir, m.uid.unwrap_or(0), m.gid.unwrap_or(0))
}

fn chown_if_root(p: &Path, uid: u32, gid: u32) -> Result<(), ImageError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    nix::unistd::chown(p, Some(uid.into()), Some(gid.into()))
        .map_err(|e| ImageError::io("chown", p, e.into()))
}

/// Write a secret's value to `path` with the mount's mode (default 0400) and owner.
pub fn write_secret(path: &Path, m: &RunMount, value: &[u8]) -> Result<(), ImageError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(ioe("create secret file", path))?;
    f.write_all(value).map_err(ioe("write secret file", path))?;
    drop(f);
    fs::set_permissions(path, fs::Permissions::from_mode(m.mode.unwrap_or(0o400)))
        .map_err(ioe("chmod", path))?;
    chown_if_root(path, m.uid.unwrap_or(0), m.gid.unwrap_or(0))
}

/// What was at a mount target's path before the step: the components (resolved
/// in the stage's tree) that did not exist yet, with the metadata of those that did.
#[derive(Debug, Clone)]
pub struct MountPoint {
    /// Resolved components of the target.
    pub comps: Vec<String>,
    /// For each prefix length 1..=len: the (mode, uid, gid) of the directory below,
    /// or `None` when the prefix did not exist.
    pub below: Vec<Option<(u32, u32, u32)>>,
}

impl MountPoint {
    /// Record the state of `target` in `tree` before the step.
    pub fn before(tree: &super::fs::Tree<'_>, target: &str) -> MountPoint {
        let comps = tree.resolve(target, true);
        let below = (1..=comps.len())
            .map(|n| {
                tree.lookup(&comps[..n])
                    .map(|f| (f.meta.mode(), f.meta.uid(), f.meta.gid()))
            })
            .collect();
        MountPoint { comps, below }
    }
}

/// Remove from the step's diff directory the mount points the runtime made for
/// `points` (an empty directory or empty file where nothing was before), and
/// parent directories that hold nothing else and differ from the ones below in
/// their times only, deepest first: a mount leaves no trace in the layer.
pub fn remove_mount_points(diff: &Path, points: &[MountPoint]) {
    let mut sorted: Vec<&MountPoint> = points.iter().collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.comps.len()));
    for p in sorted {
        for n in (1..=p.comps.len()).rev() {
            let host = diff.join(p.comps[..n].join("/"));
            let Ok(meta) = fs::symlink_metadata(&host) else {
                continue;
            };
            let empty = if meta.is_dir() {
                fs::read_dir(&host).is_ok_and(|mut d| d.next().is_none())
            } else {
                meta.is_file() && meta.len() == 0
            };
            if !empty {
                break;
            }
            let removable = match p.below[n - 1] {
                // Made for the mount: only the deepest can be a file.
                None => meta.is_dir() || n == p.comps.len(),
                // Copied up to hold the mount point: same directory, other times.
                Some((mode, uid, gid)) => {
                    meta.is_dir()
                        && n < p.comps.len()
                        && (meta.mode(), meta.uid(), meta.gid()) == (mode, uid, gid)
                        && !matches!(xattr::get(&host, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
                }
            };
            if !removable {
                break;
            }
            let removed = if meta.is_dir() {
                fs::remove_dir(&host)
            } else {
                fs::remove_file(&host)
            };
            if removed.is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<RunMount, String> {
        parse_mount(spec, "/srv/app", &|v| Ok(v.replace("$HOME", "/root")))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cache_mounts_take_their_defaults() {
        let m = parse("type=cache,target=$HOME/.cache").unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(m.id.as_deref(), Some("/root/.cache"));
        assert_eq!(m.sharing, Sharing::Shared);
        assert!(!m.read_only);
        let m = parse("type=cache,dst=go,id=gomod,sharing=locked,mode=0700,uid=1000,gid=1000,from=deps,source=/src,ro").unwrap();
        assert_eq!(m.target.as_deref(), Some("/srv/app/go"));
        assert_eq!(m.id.as_deref(), Some("gomod"));
        assert_eq!(m.sharing, Sharing::Locked);
        assert_eq!(
            (m.mode, m.uid, m.gid),
            (Some(0o700), Some(1000), Some(1000))
        );
        assert_eq!(m.from.as_deref(), Some("deps"));
        assert!(m.read_only);
    }

    #[test]
    fn bind_tmpfs_and_secret_mounts() {
        let m = parse("target=/src").unwrap();
        assert_eq!(m.kind, MountType::Bind);
        assert!(m.read_only);
        let m = parse("type=bind,from=build,src=/out,target=../x,rw=true").unwrap();
        assert_eq!(
            (m.from.as_deref(), m.source.as_deref()),
            (Some("build"), Some("/out"))
        );
        assert_eq!(m.target.as_deref(), Some("/srv/x"));
        assert!(!m.read_only);
        let m = parse("type=tmpfs,target=/tmp,size=64m").unwrap();
        assert_eq!(m.size, Some(64 << 20));
        let m = parse("type=secret,id=npm").unwrap();
        assert_eq!(m.target.as_deref(), Some("/run/secrets/npm"));
        assert!(m.read_only && !m.required);
        let m = parse("type=secret,target=/root/.npmrc,required").unwrap();
        assert_eq!(m.id.as_deref(), Some(".npmrc"));
        assert!(m.required);
        let m = parse("type=secret,id=tok,env=TOKEN").unwrap();
        assert_eq!((m.target, m.env.as_deref()), (None, Some("TOKEN")));
        let m = parse("type=bind,\"source=a,b\",target=/x").unwrap();
        assert_eq!(m.source.as_deref(), Some("a,b"));
    }

    #[test]
    fn bad_mounts_say_what_is_wrong() {
        let cases = [
            ("type=nfs,target=/x", "unknown mount type \"nfs\""),
            ("type=ssh", "type=ssh is not supported"),
            ("type=cache", "type=cache needs a target"),
            (
                "type=cache,target=/x,sharing=sometimes",
                "use shared, private or locked",
            ),
            ("type=cache,target=/x,mode=999", "not an octal mode"),
            ("type=cache,target=/x,uid=me", "not a numeric id"),
            ("type=tmpfs,target=/x,size=lots", "not a size"),
            (
                "type=tmpfs,target=/x,from=a",
                "from does not apply to type=tmpfs",
            ),
            ("type=bind,target=/x,color=red", "unknown key \"color\""),
            ("type=bind,target", "target needs a value"),
            ("type=secret", "needs id=NAME"),
            ("type=bind,target=/x,ro=maybe", "not a boolean"),
            ("type=bind,target=\"/x", "unterminated quote"),
            ("type=bind,target=/", "cannot replace the root"),
        ];
        for (spec, want) in cases {
            let e = parse(spec).unwrap_err();
            assert!(e.contains(want), "{spec}: {e}");
            assert!(e.starts_with(&format!("RUN --mount={spec}: ")), "{e}");
        }
    }

    #[test]
    fn tmpfs_sizes_are_docker_sizes() {
        let size = |s: &str| parse(&format!("type=tmpfs,target=/t,size={s}")).map(|m| m.size);
        assert_eq!(size("1024"), Ok(Some(1024)));
        assert_eq!(size("2k"), Ok(Some(2048)));
        assert_eq!(size("1GiB"), Ok(Some(1 << 30)));
        assert_eq!(size("1.5m"), Ok(Some(3 << 19)));
        let e = size("x").unwrap_err();
        assert!(e.contains("size=\"x\" is not a size (invalid size"), "{e}");
    }

    #[test]
    fn cache_directories_persist_and_private_ones_divert_when_busy() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("mounts");
        let scratch = tmp.path().join("scratch");
        fs::create_dir(&scratch).unwrap();
        let m = parse("type=cache,target=/c,id=x,sharing=private,mode=0710").unwrap();
        let seed = |d: &Path| fs::write(d.join("seeded"), "s").map_err(ioe("write", d));
        let first = take_cache(&root, &m, &scratch, &seed).unwrap();
        assert_eq!(first.path, cache_path(&root, "x"));
        assert_eq!(fs::metadata(&first.path).unwrap().mode() & 0o7777, 0o710);
        fs::write(first.path.join("kept"), "1").unwrap();
        // In use: a private user gets a fresh directory.
        let second = take_cache(&root, &m, &scratch, &seed).unwrap();
        assert!(second.path.starts_with(&scratch));
        assert!(second.path.join("seeded").is_file());
        assert!(!second.path.join("kept").exists());
        drop((first, second));
        let again = take_cache(&root, &m, &scratch, &seed).unwrap();
        assert_eq!(fs::read_to_string(again.path.join("kept")).unwrap(), "1");
        // Shared users do not exclude each other.
        let shared = parse("type=cache,target=/c,id=x").unwrap();
        drop(again);
        let a = take_cache(&root, &shared, &scratch, &seed).unwrap();
        let b = take_cache(&root, &shared, &scratch, &seed).unwrap();
        assert_eq!(a.path, b.path);
    }

    #[test]
    fn mount_points_are_removed_from_the_diff() {
        let tmp = tempfile::tempdir().unwrap();
        let lower = tmp.path().join("lower");
        fs::create_dir_all(lower.join("root")).unwrap();
        fs::create_dir_all(lower.join("etc")).unwrap();
        let tree = super::super::fs::Tree::Layers(vec![lower.clone()]);
        let points = [
            MountPoint::before(&tree, "/root/.cache"),
            MountPoint::before(&tree, "/run/secrets/tok"),
            MountPoint::before(&tree, "/etc/kept"),
        ];
        let diff = tmp.path().join("diff");
        fs::create_dir_all(diff.join("root/.cache")).unwrap();
        let lower_mode = fs::metadata(lower.join("root")).unwrap().mode();
        fs::set_permissions(diff.join("root"), fs::Permissions::from_mode(lower_mode)).unwrap();
        fs::create_dir_all(diff.join("run/secrets")).unwrap();
        fs::write(diff.join("run/secrets/tok"), "").unwrap();
        fs::create_dir_all(diff.join("etc")).unwrap();
        fs::write(diff.join("etc/kept"), "the step wrote it").unwrap();
        remove_mount_points(&diff, &points);
        assert!(!diff.join("root").exists());
        assert!(!diff.join("run").exists());
        assert!(diff.join("etc/kept").is_file());
    }
}
