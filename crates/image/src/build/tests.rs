//! Unit tests of the Dockerfile parser, word processing, `.dockerignore`, cache keys
//! and the builder (with a fake RUN executor, so no container is started).

use super::fs::Tree;
use super::ignore::Ignore;
use super::parse::{parse, Keyword};
use super::words::Lexer;
use super::*;
use crate::ImageStore;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

// ---------------------------------------------------------------- parser

#[test]
fn parses_directives_continuations_comments_and_flags() {
    let df = parse(
        "Dockerfile",
        "# syntax=docker/dockerfile:1\n# escape=`\n\nARG V=1\nFROM busybox:${V} AS Build\nRUN echo a `\n  # a comment inside\n\n  b\ncopy --from=x --chown=1:2 a b\n",
    )
    .unwrap();
    assert_eq!(df.escape, '`');
    assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.global_args.len(), 1);
    let st = &df.stages[0];
    assert_eq!(st.name.as_deref(), Some("build"));
    assert_eq!(st.line, 5);
    assert_eq!(st.instructions[0].keyword, Keyword::Run);
    assert_eq!(st.instructions[0].args, "echo a   b");
    assert_eq!(st.instructions[0].line, 6);
    let copy = &st.instructions[1];
    assert_eq!(copy.line, 10);
    assert_eq!(copy.flag("from"), Some("x"));
    assert_eq!(copy.flag("chown"), Some("1:2"));
    assert_eq!(copy.args, "a b");
}

#[test]
fn directives_only_at_the_top() {
    let df = parse("Dockerfile", "FROM x\n# escape=`\nRUN a \\\n b\n").unwrap();
    assert_eq!(df.escape, '\\');
    assert_eq!(df.stages[0].instructions[0].args, "a  b");
}

#[test]
fn heredocs() {
    let df = parse(
        "Dockerfile",
        "FROM x\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-'A' <<B /dst/\n\tliteral $X\n\tA\nb body\nB\nRUN echo done\n",
    )
    .unwrap();
    let i = &df.stages[0].instructions;
    assert_eq!(i[0].heredocs[0].body, "echo one\necho two\n");
    assert!(i[0].heredocs[0].expand);
    assert_eq!(i[1].heredocs.len(), 2);
    assert_eq!(i[1].heredocs[0].body, "literal $X\n");
    assert!(!i[1].heredocs[0].expand);
    assert_eq!(i[1].heredocs[1].body, "b body\n");
    assert_eq!(i[2].line, 11);
    let e = parse("Dockerfile", "FROM x\nRUN <<EOF\necho\n").unwrap_err();
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("not terminated"), "{e}");
}

