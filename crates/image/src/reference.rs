//! Image references in Docker's grammar (`[domain/]path[:tag][@digest]`), normalized the
//! way Docker does: `busybox` is `docker.io/library/busybox:latest`.

use crate::error::ImageError;
use std::fmt;

/// Registry used when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Repository namespace of single-component names on the default registry.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host (and port): `docker.io`, `localhost`, `host:5000`.
    pub domain: String,
    /// Repository path inside the registry: `library/busybox`.
    pub path: String,
    /// Tag, if one was given.
    pub tag: Option<String>,
    /// Digest (`sha256:<64 hex>`), if one was given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse and normalize a reference.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let bad = |reason: &str| ImageError::InvalidReference {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(bad(
                "it is empty; give a name such as \"busybox\" or \"busybox:1.36\"",
            ));
        }
        if s.chars().any(|c| c.is_whitespace()) {
            return Err(bad("it contains whitespace"));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        let (name, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i..].contains('/') => (&name_tag[..i], Some(&name_tag[i + 1..])),
            _ => (name_tag, None),
        };
        if name.is_empty() {
            return Err(bad(
                "the repository name is missing before the tag or digest",
            ));
        }
        let (domain, path, explicit_domain) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first, rest, true)
            }
            _ => (DEFAULT_DOMAIN, name, false),
        };
        if explicit_domain {
            check_domain(domain).map_err(|r| bad(&r))?;
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad(&format!(
                "repository name {path:?} must be lowercase (only the registry host and the tag may use capitals)"
            )));
        }
        check_path(path).map_err(|r| bad(&r))?;
        if !explicit_domain && path.len() == 64 && is_lower_hex(path) {
            return Err(bad(
                "a 64-character hexadecimal string is an image id, not a repository name",
            ));
        }
        let domain = if domain == LEGACY_DEFAULT_DOMAIN {
            DEFAULT_DOMAIN
        } else {
            domain
        };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{path}")
        } else {
            path.to_string()
        };
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(bad(&format!(
                "the repository name is longer than {MAX_NAME_LEN} characters"
            )));
        }
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| bad(&r))?;
        }
        if let Some(d) = digest {
            crate::digest::validate(d).map_err(|e| match e {
                ImageError::InvalidDigest { reason, .. } => bad(&format!("digest {d:?}: {reason}")),
                other => other,
            })?;
        }
        Ok(Reference {
            domain: domain.to_string(),
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// Fully qualified repository: `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Repository as Docker prints it: `busybox`, `user/app`, `host:5000/app`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.repository()
        }
    }

    /// The tag, or `latest` when none was given.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The reference as Docker prints it: `busybox:latest`, `host:5000/app@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        self.push_suffix(&mut s);
        s
    }

    /// This reference with `latest` filled in when it has neither tag nor digest.
    pub fn with_default_tag(&self) -> Reference {
        let mut r = self.clone();
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        r
    }

    fn push_suffix(&self, s: &mut String) {
        match (&self.tag, &self.digest) {
            (Some(t), _) => {
                s.push(':');
                s.push_str(t);
            }
            (None, None) => {
                s.push(':');
                s.push_str(DEFAULT_TAG);
            }
            (None, Some(_)) => {}
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.repository();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl std::str::FromStr for Reference {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, ImageError> {
        Reference::parse(s)
    }
}

pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_domain(domain: &str) -> Result<(), String> {
    let err =
        || format!("registry host {domain:?} is not a valid host name, IP address or host:port");
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        // [IPv6]:port
        let (addr, after) = rest.split_once(']').ok_or_else(err)?;
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(err());
        }
        match after {
            "" => return Ok(()),
            p => (None, Some(p.strip_prefix(':').ok_or_else(err)?)),
        }
    } else {
        match domain.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("registry port in {domain:?} must be a number"));
        }
    }
    if let Some(host) = host {
        if host.is_empty() {
            return Err(err());
        }
        for label in host.split('.') {
            let b = label.as_bytes();
            let ok = !b.is_empty()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-';
            if !ok {
                return Err(err());
            }
        }
    }
    Ok(())
}

