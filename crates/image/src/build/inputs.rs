//! The digest of a build's inputs: the Dockerfile, `.dockerignore`, the build
//! arguments and target, and every context file `.dockerignore` does not exclude
//! (path, type, permissions, content, link target; not times or owners). A
//! service's image carries it in the [`INPUTS_LABEL`] label, so `up` can tell that
//! the context changed since the image was built.
//!
//! Hashing the content of a large context on every `up` would be slow, so a
//! cheap fingerprint of the same files' metadata (size, modification and change
//! times, inode) keys a memo of the content digest under
//! `<store>/build-inputs/<fingerprint>`: while no file is touched, computing the
//! digest is one walk of `stat` calls.

use super::ignore::Ignore;
use super::BuildRequest;
use crate::fsutil::{atomic_write, ensure_dir};
use sha2::{Digest as _, Sha256};
use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The image label holding the digest of the build inputs (wharf's own, not
/// docker's).
pub const INPUTS_LABEL: &str = "io.wharf.build.inputs";

const MEMO_DIR: &str = "build-inputs";
/// Memo entries unused for this long are removed when a new one is written.
const MEMO_KEEP: Duration = Duration::from_secs(14 * 24 * 3600);

struct Entry {
    rel: String,
    host: PathBuf,
    meta: Metadata,
}

/// The Dockerfile text and the `.dockerignore` text of a request, as the builder reads them.
fn definition(req: &BuildRequest) -> std::io::Result<(String, String)> {
    let (name, text) = match &req.dockerfile_inline {
        Some(t) => ("Dockerfile".to_string(), t.clone()),
        None => {
            let rel = req
                .dockerfile
                .clone()
                .unwrap_or_else(|| PathBuf::from("Dockerfile"));
            let path = if rel.is_absolute() {
                rel.clone()
            } else {
                req.context.join(&rel)
            };
            (
                rel.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                fs::read_to_string(path)?,
            )
        }
    };
    let ignore = fs::read_to_string(req.context.join(format!("{name}.dockerignore")))
        .or_else(|_| fs::read_to_string(req.context.join(".dockerignore")))
        .unwrap_or_default();
    Ok((text, ignore))
}

/// Context entries not excluded by `ignore`, sorted by path.
fn walk(root: &Path, ignore: &Ignore) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk_dir(root, "", ignore, &mut out)?;
    Ok(out)
}

fn walk_dir(
    dir: &Path,
    prefix: &str,
    ignore: &Ignore,
    out: &mut Vec<Entry>,
) -> std::io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let rel = format!("{prefix}{}", name.to_string_lossy());
        let host = dir.join(&name);
        let meta = fs::symlink_metadata(&host)?;
        let ignored = ignore.is_ignored(&rel);
        if ignored && !(meta.is_dir() && ignore.has_exceptions()) {
            continue;
        }
        let is_dir = meta.is_dir();
        if !ignored {
            out.push(Entry {
                rel: rel.clone(),
                host: host.clone(),
                meta,
            });
        }
        if is_dir {
            walk_dir(&host, &format!("{rel}/"), ignore, out)?;
        }
    }
    Ok(())
}

fn common(h: &mut Sha256, req: &BuildRequest, dockerfile: &str, ignore: &str) {
    h.update(b"wharf-build-inputs-v1\0");
    for part in [dockerfile, ignore, req.target.as_deref().unwrap_or("")] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for (k, v) in &req.build_args {
        h.update(format!("{k}={v}").as_bytes());
        h.update([0]);
    }
}

/// The metadata fingerprint: changes whenever a file is written or replaced.
fn fingerprint(req: &BuildRequest, dockerfile: &str, ignore: &str, entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    common(&mut h, req, dockerfile, ignore);
    h.update(req.context.as_os_str().as_encoded_bytes());
    for e in entries {
        let m = &e.meta;
        h.update(e.rel.as_bytes());
        h.update([0]);
        for n in [
            m.mode() as i64,
            m.size() as i64,
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
            m.ino() as i64,
            m.dev() as i64,
        ] {
            h.update(n.to_le_bytes());
        }
    }
    hex::encode(h.finalize())
}

