//! Building images: a multi-stage Dockerfile FROM the busybox test image is built
//! by `up` (the image is missing), run, and checked (files, user, env, metadata);
//! rebuilds are CACHED, `--no-cache` is not; `wharf image build` with bad
//! Dockerfiles fails at the right line and leaves nothing half-made in the store.
//! `ADD` of URLs from a loopback server, `RUN --mount` (cache, bind, tmpfs,
//! secret) leaving nothing in layers, and `up` warning about a changed context.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::Path;
use std::time::Duration;

const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
ARG MSG=default
WORKDIR /out
COPY src/ ./
COPY --chmod=700 tool.sh /usr/local/bin/tool
RUN echo "$MSG by $(id -u)" > made.txt \
 && rm /bin/vi \
 && grep -q localhost /etc/hosts && grep -q nameserver /etc/resolv.conf \
 && tool
RUN <<EOF
echo from a heredoc > /out/heredoc.txt
EOF

FROM busybox
LABEL org.example.kind=demo
COPY --from=build /out/ /srv/
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd \
 && echo 'app:x:1234:' >> /etc/group && mkdir -p /home/app && chown app:app /home/app \
 && rm /bin/vi
USER app
WORKDIR /home/app
ENV GREETING="hi there"
EXPOSE 8080
CMD ["sh", "-c", "cat /srv/made.txt /srv/heredoc.txt /srv/index.html; echo uid=$(id -u) pwd=$(pwd) greeting=$GREETING; ls /bin/vi /srv/notes.log 2>&1; sleep 300"]
"#;

const COMPOSE: &str = "services:
  web:
    build:
      context: .
      args:
        MSG: from-compose
      labels:
        org.example.compose: \"yes\"
";

