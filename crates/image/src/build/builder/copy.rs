//! COPY and ADD: where sources come from (the context, a stage, an image),
//! matching them, their content key, URLs and archives, ownership and modes.

use super::{first_line, Run, State};
use crate::build::error::{BuildError, InstructionError};
use crate::build::fs::{self as bfs, CopyOpts, Diff, Tree};
use crate::build::ignore::clean;
use crate::build::parse::{Instruction, Keyword};
use crate::build::remote;
use crate::build::words::json_array;
use crate::fsutil::remove_tree;
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

/// Files a step reads from: see `Run::source`.
pub(super) struct Source<'t> {
    pub(super) tree: Tree<'t>,
    /// Copies keep the owners of the files (stages and images) instead of root.
    pub(super) keep_owner: bool,
    /// The stage's layers or the image's id (both name the content); `None` for
    /// the context, whose content is hashed instead.
    pub(super) key: Option<String>,
    /// "the build context", "stage \"build\"", for messages.
    pub(super) where_: String,
}

impl Run<'_> {
    /// Where `--from` (of COPY, ADD or a RUN mount) takes files: the build
    /// context when unset, else a stage built before, else an image.
    pub(super) fn source(
        &self,
        kw: &str,
        from: Option<&str>,
        line: usize,
    ) -> Result<Source<'_>, BuildError> {
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
            // Its layers are its content: the same key can stand for other files
            // when a step of the stage made other output.
            let diff_ids: Vec<&str> = src
                .layers
                .iter()
                .map(|l| l.built.diff_id.as_str())
                .collect();
            return Ok(Source {
                tree: Tree::Layers(src.dirs()),
                keep_owner: true,
                key: Some(format!("layers {}", diff_ids.join(" "))),
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

    pub(super) fn copy(&self, st: &mut State, inst: &Instruction) -> Result<(), BuildError> {
        let line = inst.line;
        let kw = inst.keyword.name();
        let is_add = inst.keyword == Keyword::Add;
        let checksum = match inst.flag("checksum") {
            Some(c) => Some(
                remote::parse_checksum(&self.word(st, line, c)?).map_err(|e| self.fail(line, e))?,
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
                        let got = remote::fetch(src, &file).map_err(|source| {
                            self.fail(
                                line,
                                InstructionError::Fetch {
                                    url: src.clone(),
                                    source,
                                },
                            )
                        })?;
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
        let globbed = matched
            .iter()
            .any(|(s, _)| crate::build::ignore::has_glob(s));
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
                Some(bfs::resolve_owner(&below, &c).map_err(|e| self.fail(line, e))?)
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
        // The classic builder's entry: the digest of the sources' content, so a
        // `cache_from` image can supply the step (see `Run::cache_from_hit`).
        let kind = match (&matched[..], inline.len() + remotes.len()) {
            ([(_, found)], 0) if found.len() == 1 => {
                if tree.lookup(&found[0]).is_some_and(|f| f.meta.is_dir()) {
                    "dir"
                } else {
                    "file"
                }
            }
            ([], 1) => "file",
            _ => "multi",
        };
        let mut flags = String::new();
        if let Some(c) = inst.flag("chown") {
            flags += &format!("--chown={} ", self.word(st, line, c)?);
        }
        if let Some(c) = inst.flag("chmod") {
            flags += &format!("--chmod={c} ");
        }
        let created_by = format!("{kw} {flags}{kind}:{content} in {}", clean_dest(&dest_abs));
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
                            .map_err(|e| {
                                self.fail(
                                    line,
                                    InstructionError::Extract {
                                        path: m.join("/"),
                                        source: Box::new(e),
                                    },
                                )
                            })?;
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
                                .map_err(|source| {
                                    self.fail(
                                        line,
                                        InstructionError::Fetch {
                                            url: r.url.clone(),
                                            source,
                                        },
                                    )
                                })?;
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

/// An absolute destination without `.`, `..` and repeated slashes, keeping a
/// final slash (`/app/./` is `/app/`), for history entries.
fn clean_dest(abs: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in abs.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let dir = abs.ends_with('/') || abs.ends_with("/.") || abs.ends_with("/..");
    let mut out = format!("/{}", parts.join("/"));
    if dir && !parts.is_empty() {
        out.push('/');
    }
    out
}

/// Whether a context source path leaves the context (`../x`).
pub(super) fn escapes(src: &str) -> bool {
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
