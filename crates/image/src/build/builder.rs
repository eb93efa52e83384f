//! The builder: stages, steps, the cache, layers and the final image.

use super::error::BuildError;
use super::fs::{self as bfs, CopyOpts, Diff, Tree};
use super::ignore::{clean, Ignore};
use super::layer::{cache_get, cache_put, commit_diff, BuiltLayer, CacheRecord};
use super::mounts::{self, MountPoint, MountType, RunMount};
use super::parse::{self, Dockerfile, Instruction, Keyword};
use super::remote;
use super::words::{json_array, Lexer};
use super::{
    BuildEvent, BuildOutcome, BuildRequest, RunExecutor, RunNetwork, RunStep, StepMount,
    StepMountKind,
};
use crate::assembly::ImageAssembly;
use crate::error::ImageError;
use crate::fsutil::remove_tree;
use crate::oci::{self, ContainerConfig, HealthConfig, History, ImageConfig};
use crate::reference::Reference;
use crate::store::ImageStore;
use crate::ContentLease;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
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

/// Files a step reads from: see `Run::source`.
struct Source<'t> {
    tree: Tree<'t>,
    /// Copies keep the owners of the files (stages and images) instead of root.
    keep_owner: bool,
    /// The stage's cache key or the image's id; `None` for the context, whose
    /// content is hashed instead.
    key: Option<String>,
    /// "the build context", "stage \"build\"", for messages.
    where_: String,
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

/// Fills a step's diff directory: (state, scratch directory, diff directory, step
/// number, step start).
type Fill<'f> = dyn FnMut(&State, &Path, &Path, usize, Instant) -> Result<(), BuildError> + 'f;

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

/// An image of `cache_from`: its history and its layers, bottom first.
struct CacheImage {
    history: Vec<History>,
    layers: Vec<BuiltLayer>,
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

    /// ARGs before the first FROM, and the automatic platform arguments.
    fn global_args(&mut self) -> Result<(), BuildError> {
        let (arch, variant) = oci::host_platform();
        let platform = match &variant {
            Some(v) => format!("linux/{arch}/{v}"),
            None => format!("linux/{arch}"),
        };
        let auto = [
            ("TARGETPLATFORM", platform.clone()),
            ("TARGETOS", "linux".to_string()),
            ("TARGETARCH", arch.clone()),
            ("TARGETVARIANT", variant.clone().unwrap_or_default()),
            ("BUILDPLATFORM", platform),
            ("BUILDOS", "linux".to_string()),
            ("BUILDARCH", arch),
            ("BUILDVARIANT", variant.unwrap_or_default()),
        ];
        for (k, v) in auto {
            self.globals.insert(k.to_string(), v);
        }
        for inst in self.df.global_args.clone() {
            for (name, default) in self.arg_decls(&inst)? {
                let globals = self.globals.clone();
                let default = match default {
                    Some(d) => Some(
                        self.lexer
                            .word(&d, &|n| globals.get(n).cloned())
                            .map_err(|m| self.err(inst.line, m))?,
                    ),
                    None => None,
                };
                if let Some(v) = self.build_arg(&name).or(default) {
                    self.globals.insert(name, v);
                } else {
                    self.globals.remove(&name);
                }
            }
        }
        Ok(())
    }

    fn arg_decls(&self, inst: &Instruction) -> Result<Vec<(String, Option<String>)>, BuildError> {
        let mut out = Vec::new();
        for w in self.lexer.raw_words(&inst.args) {
            let (name, default) = match w.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (w.clone(), None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(self.err(
                    inst.line,
                    format!("ARG {w:?}: a build argument is NAME or NAME=default"),
                ));
            }
            out.push((name, default));
        }
        Ok(out)
    }

    fn global_word(&self, line: usize, s: &str) -> Result<String, BuildError> {
        self.lexer
            .word(s, &|n| self.globals.get(n).cloned())
            .map_err(|m| self.err(line, m))
    }

    /// The stages `idx` depends on, with the line that makes each dependency.
    fn deps(&self, idx: usize) -> Result<Vec<(usize, usize)>, BuildError> {
        let def = &self.df.stages[idx];
        let mut out = Vec::new();
        let base = self.global_word(def.line, &def.base)?.to_ascii_lowercase();
        if let Some(j) = self.df.stages[..idx]
            .iter()
            .position(|s| s.name.as_deref() == Some(base.as_str()))
        {
            out.push((j, def.line));
        }
        for inst in &def.instructions {
            let mut froms = Vec::new();
            if inst.keyword == Keyword::Copy {
                if let Some(from) = inst.flag("from") {
                    froms.push(self.global_word(inst.line, from)?);
                }
            }
            if inst.keyword == Keyword::Run {
                // Mounts that fail to parse here fail with their message at the step.
                let expand = |v: &str| self.lexer.word(v, &|n| self.globals.get(n).cloned());
                froms.extend(
                    inst.flag_values("mount")
                        .filter_map(|spec| mounts::parse_mount(spec, "/", &expand).ok())
                        .filter_map(|m| m.from),
                );
            }
            for from in froms {
                if let Some(j) = self.df.stage_index(&from) {
                    out.push((j, inst.line));
                }
            }
        }
        Ok(out)
    }

    /// Stages needed for the target, grouped in levels that can build in parallel.
    fn plan(&self) -> Result<Vec<Vec<usize>>, BuildError> {
        let n = self.df.stages.len();
        let mut depth: Vec<Option<usize>> = vec![None; n];
        let mut on_path: Vec<usize> = Vec::new();
        self.visit(self.target, &mut depth, &mut on_path)?;
        let max = depth.iter().flatten().max().copied().unwrap_or(0);
        let mut levels = vec![Vec::new(); max + 1];
        for (i, d) in depth.iter().enumerate() {
            if let Some(d) = d {
                levels[*d].push(i);
            }
        }
        Ok(levels)
    }

