//! Registry credentials in Docker's client config file (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`), looked up as Docker does: the credential helper
//! of `credHelpers[registry]`, else the one of `credsStore`, else
//! `auths[registry]` (`auth`: base64("user:pass"), or an `identitytoken`).
//! Other keys of the file are kept as they are; the file is rewritten atomically
//! with mode 0600. Docker Hub's key is `https://index.docker.io/v1/`, others are
//! `host[:port]`, as Docker's.
//!
//! The caller finds the directory ([`config_dir`] takes the environment as
//! arguments); helpers are found on the process's `PATH`.

use crate::credhelper::{CredentialHelper, IDENTITY_TOKEN_USER};
use crate::error::ImageError;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Docker Hub's key in `auths`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user name and password (or token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The identity (refresh) token, when these credentials are one
    /// (user name `<token>`, as credential helpers answer).
    pub fn identity_token(&self) -> Option<&str> {
        (self.username == IDENTITY_TOKEN_USER).then_some(self.password.as_str())
    }

    /// `Basic base64(user:password)`.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", self.encoded())
    }

    fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }
}

/// The directory of the client config: `docker_config` (the value of `DOCKER_CONFIG`)
/// if set, else `home/.docker`.
pub fn config_dir(docker_config: Option<&str>, home: Option<&str>) -> PathBuf {
    match docker_config.filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => Path::new(home.unwrap_or("/root")).join(".docker"),
    }
}

