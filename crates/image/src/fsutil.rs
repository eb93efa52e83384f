//! Small filesystem helpers: atomic file replacement, unique temporary names,
//! flock-based locks and tree removal that survives read-only directories.

use crate::error::{ioe, ImageError};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A suffix unlikely to collide across processes and threads: pid, time, counter.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{:x}-{:x}-{:x}", std::process::id(), nanos, n)
}

/// Marker in the names of files and directories that are still being written.
pub(crate) const TMP_MARK: &str = ".tmp-";

/// Create a new temporary file in `dir` (the directory of its final name, so that
/// the rename is atomic). Returns the open file and its path.
pub(crate) fn create_temp_in(dir: &Path, stem: &str) -> Result<(File, PathBuf), ImageError> {
    loop {
        let path = dir.join(format!("{stem}{TMP_MARK}{}", unique_suffix()));
        match OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ImageError::io("create temporary file", &path, e)),
        }
    }
}

/// fsync a directory so that renames inside it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(ioe("sync directory", dir))
}

/// Make the temporary file `tmp` durable and give it its final name `dest`.
pub(crate) fn commit_temp(file: File, tmp: &Path, dest: &Path) -> Result<(), ImageError> {
    file.sync_all().map_err(ioe("sync", tmp))?;
    drop(file);
    fs::rename(tmp, dest).map_err(|e| {
        let _ = fs::remove_file(tmp);
        ImageError::io("rename into place", dest, e)
    })?;
    fsync_dir(dest.parent().unwrap_or(Path::new(".")))
}

/// Replace `dest` with `data` atomically: temp file in the same directory, fsync, rename.
pub(crate) fn atomic_write(dest: &Path, data: &[u8]) -> Result<(), ImageError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let stem = dest
        .file_name()
        .map(|n| format!(".{}", n.to_string_lossy()))
        .unwrap_or_default();
    let (mut f, tmp) = create_temp_in(dir, &stem)?;
    if let Err(e) = f.write_all(data) {
        let _ = fs::remove_file(&tmp);
        return Err(ImageError::io("write", &tmp, e));
    }
    commit_temp(f, &tmp, dest)
}

/// An flock held on a lock file; released when dropped.
pub(crate) struct LockGuard {
    _lock: Flock<File>,
}

/// Take an exclusive (or shared) flock on `path`, creating the file. Blocks until granted.
/// Each call opens the file anew, so threads of one process exclude each other too.
pub(crate) fn lock_file(path: &Path, shared: bool) -> Result<LockGuard, ImageError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(ioe("open lock file", path))?;
    let arg = if shared {
        FlockArg::LockShared
    } else {
        FlockArg::LockExclusive
    };
    let lock = Flock::lock(file, arg)
        .map_err(|(_, e)| ImageError::io("lock", path, io::Error::from(e)))?;
    Ok(LockGuard { _lock: lock })
}

/// Remove a file or directory tree; missing is fine. Directories without write
/// permission (a layer may hold `dr-xr-xr-x` ones) are made writable first.
pub(crate) fn remove_tree(path: &Path) -> Result<(), ImageError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ImageError::io("inspect", path, e)),
    };
    if !meta.is_dir() {
        return fs::remove_file(path).map_err(ioe("remove", path));
    }
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_dirs_writable(path);
    fs::remove_dir_all(path).map_err(ioe("remove directory tree", path))
}

fn make_dirs_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(dir) {
        for entry in rd.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_dirs_writable(&entry.path());
            }
        }
    }
}

/// Create `dir` and its parents; fine if it exists.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), ImageError> {
    fs::create_dir_all(dir).map_err(ioe("create directory", dir))
}
