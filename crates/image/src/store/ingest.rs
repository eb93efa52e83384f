//! Ingesting blobs from a network source: the bytes go to `ingest/<hex>.partial`,
//! are hashed on the way, and the file is renamed to `blobs/sha256/<hex>` only once
//! its size and digest are right. An interrupted download leaves its partial file,
//! so the next attempt resumes it (HTTP `Range`); a wrong one is deleted. A blob is
//! therefore never visible under its digest before it is complete and verified.
//!
//! Two processes fetching the same blob serialize on `ingest/<hex>.lock`; the second
//! finds the blob present and stops there.

use super::{ContentLease, ImageStore};
use crate::digest::{self, Hashing};
use crate::error::{ioe, ImageError};
use crate::fsutil::{commit_temp, ensure_dir, lock_file};
use crate::oci::Descriptor;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Directory of partial downloads, under the store root.
pub(super) const INGEST_DIR: &str = "ingest";

/// The bytes of a blob from `offset` on, as a source returned them.
pub struct BlobSource {
    /// The bytes, starting at `offset`.
    pub reader: Box<dyn Read>,
    /// Where `reader` starts: the offset asked for when the source could resume,
    /// else 0.
    pub offset: u64,
}

/// How an ingest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// The blob was already in the store; nothing was fetched.
    Present,
    /// The blob was fetched (or its fetch resumed) and stored.
    Fetched,
}

impl ImageStore {
    /// Path of the partial download of `digest`.
    fn partial_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self
            .root
            .join(INGEST_DIR)
            .join(format!("{}.partial", digest::hex_of(digest)?)))
    }

    /// Bytes of `digest` already downloaded by an interrupted fetch.
    pub fn partial_len(&self, digest: &str) -> u64 {
        self.partial_path(digest)
            .ok()
            .and_then(|p| fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// Fetch the blob `desc` through `open` (called with the offset to resume from)
    /// unless it is present. `progress` gets the bytes stored so far (resumed bytes
    /// included); `cancel` stops the copy between chunks. The size and digest are
    /// checked against `desc` before the blob becomes visible.
    pub fn ingest_blob(
        &self,
        _lease: &ContentLease,
        desc: &Descriptor,
        open: &mut dyn FnMut(u64) -> Result<BlobSource, ImageError>,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Ingested, ImageError> {
        let hex = digest::hex_of(&desc.digest)?.to_string();
        if self.has_blob(&desc.digest) {
            return Ok(Ingested::Present);
        }
        let dir = self.root.join(INGEST_DIR);
        ensure_dir(&dir)?;
        let _lock = lock_file(&dir.join(format!("{hex}.lock")), false)?;
        if self.has_blob(&desc.digest) {
            return Ok(Ingested::Present);
        }
        let partial = self.partial_path(&desc.digest)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&partial)
            .map_err(ioe("open partial download", &partial))?;
        let mut have = file.metadata().map_err(ioe("inspect", &partial))?.len();
        if have > desc.size {
            have = 0;
        }
        let source = open(have)?;
        if source.offset != have {
            // The source could not resume: start over.
            have = 0;
        }
        file.set_len(have).map_err(ioe("truncate", &partial))?;
        let mut hasher = Hashing::new(io::sink());
        if have > 0 {
            file.seek(SeekFrom::Start(0))
                .map_err(ioe("read", &partial))?;
            io::copy(&mut (&mut file).take(have), &mut hasher).map_err(ioe("read", &partial))?;
        }
        file.seek(SeekFrom::Start(have))
            .map_err(ioe("seek", &partial))?;
        progress(have);

        // Read at most one byte more than announced, to notice an oversized blob.
        let mut reader = source.reader.take(desc.size - have + 1);
        let mut buf = vec![0u8; 256 * 1024];
        let mut done = have;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(ImageError::Registry {
                    registry: String::new(),
                    action: format!("downloading blob {}", desc.digest),
                    reason: format!(
                        "interrupted after {done} of {} bytes; pull again to resume",
                        desc.size
                    ),
                });
            }
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = file.sync_data();
                    return Err(ImageError::Registry {
                        registry: String::new(),
                        action: format!("downloading blob {}", desc.digest),
                        reason: format!(
                            "the transfer broke off after {done} of {} bytes ({e}); pull again to resume it",
                            desc.size
                        ),
                    });
                }
            };
            if let Err(e) = file.write_all(&buf[..n]) {
                drop(file);
                let _ = fs::remove_file(&partial);
                return Err(ImageError::io("write partial download", &partial, e));
            }
            let _ = hasher.write_all(&buf[..n]);
            done += n as u64;
            progress(done.min(desc.size));
        }
        if done != desc.size {
            if done > desc.size {
                drop(file);
                let _ = fs::remove_file(&partial);
            }
            return Err(ImageError::Registry {
                registry: String::new(),
                action: format!("downloading blob {}", desc.digest),
                reason: if done > desc.size {
                    format!(
                        "it is larger than the {} bytes its descriptor announces; the registry sent wrong data",
                        desc.size
                    )
                } else {
                    format!(
                        "the transfer ended after {done} of {} bytes; pull again to resume it",
                        desc.size
                    )
                },
            });
        }
        let (actual, _, _) = hasher.finish();
        if actual != desc.digest {
            drop(file);
            let _ = fs::remove_file(&partial);
            return Err(ImageError::DigestMismatch {
                what: format!("downloaded blob {}", desc.digest),
                expected: desc.digest.clone(),
                actual,
            });
        }
        let dest = self.blob_path(&desc.digest)?;
        commit_temp(file, &partial, &dest)?;
        Ok(Ingested::Fetched)
    }

    /// Remove partial downloads nobody is working on. Called under the exclusive
    /// content lock (no ingest can run then).
    pub(super) fn clear_ingest(&self) -> Result<(), ImageError> {
        let dir = self.root.join(INGEST_DIR);
        match fs::read_dir(&dir) {
            Ok(rd) => {
                for e in rd.flatten() {
                    let p = e.path();
                    fs::remove_file(&p).map_err(ioe("remove", &p))?;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::io("list", &dir, e)),
        }
    }

    /// Open a blob for streaming (push, save), without reading it all into memory.
    pub fn open_blob(&self, digest: &str) -> Result<(File, u64), ImageError> {
        let path = self.blob_path(digest)?;
        let f = File::open(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ImageError::Corrupt {
                    path: path.clone(),
                    reason: format!("blob {digest} is missing"),
                }
            } else {
                ImageError::io("open blob", &path, e)
            }
        })?;
        let len = f.metadata().map_err(ioe("inspect", &path))?.len();
        Ok((f, len))
    }
}
