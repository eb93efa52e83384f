//! The builder: a build's request, its run state and the final image. The
//! instruction families live in the submodules: `stages` (ARG before FROM, the
//! stage graph, FROM and ONBUILD), `instructions` (the config-only instructions
//! and WORKDIR), `run` (RUN and its mounts), `copy` (COPY and ADD) and `cache`
//! (step keys, cache lookups and committing a step's layer).

mod cache;
mod copy;
mod instructions;
mod run;
mod stages;

use cache::CacheImage;

use super::error::{BuildError, InstructionError};
use super::ignore::Ignore;
use super::layer::BuiltLayer;
use super::parse::{self, Dockerfile};
use super::words::Lexer;
use super::{BuildEvent, BuildOutcome, BuildRequest, RunExecutor};
use crate::assembly::ImageAssembly;
use crate::error::ImageError;
use crate::oci::{self, ContainerConfig, History, ImageConfig};
use crate::reference::Reference;
use crate::store::ImageStore;
use crate::ContentLease;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Build arguments docker predefines: usable without `ARG`, kept out of cache keys
/// and history.
const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];
const LAST_LINES: usize = 10;

/// Builds images into a store, running RUN steps through an executor.
pub struct Builder<'a> {
    /// Where base images come from and results go.
    pub store: &'a ImageStore,
    /// Runs RUN steps.
    pub executor: &'a dyn RunExecutor,
    /// Receives progress.
    pub events: &'a (dyn Fn(BuildEvent) + Sync),
    /// Pulls a base image that is missing (or always, with `pull`); without it a
    /// missing base image is an error.
    pub puller: Option<Puller<'a>>,
    /// Where `RUN --mount=type=cache` directories live between builds
    /// (`<root>/build-cache-mounts`).
    pub cache_mount_root: &'a Path,
}

/// Pulls an image into the store by reference.
pub type Puller<'a> = &'a (dyn Fn(&str) -> Result<(), ImageError> + Sync);

impl std::fmt::Debug for Builder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("store", &self.store)
            .finish()
    }
}

/// A step's cache key: sha256 over the parent key and the parts.
pub fn build_key(parent: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[derive(Debug, Clone)]
struct Layer {
    built: BuiltLayer,
    dir: PathBuf,
}

/// A stage's state between instructions.
#[derive(Debug, Clone)]
struct State {
    layers: Vec<Layer>,
    config: ImageConfig,
    key: String,
    shell: Vec<String>,
    args: BTreeMap<String, String>,
    cmd_set: bool,
    last_created: String,
    step: usize,
    total: usize,
    label: String,
}

impl State {
    fn cc(&mut self) -> &mut ContainerConfig {
        self.config.config.get_or_insert_with(Default::default)
    }
    fn env(&self) -> Vec<String> {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default()
    }
    fn var(&self, name: &str) -> Option<String> {
        self.env()
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
            .or_else(|| self.args.get(name).cloned())
    }
    fn dirs(&self) -> Vec<PathBuf> {
        self.layers.iter().map(|l| l.dir.clone()).collect()
    }
    fn workdir(&self) -> String {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }
    fn history(&mut self, created_by: String, created: String, empty: bool) {
        self.config.history.push(History {
            created: Some(created),
            created_by: Some(created_by),
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer: empty,
            author: None,
        });
    }
}

/// One build in progress.
struct Run<'a> {
    b: &'a Builder<'a>,
    req: &'a BuildRequest,
    df: Dockerfile,
    lexer: Lexer,
    context: PathBuf,
    ignore: Ignore,
    globals: BTreeMap<String, String>,
    lease: ContentLease,
    counter: AtomicUsize,
    used_args: Mutex<BTreeSet<String>>,
    results: Mutex<HashMap<usize, Arc<State>>>,
    now: String,
    cached: AtomicUsize,
    steps: AtomicUsize,
    target: usize,
    cache_images: Vec<CacheImage>,
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    oci::format_rfc3339(secs)
}