#[test]
fn bad_dockerfiles_name_their_line() {
    let cases = [
        ("FROM x\nRUN a\nFROB b\n", 3, "unknown instruction \"FROB\""),
        (
            "FROM x\nCOPY --form=a b c\n",
            2,
            "unknown flag --form for COPY",
        ),
        ("FROM x\nRUN --security=insecure a\n", 2, "not supported"),
        ("RUN a\nFROM x\n", 1, "before the first FROM"),
        ("ARG A\n", 1, "no FROM"),
        ("FROM x AS a\nFROM y AS a\n", 2, "used twice"),
        ("FROM x\nENV\n", 2, "needs arguments"),
        ("FROM a b c d\n", 1, "FROM takes an image"),
    ];
    for (text, line, msg) in cases {
        let e = parse("Dockerfile", text).unwrap_err();
        assert_eq!(e.line(), Some(line), "{text:?}: {e}");
        assert!(e.to_string().contains(msg), "{text:?}: {e}");
        assert!(
            e.to_string().starts_with(&format!("Dockerfile:{line}: ")),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------- words

#[test]
fn variable_substitution() {
    let vars: HashMap<&str, &str> = [("A", "1"), ("E", ""), ("P", "x y")].into();
    let get = |n: &str| vars.get(n).map(|v| v.to_string());
    let lx = Lexer::default();
    let w = |s: &str| lx.word(s, &get).unwrap();
    assert_eq!(w("$A-${A}"), "1-1");
    assert_eq!(w("${E:-d} ${E-d} ${U-d} ${U:-d}"), "d  d d");
    assert_eq!(w("${A:+set} ${E:+set} ${E+set} ${U+set}"), "set  set ");
    assert_eq!(w("'$A' \"$A\" \\$A"), "$A 1 $A");
    assert_eq!(w("${U:-${A}}"), "1");
    assert!(lx
        .word("${U:?must be set}", &get)
        .unwrap_err()
        .to_string()
        .contains("must be set"));
    assert_eq!(lx.words("a \"b c\" $P", &get).unwrap(), ["a", "b c", "x y"]);
    let bt = Lexer { escape: '`' };
    assert_eq!(bt.word("C:\\dir `$A", &get).unwrap(), "C:\\dir $A");
}

// ---------------------------------------------------------------- .dockerignore

#[test]
fn dockerignore_rules() {
    let ig = Ignore::parse("# comment\n*.log\n**/tmp\nbuild/\n!build/keep.txt\n/secret*\n");
    assert!(ig.is_ignored("a.log"));
    assert!(!ig.is_ignored("dir/a.log"));
    assert!(ig.is_ignored("tmp"));
    assert!(ig.is_ignored("x/y/tmp/z"));
    assert!(ig.is_ignored("build/out.o"));
    assert!(!ig.is_ignored("build/keep.txt"));
    assert!(ig.is_ignored("secret.key"));
    assert!(!ig.is_ignored("src/main.rs"));
    assert!(super::ignore::match_component("[a-c]?.txt", "b1.txt"));
    assert!(!super::ignore::match_component("[^a-c]*", "apple"));
}

#[test]
fn dockerignore_patterns_with_many_stars_do_not_hang_a_build() {
    // Backtracking into every earlier star made these exponential: 20 stars on
    // a 60-character name, 20 `**` on a 60-deep path, never finished.
    let stars = format!("{}b", "*a".repeat(20));
    let name = "a".repeat(60);
    assert!(!super::ignore::match_component(&stars, &name));
    assert!(super::ignore::match_component(&stars, &format!("{name}b")));
    let deep = vec!["a".to_string(); 60];
    let pattern = super::ignore::clean(&format!("{}b", "**/a/".repeat(20)));
    assert!(!super::ignore::match_path(&pattern, &deep));
    let ig = Ignore::parse(&format!("{}/b\n", "**/a/".repeat(20)));
    assert!(!ig.is_ignored(&"a/".repeat(60)));
    // The semantics stay: stars, classes, escapes and `**` spans.
    let m = super::ignore::match_component;
    assert!(m("*.t*t", "a.txt") && m("a*b*c", "abbbc") && !m("a*b*c", "abbb"));
    assert!(m("\\*x", "*x") && !m("\\*x", "ax") && m("[!a]*", "ba") && !m("[a", "a"));
    assert!(m("*", "") && m("**", "x") && !m("?", ""));
    let p = |s: &str| super::ignore::clean(s);
    assert!(super::ignore::match_path(&p("**/x/**"), &p("a/x/b/c")));
    assert!(super::ignore::match_path(&p("**"), &p("")));
    assert!(!super::ignore::match_path(&p("a/**/b"), &p("a/c")));
}

// ---------------------------------------------------------------- cache keys

#[test]
fn cache_keys_chain_and_differ() {
    let a = build_key("image:x", &["RUN a", ""]);
    assert_eq!(a, build_key("image:x", &["RUN a", ""]));
    assert_ne!(a, build_key("image:y", &["RUN a", ""]));
    assert_ne!(a, build_key("image:x", &["RUN b", ""]));
    assert_ne!(a, build_key("image:x", &["RUN a", "V=1\n"]));
    // Part boundaries count: ("ab","") differs from ("a","b").
    assert_ne!(build_key("p", &["ab", ""]), build_key("p", &["a", "b"]));
    assert!(crate::digest::validate(&a).is_ok());
}

// ---------------------------------------------------------------- builder

/// Runs a tiny script language instead of a shell: `write PATH TEXT` writes a file
/// in the upper directory (`$VAR` from the env), `say TEXT` prints, `cat PATH`
/// prints a file, `exit N` ends. Mounts behave as in a container: their mount
/// points appear in the upper directory, and paths below a mount's target are
/// its source (writing into a read-only one fails with exit code 1).
#[derive(Default)]
pub(crate) struct FakeExec {
    pub runs: Mutex<Vec<Vec<String>>>,
    pub mounts: Mutex<Vec<Vec<StepMount>>>,
}

/// The host path of `path` in a step: inside a mount, or `None` (the image).
fn in_mount<'m>(
    mounts: &'m [StepMount],
    path: &str,
) -> Option<(&'m StepMount, std::path::PathBuf)> {
    mounts
        .iter()
        .filter_map(|m| {
            let rest = path.strip_prefix(m.target.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then_some((m, rest.trim_start_matches('/')))
        })
        .max_by_key(|(m, _)| m.target.len())
        .map(|(m, rest)| {
            let host = if rest.is_empty() {
                m.source.clone()
            } else {
                m.source.join(rest)
            };
            (m, host)
        })
}

impl RunExecutor for FakeExec {
    fn run(&self, step: &RunStep<'_>) -> Result<RunOutcome, RunError> {
        self.runs.lock().unwrap().push(step.args.to_vec());
        self.mounts.lock().unwrap().push(step.mounts.to_vec());
        assert!(!step.layers.is_empty());
        for m in step.mounts {
            let stub = step.upper_dir.join(m.target.trim_start_matches('/'));
            if m.kind == StepMountKind::Bind && m.source.is_file() {
                std::fs::create_dir_all(stub.parent().unwrap()).unwrap();
                std::fs::write(&stub, "").unwrap();
            } else {
                std::fs::create_dir_all(&stub).unwrap();
            }
        }
        let script = step.args.last().cloned().unwrap_or_default();
        let env: HashMap<String, String> = step
            .env
            .iter()
            .filter_map(|e| {
                e.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        for line in script.lines().flat_map(|l| l.split("&&")) {
            let line = line.trim();
            let mut w = line.splitn(3, ' ');
            match w.next() {
                Some("write") => {
                    let path = w.next().unwrap();
                    let mut text = w.next().unwrap_or("").to_string();
                    for (k, v) in &env {
                        text = text.replace(&format!("${k}"), v);
                    }
                    let p = match in_mount(step.mounts, path) {
                        Some((m, _)) if m.read_only => {
                            (step.output)(&format!("{path}: read-only file system"));
                            return Ok(RunOutcome { exit_code: 1 });
                        }
                        Some((_, host)) => host,
                        None => step.upper_dir.join(path.trim_start_matches('/')),
                    };
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, text).unwrap();
                }
                Some("cat") => {
                    let path = w.next().unwrap();
                    let host = in_mount(step.mounts, path)
                        .map(|(_, h)| h)
                        .unwrap_or_else(|| {
                            let rel = path.trim_start_matches('/');
                            std::iter::once(step.upper_dir.to_path_buf())
                                .chain(step.layers.iter().rev().cloned())
                                .map(|d| d.join(rel))
                                .find(|p| p.exists())
                                .unwrap_or_else(|| step.upper_dir.join(rel))
                        });
                    match std::fs::read_to_string(&host) {
                        Ok(text) => (step.output)(text.trim_end()),
                        Err(_) => {
                            (step.output)(&format!("cat: {path}: No such file"));
                            return Ok(RunOutcome { exit_code: 1 });
                        }
                    }
                }
                Some("say") => (step.output)(line.strip_prefix("say ").unwrap_or("")),
                Some("exit") => {
                    return Ok(RunOutcome {
                        exit_code: w.next().unwrap().parse().unwrap(),
                    })
                }
                _ => {}
            }
        }
        Ok(RunOutcome { exit_code: 0 })
    }
}

pub(crate) fn base_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32, kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        h.set_entry_type(kind);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("bin/", b"", 0o755, tar::EntryType::Directory);
    add("bin/sh", b"#!not a shell", 0o755, tar::EntryType::Regular);
    add("etc/", b"", 0o755, tar::EntryType::Directory);
    add(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        0o644,
        tar::EntryType::Regular,
    );
    add(
        "etc/group",
        b"root:x:0:\napp:x:1001:\nstaff:x:50:\n",
        0o644,
        tar::EntryType::Regular,
    );
    b.into_inner().unwrap()
}

pub(crate) struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub store: ImageStore,
    pub ctx: std::path::PathBuf,
    pub exec: FakeExec,
    pub events: Mutex<Vec<BuildEvent>>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&tmp.path().join("images")).unwrap();
        store
            .import(&base_tar()[..], Some("base:latest"), &[])
            .unwrap();
        let ctx = tmp.path().join("ctx");
        std::fs::create_dir_all(ctx.join("src/sub")).unwrap();
        std::fs::write(ctx.join("src/a.txt"), "A").unwrap();
        std::fs::write(ctx.join("src/sub/b.txt"), "B").unwrap();
        std::fs::write(ctx.join("notes.log"), "log").unwrap();
        Fixture {
            _tmp: tmp,
            store,
            ctx,
            exec: FakeExec::default(),
            events: Mutex::new(Vec::new()),
        }
    }

    pub fn dockerfile(&self, text: &str) {
        std::fs::write(self.ctx.join("Dockerfile"), text).unwrap();
    }

    pub fn build(&self, req: BuildRequest) -> Result<BuildOutcome, BuildError> {
        self.events.lock().unwrap().clear();
        let events = |e: BuildEvent| self.events.lock().unwrap().push(e);
        let cache_mounts = self._tmp.path().join("build-cache-mounts");
        let b = Builder {
            store: &self.store,
            executor: &self.exec,
            events: &events,
            puller: None,
            cache_mount_root: &cache_mounts,
        };
        b.build(&BuildRequest {
            context: self.ctx.clone(),
            ..req
        })
    }

    pub fn tagged(&self, tag: &str) -> BuildRequest {
        BuildRequest {
            tags: vec![tag.into()],
            ..Default::default()
        }
    }

    /// The content of `path` in image `name`'s merged file system.
    pub fn read(&self, name: &str, path: &str) -> Option<String> {
        let img = self.store.resolve(name).unwrap().unwrap();
        super::fs::read_small(&Tree::Layers(img.layers), path)
    }

    pub fn cached_count(&self) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, BuildEvent::Cached { .. }))
            .count()
    }

    pub fn leftovers(&self) -> Vec<String> {
        let mut v = Vec::new();
        for d in ["snapshots", "blobs/sha256"] {
            for e in std::fs::read_dir(self.store.root().join(d))
                .unwrap()
                .flatten()
            {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.contains(".tmp-") {
                    v.push(n);
                }
            }
        }
        v
    }
}