/// The key of a registry domain in `auths`.
pub fn auth_key(domain: &str) -> String {
    if domain == crate::reference::DEFAULT_DOMAIN
        || domain == "index.docker.io"
        || domain == "registry-1.docker.io"
    {
        DOCKER_HUB_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// Host part of an `auths` key (`https://host/v1/` → `host`).
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The client config file.
#[derive(Debug)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
    helper_timeout: Duration,
    helper_search_path: Option<OsString>,
}

impl DockerConfig {
    /// Read `dir/config.json`; a missing file is an empty config.
    pub fn load(dir: &Path) -> Result<Self, ImageError> {
        let path = dir.join("config.json");
        let doc = match fs::read(&path) {
            Ok(data) if data.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(data) => match serde_json::from_slice::<Value>(&data) {
                Ok(Value::Object(m)) => m,
                Ok(_) | Err(_) => {
                    return Err(ImageError::Credentials {
                        path,
                        reason: "it is not a JSON object; fix or remove it".into(),
                    })
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(ImageError::io("read", &path, e)),
        };
        Ok(DockerConfig {
            path,
            doc,
            helper_timeout: crate::credhelper::DEFAULT_TIMEOUT,
            helper_search_path: None,
        })
    }

    /// How long a credential helper may take per call (30 s unless set).
    pub fn set_helper_timeout(&mut self, timeout: Duration) {
        self.helper_timeout = timeout;
    }

    /// Where credential helpers are looked for instead of the process's `PATH`.
    pub fn set_helper_search_path(&mut self, dirs: OsString) {
        self.helper_search_path = Some(dirs);
    }

    /// The credential helper that keeps `domain`'s credentials, if one is
    /// configured: `credHelpers[key]`, else `credsStore`.
    pub fn helper_for(&self, domain: &str) -> Option<CredentialHelper> {
        let key = auth_key(domain);
        let per_registry = self
            .doc
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|helpers| {
                helpers
                    .get_key_value(&key)
                    .or_else(|| helpers.iter().find(|(k, _)| key_host(k) == key_host(&key)))
            })
            .and_then(|(k, v)| Some((k, v.as_str().filter(|n| !n.is_empty())?)))
            .map(|(k, name)| CredentialHelper::new(name, &format!("credHelpers[{k:?}]")));
        let helper = per_registry.or_else(|| {
            self.doc
                .get("credsStore")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(|name| CredentialHelper::new(name, "credsStore"))
        })?;
        Some(CredentialHelper {
            config_key: format!("{} in {}", helper.config_key, self.path.display()),
            timeout: self.helper_timeout,
            search_path: self.helper_search_path.clone(),
            ..helper
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// Credentials stored for `domain`, if any: from its credential helper when
    /// one is configured, else from `auths`.
    pub fn credentials(&self, domain: &str) -> Result<Option<Credentials>, ImageError> {
        let key = auth_key(domain);
        if let Some(helper) = self.helper_for(domain) {
            return helper.get(&key);
        }
        let Some(auths) = self.auths() else {
            return Ok(None);
        };
        let entry = auths.get(&key).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| key_host(k) == key_host(&key))
                .map(|(_, v)| v)
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
        if let Some(token) = entry
            .get("identitytoken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            return Ok(Some(Credentials {
                username: IDENTITY_TOKEN_USER.to_string(),
                password: token.to_string(),
            }));
        }
        if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
            if auth.is_empty() {
                return Ok(None);
            }
            let bad = |reason: &str| ImageError::Credentials {
                path: self.path.clone(),
                reason: format!(
                    "the entry for {key} {reason}; log in again with \"wharf login {domain}\""
                ),
            };
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("is not valid base64"))?;
            let text = String::from_utf8(raw).map_err(|_| bad("is not UTF-8 text"))?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| bad("is not of the form user:password"))?;
            return Ok(Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }));
        }
        match (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            (Some(u), Some(p)) => Ok(Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            })),
            _ => Ok(None),
        }
    }

    /// Store credentials for `domain` (replacing any) and write the file. With a
    /// credential helper the secret goes to the helper and `auths` keeps only an
    /// empty entry for the registry, as Docker's.
    pub fn store(&mut self, domain: &str, creds: &Credentials) -> Result<(), ImageError> {
        let helper = self.helper_for(domain);
        if let Some(helper) = &helper {
            helper.store(&auth_key(domain), creds)?;
        }
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        let mut entry = Map::new();
        if helper.is_none() {
            entry.insert("auth".into(), Value::String(creds.encoded()));
        }
        if let Some(m) = auths.as_object_mut() {
            m.insert(auth_key(domain), Value::Object(entry));
        }
        self.save()
    }

    /// Remove the credentials of `domain`, from its credential helper too when one
    /// is configured; returns whether there were any.
    pub fn remove(&mut self, domain: &str) -> Result<bool, ImageError> {
        let key = auth_key(domain);
        let erased = match self.helper_for(domain) {
            Some(helper) => helper.erase(&key)?,
            None => false,
        };
        let removed = match self.doc.get_mut("auths").and_then(Value::as_object_mut) {
            Some(m) => {
                let keys: Vec<String> = m
                    .keys()
                    .filter(|k| **k == key || key_host(k) == key_host(&key))
                    .cloned()
                    .collect();
                keys.iter().for_each(|k| {
                    m.remove(k);
                });
                !keys.is_empty()
            }
            None => false,
        };
        if removed {
            self.save()?;
        }
        Ok(removed || erased)
    }

    /// Write the file atomically with mode 0600 (its directory 0700 when created).
    fn save(&self) -> Result<(), ImageError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|e| ImageError::io("create directory", dir, e))?;
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
        let mut data =
            serde_json::to_vec_pretty(&Value::Object(self.doc.clone())).map_err(|e| {
                ImageError::Credentials {
                    path: self.path.clone(),
                    reason: format!("cannot serialize it: {e}"),
                }
            })?;
        data.push(b'\n');
        let tmp = dir.join(format!(
            ".config.json{}{}",
            crate::fsutil::TMP_MARK,
            crate::fsutil::unique_suffix()
        ));
        let write = || -> io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            ImageError::io("write", &self.path, e)
        })?;
        fs::set_permissions(&self.path, fs::Permissions::from_mode(0o600))
            .map_err(|e| ImageError::io("set mode 0600 on", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_other_keys_and_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("docker");
        fs::create_dir(&dir).unwrap();
        fs::write(
            dir.join("config.json"),
            r#"{"auths":{"other:5000":{"auth":"dTpw"}},"psFormat":"x"}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load(&dir).unwrap();
        assert_eq!(
            c.credentials("other:5000").unwrap(),
            Some(Credentials {
                username: "u".into(),
                password: "p".into()
            })
        );
        let creds = Credentials {
            username: "me".into(),
            password: "s3:cret".into(),
        };
        c.store("docker.io", &creds).unwrap();
        c.store("127.0.0.1:5000", &creds).unwrap();
        let c = DockerConfig::load(&dir).unwrap();
        assert_eq!(c.credentials("docker.io").unwrap(), Some(creds.clone()));
        assert_eq!(c.credentials("127.0.0.1:5000").unwrap(), Some(creds));
        let text = fs::read_to_string(dir.join("config.json")).unwrap();
        assert!(text.contains("https://index.docker.io/v1/"), "{text}");
        assert!(text.contains("psFormat"), "{text}");
        let mode = fs::metadata(dir.join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut c = DockerConfig::load(&dir).unwrap();
        assert!(c.remove("docker.io").unwrap());
        assert!(!c.remove("docker.io").unwrap());
        assert_eq!(c.credentials("docker.io").unwrap(), None);
    }

    #[test]
    fn bad_entries_say_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(
            tmp.path().join("config.json"),
            r#"{"auths":{"h":{"auth":"!!!"}}}"#,
        )
        .unwrap();
        let e = DockerConfig::load(tmp.path())
            .unwrap()
            .credentials("h")
            .unwrap_err();
        assert!(e.to_string().contains("wharf login h"), "{e}");
        fs::write(tmp.path().join("config.json"), "[1]").unwrap();
        assert!(DockerConfig::load(tmp.path()).is_err());
        assert_eq!(config_dir(Some("/x"), Some("/home/u")), PathBuf::from("/x"));
        assert_eq!(
            config_dir(None, Some("/home/u")),
            PathBuf::from("/home/u/.docker")
        );
    }

    #[test]
    fn registry_keys_are_normalised_as_docker_does() {
        for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(auth_key(hub), DOCKER_HUB_KEY);
        }
        assert_eq!(auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(auth_key("ghcr.io"), "ghcr.io");
        assert_eq!(key_host(DOCKER_HUB_KEY), "index.docker.io");
        assert_eq!(key_host("http://reg.lan:5000/v2/"), "reg.lan:5000");
    }

    use wharf_testkit::credhelper::FakeCredentialHelper;

    fn with_helpers(
        text: &str,
        helpers: &[&FakeCredentialHelper],
    ) -> (tempfile::TempDir, DockerConfig) {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("config.json"), text).unwrap();
        let mut config = DockerConfig::load(tmp.path()).unwrap();
        let dirs = std::env::join_paths(helpers.iter().map(|h| h.bin_dir())).unwrap();
        config.set_helper_search_path(dirs);
        (tmp, config)
    }

    fn creds(u: &str, p: &str) -> Option<Credentials> {
        Some(Credentials {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn lookup_order_is_cred_helpers_then_creds_store_then_auths() {
        let one = FakeCredentialHelper::install("one");
        let two = FakeCredentialHelper::install("two");
        one.seed("reg.a:5000", "from-one", "s1");
        two.seed("reg.a:5000", "from-two", "s2");
        two.seed("reg.b", "from-two", "s3");
        two.seed(DOCKER_HUB_KEY, "hub-user", "s4");
        let text = r#"{"credHelpers":{"reg.a:5000":"one"},"credsStore":"two",
            "auths":{"reg.a:5000":{"auth":"dTpw"},"reg.b":{"auth":"dTpw"},"reg.c":{"auth":"dTpw"}}}"#;
        let (_tmp, config) = with_helpers(text, &[&one, &two]);
        assert_eq!(
            config.credentials("reg.a:5000").unwrap(),
            creds("from-one", "s1")
        );
        assert_eq!(
            config.credentials("reg.b").unwrap(),
            creds("from-two", "s3")
        );
        assert_eq!(
            config.credentials("docker.io").unwrap(),
            creds("hub-user", "s4")
        );
        // The store answers "not found": nothing, as docker (auths is not consulted).
        assert_eq!(config.credentials("reg.c").unwrap(), None);
        assert!(two
            .calls()
            .contains(&"get https://index.docker.io/v1/".to_string()));

        // Without a store, auths: user:password, or an identity token.
        let text = r#"{"credHelpers":{"reg.a:5000":"one"},
            "auths":{"reg.a:5000":{"auth":"dTpw"},"reg.c":{"auth":"dTpw"},"reg.d":{"auth":"dTo=","identitytoken":"refresh-me"}}}"#;
        let (_tmp, config) = with_helpers(text, &[&one, &two]);
        assert_eq!(
            config.credentials("reg.a:5000").unwrap(),
            creds("from-one", "s1")
        );
        assert_eq!(config.credentials("reg.c").unwrap(), creds("u", "p"));
        let token = config.credentials("reg.d").unwrap().unwrap();
        assert_eq!(token.identity_token(), Some("refresh-me"));
        assert_eq!(config.credentials("reg.b").unwrap(), None);
    }

    #[test]
    fn helper_answering_token_user_gives_an_identity_token() {
        let h = FakeCredentialHelper::install("tok");
        h.seed("reg.t", "<token>", "the-refresh-token");
        let (_tmp, config) = with_helpers(r#"{"credsStore":"tok"}"#, &[&h]);
        let c = config.credentials("reg.t").unwrap().unwrap();
        assert_eq!(c.identity_token(), Some("the-refresh-token"));
    }

    #[test]
    fn store_and_remove_go_through_the_helper() {
        let h = FakeCredentialHelper::install("keep");
        let (tmp, mut config) = with_helpers(r#"{"credHelpers":{"127.0.0.1:5000":"keep"}}"#, &[&h]);
        let secret = creds("me", "pa55word").unwrap();
        config.store("127.0.0.1:5000", &secret).unwrap();
        assert_eq!(
            h.secrets(),
            vec![("127.0.0.1:5000".into(), "me".into(), "pa55word".into())]
        );
        let path = tmp.path().join("config.json");
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("pa55word") && !text.contains("\"auth\""),
            "{text}"
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            doc["auths"]["127.0.0.1:5000"],
            serde_json::json!({}),
            "{text}"
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(config.credentials("127.0.0.1:5000").unwrap(), Some(secret));
        let listed = config.helper_for("127.0.0.1:5000").unwrap().list().unwrap();
        assert_eq!(listed.get("127.0.0.1:5000").map(String::as_str), Some("me"));
        // A registry without a helper still goes to auths.
        config.store("other", &creds("o", "p").unwrap()).unwrap();
        assert_eq!(h.secrets().len(), 1);
        assert!(config.remove("127.0.0.1:5000").unwrap());
        assert!(h.secrets().is_empty());
        assert_eq!(config.credentials("127.0.0.1:5000").unwrap(), None);
        assert!(!config.remove("127.0.0.1:5000").unwrap());
    }

    #[test]
    fn helper_errors_say_which_helper_and_key() {
        let h = FakeCredentialHelper::install("flaky");
        let (_tmp, mut config) = with_helpers(
            r#"{"credsStore":"absent","credHelpers":{"reg.f":"flaky"}}"#,
            &[&h],
        );
        let e = config.credentials("reg.x").unwrap_err().to_string();
        assert!(
            e.contains("docker-credential-absent")
                && e.contains("credsStore")
                && e.contains("not on PATH"),
            "{e}"
        );

        h.fail_with("the keychain is locked");
        let e = config.credentials("reg.f").unwrap_err().to_string();
        assert!(
            e.contains("docker-credential-flaky") && e.contains("credHelpers[\"reg.f\"]"),
            "{e}"
        );
        assert!(e.contains("the keychain is locked"), "{e}");

        h.recover();
        h.hang();
        config.set_helper_timeout(std::time::Duration::from_millis(300));
        let started = std::time::Instant::now();
        let e = config.credentials("reg.f").unwrap_err().to_string();
        assert!(e.contains("did not finish within 0.3 s"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