impl Builder<'_> {
    /// Build `req`; see the module docs.
    pub fn build(&self, req: &BuildRequest) -> Result<BuildOutcome, BuildError> {
        let context = req.context.clone();
        if !context.is_dir() {
            return Err(BuildError::Context {
                path: context,
                message: "is not a directory; give the directory holding the files to build from"
                    .into(),
            });
        }
        let n = self.next_internal();
        let (file, text) = match &req.dockerfile_inline {
            Some(t) => ("Dockerfile".to_string(), t.clone()),
            None => {
                let rel = req
                    .dockerfile
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("Dockerfile"));
                let path = if rel.is_absolute() {
                    rel.clone()
                } else {
                    context.join(&rel)
                };
                let text = std::fs::read_to_string(&path).map_err(|e| BuildError::Context {
                    path: path.clone(),
                    message: format!(
                        "cannot read the Dockerfile: {e}; create it or name another one with -f"
                    ),
                })?;
                (rel.to_string_lossy().into_owned(), text)
            }
        };
        (self.events)(BuildEvent::Step {
            n,
            label: format!("[internal] load build definition from {file}"),
        });
        let df = parse::parse(&file, &text)?;
        (self.events)(BuildEvent::Done {
            n,
            elapsed: Default::default(),
        });
        let base_name = Path::new(&file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ignore_text =
            std::fs::read_to_string(context.join(format!("{base_name}.dockerignore")))
                .or_else(|_| std::fs::read_to_string(context.join(".dockerignore")))
                .unwrap_or_default();
        let lexer = df.lexer();
        let target = match &req.target {
            Some(t) => {
                df.stage_index(t)
                    .filter(|_| t.parse::<usize>().is_err())
                    .ok_or_else(|| {
                        let names: Vec<String> =
                            df.stages.iter().filter_map(|s| s.name.clone()).collect();
                        BuildError::Invalid(format!(
                    "target stage {t:?} could not be found in {file}; its named stages are: {}",
                    if names.is_empty() { "(none)".to_string() } else { names.join(", ") }
                ))
                    })?
            }
            None => df.stages.len() - 1,
        };
        let mut run = Run {
            b: self,
            req,
            lexer,
            context,
            ignore: Ignore::parse(&ignore_text),
            globals: BTreeMap::new(),
            lease: self.store.lease()?,
            counter: AtomicUsize::new(n),
            used_args: Mutex::new(BTreeSet::new()),
            results: Mutex::new(HashMap::new()),
            now: now_rfc3339(),
            cached: AtomicUsize::new(0),
            steps: AtomicUsize::new(0),
            target,
            df,
            cache_images: self.cache_images(req),
        };
        run.global_args()?;
        run.execute()
    }

    /// The `cache_from` images found in the local store (`NAME` or
    /// `type=registry,ref=NAME`); the others are named in a warning.
    fn cache_images(&self, req: &BuildRequest) -> Vec<CacheImage> {
        let mut out = Vec::new();
        for entry in &req.cache_from {
            let name = if entry.contains('=') {
                let fields: Vec<(&str, &str)> =
                    entry.split(',').filter_map(|f| f.split_once('=')).collect();
                let kind = fields.iter().find(|(k, _)| *k == "type").map(|(_, v)| *v);
                let reference = fields.iter().find(|(k, _)| *k == "ref").map(|(_, v)| *v);
                match (kind, reference) {
                    (Some("registry") | None, Some(r)) => r.to_string(),
                    _ => {
                        (self.events)(BuildEvent::Warning(format!(
                            "cache_from {entry:?}: only images in the local store can serve as cache; it is not used"
                        )));
                        continue;
                    }
                }
            } else {
                entry.clone()
            };
            match self.store.inspect(&name) {
                Ok(d) if d.layers.len() == d.config.rootfs.diff_ids.len() => out.push(CacheImage {
                    history: d.config.history.clone(),
                    layers: d
                        .layers
                        .iter()
                        .zip(&d.config.rootfs.diff_ids)
                        .map(|(desc, diff_id)| BuiltLayer {
                            desc: desc.clone(),
                            diff_id: diff_id.clone(),
                        })
                        .collect(),
                }),
                _ => (self.events)(BuildEvent::Warning(format!(
                    "cache_from image {name:?} is not in the local store; it is not used (pull it first to build from its layers)"
                ))),
            }
        }
        out
    }

    fn next_internal(&self) -> usize {
        1
    }
}

