//! Secrets and configs end to end: files from `file:`, `environment:` and
//! `content:` sources appear read-only at their targets with their owner
//! and mode, their content stays out of the container's writable layer, its
//! log and the state files, a changed secret recreates the container, and a
//! missing source file fails `up` before anything is created.

use crate::harness::{sandboxed, Sandbox};
use std::path::Path;

const COMPOSE: &str = r#"
services:
  app:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; echo started; while :; do sleep 1 & wait; done"]
    secrets:
      - token
      - source: api_key
        target: keys/api
        uid: "1000"
        gid: "1001"
        mode: 0400
    configs:
      - source: app_conf
        target: /etc/app.conf
      - motd
secrets:
  token:
    file: ./token.txt
  api_key:
    environment: API_KEY
configs:
  app_conf:
    content: "level=debug"
  motd:
    file: ./motd.txt
"#;

/// Every regular file below `dir` whose content holds `needle`, except
/// those under a directory named `skip`.
fn files_holding(dir: &Path, needle: &[u8], skip: &str, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if entry.file_name() != skip {
                files_holding(&path, needle, skip, found);
            }
        } else if kind.is_file() {
            let content = std::fs::read(&path).unwrap_or_default();
            if content.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
}

fn app_id(s: &Sandbox, dir: &Path) -> String {
    s.ok(dir, &["ps", "-q", "app"]).trim().to_string()
}

#[test]
fn secrets_and_configs_are_mounted_read_only_and_never_stored_in_the_container() {
    sandboxed(
        "secrets::secrets_and_configs_are_mounted_read_only_and_never_stored_in_the_container",
        |s| {
            s.import_busybox();
            let dir = s.project("sec", COMPOSE);
            std::fs::write(dir.join("token.txt"), "token-one-7f3a").unwrap();
            std::fs::write(dir.join("motd.txt"), "welcome\n").unwrap();
            std::fs::write(dir.join(".env"), "API_KEY=key-from-env-91c2\n").unwrap();
            s.ok(&dir, &["up", "-d"]);
            let exec = |script: &str| s.ok(&dir, &["exec", "app", "sh", "-c", script]);

            assert_eq!(exec("cat /run/secrets/token"), "token-one-7f3a");
            assert_eq!(exec("cat /run/secrets/keys/api"), "key-from-env-91c2");
            assert_eq!(exec("cat /etc/app.conf"), "level=debug");
            assert_eq!(exec("cat /motd"), "welcome\n");
            let stat = |path: &str| exec(&format!("stat -c '%a %u %g' {path}"));
            assert_eq!(stat("/run/secrets/token").trim(), "444 0 0");
            assert_eq!(stat("/run/secrets/keys/api").trim(), "400 1000 1001");
            assert_eq!(stat("/etc/app.conf").trim(), "444 0 0");

            // Read-only, even for root in the container.
            for path in ["/run/secrets/token", "/etc/app.conf"] {
                let out = s.wharf(
                    &dir,
                    &["exec", "app", "sh", "-c", &format!("echo x > {path}")],
                );
                assert_ne!(out.status.code(), Some(0), "{path} is writable");
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
                    "{out:?}"
                );
            }
            let mounts = exec("cat /proc/mounts");
            let token = mounts
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some("/run/secrets/token"))
                .unwrap_or_else(|| panic!("no mount on /run/secrets/token: {mounts}"));
            assert!(
                token.split_whitespace().nth(3).unwrap().starts_with("ro"),
                "{token}"
            );

            // The content is nowhere in the state root but the container's
            // files directory: not in its upper (writable) directory, its
            // log, its config or its state.
            exec("echo still > /run/note");
            s.ok(&dir, &["logs", "app"]);
            for secret in ["token-one-7f3a", "key-from-env-91c2"] {
                let mut found = Vec::new();
                files_holding(s.root.path(), secret.as_bytes(), "files", &mut found);
                assert!(found.is_empty(), "{secret} stored in {found:?}");
            }
            let containers = s.root.path().join("containers");
            let id = app_id(s, &dir);
            let container = std::fs::read_dir(&containers)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&id))
                .expect("the container's state directory");
            assert_eq!(
                std::fs::read_to_string(container.join("upper/run/note")).unwrap(),
                "still\n",
                "the upper directory is where container writes land"
            );
            {
                use std::os::unix::fs::MetadataExt;
                let files = std::fs::metadata(container.join("files")).unwrap();
                assert_eq!(files.mode() & 0o777, 0o700, "only root may enter");
            }

            // Same content: nothing to do. A changed secret: recreated.
            s.ok(&dir, &["up", "-d"]);
            assert_eq!(app_id(s, &dir), id);
            std::fs::write(dir.join("token.txt"), "token-two-c0de").unwrap();
            s.ok(&dir, &["up", "-d"]);
            assert_ne!(app_id(s, &dir), id, "a changed secret recreates");
            assert_eq!(exec("cat /run/secrets/token"), "token-two-c0de");
            s.ok(&dir, &["down"]);
        },
    );
}

#[test]
fn a_missing_secret_file_fails_up_before_anything_is_created() {
    sandboxed(
        "secrets::a_missing_secret_file_fails_up_before_anything_is_created",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "nosecret",
                r#"
services:
  app:
    image: busybox
    command: [sleep, "60"]
    secrets: [db_password]
secrets:
  db_password:
    file: ./missing/password.txt
"#,
            );
            let err = s.fails(&dir, &["up", "-d"]);
            let path = dir.join("missing/password.txt");
            assert!(
                err.contains("service \"app\"")
                    && err.contains("secret \"db_password\"")
                    && err.contains(&path.display().to_string()),
                "{err}"
            );
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
            let networks = s.ok(&dir, &["network", "ls"]);
            assert!(!networks.contains("nosecret_default"), "{networks}");

            let dir = s.project(
                "external",
                "services:\n  app:\n    image: busybox\n    secrets: [vault]\nsecrets:\n  vault:\n    external: true\n",
            );
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(err.contains("secret \"vault\" is external"), "{err}");
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
        },
    );
}
