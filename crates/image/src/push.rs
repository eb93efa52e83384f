//! `push`: send an image's layers and config to a registry (blobs the registry has
//! are skipped; blobs in another repository of the same registry that the image
//! was pulled from or pushed to are mounted; others are uploaded in one `PUT` or in
//! `PATCH` chunks), then its manifest under the tag. The registry's digest of the
//! image is recorded locally as a repository digest.

use crate::auth::Credentials;
use crate::error::ImageError;
use crate::oci::{self, Descriptor};
use crate::progress::{short_id, ItemStatus, Progress, ProgressFn};
use crate::reference::Reference;
use crate::registry::{Registry, RegistryOptions, UploadStart};
use crate::store::ImageStore;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Transport policy.
    pub registry: RegistryOptions,
    /// Credentials for the reference's registry.
    pub credentials: Option<Credentials>,
    /// Blobs larger than this are uploaded in `PATCH` chunks of this size; 0 sends
    /// every blob in one `PUT`.
    pub chunk_size: u64,
    /// Blobs sent at once (Docker's default is 5).
    pub concurrency: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            registry: RegistryOptions::default(),
            credentials: None,
            chunk_size: 64 * 1024 * 1024,
            concurrency: 5,
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// The reference as Docker prints it.
    pub reference: String,
    /// Digest of the manifest in the registry.
    pub digest: String,
    /// Size of the manifest.
    pub size: u64,
}

/// A reader that reports how many bytes passed.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    report: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        (self.report)(self.done);
        Ok(n)
    }
}

impl ImageStore {
    /// `docker push`: see the module docs. `reference` names a local image and the
    /// place to push it to.
    pub fn push(
        &self,
        reference: &str,
        opts: &PushOptions,
        progress: ProgressFn<'_>,
    ) -> Result<PushOutcome, ImageError> {
        let r = Reference::parse(reference)?.with_default_tag();
        // Hold the lease: nothing this push reads may be deleted meanwhile.
        let lease = self.lease()?;
        let (desc, manifest, raw, _config) = self.manifest_of(&r.to_string())?;
        let details = self.inspect(&r.to_string())?;
        let registry = Registry::connect(&r.domain, &opts.registry, opts.credentials.clone())?;
        let repo = r.path.clone();
        progress(Progress::Line(format!(
            "The push refers to repository [{}]",
            r.repository()
        )));
        // Repositories of the same registry that should hold these blobs already.
        let mut mount_from: Vec<String> = Vec::new();
        for name in details.repo_tags.iter().chain(&details.repo_digests) {
            if let Ok(other) = Reference::parse(name) {
                if other.domain == r.domain
                    && other.path != repo
                    && !mount_from.contains(&other.path)
                {
                    mount_from.push(other.path);
                }
            }
        }

        let mut blobs: Vec<Descriptor> = manifest.layers.clone();
        for b in &blobs {
            progress(Progress::Item {
                id: short_id(&b.digest),
                status: ItemStatus::Preparing,
            });
        }
        let queue = Mutex::new(blobs.drain(..).collect::<VecDeque<_>>());
        let cancel = AtomicBool::new(false);
        let first_error: Mutex<Option<ImageError>> = Mutex::new(None);
        let workers = opts.concurrency.clamp(1, 16);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(blob) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        return;
                    };
                    if let Err(e) =
                        self.push_blob(&registry, &repo, &blob, &mount_from, opts, progress, true)
                    {
                        progress(Progress::Item {
                            id: short_id(&blob.digest),
                            status: ItemStatus::Failed(e.to_string()),
                        });
                        cancel.store(true, Ordering::Relaxed);
                        let mut slot = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        if slot.is_none() {
                            *slot = Some(e);
                        }
                        return;
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        self.push_blob(
            &registry,
            &repo,
            &manifest.config,
            &mount_from,
            opts,
            progress,
            false,
        )?;
        let media_type = if !desc.media_type.is_empty() {
            desc.media_type.clone()
        } else {
            manifest
                .media_type
                .clone()
                .unwrap_or_else(|| oci::MEDIA_TYPE_MANIFEST.to_string())
        };
        let tag = r.tag_or_latest().to_string();
        let digest = registry.put_manifest(&repo, &tag, &media_type, &raw)?;
        let repo_digest = Reference {
            domain: r.domain.clone(),
            path: r.path.clone(),
            tag: None,
            digest: Some(digest.clone()),
        };
        self.add_names(&lease, &desc, None, Some(&repo_digest))?;
        progress(Progress::Line(format!(
            "{tag}: digest: {digest} size: {}",
            raw.len()
        )));
        Ok(PushOutcome {
            reference: r.familiar(),
            digest,
            size: raw.len() as u64,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn push_blob(
        &self,
        registry: &Registry,
        repo: &str,
        blob: &Descriptor,
        mount_from: &[String],
        opts: &PushOptions,
        progress: ProgressFn<'_>,
        shown: bool,
    ) -> Result<(), ImageError> {
        let id = short_id(&blob.digest);
        let report = |status: ItemStatus| {
            if shown {
                progress(Progress::Item {
                    id: id.clone(),
                    status,
                })
            }
        };
        if registry.blob_exists(repo, &blob.digest, true)?.is_some() {
            report(ItemStatus::LayerExists);
            return Ok(());
        }
        let mut session = None;
        // Docker tries the first candidate repository; a refused mount still
        // opens an ordinary upload session.
        if let Some(from) = mount_from.first() {
            match registry.start_upload(repo, &blob.digest, Some(from))? {
                UploadStart::Mounted => {
                    report(ItemStatus::Mounted { from: from.clone() });
                    return Ok(());
                }
                UploadStart::Session(url) => session = Some(url),
            }
        }
        let session = match session {
            Some(s) => s,
            None => match registry.start_upload(repo, &blob.digest, None)? {
                UploadStart::Session(s) => s,
                UploadStart::Mounted => return Ok(()),
            },
        };
        let (file, size) = self.open_blob(&blob.digest)?;
        if size != blob.size {
            return Err(ImageError::Corrupt {
                path: self.blob_path(&blob.digest)?,
                reason: format!(
                    "the blob has {size} bytes but its descriptor says {}",
                    blob.size
                ),
            });
        }
        let total = size;
        let mut on_progress = |done: u64| {
            report(ItemStatus::Pushing {
                done: done.min(total),
                total,
            })
        };
        if opts.chunk_size > 0 && size > opts.chunk_size {
            let mut file = file;
            registry.upload_chunked(
                repo,
                &session,
                &blob.digest,
                &mut file,
                size,
                opts.chunk_size,
                &mut on_progress,
            )?;
        } else {
            let mut reader = Counting {
                inner: file,
                done: 0,
                report: &mut on_progress,
            };
            registry.upload_monolithic(repo, &session, &blob.digest, &mut reader, size)?;
        }
        report(ItemStatus::Pushed);
        Ok(())
    }
}
