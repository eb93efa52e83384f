//! Stages: global ARGs, the stages the target needs and their build order
//! (independent ones in parallel), and each stage from its FROM (scratch, an
//! earlier stage or an image, with its ONBUILD triggers) through its instructions.

use super::{build_key, Layer, Run, State, DEFAULT_PATH};
use crate::build::error::BuildError;
use crate::build::layer::BuiltLayer;
use crate::build::mounts;
use crate::build::parse::{self, Instruction, Keyword};
use crate::build::BuildEvent;
use crate::oci::{self, ContainerConfig, ImageConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Run<'_> {
    /// ARGs before the first FROM, and the automatic platform arguments.
    pub(super) fn global_args(&mut self) -> Result<(), BuildError> {
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
                            .map_err(|e| self.fail(inst.line, e))?,
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

    pub(super) fn arg_decls(
        &self,
        inst: &Instruction,
    ) -> Result<Vec<(String, Option<String>)>, BuildError> {
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

    pub(super) fn global_word(&self, line: usize, s: &str) -> Result<String, BuildError> {
        self.lexer
            .word(s, &|n| self.globals.get(n).cloned())
            .map_err(|e| self.fail(line, e))
    }

    /// The stages `idx` depends on, with the line that makes each dependency.
    pub(super) fn deps(&self, idx: usize) -> Result<Vec<(usize, usize)>, BuildError> {
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
    pub(super) fn plan(&self) -> Result<Vec<Vec<usize>>, BuildError> {
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

    pub(super) fn visit(
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

    pub(super) fn stage_name(&self, i: usize) -> String {
        self.df.stages[i]
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{i}"))
    }

    pub(super) fn label(&self, idx: usize) -> String {
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

    pub(super) fn step_label(&self, st: &State, text: &str) -> String {
        let pos = format!("{}/{}", st.step, st.total);
        if st.label.is_empty() {
            format!("[{pos}] {text}")
        } else {
            format!("[{} {pos}] {text}", st.label)
        }
    }

    /// Make sure image `name` is in the store (pulling it when missing, or always
    /// with `--pull`); returns its details and snapshot directories.
    pub(super) fn image(
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

    pub(super) fn build_stage(&self, idx: usize) -> Result<State, BuildError> {
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
}