    fn visit(
        &self,
        i: usize,
        depth: &mut Vec<Option<usize>>,
        on_path: &mut Vec<usize>,
    ) -> Result<usize, BuildError> {
        if let Some(d) = depth[i] {
            return Ok(d);
        }
        on_path.push(i);
        let mut d = 0;
        for (j, line) in self.deps(i)? {
            if let Some(pos) = on_path.iter().position(|&p| p == j) {
                let mut names: Vec<String> =
                    on_path[pos..].iter().map(|&k| self.stage_name(k)).collect();
                names.push(self.stage_name(j));
                return Err(self.err(
                    line,
                    format!(
                        "cyclic stage reference: {}; a stage cannot depend on itself",
                        names.join(" → ")
                    ),
                ));
            }
            d = d.max(self.visit(j, depth, on_path)? + 1);
        }
        on_path.pop();
        depth[i] = Some(d);
        Ok(d)
    }

    fn stage_name(&self, i: usize) -> String {
        self.df.stages[i]
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{i}"))
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

    fn label(&self, idx: usize) -> String {
        let mut parts = Vec::new();
        if let Some(n) = &self.req.name {
            parts.push(n.clone());
        }
        match &self.df.stages[idx].name {
            Some(n) => parts.push(n.clone()),
            None if idx != self.target => parts.push(format!("stage-{idx}")),
            None => {}
        }
        parts.join(" ")
    }

    fn step_label(&self, st: &State, text: &str) -> String {
        let pos = format!("{}/{}", st.step, st.total);
        if st.label.is_empty() {
            format!("[{pos}] {text}")
        } else {
            format!("[{} {pos}] {text}", st.label)
        }
    }

    /// Make sure image `name` is in the store (pulling it when missing, or always
    /// with `--pull`); returns its details and snapshot directories.
    fn image(
        &self,
        name: &str,
        line: usize,
    ) -> Result<(crate::ImageDetails, Vec<PathBuf>), BuildError> {
        let store = self.b.store;
        let present = store.image_id(name).is_ok();
        if !present || self.req.pull {
            match self.b.puller {
                Some(pull) => pull(name).map_err(self.store_err(line))?,
                None if !present => {
                    return Err(self.err(
                        line,
                        format!(
                            "image {name:?} is not in the local store; pull or import it first (wharf pull / wharf image import)"
                        ),
                    ))
                }
                None => {}
            }
        }
        let details = store.inspect(name).map_err(self.store_err(line))?;
        let img = store
            .resolve(&details.id)
            .map_err(self.store_err(line))?
            .ok_or_else(|| self.err(line, format!("image {name:?} vanished during the build")))?;
        Ok((details, img.layers))
    }

    fn build_stage(&self, idx: usize) -> Result<State, BuildError> {
        let def = &self.df.stages[idx];
        let total = 1 + def
            .instructions
            .iter()
            .filter(|i| {
                matches!(
                    i.keyword,
                    Keyword::Run | Keyword::Copy | Keyword::Add | Keyword::Workdir
                )
            })
            .count();
        let base = self.global_word(def.line, &def.base)?;
        if let Some(p) = &def.platform {
            let p = self.global_word(def.line, p)?;
            let host = self
                .globals
                .get("TARGETPLATFORM")
                .cloned()
                .unwrap_or_default();
            if p != host && p != host.trim_end_matches("/v8") {
                self.emit(BuildEvent::Warning(format!(
                    "{}:{}: FROM --platform={p}: wharf builds for the host platform {host} only",
                    self.df.file, def.line
                )));
            }
        }
        let n = self.next();
        let label = self.label(idx);
        let lower = base.to_ascii_lowercase();
        let start = Instant::now();
        let mut st = if lower == "scratch" {
            let (architecture, variant) = oci::host_platform();
            State {
                layers: Vec::new(),
                config: ImageConfig {
                    created: None,
                    author: None,
                    architecture,
                    os: "linux".into(),
                    variant,
                    config: Some(ContainerConfig {
                        env: Some(vec![DEFAULT_PATH.to_string()]),
                        ..Default::default()
                    }),
                    rootfs: Default::default(),
                    history: Vec::new(),
                },
                key: build_key("scratch", &[]),
                shell: vec!["/bin/sh".into(), "-c".into()],
                args: BTreeMap::new(),
                cmd_set: false,
                last_created: self.now.clone(),
                step: 1,
                total,
                label,
            }
        } else if let Some(j) = self.df.stages[..idx]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            let parent = self.results.lock().unwrap()[&j].clone();
            let mut st = (*parent).clone();
            st.args.clear();
            st.cmd_set = false;
            st.step = 1;
            st.total = total;
            st.label = label;
            st
        } else {
            self.emit(BuildEvent::Step {
                n,
                label: if label.is_empty() {
                    format!("[1/{total}] FROM {base}")
                } else {
                    format!("[{label} 1/{total}] FROM {base}")
                },
            });
            let (details, dirs) = self.image(&base, def.line)?;
            let config = details.config.clone();
            let layers = details
                .layers
                .iter()
                .zip(&config.rootfs.diff_ids)
                .zip(dirs)
                .map(|((desc, diff_id), dir)| Layer {
                    built: BuiltLayer {
                        desc: desc.clone(),
                        diff_id: diff_id.clone(),
                    },
                    dir,
                })
                .collect();
            let shell = config
                .config
                .as_ref()
                .and_then(|c| c.shell.clone())
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            let last_created = config.created.clone().unwrap_or_else(|| self.now.clone());
            State {
                layers,
                config,
                key: build_key("image", &[&details.id]),
                shell,
                args: BTreeMap::new(),
                cmd_set: false,
                last_created,
                step: 1,
                total,
                label,
            }
        };
        if lower == "scratch"
            || self.df.stages[..idx]
                .iter()
                .any(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            self.emit(BuildEvent::Step {
                n,
                label: self.step_label(&st, &format!("FROM {base}")),
            });
        }
        self.emit(BuildEvent::Done {
            n,
            elapsed: start.elapsed(),
        });
        self.steps.fetch_add(1, Ordering::SeqCst);

        // ONBUILD triggers of the base run first, and are not inherited further.
        let triggers = st
            .config
            .config
            .as_mut()
            .and_then(|c| c.on_build.take())
            .unwrap_or_default();
        for t in triggers {
            let parsed =
                parse::parse(&self.df.file, &format!("FROM scratch\n{t}")).map_err(|e| {
                    self.err(
                        def.line,
                        format!("ONBUILD trigger {t:?} of the base image: {e}"),
                    )
                })?;
            for mut inst in parsed.stages[0].instructions.clone() {
                inst.line = def.line;
                if matches!(
                    inst.keyword,
                    Keyword::Run | Keyword::Copy | Keyword::Add | Keyword::Workdir
                ) {
                    st.total += 1;
                }
                self.instruction(&mut st, &inst)?;
            }
        }
        for inst in &def.instructions {
            self.instruction(&mut st, inst)?;
        }
        Ok(st)
    }

