//! The step cache: a step's key, the lookup in the local build cache and in
//! `cache_from` images, running a step into a fresh diff directory on a miss, and
//! applying a step's result (its layer and history entry) to the stage.

use super::{build_key, now_rfc3339, Layer, Run, State, PROXY_ARGS};
use crate::build::error::BuildError;
use crate::build::fs as bfs;
use crate::build::layer::{cache_get, cache_put, commit_diff, BuiltLayer, CacheRecord};
use crate::build::parse::{Instruction, Keyword};
use crate::build::BuildEvent;
use crate::fsutil::remove_tree;
use crate::oci::History;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Fills a step's diff directory: (state, scratch directory, diff directory, step
/// number, step start).
pub(super) type Fill<'f> =
    dyn FnMut(&State, &Path, &Path, usize, Instant) -> Result<(), BuildError> + 'f;

/// An image of `cache_from`: its history and its layers, bottom first.
pub(super) struct CacheImage {
    pub(super) history: Vec<History>,
    pub(super) layers: Vec<BuiltLayer>,
}

impl Run<'_> {
    /// The build arguments a step's cache key depends on: all of them for RUN (they
    /// are its environment), else those the instruction refers to.
    pub(super) fn args_text(&self, st: &State, inst: &Instruction) -> String {
        let text = inst.text();
        let all = inst.keyword == Keyword::Run;
        st.args
            .iter()
            .filter(|(k, _)| !PROXY_ARGS.contains(&k.as_str()))
            .filter(|(k, _)| {
                all || text.contains(&format!("${k}")) || text.contains(&format!("${{{k}"))
            })
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }

    /// A step that may make a layer: cache lookup, `fill` into a fresh diff
    /// directory, commit.
    pub(super) fn fs_step(
        &self,
        st: &mut State,
        inst: &Instruction,
        shown: &str,
        extra: &str,
        created_by: String,
        fill: &mut Fill<'_>,
    ) -> Result<(), BuildError> {
        st.step += 1;
        self.steps.fetch_add(1, Ordering::SeqCst);
        let n = self.next();
        self.emit(BuildEvent::Step {
            n,
            label: self.step_label(st, shown),
        });
        let key = build_key(&st.key, &[&inst.text(), &self.args_text(st, inst), extra]);
        let store = self.b.store;
        if !self.req.no_cache {
            let from_image = || {
                let rec = self.cache_from_hit(st, inst, &created_by)?;
                // Recorded, so the next build finds it in the local cache.
                cache_put(store, &key, &rec).ok().map(|()| rec)
            };
            if let Some(rec) = cache_get(store, &key).or_else(from_image) {
                self.apply(st, key, rec, created_by)?;
                self.cached.fetch_add(1, Ordering::SeqCst);
                self.emit(BuildEvent::Cached { n });
                return Ok(());
            }
        }
        let start = Instant::now();
        let scratch = store.scratch_dir(&self.lease)?;
        let result: Result<CacheRecord, BuildError> = (|| {
            let diff = scratch.join("diff");
            std::fs::create_dir(&diff).map_err(|e| bfs::io_err("create", &diff, e))?;
            fill(st, &scratch, &diff, n, start)?;
            let layer = if bfs::is_empty_dir(&diff)? {
                None
            } else {
                Some(commit_diff(store, &self.lease, &diff)?.0)
            };
            let rec = CacheRecord {
                created: now_rfc3339(),
                layer,
            };
            cache_put(store, &key, &rec)?;
            Ok(rec)
        })();
        let _ = remove_tree(&scratch);
        match result {
            Ok(rec) => {
                self.apply(st, key, rec, created_by)?;
                self.emit(BuildEvent::Done {
                    n,
                    elapsed: start.elapsed(),
                });
                Ok(())
            }
            Err(e) => {
                self.emit(BuildEvent::Failed {
                    n,
                    message: e.to_string(),
                });
                Err(e)
            }
        }
    }

    /// The result of a step that missed the cache, from a `cache_from` image:
    /// only `RUN` (without mounts, whose sources history does not show),
    /// `WORKDIR`, `COPY` and `ADD` steps, whose history entry says all they did
    /// (COPY and ADD name the digest of their sources' content, as docker's
    /// classic builder does); the image's history before the entry and its layers
    /// below must be the stage's so far, and the entry must be the same.
    pub(super) fn cache_from_hit(
        &self,
        st: &State,
        inst: &Instruction,
        created_by: &str,
    ) -> Option<CacheRecord> {
        let eligible = match inst.keyword {
            Keyword::Run => inst.flag_values("mount").next().is_none(),
            Keyword::Workdir | Keyword::Copy | Keyword::Add => true,
            _ => false,
        };
        if !eligible {
            return None;
        }
        let pos = st.config.history.len();
        let below = st.layers.len();
        self.cache_images.iter().find_map(|img| {
            let entry = img.history.get(pos)?;
            if entry.created_by.as_deref() != Some(created_by) {
                return None;
            }
            let same_history = img.history[..pos]
                .iter()
                .zip(&st.config.history)
                .all(|(a, b)| a.created_by == b.created_by && a.empty_layer == b.empty_layer);
            let layers_before = img.history[..pos].iter().filter(|h| !h.empty_layer).count();
            let same_layers = img.layers.len() > below
                && img.layers[..below]
                    .iter()
                    .zip(&st.layers)
                    .all(|(a, b)| a.diff_id == b.built.diff_id);
            if !same_history || layers_before != below || !same_layers {
                return None;
            }
            Some(CacheRecord {
                created: entry.created.clone().unwrap_or_else(now_rfc3339),
                layer: (!entry.empty_layer).then(|| img.layers[below].clone()),
            })
        })
    }

    pub(super) fn apply(
        &self,
        st: &mut State,
        key: String,
        rec: CacheRecord,
        created_by: String,
    ) -> Result<(), BuildError> {
        let empty = rec.layer.is_none();
        if let Some(l) = rec.layer {
            let dir = self.b.store.snapshot_path(&l.diff_id)?;
            st.config.rootfs.diff_ids.push(l.diff_id.clone());
            st.layers.push(Layer { built: l, dir });
        }
        st.key = key;
        st.last_created = rec.created.clone();
        st.history(created_by, rec.created, empty);
        Ok(())
    }
}