const MULTI: &str = "\
ARG BASE=base
FROM ${BASE}:latest AS build
ARG GREETING=hello
ENV APP=/app
WORKDIR $APP
COPY src/ ./src/
RUN write /app/out.txt $GREETING from $APP
RUN say building && say done

FROM base AS unused
RUN exit 3

FROM base
LABEL org.example.a=b \"spaced key\"=\"v 1\"
MAINTAINER someone
COPY --from=build --chown=app:staff --chmod=600 /app/out.txt /out.txt
COPY --from=build /app/src /copied/
COPY *.log src/a.txt /logs/
USER app
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD [\"true\"]
ENTRYPOINT [\"/bin/sh\"]
CMD echo hi
";

#[test]
fn multi_stage_build_config_files_and_cache() {
    let f = Fixture::new();
    f.dockerfile(MULTI);
    let out = f.build(f.tagged("app")).unwrap();
    assert_eq!(out.tags, ["docker.io/library/app:latest"]);
    assert_eq!(out.cached, 0);
    // Only the needed stages ran: the unused stage's `exit 3` never did.
    assert_eq!(f.exec.runs.lock().unwrap().len(), 2);
    assert_eq!(
        f.read("app", "/out.txt").as_deref(),
        Some("hello from /app")
    );
    assert_eq!(f.read("app", "/copied/a.txt").as_deref(), Some("A"));
    assert_eq!(f.read("app", "/copied/sub/b.txt").as_deref(), Some("B"));
    assert_eq!(f.read("app", "/logs/notes.log").as_deref(), Some("log"));
    assert_eq!(f.read("app", "/logs/a.txt").as_deref(), Some("A"));
    let img = f.store.resolve("app").unwrap().unwrap();
    let out_txt = Tree::Layers(img.layers.clone())
        .lookup(&["out.txt".into()])
        .unwrap();
    assert_eq!(out_txt.meta.mode() & 0o7777, 0o600);
    if nix::unistd::geteuid().is_root() {
        assert_eq!((out_txt.meta.uid(), out_txt.meta.gid()), (1000, 50));
    }

    let d = f.store.inspect("app").unwrap();
    let c = d.config.config.clone().unwrap();
    assert_eq!(c.user.as_deref(), Some("app"));
    assert_eq!(c.entrypoint, Some(vec!["/bin/sh".to_string()]));
    assert_eq!(
        c.cmd,
        Some(vec!["/bin/sh".to_string(), "-c".into(), "echo hi".into()])
    );
    let labels = c.labels.unwrap();
    assert_eq!(labels["org.example.a"], "b");
    assert_eq!(labels["spaced key"], "v 1");
    assert_eq!(
        c.exposed_ports.unwrap().into_keys().collect::<Vec<_>>(),
        ["53/udp", "80/tcp"]
    );
    assert!(c.volumes.unwrap().contains_key("/data"));
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    let hc = c.healthcheck.unwrap();
    assert_eq!(hc.test, ["CMD", "true"]);
    assert_eq!((hc.interval, hc.retries), (5_000_000_000, 2));
    assert_eq!(d.config.author.as_deref(), Some("someone"));
    assert!(d
        .config
        .history
        .iter()
        .any(|h| h.created_by.as_deref() == Some("USER app")));
    assert_eq!(d.config.rootfs.diff_ids.len(), d.layers.len());

    // Unchanged rebuild: every step from the cache, the same image.
    let again = f.build(f.tagged("app")).unwrap();
    assert_eq!(again.id, out.id);
    assert_eq!(
        again.cached,
        again.steps - 2,
        "{:?}",
        f.events.lock().unwrap()
    );
    assert_eq!(f.exec.runs.lock().unwrap().len(), 2);

    // A changed build arg re-runs the RUN steps of the stage using it.
    let mut req = f.tagged("app");
    req.build_args.insert("GREETING".into(), "howdy".into());
    let changed = f.build(req).unwrap();
    assert_ne!(changed.id, out.id);
    assert_eq!(
        f.read("app", "/out.txt").as_deref(),
        Some("howdy from /app")
    );
    assert_eq!(f.exec.runs.lock().unwrap().len(), 4);

    // A changed context file re-runs from its COPY on.
    std::fs::write(f.ctx.join("src/a.txt"), "A2").unwrap();
    f.build(f.tagged("app")).unwrap();
    assert_eq!(f.read("app", "/copied/a.txt").as_deref(), Some("A2"));
    assert_eq!(f.exec.runs.lock().unwrap().len(), 6);

    // --no-cache runs everything again.
    let mut req = f.tagged("app");
    req.no_cache = true;
    let nc = f.build(req).unwrap();
    assert_eq!(nc.cached, 0);
    assert_eq!(f.cached_count(), 0);
    assert_eq!(f.exec.runs.lock().unwrap().len(), 8);
    assert!(f.leftovers().is_empty(), "{:?}", f.leftovers());
}

#[test]
fn target_dockerignore_and_args_before_from() {
    let f = Fixture::new();
    std::fs::write(f.ctx.join(".dockerignore"), "*.log\nsrc/sub\n").unwrap();
    f.dockerfile(
        "ARG V=one\nFROM base AS first\nARG V\nRUN write /v $V\nCOPY . /ctx/\nFROM base\nRUN exit 1\n",
    );
    let mut req = f.tagged("t");
    req.target = Some("first".into());
    f.build(req).unwrap();
    assert_eq!(f.read("t", "/v").as_deref(), Some("one"));
    assert_eq!(f.read("t", "/ctx/src/a.txt").as_deref(), Some("A"));
    assert_eq!(f.read("t", "/ctx/notes.log"), None);
    assert_eq!(f.read("t", "/ctx/src/sub/b.txt"), None);
    assert!(f.read("t", "/ctx/Dockerfile").is_some());

    let mut req = f.tagged("t");
    req.target = Some("nosuch".into());
    let e = f.build(req).unwrap_err().to_string();
    assert!(
        e.contains("target stage \"nosuch\"") && e.contains("first"),
        "{e}"
    );
}

#[test]
fn failing_run_reports_code_and_output_and_leaves_nothing() {
    let f = Fixture::new();
    f.dockerfile("FROM base\nRUN write /x 1\nRUN say one && say two\\\n && exit 7\n");
    let before = f.store.list().unwrap().len();
    let e = f.build(f.tagged("bad")).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("Dockerfile:3: RUN say one"), "{s}");
    assert!(
        s.contains("exit code 7") && s.contains("  one\n  two"),
        "{s}"
    );
    assert_eq!(f.store.list().unwrap().len(), before);
    assert!(f.store.resolve("bad").unwrap().is_none());
    assert!(f.leftovers().is_empty(), "{:?}", f.leftovers());
    assert!(f
        .events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, BuildEvent::Failed { .. })));
}