fn content_digest(
    req: &BuildRequest,
    dockerfile: &str,
    ignore: &str,
    entries: &[Entry],
) -> std::io::Result<String> {
    let mut h = Sha256::new();
    common(&mut h, req, dockerfile, ignore);
    let mut buf = vec![0u8; 64 * 1024];
    for e in entries {
        let m = &e.meta;
        h.update(e.rel.as_bytes());
        h.update([0]);
        h.update((m.mode() & 0o177777).to_le_bytes());
        let ft = m.file_type();
        if ft.is_file() {
            h.update(m.len().to_le_bytes());
            let mut f = File::open(&e.host)?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        } else if ft.is_symlink() {
            h.update(fs::read_link(&e.host)?.as_os_str().as_encoded_bytes());
        }
        h.update([0]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// The digest of `req`'s build inputs; `store_root` holds the memo. An error
/// means an input cannot be read (a missing Dockerfile, an unreadable file).
pub fn inputs_digest(req: &BuildRequest, store_root: &Path) -> std::io::Result<String> {
    let (dockerfile, ignore_text) = definition(req)?;
    let ignore = Ignore::parse(&ignore_text);
    let entries = walk(&req.context, &ignore)?;
    let fp = fingerprint(req, &dockerfile, &ignore_text, &entries);
    let memo_dir = store_root.join(MEMO_DIR);
    let memo = memo_dir.join(&fp);
    if let Ok(d) = fs::read_to_string(&memo) {
        if d.starts_with("sha256:") && d.len() == 71 {
            return Ok(d);
        }
    }
    let digest = content_digest(req, &dockerfile, &ignore_text, &entries)?;
    // A fingerprint taken while a file was being written could stand for content
    // it no longer has; only a fingerprint that still holds is remembered.
    let again = walk(&req.context, &ignore)?;
    if fingerprint(req, &dockerfile, &ignore_text, &again) == fp
        && ensure_dir(&memo_dir).is_ok()
        && atomic_write(&memo, digest.as_bytes()).is_ok()
    {
        prune_memo(&memo_dir, &fp);
    }
    Ok(digest)
}

fn prune_memo(dir: &Path, keep: &str) {
    let Some(limit) = SystemTime::now().checked_sub(MEMO_KEEP) else {
        return;
    };
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < limit);
        if old && e.file_name() != keep {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ctx: &Path) -> BuildRequest {
        BuildRequest {
            context: ctx.to_path_buf(),
            ..Default::default()
        }
    }

    #[test]
    fn digest_follows_content_not_times_and_skips_ignored_files() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = tmp.path().join("ctx");
        let store = tmp.path().join("store");
        fs::create_dir_all(ctx.join("src")).unwrap();
        fs::write(ctx.join("Dockerfile"), "FROM x\n").unwrap();
        fs::write(ctx.join("src/a.txt"), "A").unwrap();
        fs::write(ctx.join(".dockerignore"), "*.log\n").unwrap();
        fs::write(ctx.join("debug.log"), "1").unwrap();
        let req = request(&ctx);
        let first = inputs_digest(&req, &store).unwrap();
        assert_eq!(inputs_digest(&req, &store).unwrap(), first);
        assert_eq!(fs::read_dir(store.join(MEMO_DIR)).unwrap().count(), 1);

        // An excluded file does not count.
        fs::write(ctx.join("debug.log"), "2").unwrap();
        assert_eq!(inputs_digest(&req, &store).unwrap(), first);
        // Rewriting a file with the same content changes its times only.
        fs::write(ctx.join("src/a.txt"), "A").unwrap();
        assert_eq!(inputs_digest(&req, &store).unwrap(), first);
        // New content, a new file, the Dockerfile, arguments and target do count.
        fs::write(ctx.join("src/a.txt"), "B").unwrap();
        let changed = inputs_digest(&req, &store).unwrap();
        assert_ne!(changed, first);
        fs::write(ctx.join("src/a.txt"), "A").unwrap();
        assert_eq!(inputs_digest(&req, &store).unwrap(), first);
        fs::write(ctx.join("src/new.txt"), "").unwrap();
        assert_ne!(inputs_digest(&req, &store).unwrap(), first);
        fs::remove_file(ctx.join("src/new.txt")).unwrap();
        let mut with_arg = request(&ctx);
        with_arg.build_args.insert("V".into(), "1".into());
        assert_ne!(inputs_digest(&with_arg, &store).unwrap(), first);
        let mut with_target = request(&ctx);
        with_target.target = Some("t".into());
        assert_ne!(inputs_digest(&with_target, &store).unwrap(), first);
        fs::write(ctx.join("Dockerfile"), "FROM y\n").unwrap();
        assert_ne!(inputs_digest(&req, &store).unwrap(), first);

        fs::remove_file(ctx.join("Dockerfile")).unwrap();
        assert!(inputs_digest(&req, &store).is_err());
    }
}
