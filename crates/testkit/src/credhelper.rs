//! A fake docker credential helper for tests: a shell script
//! `docker-credential-<name>` in a directory of its own, keeping its secrets as
//! JSON lines (`{"Secret","ServerURL","Username"}`) next to it and logging every
//! call. Creating `<name>-fail` (its content is printed to stderr) makes it fail;
//! creating `<name>-hang` makes it hang.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A fake helper installed in a temporary directory (removed on drop).
pub struct FakeCredentialHelper {
    /// The helper's name (the program is `docker-credential-<name>`).
    pub name: String,
    /// The directory holding the program: put it on `PATH`.
    pub dir: tempfile::TempDir,
}

const SCRIPT: &str = r#"#!/bin/sh
# Fake docker credential helper of wharf's tests.
here=$(dirname "$0")
store="$here/NAME-secrets.jsonl"
touch "$store"
input=$(cat)
printf '%s %s\n' "$1" "$input" >> "$here/NAME-calls.log"
if [ -f "$here/NAME-fail" ]; then cat "$here/NAME-fail" >&2; exit 1; fi
if [ -f "$here/NAME-hang" ]; then exec sleep 600; fi
case "$1" in
get)
    line=$(grep -F "\"ServerURL\":\"$input\"" "$store" | tail -n 1)
    if [ -z "$line" ]; then echo "credentials not found in native keychain"; exit 1; fi
    printf '%s\n' "$line" ;;
store)
    url=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
    { grep -vF "\"ServerURL\":\"$url\"" "$store"; printf '%s\n' "$input"; } > "$store.new"
    mv "$store.new" "$store" ;;
erase)
    if ! grep -qF "\"ServerURL\":\"$input\"" "$store"; then
        echo "credentials not found in native keychain"; exit 1
    fi
    grep -vF "\"ServerURL\":\"$input\"" "$store" > "$store.new"
    mv "$store.new" "$store" ;;
list)
    printf '{%s}\n' "$(sed -n 's/.*"ServerURL":"\([^"]*\)".*"Username":"\([^"]*\)".*/"\1":"\2"/p' "$store" | paste -sd, -)" ;;
*)
    echo "unknown command: $1" >&2; exit 2 ;;
esac
"#;

impl FakeCredentialHelper {
    /// Install `docker-credential-<name>` in a fresh temporary directory.
    pub fn install(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wharf-credhelper-")
            .tempdir()
            .expect("create a directory for the fake credential helper");
        let program = dir.path().join(format!("docker-credential-{name}"));
        std::fs::write(&program, SCRIPT.replace("NAME", name)).expect("write the fake helper");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))
            .expect("make the fake helper executable");
        FakeCredentialHelper {
            name: name.to_string(),
            dir,
        }
    }

    /// The directory to put first on `PATH`.
    pub fn bin_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `PATH` with the helper's directory first.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        )
    }

    fn file(&self, suffix: &str) -> PathBuf {
        self.dir.path().join(format!("{}-{suffix}", self.name))
    }

    /// Keep `username`/`secret` for `server_url`, as `store` would.
    pub fn seed(&self, server_url: &str, username: &str, secret: &str) {
        let line =
            serde_json::json!({"ServerURL": server_url, "Username": username, "Secret": secret});
        let path = self.file("secrets.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!("{line}\n"));
        std::fs::write(&path, text).expect("write the fake helper's secrets");
    }

    /// Every secret it keeps: (server URL, user name, secret).
    pub fn secrets(&self) -> Vec<(String, String, String)> {
        std::fs::read_to_string(self.file("secrets.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                (field("ServerURL"), field("Username"), field("Secret"))
            })
            .collect()
    }

    /// Its calls so far, one line each: the command and its standard input.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.file("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// From now on, fail every call, printing `message` to stderr.
    pub fn fail_with(&self, message: &str) {
        std::fs::write(self.file("fail"), message).expect("write the failure flag");
    }

    /// From now on, hang on every call.
    pub fn hang(&self) {
        std::fs::write(self.file("hang"), "").expect("write the hang flag");
    }

    /// Behave again.
    pub fn recover(&self) {
        let _ = std::fs::remove_file(self.file("fail"));
        let _ = std::fs::remove_file(self.file("hang"));
    }
}
