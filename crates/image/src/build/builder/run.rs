//! RUN: the command and its environment, the history entry, `--network`, and the
//! host side of its `--mount`s (caches, binds, tmpfs, secrets) before the step
//! goes to the executor.

use super::copy::{escapes, Source};
use super::{first_line, Run, State, DEFAULT_PATH, LAST_LINES, PROXY_ARGS};
use crate::build::error::BuildError;
use crate::build::fs::{self as bfs, CopyOpts, Diff, Tree};
use crate::build::mounts::{self, MountPoint, MountType, RunMount};
use crate::build::parse::Instruction;
use crate::build::words::json_array;
use crate::build::{BuildEvent, RunNetwork, RunStep, StepMount, StepMountKind};
use crate::error::ImageError;
use sha2::{Digest as _, Sha256};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

impl Run<'_> {
    pub(super) fn run(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
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
                .map(|spec| {
                    mounts::parse_mount(spec, &cwd, &expand).map_err(|e| self.fail(line, e))
                })
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
                    source: e,
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
}

/// The mounts of one RUN step, ready; cache locks are held until it is dropped.
struct PreparedMounts {
    mounts: Vec<StepMount>,
    /// What was at each mount's target before the step.
    points: Vec<MountPoint>,
    _caches: Vec<mounts::CacheDir>,
}

fn is_only_heredoc(args: &str) -> bool {
    let t = args.trim();
    t.starts_with("<<") && !t.contains(char::is_whitespace)
}