#[test]
fn bad_sources_and_stage_references() {
    let f = Fixture::new();
    let cases = [
        (
            "FROM base\nCOPY missing.txt /x\n",
            2,
            "COPY source \"missing.txt\" not found in the build context",
        ),
        (
            "FROM base\nCOPY ../etc/passwd /x\n",
            2,
            "outside the build context",
        ),
        ("FROM base\nCOPY src/*.nothing /x/\n", 2, "not found"),
        (
            "FROM base\nCOPY src/a.txt src/sub/b.txt /x\n",
            2,
            "must be a directory",
        ),
        (
            "FROM base AS a\nCOPY --from=b /x /x\nFROM base AS b\nCOPY --from=a /y /y\n",
            2,
            "cyclic stage reference: b → a → b",
        ),
        (
            "FROM base AS a\nCOPY --from=a /x /x\n",
            2,
            "cyclic stage reference",
        ),
        (
            "FROM base\nCOPY --from=nowhere /x /x\n",
            2,
            "no stage named \"nowhere\"",
        ),
        ("FROM nosuchimage\nRUN true\n", 1, "not in the local store"),
        ("FROM scratch\nRUN true\n", 2, "RUN needs a base image"),
        (
            "FROM base\nADD https://example.com/repo.git#main /x\n",
            2,
            "Git sources are not supported by wharf yet",
        ),
        (
            "FROM base\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 src/a.txt /x\n",
            2,
            "give exactly one http:// or https:// source",
        ),
        (
            "FROM base\nADD --checksum=md5:00 http://127.0.0.1:1/x /x\n",
            2,
            "give a sha256 digest",
        ),
        (
            "FROM base\nCOPY http://127.0.0.1:1/x /x\n",
            2,
            "COPY takes files, not URLs",
        ),
        (
            "FROM base\nADD http://127.0.0.1:1/ /dir/\n",
            2,
            "has no file name to save it under",
        ),
        (
            "FROM base\nRUN true\nRUN --mount=type=nfs,target=/x true\n",
            3,
            "unknown mount type \"nfs\"; use bind, cache, tmpfs or secret",
        ),
        (
            "FROM base\nRUN --mount=type=secret,id=token,required true\n",
            2,
            "no secret \"token\" was given to the build",
        ),
        (
            "FROM base\nRUN --mount=source=nope,target=/x true\n",
            2,
            "RUN --mount source \"nope\" not found in the build context",
        ),
        (
            "FROM base\nRUN --mount=source=../up,target=/x true\n",
            2,
            "outside the build context",
        ),
        (
            "FROM base AS a\nRUN --mount=from=a,target=/x true\n",
            2,
            "cyclic stage reference",
        ),
        (
            "FROM base\nRUN --network=bridge true\n",
            2,
            "use default, none or host",
        ),
        (
            "FROM base\nCOPY --chown=nobody src/a.txt /x\n",
            2,
            "no user \"nobody\"",
        ),
        ("FROM base\nSHELL /bin/bash -c\n", 2, "JSON form"),
    ];
    for (text, line, msg) in cases {
        f.dockerfile(text);
        let e = f.build(f.tagged("x")).unwrap_err();
        assert_eq!(e.line(), Some(line), "{text:?}: {e}");
        assert!(e.to_string().contains(msg), "{text:?}: {e}");
    }
    assert!(f.leftovers().is_empty());
    assert!(f.store.resolve("x").unwrap().is_none());
}