/// `component ('/' component)*`, component = `[a-z0-9]+ (sep [a-z0-9]+)*`,
/// sep = `.` | `_` | `__` | `-`+.
fn check_path(path: &str) -> Result<(), String> {
    for comp in path.split('/') {
        if comp.is_empty() {
            return Err(format!(
                "repository name {path:?} has an empty path component (a leading, trailing or doubled '/')"
            ));
        }
        let b = comp.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let mut i = 0;
        let bad = || {
            format!(
                "repository name component {comp:?} may hold only lowercase letters, digits and \
                 single '.', '_', '__' or runs of '-' between them"
            )
        };
        loop {
            let start = i;
            while i < b.len() && alnum(b[i]) {
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            if i == b.len() {
                break;
            }
            let sep_start = i;
            while i < b.len() && !alnum(b[i]) {
                i += 1;
            }
            let sep = &comp[sep_start..i];
            let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
            if !ok || i == b.len() {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = tag.as_bytes();
    if b.is_empty() {
        return Err("the tag after ':' is empty".into());
    }
    if b.len() > MAX_TAG_LEN {
        return Err(format!("tag is longer than {MAX_TAG_LEN} characters"));
    }
    if !word(b[0]) || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-') {
        return Err(format!(
            "tag {tag:?} may hold only letters, digits, '_', '.' and '-', and must not start with '.' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    #[test]
    fn valid_references() {
        let d = format!("sha256:{H}");
        type Case<'a> = (String, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            ("busybox".into(), "docker.io", "library/busybox", None, None),
            (
                "busybox:1.36".into(),
                "docker.io",
                "library/busybox",
                Some("1.36"),
                None,
            ),
            (
                "test_com".into(),
                "docker.io",
                "library/test_com",
                None,
                None,
            ),
            (
                "test.com:tag".into(),
                "docker.io",
                "library/test.com",
                Some("tag"),
                None,
            ),
            (
                "test.com:5000".into(),
                "docker.io",
                "library/test.com",
                Some("5000"),
                None,
            ),
            (
                "test.com/repo:tag".into(),
                "test.com",
                "repo",
                Some("tag"),
                None,
            ),
            ("test:5000/repo".into(), "test:5000", "repo", None, None),
            (
                "test:5000/repo:tag".into(),
                "test:5000",
                "repo",
                Some("tag"),
                None,
            ),
            (
                format!("test:5000/repo@{d}"),
                "test:5000",
                "repo",
                None,
                Some(d.as_str()),
            ),
            (
                format!("test:5000/repo:tag@{d}"),
                "test:5000",
                "repo",
                Some("tag"),
                Some(d.as_str()),
            ),
            (
                "lowercase:Uppercase".into(),
                "docker.io",
                "library/lowercase",
                Some("Uppercase"),
                None,
            ),
            (
                "sub-dom1.foo.com/bar/baz/quux".into(),
                "sub-dom1.foo.com",
                "bar/baz/quux",
                None,
                None,
            ),
            (
                "sub-dom1.foo.com/bar/baz/quux:some-long-tag".into(),
                "sub-dom1.foo.com",
                "bar/baz/quux",
                Some("some-long-tag"),
                None,
            ),
            (
                "b.gcr.io/test.example.com/my-app:test.example.com".into(),
                "b.gcr.io",
                "test.example.com/my-app",
                Some("test.example.com"),
                None,
            ),
            (
                "xn--n3h.com/myimage:xn--n3h.com".into(),
                "xn--n3h.com",
                "myimage",
                Some("xn--n3h.com"),
                None,
            ),
            (
                "foo_bar.com:8080".into(),
                "docker.io",
                "library/foo_bar.com",
                Some("8080"),
                None,
            ),
            (
                "foo/foo_bar.com:8080".into(),
                "docker.io",
                "foo/foo_bar.com",
                Some("8080"),
                None,
            ),
            (
                "[2001:db8::1]:5000/repo".into(),
                "[2001:db8::1]:5000",
                "repo",
                None,
                None,
            ),
            (
                "[2001:db8::1]/repo:tag".into(),
                "[2001:db8::1]",
                "repo",
                Some("tag"),
                None,
            ),
            (
                "192.168.1.1:5000/repo".into(),
                "192.168.1.1:5000",
                "repo",
                None,
                None,
            ),
            ("localhost/x".into(), "localhost", "x", None, None),
            (
                "localhost:5000/x/y".into(),
                "localhost:5000",
                "x/y",
                None,
                None,
            ),
            ("a/b/c/d".into(), "docker.io", "a/b/c/d", None, None),
            (
                "index.docker.io/library/busybox".into(),
                "docker.io",
                "library/busybox",
                None,
                None,
            ),
            (
                "docker.io/busybox".into(),
                "docker.io",
                "library/busybox",
                None,
                None,
            ),
            (
                "foo__bar".into(),
                "docker.io",
                "library/foo__bar",
                None,
                None,
            ),
            (
                "foo---bar".into(),
                "docker.io",
                "library/foo---bar",
                None,
                None,
            ),
            ("Example.com/app".into(), "Example.com", "app", None, None),
            (
                format!("busybox@{d}"),
                "docker.io",
                "library/busybox",
                None,
                Some(d.as_str()),
            ),
        ];
        for (input, domain, path, tag, digest) in cases {
            let r = Reference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.domain, domain, "{input}");
            assert_eq!(r.path, path, "{input}");
            assert_eq!(r.tag.as_deref(), tag, "{input}");
            assert_eq!(r.digest.as_deref(), digest, "{input}");
        }
    }

    #[test]
    fn invalid_references() {
        let cases = [
            ("", "empty"),
            (":justtag", "missing"),
            (&*format!("@sha256:{H}"), "missing"),
            ("repo@sha256:ffffff", "digest"),
            (&*format!("validname@invaliddigest:{H}"), "digest"),
            ("Uppercase:tag", "lowercase"),
            ("test:5000/Uppercase/lowercase:tag", "lowercase"),
            ("aa/asdf$$^/aa", "component"),
            ("-foo", "component"),
            ("foo-", "component"),
            ("foo..bar", "component"),
            ("foo___bar", "component"),
            ("a//b", "empty path"),
            ("a/", "empty path"),
            (&*format!("a:{}", "t".repeat(129)), "longer"),
            ("a:-tag", "tag"),
            ("a:", "empty"),
            ("a b", "whitespace"),
            (H, "image id"),
            ("host:port/x", "port"),
            ("-host.com/x", "registry host"),
            (&*format!("{}/x", "a".repeat(300) + ".com"), "longer"),
        ];
        for (input, needle) in cases {
            let e = Reference::parse(input).expect_err(input).to_string();
            assert!(
                e.contains(&format!("{input:?}")),
                "{input}: message must quote input: {e}"
            );
            assert!(e.contains(needle), "{input}: expected {needle:?} in {e}");
        }
    }

    #[test]
    fn display_and_familiar() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.repository(), "docker.io/library/busybox");
        assert_eq!(r.familiar_repository(), "busybox");
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.tag_or_latest(), "latest");
        let r = Reference::parse("user/app:v1").unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:v1");
        assert_eq!(r.familiar(), "user/app:v1");
        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/x:latest");
        let d = format!("sha256:{H}");
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{d}"));
        let r = Reference::parse(&format!("busybox:1@{d}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/busybox:1@{d}"));
        let long = "t".repeat(128);
        let r = Reference::parse(&format!("a:{long}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some(long.as_str()));
        // Parsing the normalized form gives the same reference back.
        let again = Reference::parse(&r.to_string()).unwrap();
        assert_eq!(again, r);
    }
}