fn project(s: &Sandbox) -> std::path::PathBuf {
    let dir = s.project("buildy", COMPOSE);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/index.html"), "<h1>index</h1>\n").unwrap();
    std::fs::write(dir.join("src/notes.log"), "ignored\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "**/*.log\n").unwrap();
    std::fs::write(dir.join("tool.sh"), "#!/bin/sh\necho tool ran\n").unwrap();
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    dir
}

fn no_temporaries(root: &Path) {
    for d in ["images/snapshots", "images/blobs/sha256"] {
        for e in std::fs::read_dir(root.join(d)).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(".tmp-"), "half-made {d}/{n} left in the store");
        }
    }
}

#[test]
fn up_builds_a_multi_stage_image_runs_it_and_rebuilds_from_cache() {
    sandboxed(
        "build::up_builds_a_multi_stage_image_runs_it_and_rebuilds_from_cache",
        |s| {
            s.import_busybox();
            let dir = project(s);
            let up = s.wharf(&dir, &["up", "-d"]);
            let err = String::from_utf8_lossy(&up.stderr);
            assert!(up.status.success(), "up failed: {err}");
            assert!(
                err.contains("[web build 5/6] RUN echo \"$MSG by $(id -u)\""),
                "{err}"
            );
            assert!(err.contains(" tool ran"), "step output not streamed: {err}");
            assert!(err.contains("Service web  Built"), "{err}");
            assert!(err.contains("Container buildy-web-1  Started"), "{err}");

            let wants = [
                "from-compose by 0",
                "from a heredoc",
                "<h1>index</h1>",
                "uid=1234 pwd=/home/app greeting=hi there",
                "/bin/vi: No such file or directory",
                "/srv/notes.log: No such file or directory",
            ];
            // stdout and stderr reach the log through separate pipes: wait for all.
            let logs = eventually("the container's output", Duration::from_secs(10), || {
                let out = s.ok(&dir, &["logs", "web"]);
                wants.iter().all(|w| out.contains(w)).then_some(out)
            });
            for want in wants {
                assert!(
                    logs.contains(want),
                    "{want:?} missing from the logs:\n{logs}"
                );
            }

            let inspect = s.ok(&dir, &["image", "inspect", "buildy-web"]);
            for want in [
                "\"org.example.kind\": \"demo\"",
                "\"org.example.compose\": \"yes\"",
                "\"8080/tcp\"",
                "\"User\": \"app\"",
                "\"WorkingDir\": \"/home/app\"",
                "GREETING=hi there",
            ] {
                assert!(inspect.contains(want), "{want:?} missing:\n{inspect}");
            }
            let history = s.ok(&dir, &["image", "history", "--no-trunc", "buildy-web"]);
            assert!(history.contains("USER app"), "{history}");

            // Unchanged: every step from the cache, the same image.
            let id_before = s.ok(&dir, &["image", "inspect", "buildy-web"]);
            let again = s.wharf(&dir, &["build"]);
            let err = String::from_utf8_lossy(&again.stderr);
            assert!(again.status.success(), "{err}");
            assert_eq!(err.matches(" CACHED").count(), 8, "{err}");
            let id_after = s.ok(&dir, &["image", "inspect", "buildy-web"]);
            assert_eq!(id_before, id_after);

            // --no-cache runs every step; `-q` prints only the id.
            let fresh = s.wharf(&dir, &["build", "--no-cache", "-q"]);
            assert!(fresh.status.success());
            assert!(!String::from_utf8_lossy(&fresh.stderr).contains("CACHED"));
            let out = String::from_utf8_lossy(&fresh.stdout);
            assert!(out.trim().starts_with("sha256:"), "{out}");

            // A changed build argument rebuilds from the first step using it.
            let arg = s.wharf(&dir, &["build", "--build-arg", "MSG=changed"]);
            let err = String::from_utf8_lossy(&arg.stderr);
            assert!(arg.status.success(), "{err}");
            assert!(
                err.contains("#5 [web build 4/6] COPY --chmod=700 tool.sh"),
                "{err}"
            );
            assert!(
                err.contains(" tool ran"),
                "the RUN using MSG must run again: {err}"
            );
            assert_eq!(
                err.matches(" CACHED").count(),
                3,
                "only the steps before it are cached: {err}"
            );

            // down --rmi local: the image built under the project's name goes,
            // the busybox base (a named image) stays.
            let down = s.wharf(&dir, &["down", "--rmi", "local"]);
            let err = String::from_utf8_lossy(&down.stderr);
            assert!(down.status.success(), "{err}");
            assert!(err.contains("Image buildy-web  Removed"), "{err}");
            let images = s.ok(&dir, &["image", "ls"]);
            assert!(
                !images.contains("buildy-web") && images.contains("busybox"),
                "{images}"
            );
            let bad = s.wharf(&dir, &["down", "--rmi", "some"]);
            assert_ne!(bad.status.code(), Some(0));
            no_temporaries(s.root.path());
            no_step_mount_points(s.root.path());
        },
    );
}

/// RUN steps see /etc/hosts and /etc/resolv.conf, which the busybox image lacks;
/// the mount points made for them never land in a layer.
fn no_step_mount_points(root: &Path) {
    let snapshots = root.join("images/snapshots");
    let mut seen = 0;
    for e in std::fs::read_dir(&snapshots).unwrap().flatten() {
        seen += 1;
        for file in ["etc/hosts", "etc/resolv.conf"] {
            assert!(
                std::fs::symlink_metadata(e.path().join(file)).is_err(),
                "{file} landed in layer {}",
                e.file_name().to_string_lossy()
            );
        }
    }
    assert!(seen > 2, "no layers in {}", snapshots.display());
}

#[test]
fn bad_dockerfiles_fail_at_their_line_and_leave_nothing() {
    sandboxed(
        "build::bad_dockerfiles_fail_at_their_line_and_leave_nothing",
        |s| {
            s.import_busybox();
            let dir = s.work.path().join("bad");
            std::fs::create_dir_all(&dir).unwrap();
            let cases: [(&str, &str); 5] = [
                (
                    "FROM busybox\nRUN echo first\nRUN echo some output; echo the last line; exit 3\n",
                    "Dockerfile:3: RUN echo some output; echo the last line; exit 3 failed with exit code 3",
                ),
                ("FROM busybox\nFROBNICATE x\n", "Dockerfile:2: unknown instruction \"FROBNICATE\""),
                ("FROM busybox\nCOPY nothing.txt /x\n", "Dockerfile:2: COPY source \"nothing.txt\" not found"),
                (
                    "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n",
                    "cyclic stage reference",
                ),
                ("FROM busybox\nCOPY --from=nostage /x /x\n", "Dockerfile:2: COPY --from=nostage: there is no stage named \"nostage\""),
            ];
            for (text, want) in cases {
                std::fs::write(dir.join("Dockerfile"), text).unwrap();
                let err = s.fails(&dir, &["image", "build", "-t", "bad", "."]);
                assert!(err.contains(want), "{text:?}: {err}");
                if want.contains("exit code 3") {
                    assert!(err.contains("  the last line"), "{err}");
                    assert!(err.contains("#4 ERROR: "), "{err}");
                }
            }
            let missing = s.fails(&dir, &["image", "build", "--target", "nosuch", "."]);
            assert!(missing.contains("target stage \"nosuch\""), "{missing}");
            let images = s.ok(&dir, &["image", "ls"]);
            // By repository name: an image id may well contain "bad".
            assert!(!images.lines().any(|l| l.starts_with("bad ")), "{images}");
            no_temporaries(s.root.path());
        },
    );
}

/// What the loopback file server answers, and its `Last-Modified`.
const WEB_FILE: &str = "hello from the web\n";
const WEB_FILE_SHA256: &str =
    "sha256:6800e5a138da1ed186442cecbb944d165db00a45ce6eec03dcf39779d73c7a3f";
const WEB_FILE_MTIME: &str = "784111777";

/// Serve [`WEB_FILE`] at `/files/hello.txt` (404 elsewhere) from a thread on a
/// loopback port; returns `http://127.0.0.1:PORT`. The thread ends with the test.
fn file_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let _ = if request.starts_with("GET /files/hello.txt ") {
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: close\r\n\r\n{WEB_FILE}",
                    WEB_FILE.len()
                )
            } else {
                write!(
                    conn,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            };
        }
    });
    url
}

#[test]
fn add_downloads_urls_and_checks_their_checksum() {
    sandboxed("build::add_downloads_urls_and_checks_their_checksum", |s| {
        s.import_busybox();
        let url = file_server();
        let dir = s.work.path().join("add");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            format!(
                "FROM busybox\n\
                 ADD {url}/files/hello.txt /srv/\n\
                 ADD --checksum={WEB_FILE_SHA256} --chmod=644 {url}/files/hello.txt /srv/pinned.txt\n\
                 RUN stat -c 'stat %a %u %Y %n' /srv/hello.txt /srv/pinned.txt && cat /srv/pinned.txt\n"
            ),
        )
        .unwrap();
        let out = s.wharf(&dir, &["image", "build", "-t", "dl", "."]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        for want in [
            format!("stat 600 0 {WEB_FILE_MTIME} /srv/hello.txt"),
            format!("stat 644 0 {WEB_FILE_MTIME} /srv/pinned.txt"),
            WEB_FILE.trim().to_string(),
        ] {
            assert!(err.contains(&want), "{want:?} missing:\n{err}");
        }
        // Unchanged content: the download happens again, every step is cached.
        let again = s.wharf(&dir, &["image", "build", "-t", "dl", "."]);
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(again.status.success(), "{err}");
        assert_eq!(err.matches(" CACHED").count(), 3, "{err}");

        let wrong = format!("sha256:{}", "1".repeat(64));
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM busybox\nRUN true\nADD --checksum={wrong} {url}/files/hello.txt /x\n"),
        )
        .unwrap();
        let err = s.fails(&dir, &["image", "build", "-t", "wrong", "."]);
        assert!(
            err.contains(&format!(
                "Dockerfile:3: ADD {url}/files/hello.txt: checksum mismatch: --checksum is {wrong} but the downloaded file is {WEB_FILE_SHA256}"
            )),
            "{err}"
        );
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM busybox\nADD {url}/files/nothing.txt /x\n"),
        )
        .unwrap();
        let err = s.fails(&dir, &["image", "build", "-t", "wrong", "."]);
        assert!(
            err.contains("Dockerfile:2: ") && err.contains("HTTP 404"),
            "{err}"
        );
        let images = s.ok(&dir, &["image", "ls"]);
        assert!(!images.lines().any(|l| l.starts_with("wrong ")), "{images}");
        no_temporaries(s.root.path());
    });
}

const MOUNTS_DOCKERFILE: &str = r#"FROM busybox AS gen
RUN mkdir /gen && echo generated in a stage > /gen/made.txt

FROM busybox
RUN --mount=type=cache,target=/var/cache/demo sh -c 'echo run >> /var/cache/demo/log; echo "runs=$(wc -l < /var/cache/demo/log)"'
RUN --mount=type=bind,from=gen,source=/gen,target=/mnt/gen cp /mnt/gen/made.txt /copied.txt
RUN --mount=type=bind,source=.,target=/ctx test -f /ctx/Dockerfile && ! touch /ctx/new 2>/dev/null && echo "bind is read-only"
RUN --mount=type=tmpfs,target=/scratch grep -q ' /scratch tmpfs ' /proc/mounts && echo "tmpfs mounted"
RUN --mount=type=secret,id=token,required sh -c 'echo "secret has $(wc -c < /run/secrets/token) bytes"'
"#;

const SECRET: &str = "not-for-layers-4711";

/// Every layer snapshot holding `rel`.
fn layers_holding(root: &Path, rel: &str) -> Vec<String> {
    std::fs::read_dir(root.join("images/snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| std::fs::symlink_metadata(e.path().join(rel)).is_ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn run_mounts_cache_bind_tmpfs_and_secrets_stay_out_of_layers() {
    sandboxed(
        "build::run_mounts_cache_bind_tmpfs_and_secrets_stay_out_of_layers",
        |s| {
            s.import_busybox();
            let dir = s.work.path().join("mounts");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("Dockerfile"), MOUNTS_DOCKERFILE).unwrap();
            let secret_file = s.work.path().join("token.txt");
            std::fs::write(&secret_file, SECRET).unwrap();
            let secret = format!("id=token,src={}", secret_file.display());
            let build = |extra: &[&str]| {
                let mut args = vec!["image", "build", "--secret", &secret, "-t", "mounts"];
                args.extend(extra);
                args.push(".");
                let out = s.wharf(&dir, &args);
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                assert!(out.status.success(), "{err}");
                err
            };
            let first = build(&[]);
            for want in [
                "runs=1",
                "bind is read-only",
                "tmpfs mounted",
                &format!("secret has {} bytes", SECRET.len()),
            ] {
                assert!(first.contains(want), "{want:?} missing:\n{first}");
            }
            // The cache directory outlives the build: its file counts the runs.
            let second = build(&["--no-cache"]);
            assert!(second.contains("runs=2"), "{second}");
            assert!(!second.contains("CACHED"), "{second}");

            let root = s.root.path();
            let holding = layers_holding(root, "copied.txt");
            assert!(!holding.is_empty(), "the bound stage's file was not copied");
            for layer in holding {
                let copied = root.join("images/snapshots").join(layer).join("copied.txt");
                let text = std::fs::read_to_string(copied).unwrap();
                assert_eq!(text, "generated in a stage\n");
            }
            for gone in ["var/cache", "mnt", "ctx", "scratch", "run/secrets"] {
                let found = layers_holding(root, gone);
                assert!(found.is_empty(), "/{gone} landed in layers {found:?}");
            }
            assert!(!dir.join("new").exists());
            for blob in std::fs::read_dir(root.join("images/blobs/sha256")).unwrap() {
                let data = std::fs::read(blob.unwrap().path()).unwrap();
                assert!(
                    !data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                    "the secret is in a blob"
                );
            }
            let caches: Vec<_> = std::fs::read_dir(root.join("build-cache-mounts"))
                .unwrap()
                .flatten()
                .filter(|e| e.path().is_dir())
                .collect();
            assert_eq!(caches.len(), 1);
            let log = std::fs::read_to_string(caches[0].path().join("log")).unwrap();
            assert_eq!(log, "run\nrun\n");

            // A required secret that was not given fails at its line (when the
            // step runs: a cached one needs no secret).
            let err = s.fails(&dir, &["image", "build", "--no-cache", "-t", "mounts", "."]);
            assert!(
                err.contains(
                    "Dockerfile:9: RUN --mount=type=secret,id=token: no secret \"token\" was given"
                ),
                "{err}"
            );
            no_temporaries(root);
        },
    );
}

const WARN_COMPOSE: &str = "services:
  app:
    build:
      context: .
      secrets: [token]
    command: [\"sleep\", \"300\"]
secrets:
  token:
    file: ./token.txt
";

const CHANGED: &str =
    "service app: build context changed since the image was built: run `wharf up --build` to rebuild";

#[test]
fn up_warns_when_the_build_context_changed() {
    sandboxed("build::up_warns_when_the_build_context_changed", |s| {
        s.import_busybox();
        let dir = s.project("warny", WARN_COMPOSE);
        std::fs::write(dir.join("token.txt"), "compose secret\n").unwrap();
        std::fs::write(dir.join("app.txt"), "version 1\n").unwrap();
        std::fs::write(dir.join(".dockerignore"), "*.log\n").unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            "FROM busybox\nCOPY app.txt /app.txt\nRUN --mount=type=secret,id=token,required grep -q 'compose secret' /run/secrets/token\n",
        )
        .unwrap();
        let up = |extra: &[&str]| {
            let mut args = vec!["up", "-d"];
            args.extend(extra);
            let out = s.wharf(&dir, &args);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{err}");
            err
        };
        let first = up(&[]);
        assert!(first.contains("Service app  Built"), "{first}");
        assert!(!first.contains(CHANGED), "{first}");
        // Nothing changed; a rewrite with the same content, or an excluded file,
        // is no change either.
        assert!(!up(&[]).contains(CHANGED));
        std::fs::write(dir.join("app.txt"), "version 1\n").unwrap();
        std::fs::write(dir.join("debug.log"), "noise\n").unwrap();
        assert!(!up(&[]).contains(CHANGED));

        std::fs::write(dir.join("app.txt"), "version 2\n").unwrap();
        let warned = up(&[]);
        assert!(
            warned.contains(&format!("WARN[0000] {CHANGED}")),
            "{warned}"
        );
        assert!(
            !warned.contains("Built"),
            "up must not rebuild by itself: {warned}"
        );
        assert!(warned.contains("Running"), "{warned}");

        let rebuilt = up(&["--build"]);
        assert!(rebuilt.contains("Service app  Built"), "{rebuilt}");
        assert!(!rebuilt.contains(CHANGED), "{rebuilt}");
        assert!(!up(&[]).contains(CHANGED));
        s.ok(&dir, &["down"]);
    });
}
