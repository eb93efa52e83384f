//! The instructions that change only the image config (ENV, LABEL, ARG, EXPOSE,
//! VOLUME, USER, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, …) and WORKDIR,
//! and the dispatch of every instruction to its family.

use super::{build_key, Run, State};
use crate::build::error::{BuildError, InstructionError};
use crate::build::fs::{Diff, Tree};
use crate::build::ignore::clean;
use crate::build::parse::{self, Instruction, Keyword};
use crate::build::words::json_array;
use crate::oci::HealthConfig;
use std::collections::BTreeMap;

impl Run<'_> {
    /// `K=V …` or the legacy `K V` form, expanded against the state before.
    pub(super) fn pairs(
        &self,
        st: &State,
        inst: &Instruction,
    ) -> Result<Vec<(String, String)>, BuildError> {
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

    pub(super) fn command(&self, st: &State, inst: &Instruction) -> Vec<String> {
        match json_array(&inst.args) {
            Some(v) => v,
            None => {
                let mut v = st.shell.clone();
                v.push(inst.args.clone());
                v
            }
        }
    }

    pub(super) fn instruction(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
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

    pub(super) fn healthcheck(&self, inst: &Instruction) -> Result<HealthConfig, BuildError> {
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
                Some(v) => wharf_units::parse_go_duration(v)
                    .map(|d| d.as_nanos().min(u64::MAX as u128) as u64)
                    .map_err(|source| {
                        self.fail(
                            line,
                            InstructionError::Duration {
                                flag: name.to_string(),
                                source,
                            },
                        )
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

    pub(super) fn workdir(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
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
}