#[test]
fn add_extracts_local_archives_and_copies_other_files() {
    let f = Fixture::new();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(5);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "inner/file.txt", &b"hello"[..])
        .unwrap();
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    std::fs::write(f.ctx.join("bundle.tar.gz"), gz.finish().unwrap()).unwrap();
    f.dockerfile("FROM base\nADD bundle.tar.gz /opt/\nADD src/a.txt /opt/a\nCOPY <<EOF /opt/greeting\nhi there\nEOF\nWORKDIR /made/here\n");
    f.build(f.tagged("add")).unwrap();
    assert_eq!(
        f.read("add", "/opt/inner/file.txt").as_deref(),
        Some("hello")
    );
    assert_eq!(f.read("add", "/opt/a").as_deref(), Some("A"));
    assert_eq!(
        f.read("add", "/opt/greeting").as_deref(),
        Some("hi there\n")
    );
    let img = f.store.resolve("add").unwrap().unwrap();
    let t = Tree::Layers(img.layers);
    assert!(t
        .lookup(&["made".into(), "here".into()])
        .is_some_and(|x| x.meta.is_dir()));
    assert_eq!(img.config.working_dir.as_deref(), Some("/made/here"));
}

#[test]
fn onbuild_triggers_run_in_child_builds_and_env_rules() {
    let f = Fixture::new();
    f.dockerfile("FROM base\nONBUILD RUN write /triggered yes\nENV A=1 B=$A\nENV A=2\n");
    f.build(f.tagged("parent")).unwrap();
    let d = f.store.inspect("parent").unwrap();
    let c = d.config.config.unwrap();
    assert_eq!(
        c.on_build,
        Some(vec!["RUN write /triggered yes".to_string()])
    );
    // B took A's value from before the instruction (unset): docker's rule.
    assert_eq!(c.env.unwrap(), ["A=2", "B="]);
    f.dockerfile("FROM parent\nRUN write /child ok\n");
    f.build(f.tagged("child")).unwrap();
    assert_eq!(f.read("child", "/triggered").as_deref(), Some("yes"));
    let c = f.store.inspect("child").unwrap().config.config.unwrap();
    assert_eq!(c.on_build, None);
}

