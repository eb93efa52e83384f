//! `wharf cp` and `wharf watch` end to end: copies both ways with docker's
//! path rules, tar streams on stdin and stdout, symlinks in the container
//! that point out of it, stopped containers; `develop.watch` syncing a
//! directory served by busybox httpd, deletions, ignored files, a rebuild,
//! and a clean exit on SIGINT.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LOOP: &str = r#"["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]"#;

fn exec(s: &Sandbox, dir: &Path, script: &str) -> String {
    s.ok(dir, &["exec", "-T", "app", "sh", "-c", script])
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn no_copy_mounts_left() {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.lines().any(|l| l.contains("/cp-")),
        "a copy left a mount behind:\n{mounts}"
    );
}

#[test]
fn cp_follows_docker_path_rules_both_ways_and_never_leaves_the_container() {
    sandboxed(
        "copy_watch::cp_follows_docker_path_rules_both_ways_and_never_leaves_the_container",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "cpw",
                &format!(
                    "services:\n  app:\n    image: busybox\n    command: {LOOP}\n    volumes:\n      - data:/data\nvolumes:\n  data:\n"
                ),
            );
            s.ok(&dir, &["up", "-d"]);
            exec(
                s,
                &dir,
                "mkdir -p /srv/app/sub && echo alpha > /srv/app/a.txt && echo beta > /srv/app/sub/b.txt \
                 && chmod 640 /srv/app/a.txt && touch -d '2001-02-03 04:05:06' /srv/app/a.txt \
                 && ln -s /../../etc /srv/app/evil && echo container-etc > /etc/marker \
                 && echo in-volume > /data/v.txt",
            );
            let out = s.work.path().join("out");
            std::fs::create_dir(&out).unwrap();
            let o = |p: &str| out.join(p).to_str().unwrap().to_string();

            // A file into a directory keeps its name, mode and time.
            s.ok(&dir, &["cp", "app:/srv/app/a.txt", &o("")]);
            let meta = std::fs::metadata(out.join("a.txt")).unwrap();
            assert_eq!(read(&out.join("a.txt")), "alpha\n");
            assert_eq!(meta.mode() & 0o777, 0o640);
            assert_eq!(meta.mtime(), 981_173_106);
            // A file to a new name; a directory into a directory; `dir/.` to a new name.
            s.ok(&dir, &["cp", "app:/srv/app/a.txt", &o("renamed.txt")]);
            assert_eq!(read(&out.join("renamed.txt")), "alpha\n");
            s.ok(&dir, &["cp", "app:/srv/app", &o("")]);
            assert_eq!(read(&out.join("app/sub/b.txt")), "beta\n");
            s.ok(&dir, &["cp", "app:/srv/app/.", &o("contents")]);
            assert_eq!(read(&out.join("contents/sub/b.txt")), "beta\n");
            std::fs::create_dir(out.join("existing")).unwrap();
            s.ok(&dir, &["cp", "app:/srv/app/.", &o("existing")]);
            assert_eq!(read(&out.join("existing/a.txt")), "alpha\n");
            assert!(!out.join("existing/app").exists());
            // Volumes of a running container are seen as it sees them.
            s.ok(&dir, &["cp", "app:/data/v.txt", &o("")]);
            assert_eq!(read(&out.join("v.txt")), "in-volume\n");

            // docker's refusals.
            let err = s.fails(&dir, &["cp", "app:/srv/app/a.txt", &o("newdir/")]);
            assert!(err.contains("no such directory"), "{err}");
            let err = s.fails(&dir, &["cp", "app:/srv/app/a.txt", &o("nope/x.txt")]);
            assert!(err.contains("does not exist"), "{err}");
            let err = s.fails(&dir, &["cp", "app:/srv/app", &o("a.txt")]);
            assert!(err.contains("cannot copy a directory"), "{err}");
            let err = s.fails(&dir, &["cp", "app:/nope", &o("")]);
            assert!(
                err.contains("could not find the file /nope in container cpw-app-1"),
                "{err}"
            );

            // A symlink to /../../etc is the container's /etc, never the host's.
            s.ok(&dir, &["cp", "app:/srv/app/evil/marker", &o("marker")]);
            assert_eq!(read(&out.join("marker")), "container-etc\n");
            let secret = s.work.path().join("secret.txt");
            std::fs::write(&secret, "mine\n").unwrap();
            s.ok(
                &dir,
                &["cp", secret.to_str().unwrap(), "app:/srv/app/evil/"],
            );
            assert_eq!(exec(s, &dir, "cat /etc/secret.txt"), "mine\n");
            assert!(!Path::new("/etc/secret.txt").exists());
            // On the host, a symlink in the destination is replaced, not written through.
            let outside = s.work.path().join("outside");
            std::fs::create_dir(&outside).unwrap();
            let trap = out.join("trap");
            std::fs::create_dir(&trap).unwrap();
            std::os::unix::fs::symlink(&outside, trap.join("app")).unwrap();
            s.ok(&dir, &["cp", "app:/srv/app", trap.to_str().unwrap()]);
            assert_eq!(read(&trap.join("app/a.txt")), "alpha\n");
            assert!(std::fs::read_dir(&outside).unwrap().next().is_none());

            // Into the container: a directory to a new path, a file into a directory,
            // owners reset to root unless -a.
            let src = s.work.path().join("src");
            std::fs::create_dir_all(src.join("deep")).unwrap();
            std::fs::write(src.join("x.txt"), "ex\n").unwrap();
            std::fs::write(src.join("deep/y.txt"), "why\n").unwrap();
            std::fs::set_permissions(src.join("x.txt"), std::fs::Permissions::from_mode(0o600))
                .unwrap();
            std::os::unix::fs::chown(src.join("x.txt"), Some(1234), Some(4321)).unwrap();
            s.ok(&dir, &["cp", src.to_str().unwrap(), "app:/srv/in"]);
            assert_eq!(
                exec(
                    s,
                    &dir,
                    "cat /srv/in/x.txt /srv/in/deep/y.txt; stat -c '%u:%g %a' /srv/in/x.txt"
                ),
                "ex\nwhy\n0:0 600\n"
            );
            s.ok(
                &dir,
                &[
                    "cp",
                    "-a",
                    src.join("x.txt").to_str().unwrap(),
                    "app:/srv/app/",
                ],
            );
            assert_eq!(
                exec(s, &dir, "stat -c '%u:%g' /srv/app/x.txt"),
                "1234:4321\n"
            );
            let err = s.fails(&dir, &["cp", src.to_str().unwrap(), "app:/no/such/dir"]);
            assert!(err.contains("could not find the file"), "{err}");

            // `-`: a tar stream out, and the same stream back in.
            let tar = s.wharf(&dir, &["cp", "app:/srv/app", "-"]);
            assert!(
                tar.status.success(),
                "{}",
                String::from_utf8_lossy(&tar.stderr)
            );
            assert!(tar.stdout.starts_with(b"app"), "not a tar of app/");
            exec(s, &dir, "mkdir /srv/copy");
            let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
                .args(["cp", "-", "app:/srv/copy"])
                .current_dir(&dir)
                .env("WHARF_ROOT", s.root.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
            let done = child.wait_with_output().unwrap();
            assert!(
                done.status.success(),
                "{}",
                String::from_utf8_lossy(&done.stderr)
            );
            assert_eq!(exec(s, &dir, "cat /srv/copy/app/sub/b.txt"), "beta\n");

            // A stopped container: copied from and to through its layers.
            s.ok(&dir, &["stop", "-t", "1"]);
            s.ok(&dir, &["cp", "app:/srv/app/sub/b.txt", &o("stopped.txt")]);
            assert_eq!(read(&out.join("stopped.txt")), "beta\n");
            s.ok(
                &dir,
                &[
                    "cp",
                    src.join("x.txt").to_str().unwrap(),
                    "app:/srv/while-stopped.txt",
                ],
            );
            no_copy_mounts_left();
            s.ok(&dir, &["start"]);
            assert_eq!(exec(s, &dir, "cat /srv/while-stopped.txt"), "ex\n");
            s.ok(&dir, &["down", "-v"]);
        },
    );
}

