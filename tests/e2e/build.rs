//! Building images: a multi-stage Dockerfile FROM the busybox test image is built
//! by `up` (the image is missing), run, and checked (files, user, env, metadata);
//! rebuilds are CACHED, `--no-cache` is not; `wharf image build` with bad
//! Dockerfiles fails at the right line and leaves nothing half-made in the store.

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

            s.ok(&dir, &["down"]);
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