#[test]
fn independent_stages_build_in_parallel_and_results_are_stable() {
    let f = Fixture::new();
    f.dockerfile(
        "FROM base AS a\nRUN write /a A\nFROM base AS b\nRUN write /b B\nFROM base\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
    );
    let one = f.build(f.tagged("p")).unwrap();
    assert_eq!(f.read("p", "/a").as_deref(), Some("A"));
    assert_eq!(f.read("p", "/b").as_deref(), Some("B"));
    let two = f.build(f.tagged("p")).unwrap();
    assert_eq!(one.id, two.id);
}

// ---------------------------------------------------------------- ADD URL

/// A loopback HTTP server answering GETs from its files, each with the same
/// `Last-Modified`; counts the requests it answered.
struct Server {
    url: String,
    files: std::sync::Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

impl Server {
    fn start() -> Server {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = Server {
            url,
            files: Default::default(),
            hits: Default::default(),
            stop: Default::default(),
        };
        let (files, hits, stop) = (
            server.files.clone(),
            server.hits.clone(),
            server.stop.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let target = request.split_whitespace().nth(1).unwrap_or("");
                let path = target.split('?').next().unwrap_or("").to_string();
                hits.fetch_add(1, Ordering::SeqCst);
                let body = files.lock().unwrap().get(&path).cloned();
                let _ = match body {
                    Some(b) => write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: {LAST_MODIFIED}\r\nConnection: close\r\n\r\n",
                        b.len()
                    )
                    .and_then(|()| conn.write_all(&b)),
                    None => write!(
                        conn,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                };
            }
        });
        server
    }

    fn put(&self, path: &str, body: &[u8]) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), body.to_vec());
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