/// The watch test's project: busybox httpd serving /var/www, synced from ./site.
const WATCH_COMPOSE: &str = r#"services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    ports:
      - "127.0.0.1:18091:8080"
    develop:
      watch:
        - path: ./site
          target: /var/www
          action: sync
          ignore:
            - "*.tmp"
"#;

/// A wharf command left running (`watch`, `up --watch`), its output collected.
struct Background {
    child: std::process::Child,
    output: Arc<Mutex<String>>,
}

impl Background {
    fn start(s: &Sandbox, dir: &Path, args: &[&str]) -> Background {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(args)
            .current_dir(dir)
            .env("WHARF_ROOT", s.root.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut all = output.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        Background { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Poll `check` until it holds; on timeout, fail showing the command's output.
    fn until<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check() {
                return value;
            }
            let exited = self.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "waiting for {what} ({}):\n{}",
                exited.map_or("timed out".to_string(), |s| format!("it exited with {s}")),
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C, then the exit status and everything it printed.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let status = eventually(
            "the command to exit after SIGINT",
            Duration::from_secs(30),
            || self.child.try_wait().unwrap(),
        );
        // Let the readers drain what is left.
        std::thread::sleep(Duration::from_millis(100));
        (status, self.output())
    }
}

#[test]
fn watch_syncs_changes_deletes_and_ignores_and_exits_on_sigint() {
    sandboxed(
        "copy_watch::watch_syncs_changes_deletes_and_ignores_and_exits_on_sigint",
        |s| {
            s.import_busybox();
            let plain = s.project("plain", "services:\n  app:\n    image: busybox\n");
            let err = s.fails(&plain, &["watch"]);
            assert!(
                err.contains("none of the selected services is configured for watch"),
                "{err}"
            );
            let dir = s.project("wat", WATCH_COMPOSE);
            let site = dir.join("site");
            std::fs::create_dir(&site).unwrap();
            std::fs::write(site.join("index.html"), "first\n").unwrap();
            s.ok(&dir, &["up", "-d"]);

            let mut watch = Background::start(s, &dir, &["watch"]);
            let get = |path: &str| http_get("127.0.0.1:18091", path);
            let enabled = watch.output.clone();
            watch.until("Watch enabled", Duration::from_secs(30), || {
                enabled
                    .lock()
                    .unwrap()
                    .contains("Watch enabled")
                    .then_some(())
            });
            std::fs::write(site.join("index.html"), "second\n").unwrap();
            watch.until("the change to be served", Duration::from_secs(30), || {
                get("/index.html").filter(|r| r.contains("second"))
            });
            std::fs::create_dir(site.join("css")).unwrap();
            std::fs::write(site.join("css/site.css"), "body{}\n").unwrap();
            std::fs::write(site.join("draft.tmp"), "secret\n").unwrap();
            watch.until(
                "a new file in a new directory",
                Duration::from_secs(30),
                || get("/css/site.css").filter(|r| r.contains("body{}")),
            );
            let tmp = get("/draft.tmp").unwrap_or_default();
            assert!(tmp.contains("404"), "an ignored file was synced: {tmp}");
            std::fs::remove_file(site.join("index.html")).unwrap();
            watch.until("the deletion", Duration::from_secs(30), || {
                get("/index.html").filter(|r| r.contains("404"))
            });

            let (status, all) = watch.interrupt();
            assert!(status.success(), "watch exited with {status}: {all}");
            assert!(all.contains("Syncing service \"web\" after"), "{all}");
            // `watch` leaves the containers running.
            assert!(get("/css/site.css").is_some_and(|r| r.contains("body{}")));
            s.ok(&dir, &["down"]);
        },
    );
}

const REBUILD_COMPOSE: &str = r#"services:
  web:
    build: .
    ports:
      - "127.0.0.1:18092:8080"
    develop:
      watch:
        - path: ./page.html
          action: rebuild
"#;

#[test]
fn up_watch_rebuilds_and_recreates_on_change() {
    sandboxed(
        "copy_watch::up_watch_rebuilds_and_recreates_on_change",
        |s| {
            s.import_busybox();
            let dir = s.project("reb", REBUILD_COMPOSE);
            std::fs::write(
            dir.join("Dockerfile"),
            "FROM busybox\nCOPY page.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-v\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        )
        .unwrap();
            std::fs::write(dir.join("page.html"), "version one\n").unwrap();
            let mut up = Background::start(s, &dir, &["up", "--watch"]);
            let get = || http_get("127.0.0.1:18092", "/");
            up.until("the first version", Duration::from_secs(120), || {
                get().filter(|r| r.contains("version one"))
            });
            let enabled = up.output.clone();
            up.until("Watch enabled", Duration::from_secs(30), || {
                enabled
                    .lock()
                    .unwrap()
                    .contains("Watch enabled")
                    .then_some(())
            });
            let before = s.ok(&dir, &["ps", "-q"]);
            std::fs::write(dir.join("page.html"), "version two\n").unwrap();
            up.until("the rebuilt version", Duration::from_secs(120), || {
                get().filter(|r| r.contains("version two"))
            });
            let after = s.ok(&dir, &["ps", "-q"]);
            assert_ne!(
                before.trim(),
                after.trim(),
                "the container was not recreated"
            );
            // The new container's output is followed too (httpd -v logs requests).
            let followed = up.output.clone();
            up.until("the new container's log", Duration::from_secs(30), || {
                get();
                let all = followed.lock().unwrap().clone();
                let (_, after) = all.split_once("successfully built")?;
                after
                    .lines()
                    .any(|l| l.starts_with("web-1") && l.contains("response:200"))
                    .then_some(())
            });

            let (status, all) = up.interrupt();
            assert!(status.success(), "up --watch exited with {status}: {all}");
            assert!(all.contains("Rebuilding service \"web\""), "{all}");
            assert!(all.contains("Gracefully stopping"), "{all}");
            // up --watch stops the containers on Ctrl-C.
            let ps = s.ok(&dir, &["ps", "-q"]);
            assert!(ps.trim().is_empty(), "still running: {ps}");
            s.ok(&dir, &["down"]);
        },
    );
}

#[test]
fn watch_initial_sync_copies_the_whole_path_first() {
    sandboxed(
        "copy_watch::watch_initial_sync_copies_the_whole_path_first",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "isync",
                &format!(
                    r#"services:
  app:
    image: busybox
    command: {LOOP}
    develop:
      watch:
        - path: ./src
          target: /app
          action: sync+restart
          initial_sync: true
          ignore:
            - "*.tmp"
        - path: ./later
          target: /later
          action: sync
"#
                ),
            );
            std::fs::create_dir_all(dir.join("src/sub")).unwrap();
            std::fs::write(dir.join("src/a.txt"), "alpha\n").unwrap();
            std::fs::write(dir.join("src/sub/b.txt"), "beta\n").unwrap();
            std::fs::write(dir.join("src/draft.tmp"), "draft\n").unwrap();
            std::fs::create_dir_all(dir.join("later")).unwrap();
            std::fs::write(dir.join("later/c.txt"), "gamma\n").unwrap();
            let config = s.ok(&dir, &["config"]);
            assert!(config.contains("initial_sync: true"), "{config}");
            s.ok(&dir, &["up", "-d"]);
            let before = exec(s, &dir, "ls /app 2>&1 || true");
            assert!(before.contains("No such file"), "{before}");

            let mut watch = Background::start(s, &dir, &["watch"]);
            let enabled = watch.output.clone();
            watch.until("Watch enabled", Duration::from_secs(30), || {
                enabled
                    .lock()
                    .unwrap()
                    .contains("Watch enabled")
                    .then_some(())
            });
            // Copied before watching began, with no file event.
            let copied = exec(
                s,
                &dir,
                "cat /app/a.txt /app/sub/b.txt; ls /app; ls /later 2>&1 || true",
            );
            assert!(copied.starts_with("alpha\nbeta\n"), "{copied}");
            assert!(!copied.contains("draft.tmp"), "an ignored file: {copied}");
            assert!(
                copied.contains("/later: No such file"),
                "a rule without initial_sync: {copied}"
            );
            let (status, all) = watch.interrupt();
            assert!(status.success(), "watch exited with {status}: {all}");
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}
