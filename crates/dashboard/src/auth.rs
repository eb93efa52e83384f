//! Who may use the dashboard and how a form proves it came from it: a
//! token (bearer header, or the session cookie the login page sets) on
//! every request when one is configured, which any non-loopback listener
//! must have; a per-process CSRF token on every POST; the Host and Origin
//! headers checked so a foreign page or a rebound DNS name gets nothing.

use crate::http::Request;
use crate::DashboardError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::net::SocketAddr;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "wharf_session";

#[derive(Debug)]
pub struct Access {
    listen: SocketAddr,
    token: Option<String>,
    /// The session cookie's value: a digest of the token and the secret, so
    /// the cookie is not the token and dies with the process.
    session: String,
    csrf: String,
}

impl Access {
    /// A listener on `listen`; `token` is required unless it is loopback.
    pub fn new(listen: SocketAddr, token: Option<String>) -> Result<Self, DashboardError> {
        if !listen.ip().is_loopback() && token.is_none() {
            return Err(DashboardError::TokenRequired { addr: listen });
        }
        let secret = random_secret();
        let digest = |what: &str| {
            let mut h = Sha256::new();
            h.update(what.as_bytes());
            h.update(secret);
            h.update(token.as_deref().unwrap_or("").as_bytes());
            hex::encode(h.finalize())
        };
        Ok(Access {
            listen,
            session: digest("session"),
            csrf: digest("csrf"),
            token,
        })
    }

    /// Read the token from the first line of `path`.
    pub fn read_token_file(path: &str) -> Result<String, DashboardError> {
        let text = std::fs::read_to_string(path).map_err(|source| DashboardError::TokenFile {
            path: path.into(),
            source,
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            return Err(DashboardError::EmptyToken { path: path.into() });
        }
        Ok(token)
    }

    pub fn needs_token(&self) -> bool {
        self.token.is_some()
    }

    /// The token the forms carry.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// The request carries the token (or no token is configured).
    pub fn authorized(&self, request: &Request) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        if let Some(bearer) = request
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
        {
            return same(bearer.trim(), token);
        }
        request
            .cookie(SESSION_COOKIE)
            .is_some_and(|c| same(&c, &self.session))
    }

    /// The login form's token is right.
    pub fn login(&self, given: &str) -> bool {
        self.token.as_deref().is_some_and(|t| same(given.trim(), t))
    }

    /// The `Set-Cookie` value after a good login.
    pub fn session_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            self.session
        )
    }

    /// The Host header names this server: on loopback only a loopback name
    /// (against DNS rebinding); elsewhere the token guards it.
    pub fn host_allowed(&self, request: &Request) -> bool {
        let Some(host) = request.header("host") else {
            return false;
        };
        if !self.listen.ip().is_loopback() {
            return true;
        }
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        };
        matches!(name, "localhost" | "127.0.0.1" | "[::1]") || name.starts_with("127.")
    }

    /// A POST's Origin, when the browser sends one, is this host.
    pub fn check_post_origin(&self, request: &Request) -> Result<(), &'static str> {
        if let Some(origin) = request.header("origin") {
            let host = request.header("host").unwrap_or("");
            let ours = [format!("http://{host}"), format!("https://{host}")];
            if !ours.iter().any(|o| o == origin) {
                return Err("cross-origin request refused");
            }
        }
        Ok(())
    }

    /// A POST comes from our own pages: its Origin (when sent) is this host,
    /// and it carries the CSRF token as a form field or `X-CSRF-Token`.
    pub fn check_post(&self, request: &Request) -> Result<(), &'static str> {
        self.check_post_origin(request)?;
        let given = request
            .header("x-csrf-token")
            .map(str::to_string)
            .or_else(|| request.form().remove("csrf"));
        match given {
            Some(token) if same(&token, &self.csrf) => Ok(()),
            _ => Err("missing or wrong CSRF token: reload the page and try again"),
        }
    }
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn random_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(&mut secret).is_ok() {
            return secret;
        }
    }
    // No /dev/urandom (a minimal chroot): the time and pid still make the
    // tokens differ between processes.
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    Sha256::digest(seed.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: "POST".into(),
            path: "/".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn other_addresses_need_a_token() {
        let err = Access::new("0.0.0.0:9323".parse().unwrap(), None).unwrap_err();
        assert!(err.to_string().contains("--token-file"), "{err}");
        assert!(!Access::new("127.0.0.1:9323".parse().unwrap(), None)
            .unwrap()
            .needs_token());
    }

    #[test]
    fn bearer_or_session_cookie_only() {
        let a = Access::new("0.0.0.0:1".parse().unwrap(), Some("s3cret".into())).unwrap();
        assert!(!a.authorized(&request(&[], "")));
        assert!(!a.authorized(&request(&[("authorization", "Bearer wrong")], "")));
        assert!(a.authorized(&request(&[("authorization", "Bearer s3cret")], "")));
        let cookie = a.session_cookie();
        let value = cookie.split(';').next().unwrap();
        assert!(!value.contains("s3cret"));
        assert!(a.authorized(&request(&[("cookie", &format!("x=1; {value}"))], "")));
        assert!(!a.authorized(&request(&[("cookie", "wharf_session=00")], "")));
        assert!(a.login("s3cret\n") && !a.login("s3cre"));
    }

    #[test]
    fn posts_need_csrf_and_same_origin() {
        let a = Access::new("127.0.0.1:9323".parse().unwrap(), None).unwrap();
        let csrf = format!("csrf={}", a.csrf_token());
        let host = ("host", "127.0.0.1:9323");
        assert!(a.check_post(&request(&[host], &csrf)).is_ok());
        assert!(a.check_post(&request(&[host], "csrf=nope")).is_err());
        assert!(a.check_post(&request(&[host], "")).is_err());
        let evil = ("origin", "http://evil.example");
        assert!(a.check_post(&request(&[host, evil], &csrf)).is_err());
        let ours = ("origin", "http://127.0.0.1:9323");
        assert!(a.check_post(&request(&[host, ours], &csrf)).is_ok());
    }

    #[test]
    fn loopback_listener_refuses_foreign_host_names() {
        let a = Access::new("127.0.0.1:9323".parse().unwrap(), None).unwrap();
        assert!(a.host_allowed(&request(&[("host", "localhost:9323")], "")));
        assert!(a.host_allowed(&request(&[("host", "[::1]:9323")], "")));
        assert!(!a.host_allowed(&request(&[("host", "rebound.example:9323")], "")));
        assert!(!a.host_allowed(&request(&[], "")));
    }
}
