//! `ADD` from `http://` and `https://` URLs, as docker does it: the file is
//! downloaded with the registry client's HTTP agent (verified TLS; plain http
//! allowed, as docker allows it for ADD), hashed while it is written, checked
//! against `--checksum`, and never extracted. Its name comes from the last
//! segment of the URL's path; its modification time from `Last-Modified`.
//! Git URLs are refused by name.

use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// A `--checksum` value that is not a sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ADD --checksum={value:?}: {reason}")]
pub struct ChecksumError {
    /// The value as given.
    pub value: String,
    /// What is wrong and what to write.
    pub reason: &'static str,
}

/// Why a download failed; the caller adds the URL and the Dockerfile line.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request could not be made or answered (DNS, connection, TLS).
    #[error("cannot download it: {source}")]
    Request {
        #[source]
        source: Box<ureq::Error>,
    },
    /// The server answered with an error status.
    #[error("cannot download it: the server answered HTTP {status} {reason}")]
    Status { status: u16, reason: String },
    /// The body broke off.
    #[error("the download failed: {source}")]
    Read {
        #[source]
        source: io::Error,
    },
    /// The file could not be created or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Write {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Whether an ADD source is an HTTP(S) URL.
pub fn is_url(src: &str) -> bool {
    let lower = src.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Whether an ADD source names a Git repository (docker clones those).
pub fn is_git(src: &str) -> bool {
    let lower = src.to_ascii_lowercase();
    if lower.starts_with("git@") || lower.starts_with("git://") || lower.starts_with("ssh://") {
        return true;
    }
    if !is_url(src) {
        return false;
    }
    let path = lower.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/').ends_with(".git")
}

/// The path part of a URL (`/a/b.tar.gz`), without query and fragment.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/').map_or("", |i| &rest[i..])
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file name docker gives a download: the last non-empty segment of the URL's
/// path (percent-decoded). `None` when the path has none (`https://example.com/`)
/// or it cannot name a file.
pub fn file_name(url: &str) -> Option<String> {
    let segment = url_path(url).split('/').rfind(|s| !s.is_empty())?;
    let name = percent_decode(segment)?;
    let bad = name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']);
    (!bad).then_some(name)
}

/// `--checksum=sha256:<64 hex digits>`, checked.
pub fn parse_checksum(value: &str) -> Result<String, ChecksumError> {
    let bad = |reason| ChecksumError {
        value: value.to_string(),
        reason,
    };
    let (algo, hex) = value.split_once(':').unwrap_or(("", value));
    if algo != "sha256" {
        return Err(bad("give a sha256 digest, sha256:<64 hex digits>"));
    }
    if hex.len() != 64
        || !hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(bad("a sha256 digest has 64 lower-case hex digits"));
    }
    Ok(value.to_string())
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// `sha256:` of its content.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// `Last-Modified` as unix seconds, when the server sent a valid one.
    pub mtime: Option<i64>,
}

/// Download `url` into the new file `dest`. The error says what failed (the
/// caller adds the URL and the Dockerfile line).
pub fn fetch(url: &str, dest: &Path) -> Result<Fetched, FetchError> {
    let agent = crate::registry::agent(true);
    let mut resp = agent.get(url).call().map_err(|e| FetchError::Request {
        source: Box::new(e),
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
        });
    }
    let mtime = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    let write_err = |action| {
        move |source| FetchError::Write {
            action,
            path: dest.to_path_buf(),
            source,
        }
    };
    let mut file = File::create(dest).map_err(write_err("create"))?;
    let mut hasher = Sha256::new();
    let mut reader = resp.body_mut().as_reader();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|source| FetchError::Read { source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(write_err("write"))?;
        size += n as u64;
    }
    file.flush().map_err(write_err("write"))?;
    Ok(Fetched {
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        size,
        mtime,
    })
}

/// An HTTP date in its preferred form (`Sun, 06 Nov 1994 08:49:37 GMT`) as unix
/// seconds; the obsolete forms give `None`.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_weekday, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|n| n == month)? + 1;
    let day: u32 = day.parse().ok()?;
    let year: u32 = year.parse().ok()?;
    if time.len() != 8 {
        return None;
    }
    crate::oci::parse_rfc3339(&format!("{year:04}-{m:02}-{day:02}T{time}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_url_path() {
        assert_eq!(
            file_name("https://example.com/dl/tool-1.2.tar.gz").as_deref(),
            Some("tool-1.2.tar.gz")
        );
        assert_eq!(
            file_name("http://127.0.0.1:8080/files/?x=1#frag").as_deref(),
            Some("files")
        );
        assert_eq!(
            file_name("http://h/a%20b.txt?v=2").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(file_name("https://example.com/"), None);
        assert_eq!(file_name("https://example.com"), None);
        assert_eq!(file_name("http://h/x/%2e%2e"), None);
        assert_eq!(file_name("http://h/a%2Fb"), None);
    }

    #[test]
    fn git_urls_and_plain_urls() {
        assert!(is_url("HTTPS://example.com/x"));
        assert!(!is_url("ftp://example.com/x"));
        assert!(is_git("https://github.com/moby/buildkit.git#v0.10.1"));
        assert!(is_git("git@github.com:moby/buildkit.git"));
        assert!(is_git("git://example.com/repo"));
        assert!(!is_git("https://example.com/repo.tar.gz"));
    }

    #[test]
    fn checksums_are_sha256() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(parse_checksum(&good).unwrap(), good);
        let e = parse_checksum("md5:abc").unwrap_err().to_string();
        assert!(e.contains("give a sha256 digest"), "{e}");
        let e = parse_checksum("sha256:ABC").unwrap_err().to_string();
        assert!(e.contains("64 lower-case hex digits"), "{e}");
    }

    #[test]
    fn a_refused_connection_keeps_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let e = fetch("http://127.0.0.1:1/x", &dir.path().join("x")).unwrap_err();
        assert!(matches!(e, FetchError::Request { .. }), "{e:?}");
        assert!(std::error::Error::source(&e).is_some(), "{e:?}");
        assert!(e.to_string().starts_with("cannot download it: "), "{e}");
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("garbage"), None);
    }
}