impl Run<'_> {
    fn emit(&self, e: BuildEvent) {
        (self.b.events)(e)
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn err(&self, line: usize, message: impl Into<String>) -> BuildError {
        BuildError::Dockerfile {
            file: self.df.file.clone(),
            line,
            message: message.into(),
        }
    }

    fn fail(&self, line: usize, source: impl Into<InstructionError>) -> BuildError {
        BuildError::Instruction {
            file: self.df.file.clone(),
            line,
            source: source.into(),
        }
    }

    fn store_err(&self, line: usize) -> impl Fn(ImageError) -> BuildError + '_ {
        move |source| BuildError::StoreAt {
            file: self.df.file.clone(),
            line,
            source: Box::new(source),
        }
    }

    fn build_arg(&self, name: &str) -> Option<String> {
        let v = self.req.build_args.get(name).cloned();
        if v.is_some() {
            self.used_args.lock().unwrap().insert(name.to_string());
        }
        v
    }

    fn execute(&self) -> Result<BuildOutcome, BuildError> {
        let levels = self.plan()?;
        for level in &levels {
            if level.len() == 1 {
                let st = self.build_stage(level[0])?;
                self.results.lock().unwrap().insert(level[0], Arc::new(st));
                continue;
            }
            let outcomes: Vec<(usize, Result<State, BuildError>)> = std::thread::scope(|s| {
                let handles: Vec<_> = level
                    .iter()
                    .map(|&i| (i, s.spawn(move || self.build_stage(i))))
                    .collect();
                handles
                    .into_iter()
                    .map(|(i, h)| {
                        (
                            i,
                            h.join().unwrap_or_else(|_| {
                                Err(BuildError::Invalid(format!(
                                    "building stage {} panicked",
                                    self.stage_name(i)
                                )))
                            }),
                        )
                    })
                    .collect()
            });
            for (i, r) in outcomes {
                let st = r?;
                self.results.lock().unwrap().insert(i, Arc::new(st));
            }
        }
        let unused: Vec<String> = self
            .req
            .build_args
            .keys()
            .filter(|k| {
                !PROXY_ARGS.contains(&k.as_str()) && !self.used_args.lock().unwrap().contains(*k)
            })
            .cloned()
            .collect();
        if !unused.is_empty() {
            self.emit(BuildEvent::Warning(format!(
                "one or more build arguments were not consumed: {}",
                unused.join(", ")
            )));
        }
        self.export()
    }

    fn export(&self) -> Result<BuildOutcome, BuildError> {
        let st = self.results.lock().unwrap()[&self.target].clone();
        let n = self.next();
        self.emit(BuildEvent::Step {
            n,
            label: "exporting to image".into(),
        });
        let start = Instant::now();
        let mut config = st.config.clone();
        if !self.req.labels.is_empty() {
            let cc = config.config.get_or_insert_with(Default::default);
            let labels = cc.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in &self.req.labels {
                labels.insert(k.clone(), v.clone());
            }
        }
        config.created = Some(st.last_created.clone());
        let store = self.b.store;
        let image = ImageAssembly {
            config,
            layers: st.layers.iter().map(|l| l.built.clone()).collect(),
        }
        .write(store, &self.lease)?;
        let config_digest = image.id.clone();
        self.emit(BuildEvent::Output {
            n,
            elapsed: start.elapsed(),
            line: format!("writing image {config_digest} done"),
        });
        let mut tags = Vec::new();
        for t in &self.req.tags {
            let r = Reference::parse(t)?.with_default_tag();
            if r.digest.is_some() {
                return Err(BuildError::Invalid(format!(
                    "tag {t:?} contains a digest; give NAME[:TAG]"
                )));
            }
            tags.push(r);
        }
        if tags.is_empty() {
            image.name(store, &self.lease, None)?;
        }
        for r in &tags {
            image.name(store, &self.lease, Some(r))?;
            self.emit(BuildEvent::Output {
                n,
                elapsed: start.elapsed(),
                line: format!("naming to {r} done"),
            });
        }
        self.emit(BuildEvent::Done {
            n,
            elapsed: start.elapsed(),
        });
        Ok(BuildOutcome {
            id: config_digest,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            cached: self.cached.load(Ordering::SeqCst),
            steps: self.steps.load(Ordering::SeqCst),
        })
    }

    fn vars<'s>(&self, st: &'s State) -> impl Fn(&str) -> Option<String> + 's {
        move |n: &str| st.var(n)
    }

    fn word(&self, st: &State, line: usize, s: &str) -> Result<String, BuildError> {
        let vars = self.vars(st);
        self.lexer.word(s, &vars).map_err(|e| self.fail(line, e))
    }

    fn words(&self, st: &State, line: usize, s: &str) -> Result<Vec<String>, BuildError> {
        let vars = self.vars(st);
        self.lexer.words(s, &vars).map_err(|e| self.fail(line, e))
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}
