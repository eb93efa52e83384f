//! Registry credentials in Docker's client config file (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`): `{"auths": {"host": {"auth": base64("user:pass")}}}`.
//! Other keys of the file are kept as they are; the file is rewritten atomically
//! with mode 0600. Docker Hub's key is `https://index.docker.io/v1/`, as Docker's.
//!
//! The caller finds the directory ([`config_dir`] takes the environment as
//! arguments); nothing here reads the environment.

use crate::error::ImageError;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
        Ok(DockerConfig { path, doc })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// Credentials stored for `domain`, if any. A credential helper (`credsStore`)
    /// is not run; its entries count as absent.
    pub fn credentials(&self, domain: &str) -> Result<Option<Credentials>, ImageError> {
        let Some(auths) = self.auths() else {
            return Ok(None);
        };
        let key = auth_key(domain);
        let entry = auths.get(&key).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| key_host(k) == key_host(&key))
                .map(|(_, v)| v)
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
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

    /// Store credentials for `domain` (replacing any) and write the file.
    pub fn store(&mut self, domain: &str, creds: &Credentials) -> Result<(), ImageError> {
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(creds.encoded()));
        if let Some(m) = auths.as_object_mut() {
            m.insert(auth_key(domain), Value::Object(entry));
        }
        self.save()
    }

    /// Remove the credentials of `domain`; returns whether there were any.
    pub fn remove(&mut self, domain: &str) -> Result<bool, ImageError> {
        let key = auth_key(domain);
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
        Ok(removed)
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
}