    fn vars<'s>(&self, st: &'s State) -> impl Fn(&str) -> Option<String> + 's {
        move |n: &str| st.var(n)
    }

    fn word(&self, st: &State, line: usize, s: &str) -> Result<String, BuildError> {
        let vars = self.vars(st);
        self.lexer.word(s, &vars).map_err(|m| self.err(line, m))
    }

    fn words(&self, st: &State, line: usize, s: &str) -> Result<Vec<String>, BuildError> {
        let vars = self.vars(st);
        self.lexer.words(s, &vars).map_err(|m| self.err(line, m))
    }

    /// `K=V …` or the legacy `K V` form, expanded against the state before.
    fn pairs(&self, st: &State, inst: &Instruction) -> Result<Vec<(String, String)>, BuildError> {
        let raw = self.lexer.raw_words(&inst.args);
        let name = inst.keyword.name();
        if raw.first().is_some_and(|w| !w.contains('=')) {
            let key = self.word(st, inst.line, &raw[0])?;
            let rest = inst.args.trim_start()[raw[0].len()..].trim();
            if rest.is_empty() {
                return Err(self.err(
                    inst.line,
                    format!("{name} {key} has no value; write {name} {key}=VALUE"),
                ));
            }
            return Ok(vec![(key, self.word(st, inst.line, rest)?)]);
        }
        let mut out = Vec::new();
        for w in raw {
            let Some((k, v)) = w.split_once('=') else {
                return Err(self.err(
                    inst.line,
                    format!("{name}: {w:?} is not KEY=VALUE; when one entry has '=', all must"),
                ));
            };
            let k = self.word(st, inst.line, k)?;
            if k.is_empty() {
                return Err(self.err(inst.line, format!("{name}: an empty key in {w:?}")));
            }
            out.push((k, self.word(st, inst.line, v)?));
        }
        Ok(out)
    }

    /// The build arguments a step's cache key depends on: all of them for RUN (they
    /// are its environment), else those the instruction refers to.
    fn args_text(&self, st: &State, inst: &Instruction) -> String {
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

    fn command(&self, st: &State, inst: &Instruction) -> Vec<String> {
        match json_array(&inst.args) {
            Some(v) => v,
            None => {
                let mut v = st.shell.clone();
                v.push(inst.args.clone());
                v
            }
        }
    }

    fn instruction(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
        let text = inst.text();
        let line = inst.line;
        let mut created_by = format!("{} {}", inst.keyword.name(), inst.args);
        match inst.keyword {
            Keyword::From => unreachable!("FROM starts a stage"),
            Keyword::Arg => {
                for (name, default) in self.arg_decls(inst)? {
                    let default = match default {
                        Some(d) => Some(self.word(st, line, &d)?),
                        None => self.globals.get(&name).cloned(),
                    };
                    if let Some(v) = self.build_arg(&name).or(default) {
                        st.args.insert(name, v);
                    }
                }
                st.key = build_key(&st.key, &[&text, &self.args_text(st, inst)]);
                return Ok(());
            }
            Keyword::Env => {
                let pairs = self.pairs(st, inst)?;
                created_by = format!(
                    "ENV {}",
                    pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                let cc = st.cc();
                let env = cc.env.get_or_insert_with(Vec::new);
                for (k, v) in pairs {
                    let entry = format!("{k}={v}");
                    match env
                        .iter_mut()
                        .find(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == k)
                    {
                        Some(e) => *e = entry,
                        None => env.push(entry),
                    }
                }
            }
            Keyword::Label => {
                let pairs = self.pairs(st, inst)?;
                created_by = format!(
                    "LABEL {}",
                    pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                st.cc()
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .extend(pairs);
            }
            Keyword::Maintainer => {
                let m = self.word(st, line, &inst.args)?;
                st.config.author = Some(m);
            }
            Keyword::Expose => {
                let mut ports = Vec::new();
                for w in self.words(st, line, &inst.args)? {
                    ports.extend(
                        crate::changes::expand_port(&w)
                            .map_err(|m| self.err(line, format!("EXPOSE: {m}")))?,
                    );
                }
                created_by = format!("EXPOSE {}", ports.join(" "));
                let map = st.cc().exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in ports {
                    map.insert(p, serde_json::json!({}));
                }
            }
            Keyword::Volume => {
                let paths = match json_array(&inst.args) {
                    Some(v) => v
                        .iter()
                        .map(|p| self.word(st, line, p))
                        .collect::<Result<Vec<_>, _>>()?,
                    None => self.words(st, line, &inst.args)?,
                };
                if paths.iter().any(|p| p.trim().is_empty()) {
                    return Err(self.err(line, "VOLUME paths must not be empty"));
                }
                let map = st.cc().volumes.get_or_insert_with(BTreeMap::new);
                for p in paths {
                    map.insert(p, serde_json::json!({}));
                }
            }
            Keyword::User => {
                let u = self.word(st, line, &inst.args)?;
                created_by = format!("USER {u}");
                st.cc().user = Some(u);
            }
            Keyword::Stopsignal => {
                let s = self.word(st, line, &inst.args)?;
                let name = s.strip_prefix("SIG").unwrap_or(&s);
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
                {
                    return Err(self.err(line, format!("STOPSIGNAL {s:?} is not a signal; give a name such as SIGTERM or a number")));
                }
                st.cc().stop_signal = Some(s);
            }
            Keyword::Cmd => {
                let cmd = self.command(st, inst);
                created_by = format!("CMD {}", serde_json::to_string(&cmd).unwrap_or_default());
                st.cc().cmd = Some(cmd);
                st.cmd_set = true;
            }
            Keyword::Entrypoint => {
                let ep = self.command(st, inst);
                created_by = format!(
                    "ENTRYPOINT {}",
                    serde_json::to_string(&ep).unwrap_or_default()
                );
                let cmd_set = st.cmd_set;
                let cc = st.cc();
                cc.entrypoint = Some(ep);
                if !cmd_set {
                    cc.cmd = None;
                }
            }
            Keyword::Shell => {
                let Some(shell) = json_array(&inst.args).filter(|v| !v.is_empty()) else {
                    return Err(self.err(
                        line,
                        "SHELL needs the JSON form: SHELL [\"executable\", \"parameters\"]",
                    ));
                };
                st.shell = shell.clone();
                st.cc().shell = Some(shell);
            }
            Keyword::Healthcheck => {
                let hc = self.healthcheck(inst)?;
                st.cc().healthcheck = Some(hc);
            }
            Keyword::Onbuild => {
                let trigger = inst.args.trim();
                let kw = trigger
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                if matches!(kw.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                    return Err(self.err(line, format!("ONBUILD {kw} is not allowed; a trigger cannot be ONBUILD, FROM or MAINTAINER")));
                }
                parse::parse(&self.df.file, &format!("FROM scratch\n{trigger}"))
                    .map_err(|e| self.err(line, format!("ONBUILD trigger: {e}")))?;
                st.cc()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.to_string());
            }
            Keyword::Workdir => return self.workdir(st, inst),
            Keyword::Run => return self.run(st, inst),
            Keyword::Copy | Keyword::Add => return self.copy(st, inst),
        }
        st.key = build_key(&st.key, &[&text, &self.args_text(st, inst)]);
        let created = st.last_created.clone();
        st.history(created_by, created, true);
        Ok(())
    }

    fn healthcheck(&self, inst: &Instruction) -> Result<HealthConfig, BuildError> {
        let line = inst.line;
        let args = inst.args.trim();
        if args.eq_ignore_ascii_case("none") {
            return Ok(HealthConfig {
                test: vec!["NONE".into()],
                ..Default::default()
            });
        }
        let rest = match args.split_once(char::is_whitespace) {
            Some((cmd, rest)) if cmd.eq_ignore_ascii_case("cmd") => rest.trim(),
            _ => return Err(self.err(line, "HEALTHCHECK takes NONE or [OPTIONS] CMD command")),
        };
        let test = match json_array(rest) {
            Some(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
            None => vec!["CMD-SHELL".to_string(), rest.to_string()],
        };
        let dur = |name: &str| -> Result<u64, BuildError> {
            match inst.flag(name) {
                None => Ok(0),
                Some(v) => parse_duration(v).ok_or_else(|| {
                    self.err(line, format!("HEALTHCHECK --{name}={v:?} is not a duration such as 30s, 1m30s or 500ms"))
                }),
            }
        };
        Ok(HealthConfig {
            test,
            interval: dur("interval")?,
            timeout: dur("timeout")?,
            start_period: dur("start-period")?,
            start_interval: dur("start-interval")?,
            retries: match inst.flag("retries") {
                None => 0,
                Some(v) => v.parse().map_err(|_| {
                    self.err(
                        line,
                        format!("HEALTHCHECK --retries={v:?} is not a whole number"),
                    )
                })?,
            },
        })
    }

    /// A step that may make a layer: cache lookup, `fill` into a fresh diff
    /// directory, commit.
    fn fs_step(
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
    /// only `RUN` (without mounts, whose sources history does not show) and
    /// `WORKDIR` steps, whose history entry says all they did; the image's history
    /// before the entry and its layers below must be the stage's so far, and the
    /// entry must be the same instruction.
    fn cache_from_hit(
        &self,
        st: &State,
        inst: &Instruction,
        created_by: &str,
    ) -> Option<CacheRecord> {
        let eligible = match inst.keyword {
            Keyword::Run => inst.flag_values("mount").next().is_none(),
            Keyword::Workdir => true,
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

    fn apply(
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

    fn workdir(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
        let w = self.word(st, inst.line, &inst.args)?;
        let joined = if w.starts_with('/') {
            w.clone()
        } else {
            format!("{}/{w}", st.workdir())
        };
        let abs = format!("/{}", clean(&joined).join("/"));
        st.cc().working_dir = Some(abs.clone());
        let shown = format!("WORKDIR {abs}");
        self.fs_step(
            st,
            inst,
            &shown.clone(),
            "",
            shown,
            &mut |st, _, diff, _, _| {
                let below = Tree::Layers(st.dirs());
                let rel = below.resolve(&abs, true);
                if below.lookup(&rel).is_some_and(|f| f.meta.is_dir()) {
                    return Ok(());
                }
                Diff { dir: diff, below }
                    .ensure_dir(&rel, (0, 0))
                    .map(drop)
                    .map_err(BuildError::from)
            },
        )
    }

    fn run(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
        let line = inst.line;
        let network = match inst.flag("network") {
            Some(v) => RunNetwork::parse(v).ok_or_else(|| {
                self.err(
                    line,
                    format!("RUN --network={v:?}: use default, none or host"),
                )
            })?,
            None => match self.req.network.as_deref() {
                None => RunNetwork::Default,
                Some(v) => RunNetwork::parse(v).unwrap_or(RunNetwork::Default),
            },
        };
        let args: Vec<String> = match json_array(&inst.args) {
            Some(v) if inst.heredocs.is_empty() => v,
            _ => {
                let script = match inst.heredocs.as_slice() {
                    [h] if is_only_heredoc(&inst.args) => h.body.clone(),
                    [] => inst.args.clone(),
                    hs => {
                        let mut s = inst.args.clone();
                        for h in hs {
                            s.push('\n');
                            s.push_str(&h.body);
                            s.push_str(&h.name);
                        }
                        s
                    }
                };
                let mut v = st.shell.clone();
                v.push(script);
                v
            }
        };
        let mut env = st.env();
        let has = |env: &[String], k: &str| {
            env.iter()
                .any(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == k)
        };
        for (k, v) in &st.args {
            if !has(&env, k) {
                env.push(format!("{k}={v}"));
            }
        }
        for p in PROXY_ARGS {
            if let Some(v) = self.build_arg(p) {
                if !has(&env, p) {
                    env.push(format!("{p}={v}"));
                }
            }
        }
        if !has(&env, "PATH") {
            env.push(DEFAULT_PATH.to_string());
        }
        let shown = first_line(&inst.text());
        // BuildKit's history form: the build arguments in effect, `|N K=V …`, then
        // the command, so the entry says what the step ran with.
        let arg_env: Vec<String> = st
            .args
            .iter()
            .filter(|(k, _)| !PROXY_ARGS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let arg_prefix = if arg_env.is_empty() {
            String::new()
        } else {
            format!("|{} {} ", arg_env.len(), arg_env.join(" "))
        };
        let created_by = format!(
            "RUN {arg_prefix}{} # buildkit",
            match json_array(&inst.args) {
                Some(_) => serde_json::to_string(&args).unwrap_or_default(),
                None => args.join(" "),
            }
        );
        let user = st
            .config
            .config
            .as_ref()
            .and_then(|c| c.user.clone())
            .filter(|u| !u.is_empty());
        let cwd = st.workdir();
        let command = first_line(&inst.args);
        let run_mounts = {
            let vars = self.vars(st);
            let expand = |v: &str| self.lexer.word(v, &vars);
            inst.flag_values("mount")
                .map(|spec| mounts::parse_mount(spec, &cwd, &expand).map_err(|m| self.err(line, m)))
                .collect::<Result<Vec<_>, _>>()?
        };
        // The files bind mounts (and cache mounts seeded `from` somewhere) read,
        // by mount; a bound source's content keys the step, as COPY's does.
        let mut sources: Vec<Option<(Source<'_>, Vec<String>)>> = Vec::new();
        let mut key = Sha256::new();
        for m in &run_mounts {
            let reads =
                m.kind == MountType::Bind || (m.kind == MountType::Cache && m.from.is_some());
            if !reads {
                sources.push(None);
                continue;
            }
            let src = self.source("RUN --mount", m.from.as_deref(), line)?;
            let path = m.source.clone().unwrap_or_else(|| "/".into());
            if m.from.is_none() && escapes(&path) {
                return Err(self.err(line, format!("RUN --mount source {path:?} is outside the build context; only files under {} can be mounted", self.context.display())));
            }
            let comps = src.tree.resolve(&path, true);
            if src.tree.lookup(&comps).is_none() {
                return Err(self.err(
                    line,
                    format!(
                        "RUN --mount source {path:?} not found in {}; check the path",
                        src.where_
                    ),
                ));
            }
            if m.kind == MountType::Bind {
                key.update(m.target.as_deref().unwrap_or("").as_bytes());
                key.update([0u8]);
                match &src.key {
                    None => src.tree.hash_into(&comps, &mut key)?,
                    Some(k) => {
                        key.update(k.as_bytes());
                        key.update(comps.join("/").as_bytes());
                    }
                }
                key.update([0u8]);
            }
            sources.push(Some((src, comps)));
        }
        let extra = if run_mounts.is_empty() {
            String::new()
        } else {
            hex::encode(key.finalize())
        };
        self.fs_step(st, inst, &shown, &extra, created_by, &mut |st, scratch, diff, n, start| {
            let layers = st.dirs();
            if layers.is_empty() {
                return Err(self.err(
                    line,
                    "RUN needs a base image with a shell, but this stage has no layers yet (FROM scratch); copy a root file system in first or start FROM an image",
                ));
            }
            let work = scratch.join("work");
            let merged = scratch.join("merged");
            for d in [&work, &merged] {
                std::fs::create_dir(d).map_err(|e| bfs::io_err("create", d, e))?;
            }
            let mut step_env = env.clone();
            let prepared = self.prepare_mounts(&run_mounts, &sources, &layers, scratch, &mut step_env, line)?;
            let last: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
            let output = |l: &str| {
                self.emit(BuildEvent::Output {
                    n,
                    elapsed: start.elapsed(),
                    line: l.to_string(),
                });
                let mut q = last.lock().unwrap();
                if q.len() == LAST_LINES {
                    q.pop_front();
                }
                q.push_back(l.to_string());
            };
            let step = RunStep {
                layers: &layers,
                upper_dir: diff,
                work_dir: &work,
                merged_dir: &merged,
                args: &args,
                env: &step_env,
                user: user.as_deref(),
                cwd: &cwd,
                network,
                shm_size: self.req.shm_size,
                mounts: &prepared.mounts,
                output: &output,
            };
            let outcome = self.b.executor.run(&step);
            mounts::remove_mount_points(diff, &prepared.points);
            drop(prepared);
            match outcome {
                Err(e) => Err(BuildError::RunStart {
                    file: self.df.file.clone(),
                    line,
                    command: command.clone(),
                    message: e.0,
                }),
                Ok(o) if o.exit_code != 0 => Err(BuildError::RunFailed {
                    file: self.df.file.clone(),
                    line,
                    command: command.clone(),
                    code: o.exit_code,
                    last_lines: last.lock().unwrap().iter().cloned().collect(),
                }),
                Ok(_) => Ok(()),
            }
        })
    }

    /// The host side of a step's `--mount`s: cache directories (locked as their
    /// `sharing` says until the result is dropped), copies of bound sources
    /// (or the context directory itself, read-only, when `.dockerignore` hides
    /// nothing), tmpfs options and secret files, all under `scratch` but the caches.
    /// Secrets given as `env` are added to `env`.
    fn prepare_mounts(
        &self,
        run_mounts: &[RunMount],
        sources: &[Option<(Source<'_>, Vec<String>)>],
        layers: &[PathBuf],
        scratch: &Path,
        env: &mut Vec<String>,
        line: usize,
    ) -> Result<PreparedMounts, BuildError> {
        let below = Tree::Layers(layers.to_vec());
        let mut out = PreparedMounts {
            mounts: Vec::new(),
            points: Vec::new(),
            _caches: Vec::new(),
        };
        let copy_of = |i: usize, src: &Source<'_>, comps: &[String], dir: &Path| {
            let opts = CopyOpts {
                keep_owner: src.keep_owner,
                ..Default::default()
            };
            let d = Diff {
                dir,
                below: Tree::Layers(Vec::new()),
            };
            match src.tree.lookup(comps) {
                Some(f) if !f.meta.is_dir() => {
                    let name = comps.last().cloned().unwrap_or_else(|| format!("file-{i}"));
                    d.copy(&src.tree, comps, std::slice::from_ref(&name), &opts)?;
                    Ok(dir.join(name))
                }
                _ => d
                    .copy(&src.tree, comps, &[], &opts)
                    .map(|()| dir.to_path_buf()),
            }
        };
        for (i, m) in run_mounts.iter().enumerate() {
            let target = m.target.clone().unwrap_or_default();
            let bind = |source: PathBuf, read_only: bool| StepMount {
                kind: StepMountKind::Bind,
                source,
                target: target.clone(),
                read_only,
                options: Vec::new(),
            };
            match m.kind {
                MountType::Cache => {
                    let seed = |dir: &Path| -> Result<(), ImageError> {
                        match &sources[i] {
                            Some((src, comps)) => copy_of(i, src, comps, dir).map(drop),
                            None => Ok(()),
                        }
                    };
                    let cache = mounts::take_cache(self.b.cache_mount_root, m, scratch, &seed)?;
                    out.mounts.push(bind(cache.path.clone(), m.read_only));
                    out._caches.push(cache);
                }
                MountType::Bind => {
                    let Some((src, comps)) = &sources[i] else {
                        continue;
                    };
                    let direct = src.key.is_none() && m.read_only && self.ignore.is_empty();
                    let host = match src.tree.lookup(comps) {
                        Some(f) if direct => f.host,
                        _ => {
                            let dir = scratch.join(format!("mount-{i}"));
                            std::fs::create_dir(&dir)
                                .map_err(|e| bfs::io_err("create", &dir, e))?;
                            copy_of(i, src, comps, &dir)?
                        }
                    };
                    out.mounts.push(bind(host, m.read_only));
                }
                MountType::Tmpfs => {
                    let mut options = vec!["exec".to_string()];
                    if let Some(size) = m.size {
                        options.push(format!("size={size}"));
                    }
                    out.mounts.push(StepMount {
                        kind: StepMountKind::Tmpfs,
                        source: PathBuf::new(),
                        target: target.clone(),
                        read_only: false,
                        options,
                    });
                }
                MountType::Secret => {
                    let id = m.id.clone().unwrap_or_default();
                    let Some(value) = self.req.secrets.get(&id) else {
                        if m.required {
                            return Err(self.err(line, format!("RUN --mount=type=secret,id={id}: no secret {id:?} was given to the build; pass --secret id={id},src=FILE, or list it in the service's build.secrets")));
                        }
                        continue;
                    };
                    if let Some(var) = &m.env {
                        let text = String::from_utf8(value.0.clone()).map_err(|_| {
                            self.err(line, format!("RUN --mount=type=secret,id={id},env={var}: the secret is not UTF-8 text, so it cannot be an environment variable; mount it as a file"))
                        })?;
                        env.retain(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) != var);
                        env.push(format!("{var}={text}"));
                    }
                    if m.target.is_none() {
                        continue;
                    }
                    let file = scratch.join(format!("secret-{i}"));
                    mounts::write_secret(&file, m, &value.0)?;
                    out.mounts.push(bind(file, true));
                }
            }
            out.points.push(MountPoint::before(&below, &target));
        }
        Ok(out)
    }

    /// Where `--from` (of COPY, ADD or a RUN mount) takes files: the build
    /// context when unset, else a stage built before, else an image.
    fn source(&self, kw: &str, from: Option<&str>, line: usize) -> Result<Source<'_>, BuildError> {
        let Some(f) = from else {
            return Ok(Source {
                tree: Tree::Context {
                    root: self.context.clone(),
                    ignore: &self.ignore,
                },
                keep_owner: false,
                key: None,
                where_: "the build context".to_string(),
            });
        };
        if let Some(j) = self.df.stage_index(f) {
            let src = self
                .results
                .lock()
                .unwrap()
                .get(&j)
                .cloned()
                .ok_or_else(|| {
                    self.err(line, format!("stage {f:?} is not built before this one"))
                })?;
            return Ok(Source {
                tree: Tree::Layers(src.dirs()),
                keep_owner: true,
                key: Some(src.key.clone()),
                where_: format!("stage {f:?}"),
            });
        }
        let (details, dirs) = self.image(f, line).map_err(|e| {
            let why = match e {
                BuildError::Dockerfile { message, .. } => message,
                BuildError::StoreAt { source, .. } => source.to_string(),
                e => e.to_string(),
            };
            self.err(
                line,
                format!("{kw} --from={f}: there is no stage named {f:?}, and as an image: {why}"),
            )
        })?;
        Ok(Source {
            tree: Tree::Layers(dirs),
            keep_owner: true,
            key: Some(details.id),
            where_: format!("image {f:?}"),
        })
    }

    fn copy(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
        let line = inst.line;
        let kw = inst.keyword.name();
        let is_add = inst.keyword == Keyword::Add;
        let checksum = match inst.flag("checksum") {
            Some(c) => Some(
                remote::parse_checksum(&self.word(st, line, c)?).map_err(|m| self.err(line, m))?,
            ),
            None => None,
        };
        let mut words = match json_array(&inst.args) {
            Some(v) => v
                .iter()
                .map(|w| self.word(st, line, w))
                .collect::<Result<Vec<_>, _>>()?,
            None => self.words(st, line, &inst.args)?,
        };
        if words.len() < 2 {
            return Err(self.err(
                line,
                format!("{kw} needs at least one source and a destination: {kw} SRC... DEST"),
            ));
        }
        let dest = words.pop().unwrap_or_default();
        let sources = words;
        for src in &sources {
            if is_add && remote::is_git(src) {
                return Err(self.err(line, format!("ADD {src}: Git sources are not supported by wharf yet; clone the repository into the build context, or in a RUN --network=host step")));
            }
            if !is_add && remote::is_url(src) {
                return Err(self.err(
                    line,
                    format!("COPY {src}: COPY takes files, not URLs; use ADD to download a file"),
                ));
            }
        }
        if let Some(url) = sources.iter().find(|s| {
            is_add && remote::is_url(s) && dest.ends_with('/') && remote::file_name(s).is_none()
        }) {
            return Err(self.err(
                line,
                format!("ADD {url}: the URL's path has no file name to save it under in {dest}; give the destination file name"),
            ));
        }
        if checksum.is_some() && !matches!(sources.as_slice(), [one] if remote::is_url(one)) {
            return Err(self.err(
                line,
                "ADD --checksum verifies a download: give exactly one http:// or https:// source",
            ));
        }
        // Where sources come from.
        let from = match inst.flag("from") {
            Some(f) => Some(self.word(st, line, f)?),
            None => None,
        };
        let Source {
            tree,
            keep_owner,
            key: source_key,
            where_,
        } = self.source(kw, from.as_deref(), line)?;
        // Match the sources.
        let mut matched: Vec<(String, Vec<Vec<String>>)> = Vec::new();
        let mut inline: Vec<(String, String)> = Vec::new();
        let mut remotes: Vec<RemoteSource> = Vec::new();
        let mut prefetch: Option<ScratchDir> = None;
        let mut h = Sha256::new();
        for src in &sources {
            if let Some(name) = src
                .strip_prefix("<<")
                .map(|n| n.trim_start_matches('-').trim_matches(['"', '\'']))
            {
                if let Some(hd) = inst.heredocs.iter().find(|hd| hd.name == name) {
                    // Written as is: variables in heredoc files are not substituted yet.
                    let body = hd.body.clone();
                    h.update(name.as_bytes());
                    h.update(body.as_bytes());
                    inline.push((name.to_string(), body));
                    continue;
                }
            }
            if is_add && remote::is_url(src) {
                h.update(src.as_bytes());
                h.update([0u8]);
                // With --checksum the digest is known, and a cached step needs no
                // download; without, the file is fetched now and its content keys
                // the step (docker downloads on every build too).
                let fetched = match &checksum {
                    Some(c) => {
                        h.update(c.as_bytes());
                        None
                    }
                    None => {
                        let dir = match prefetch.take() {
                            Some(d) => d,
                            None => ScratchDir(self.b.store.scratch_dir(&self.lease)?),
                        };
                        let file = dir.0.join(format!("download-{}", remotes.len()));
                        let got = remote::fetch(src, &file)
                            .map_err(|m| self.err(line, format!("ADD {src}: {m}")))?;
                        prefetch = Some(dir);
                        h.update(got.digest.as_bytes());
                        Some((file, got))
                    }
                };
                remotes.push(RemoteSource {
                    url: src.clone(),
                    name: remote::file_name(src),
                    fetched,
                });
                h.update([0u8]);
                continue;
            }
            if from.is_none() && escapes(src) {
                return Err(self.err(line, format!("{kw} source {src:?} is outside the build context; only files under {} can be copied", self.context.display())));
            }
            let found = tree.matches(src);
            if found.is_empty() {
                let hint = if from.is_none()
                    && !self.ignore.has_exceptions()
                    && self.ignore.is_ignored(&clean(src).join("/"))
                {
                    " (it is excluded by .dockerignore)"
                } else {
                    ""
                };
                return Err(self.err(
                    line,
                    format!("{kw} source {src:?} not found in {where_}{hint}; check the path"),
                ));
            }
            h.update(src.as_bytes());
            h.update([0u8]);
            if source_key.is_none() {
                for m in &found {
                    tree.hash_into(m, &mut h)?;
                }
            } else {
                for m in &found {
                    h.update(m.join("/").as_bytes());
                    h.update([0u8]);
                }
            }
            matched.push((src.clone(), found));
        }
        if let Some(k) = &source_key {
            h.update(k.as_bytes());
        }
        h.update([0u8]);
        h.update(dest.as_bytes());
        let content = hex::encode(h.finalize());
        let count: usize =
            matched.iter().map(|(_, m)| m.len()).sum::<usize>() + inline.len() + remotes.len();
        let globbed = matched.iter().any(|(s, _)| super::ignore::has_glob(s));
        let dest_abs = if dest.starts_with('/') {
            dest.clone()
        } else {
            format!("{}/{dest}", st.workdir())
        };
        let below = Tree::Layers(st.dirs());
        let dest_rel_raw = below.resolve(&dest_abs, true);
        let dest_is_dir =
            dest.ends_with('/') || below.lookup(&dest_rel_raw).is_some_and(|f| f.meta.is_dir());
        if (count > 1 || (globbed && count > 0 && sources.len() > 1)) && !dest_is_dir {
            return Err(self.err(line, format!("when {kw} has more than one source file, the destination must be a directory and end with a / (got {dest:?})")));
        }
        let dest_is_dir = dest_is_dir || count > 1;
        if dest_is_dir {
            if let Some(r) = remotes.iter().find(|r| r.name.is_none()) {
                return Err(self.err(
                    line,
                    format!(
                        "ADD {}: the URL's path has no file name to save it under in {dest}; give the destination file name",
                        r.url
                    ),
                ));
            }
        }
        let dest_rel = if dest_is_dir {
            dest_rel_raw
        } else {
            below.resolve(&dest_abs, false)
        };
        let chown = match inst.flag("chown") {
            Some(c) => {
                let c = self.word(st, line, c)?;
                Some(bfs::resolve_owner(&below, &c).map_err(|m| self.err(line, m))?)
            }
            None => None,
        };
        let chmod = match inst.flag("chmod") {
            Some(c) => Some(
                u32::from_str_radix(c, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        self.err(
                            line,
                            format!("{kw} --chmod={c:?}: give an octal mode such as 755"),
                        )
                    })?,
            ),
            None => None,
        };
        let opts = CopyOpts {
            chown,
            keep_owner,
            chmod,
        };
        let shown = first_line(&inst.text());
        let created_by = format!("{kw} {} {} # buildkit", sources.join(" "), dest);
        let context_source = from.is_none();
        self.fs_step(
            st,
            inst,
            &shown,
            &content,
            created_by,
            &mut |st, scratch, diff, _, _| {
                let d = Diff {
                    dir: diff,
                    below: Tree::Layers(st.dirs()),
                };
                d.ensure_dir(
                    if dest_is_dir {
                        &dest_rel
                    } else {
                        &dest_rel[..dest_rel.len().saturating_sub(1)]
                    },
                    (0, 0),
                )?;
                let mut k = 0;
                for (_, found) in &matched {
                    for m in found {
                        let Some(f) = tree.lookup(m) else { continue };
                        let target = if f.meta.is_dir() {
                            dest_rel.clone()
                        } else if dest_is_dir {
                            let mut t = dest_rel.clone();
                            t.push(m.last().cloned().unwrap_or_default());
                            t
                        } else {
                            dest_rel.clone()
                        };
                        if is_add && context_source && f.meta.is_file() && bfs::is_archive(&f.host)
                        {
                            k += 1;
                            let tmp = scratch.join(format!("extract-{k}"));
                            std::fs::create_dir(&tmp)
                                .map_err(|e| bfs::io_err("create", &tmp, e))?;
                            let file = std::fs::File::open(&f.host)
                                .map_err(|e| bfs::io_err("open", &f.host, e))?;
                            crate::unpack::unpack_layer(
                                file,
                                &tmp,
                                &format!("archive {}", m.join("/")),
                                &crate::unpack::UnpackOptions::default(),
                            )
                            .map_err(|e| self.err(line, format!("ADD {}: {e}", m.join("/"))))?;
                            let ex = Tree::Layers(vec![tmp.clone()]);
                            let o = CopyOpts {
                                keep_owner: true,
                                ..opts
                            };
                            d.ensure_dir(&dest_rel, (0, 0))?;
                            d.copy(&ex, &[], &dest_rel, &o)?;
                            continue;
                        }
                        d.copy(&tree, m, &target, &opts)?;
                    }
                }
                for (k, r) in remotes.iter().enumerate() {
                    let mut t = dest_rel.clone();
                    if dest_is_dir {
                        t.push(r.name.clone().unwrap_or_default());
                    }
                    let p = diff.join(t.join("/"));
                    if let Ok(m) = std::fs::symlink_metadata(&p) {
                        if m.is_dir() {
                            remove_tree(&p)?;
                        } else {
                            std::fs::remove_file(&p).map_err(|e| bfs::io_err("replace", &p, e))?;
                        }
                    }
                    let mtime = match &r.fetched {
                        Some((file, got)) => {
                            if std::fs::rename(file, &p).is_err() {
                                std::fs::copy(file, &p).map_err(|e| bfs::io_err("copy to", &p, e))?;
                            }
                            got.mtime
                        }
                        None => {
                            let file = scratch.join(format!("download-{k}"));
                            let got = remote::fetch(&r.url, &file)
                                .map_err(|m| self.err(line, format!("ADD {}: {m}", r.url)))?;
                            if let Some(want) = &checksum {
                                if *want != got.digest {
                                    return Err(self.err(
                                        line,
                                        format!(
                                            "ADD {}: checksum mismatch: --checksum is {want} but the downloaded file is {}; check the URL and the digest",
                                            r.url, got.digest
                                        ),
                                    ));
                                }
                            }
                            std::fs::rename(&file, &p).map_err(|e| bfs::io_err("move to", &p, e))?;
                            got.mtime
                        }
                    };
                    // docker's rules: root-owned and mode 0600 unless --chown/--chmod.
                    bfs::set_file_meta(&p, chown.unwrap_or((0, 0)), chmod.unwrap_or(0o600), mtime)?;
                }
                for (name, body) in &inline {
                    let mut t = dest_rel.clone();
                    if dest_is_dir {
                        t.push(name.clone());
                    }
                    let p = diff.join(t.join("/"));
                    std::fs::write(&p, body).map_err(|e| bfs::io_err("write", &p, e))?;
                    let meta = std::fs::metadata(&p).map_err(|e| bfs::io_err("inspect", &p, e))?;
                    bfs::set_meta(&p, &meta, chown.unwrap_or((0, 0)), chmod.unwrap_or(0o644))?;
                }
                Ok(())
            },
        )
    }
}

/// The mounts of one RUN step, ready; cache locks are held until it is dropped.
struct PreparedMounts {
    mounts: Vec<StepMount>,
    /// What was at each mount's target before the step.
    points: Vec<MountPoint>,
    _caches: Vec<mounts::CacheDir>,
}

/// An `ADD` source that is a URL.
struct RemoteSource {
    url: String,
    /// The file name its URL gives (`None`: the path has none).
    name: Option<String>,
    /// Downloaded before the step (no `--checksum`): the file and what it was.
    fetched: Option<(PathBuf, remote::Fetched)>,
}

/// A scratch directory of the store, removed when dropped.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

fn is_only_heredoc(args: &str) -> bool {
    let t = args.trim();
    t.starts_with("<<") && !t.contains(char::is_whitespace)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Whether a context source path leaves the context (`../x`).
fn escapes(src: &str) -> bool {
    let mut depth: i64 = 0;
    for c in src.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// Go durations: `30s`, `1m30s`, `500ms`, `1.5h` → nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(total as u64)
}