#[test]
fn add_downloads_urls_checks_checksums_and_keys_the_cache_by_content() {
    let f = Fixture::new();
    let srv = Server::start();
    let tool = b"#!/bin/sh\necho tool\n";
    srv.put("/dl/tool.sh", tool);
    let digest = crate::digest::sha256_digest(tool);
    let u = &srv.url;
    f.dockerfile(&format!(
        "FROM base\nADD --checksum={digest} --chmod=755 --chown=app {u}/dl/tool.sh?v=1 /bin/tool\nADD {u}/dl/tool.sh /opt/\nADD {u}/dl/tool.sh /named\nRUN write /after done\n"
    ));
    let first = f.build(f.tagged("dl")).unwrap();
    assert_eq!(srv.hits(), 3);
    let text = String::from_utf8_lossy(tool).into_owned();
    for path in ["/opt/tool.sh", "/bin/tool", "/named"] {
        assert_eq!(f.read("dl", path).as_deref(), Some(text.as_str()), "{path}");
    }
    let img = f.store.resolve("dl").unwrap().unwrap();
    let tree = Tree::Layers(img.layers.clone());
    let meta = |p: &str| tree.lookup(&super::ignore::clean(p)).unwrap().meta;
    assert_eq!(meta("/opt/tool.sh").mode() & 0o7777, 0o600);
    assert_eq!(meta("/opt/tool.sh").mtime(), 784_111_777);
    assert_eq!(meta("/bin/tool").mode() & 0o7777, 0o755);
    if nix::unistd::geteuid().is_root() {
        assert_eq!(
            (meta("/bin/tool").uid(), meta("/bin/tool").gid()),
            (1000, 1001)
        );
        assert_eq!(meta("/named").uid(), 0);
    }
    // A rebuild downloads the URLs without a checksum again (docker does too), but
    // the same content keeps every step cached; the checksummed one is not fetched.
    let again = f.build(f.tagged("dl")).unwrap();
    assert_eq!(srv.hits(), 5);
    assert_eq!(again.id, first.id);
    assert_eq!(again.cached, again.steps - 1);
    assert_eq!(f.exec.runs.lock().unwrap().len(), 1);
    // New content rebuilds the steps that fetch it and those after; the
    // checksummed step before them stays cached without a download.
    srv.put("/dl/tool.sh", b"v2\n");
    f.build(f.tagged("dl")).unwrap();
    assert_eq!(srv.hits(), 7);
    assert_eq!(f.read("dl", "/opt/tool.sh").as_deref(), Some("v2\n"));
    assert_eq!(f.read("dl", "/bin/tool").as_deref(), Some(text.as_str()));
    assert_eq!(f.exec.runs.lock().unwrap().len(), 2);

    // A remote archive is saved as it is, never extracted.
    let tar = base_tar();
    srv.put("/dl/base.tar", &tar);
    f.dockerfile(&format!("FROM base\nADD {u}/dl/base.tar /opt/\n"));
    f.build(f.tagged("tarball")).unwrap();
    let img = f.store.resolve("tarball").unwrap().unwrap();
    let tree = Tree::Layers(img.layers);
    let saved = tree.lookup(&super::ignore::clean("/opt/base.tar")).unwrap();
    assert_eq!(std::fs::read(&saved.host).unwrap(), tar);
    assert!(tree.lookup(&super::ignore::clean("/opt/bin")).is_none());

    // A wrong checksum fails at its line, with both digests, leaving nothing.
    let wrong = format!("sha256:{}", "0".repeat(64));
    f.dockerfile(&format!(
        "FROM base\nRUN write /x 1\nADD --checksum={wrong} {u}/dl/tool.sh /t\n"
    ));
    let e = f.build(f.tagged("bad")).unwrap_err();
    assert_eq!(e.line(), Some(3), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("checksum mismatch"), "{msg}");
    assert!(
        msg.contains(&wrong) && msg.contains(&crate::digest::sha256_digest(b"v2\n")),
        "{msg}"
    );
    f.dockerfile(&format!("FROM base\nADD {u}/missing /m\n"));
    let err = f.build(f.tagged("bad")).unwrap_err();
    assert!(
        matches!(
            &err,
            BuildError::Instruction {
                line: 2,
                source: super::InstructionError::Fetch {
                    source: super::remote::FetchError::Status { status: 404, .. },
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    let e = err.to_string();
    assert!(
        e.contains("Dockerfile:2: ADD ") && e.contains("HTTP 404"),
        "{e}"
    );
    assert!(f.store.resolve("bad").unwrap().is_none());
    assert!(f.leftovers().is_empty(), "{:?}", f.leftovers());
}

// ---------------------------------------------------------------- RUN --mount

#[test]
fn run_mounts_cache_bind_tmpfs_and_secrets_leave_no_trace() {
    let f = Fixture::new();
    f.dockerfile(
        "FROM base AS gen\nRUN write /gen/made.txt generated\n\nFROM base\nARG N\nRUN --mount=type=cache,target=/var/cache/app,id=app write /var/cache/app/count $N\nRUN --mount=type=bind,from=gen,source=/gen,target=/mnt/gen cat /mnt/gen/made.txt && write /copied.txt ok\nRUN --mount=type=bind,source=src,target=/ctx,rw write /ctx/new.txt gone && cat /ctx/a.txt\nRUN --mount=type=bind,source=src/a.txt,target=/etc/a.txt cat /etc/a.txt\nRUN --mount=type=tmpfs,target=/scratch,size=1m say tmp\nRUN --mount=type=secret,id=token cat /run/secrets/token\n",
    );
    let mut req = f.tagged("m");
    req.build_args.insert("N".into(), "1".into());
    req.secrets
        .insert("token".into(), SecretValue(b"s3cret-value".to_vec()));
    f.build(req.clone()).unwrap();
    let said: Vec<String> = f
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Output { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect();
    for want in ["generated", "A", "tmp", "s3cret-value"] {
        assert!(said.iter().any(|l| l == want), "{want:?} not in {said:?}");
    }
    assert_eq!(f.read("m", "/copied.txt").as_deref(), Some("ok"));
    let img = f.store.resolve("m").unwrap().unwrap();
    let tree = Tree::Layers(img.layers.clone());
    for gone in ["var", "mnt", "ctx", "etc/a.txt", "run", "scratch"] {
        assert!(
            tree.lookup(&super::ignore::clean(gone)).is_none(),
            "/{gone} left in the image"
        );
    }
    assert!(
        !f.ctx.join("src/new.txt").exists(),
        "a rw bind wrote to the context"
    );
    let cache = super::mounts::cache_path(&f._tmp.path().join("build-cache-mounts"), "app");
    assert_eq!(std::fs::read_to_string(cache.join("count")).unwrap(), "1");
    let tmpfs = f.exec.mounts.lock().unwrap()[5].clone();
    assert_eq!(tmpfs[0].kind, StepMountKind::Tmpfs);
    assert_eq!(tmpfs[0].options, ["exec", "size=1048576"]);
    for blob in std::fs::read_dir(f.store.root().join("blobs/sha256")).unwrap() {
        let data = std::fs::read(blob.unwrap().path()).unwrap();
        assert!(
            !data.windows(12).any(|w| w == b"s3cret-value"),
            "the secret is in a blob"
        );
    }

    // Another secret value does not change the cache key; new content in a bound
    // context file does.
    req.secrets
        .insert("token".into(), SecretValue(b"other".to_vec()));
    let again = f.build(req.clone()).unwrap();
    assert_eq!(
        (again.cached, again.steps),
        (7, 9),
        "{:#?}",
        f.events.lock().unwrap()
    );
    std::fs::write(f.ctx.join("src/a.txt"), "A2").unwrap();
    let runs = f.exec.runs.lock().unwrap().len();
    f.build(req).unwrap();
    // The two steps binding it and the two after them.
    assert_eq!(f.exec.runs.lock().unwrap().len(), runs + 4);

    // The cache directory outlives the build that filled it.
    f.dockerfile("FROM base\nRUN --mount=type=cache,target=/c,id=app cat /c/count\n");
    f.build(f.tagged("reader")).unwrap();
    assert!(f
        .events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, BuildEvent::Output { line, .. } if line == "1")));

    // A read-only bind cannot be written.
    f.dockerfile("FROM base\nRUN --mount=target=/ro write /ro/x no\n");
    let e = f.build(f.tagged("ro")).unwrap_err().to_string();
    assert!(e.contains("exit code 1") && e.contains("read-only"), "{e}");
    assert!(f.leftovers().is_empty(), "{:?}", f.leftovers());
}

// ---------------------------------------------------------------- cache_from

#[test]
fn cache_from_images_seed_run_steps_whose_history_and_layers_match() {
    let f = Fixture::new();
    f.dockerfile(
        "FROM base\nARG V=1\nRUN write /one $V\nWORKDIR /app\nCOPY src/a.txt ./\nRUN write /app/two 2\n",
    );
    f.build(f.tagged("seed")).unwrap();
    assert_eq!(f.exec.runs.lock().unwrap().len(), 2);
    let history = f.store.inspect("seed").unwrap().config.history;
    assert!(
        history
            .iter()
            .any(|h| h.created_by.as_deref()
                == Some("RUN |1 V=1 /bin/sh -c write /one $V # buildkit")),
        "{history:?}"
    );
    // Another machine: no build cache, only the image.
    std::fs::remove_dir_all(f.store.root().join("build-cache")).unwrap();
    let mut req = f.tagged("again");
    req.cache_from = vec!["seed".into(), "type=registry,ref=nosuch".into()];
    let out = f.build(req.clone()).unwrap();
    assert_eq!(f.exec.runs.lock().unwrap().len(), 2, "RUN steps ran again");
    // RUN, WORKDIR, COPY (by the content digest in its entry) and RUN.
    assert_eq!(out.cached, 4, "{:?}", f.events.lock().unwrap());
    assert_eq!(f.read("again", "/app/two").as_deref(), Some("2"));
    assert!(f.events.lock().unwrap().iter().any(
        |e| matches!(e, BuildEvent::Warning(w) if w.contains("\"nosuch\" is not in the local store"))
    ));
    // What was taken is now in the local cache.
    let local = f.build(f.tagged("again")).unwrap();
    assert_eq!(local.cached, local.steps - 1);
    // Another build argument is another command line: not taken.
    req.build_args.insert("V".into(), "2".into());
    f.build(req).unwrap();
    assert_eq!(f.exec.runs.lock().unwrap().len(), 4);
}

/// The same image built elsewhere at another time: the copied-up directories of
/// its COPY layer carry other times than a COPY run now would give them.
fn rebuilt_at_another_time(f: &Fixture, name: &str, as_name: &str, dir: &str, mtime: i64) {
    use super::fs::{CopyOpts, Diff};
    let img = f.store.inspect(name).unwrap();
    let copy = img
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .position(|h| h.created_by.as_deref().unwrap_or("").starts_with("COPY "))
        .unwrap();
    let lease = f.store.lease().unwrap();
    let snapshot = f
        .store
        .snapshot_path(&img.config.rootfs.diff_ids[copy])
        .unwrap();
    let diff = f._tmp.path().join("older-copy-layer");
    std::fs::create_dir(&diff).unwrap();
    let d = Diff {
        dir: &diff,
        below: Tree::Layers(Vec::new()),
    };
    let opts = CopyOpts {
        keep_owner: true,
        ..Default::default()
    };
    d.copy(&Tree::Layers(vec![snapshot]), &[], &[], &opts)
        .unwrap();
    let p = diff.join(dir.trim_start_matches('/'));
    let mode = std::fs::metadata(&p).unwrap().mode() & 0o7777;
    super::fs::set_file_meta(&p, (0, 0), mode, Some(mtime)).unwrap();
    let (older, _) = super::layer::commit_diff(&f.store, &lease, &diff).unwrap();
    let mut layers: Vec<_> = img
        .layers
        .iter()
        .zip(&img.config.rootfs.diff_ids)
        .map(|(desc, diff_id)| super::layer::BuiltLayer {
            desc: desc.clone(),
            diff_id: diff_id.clone(),
        })
        .collect();
    assert_ne!(layers[copy].diff_id, older.diff_id);
    layers[copy] = older;
    let image = crate::assembly::ImageAssembly {
        config: img.config.clone(),
        layers,
    }
    .write(&f.store, &lease)
    .unwrap();
    let r = crate::reference::Reference::parse(as_name)
        .unwrap()
        .with_default_tag();
    image.name(&f.store, &lease, Some(&r)).unwrap();
}

#[test]
fn cache_from_seeds_copy_into_an_existing_directory_built_at_another_time() {
    let f = Fixture::new();
    f.dockerfile("FROM base\nWORKDIR /app\nCOPY src/a.txt ./\nRUN write /app/two 2\n");
    f.build(f.tagged("built")).unwrap();
    assert_eq!(f.exec.runs.lock().unwrap().len(), 1);
    let history = f.store.inspect("built").unwrap().config.history;
    let copy = history
        .iter()
        .filter_map(|h| h.created_by.as_deref())
        .find(|c| c.starts_with("COPY "))
        .unwrap();
    assert!(
        copy.starts_with("COPY file:") && copy.ends_with(" in /app/"),
        "{copy}"
    );
    rebuilt_at_another_time(&f, "built", "seed", "/app", 1_500_000_000);
    let from_seed = || {
        std::fs::remove_dir_all(f.store.root().join("build-cache")).unwrap();
        let mut req = f.tagged("again");
        req.cache_from = vec!["seed".into()];
        f.build(req).unwrap()
    };
    let out = from_seed();
    assert_eq!(
        f.exec.runs.lock().unwrap().len(),
        1,
        "the RUN step ran again"
    );
    assert_eq!(out.cached, 3, "{:?}", f.events.lock().unwrap());
    let diff_ids = |name: &str| f.store.inspect(name).unwrap().config.rootfs.diff_ids;
    assert_eq!(diff_ids("again"), diff_ids("seed"), "the seed's layers");
    // A checkout with other file times has the same content: still taken.
    let a = f.ctx.join("src/a.txt");
    super::fs::set_file_meta(&a, (0, 0), 0o644, Some(1_400_000_000)).unwrap();
    from_seed();
    assert_eq!(f.exec.runs.lock().unwrap().len(), 1);
    // Other content is another COPY: it runs, and so does the RUN after it.
    std::fs::write(&a, "changed").unwrap();
    let out = from_seed();
    assert_eq!(f.exec.runs.lock().unwrap().len(), 2);
    assert_eq!(out.cached, 1, "{:?}", f.events.lock().unwrap());
    assert_eq!(f.read("again", "/app/a.txt").as_deref(), Some("changed"));
}
