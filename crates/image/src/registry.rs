//! A synchronous client of the Registry HTTP API v2 / OCI distribution spec:
//! the `/v2/` ping, `Basic` and `Bearer` token challenges, manifests by tag or digest
//! (Docker and OCI media types), blob fetches with `Range` resume, and blob uploads
//! (monolithic, chunked, cross-repository mount).
//!
//! Transport policy: `https://` with verified TLS, except for loopback registries
//! (`localhost`, `127.0.0.0/8`, `::1`) and registries the caller lists as insecure,
//! which are tried with unverified TLS first and then plain `http://`, as Docker does.

use crate::auth::Credentials;
use crate::digest;
use crate::error::ImageError;
use crate::oci;
use crate::store::BlobSource;
use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::{self, Method, StatusCode};

/// Accept header for manifests: every manifest and index type wharf understands.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Docker manifest list (a multi-platform index).
pub const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Largest manifest or index accepted (containerd's limit).
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;
const MAX_ERROR_BODY: u64 = 64 * 1024;
const USER_AGENT: &str = concat!("wharf/", env!("CARGO_PKG_VERSION"));

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Registries (`host[:port]`) that may be reached over plain `http://` or
    /// unverified TLS, besides loopback ones.
    pub insecure: Vec<String>,
}

impl RegistryOptions {
    /// Whether `host` (`host[:port]`) may be reached without verified TLS.
    pub fn is_insecure(&self, host: &str) -> bool {
        is_loopback(host)
            || self
                .insecure
                .iter()
                .any(|h| h == host || h == host_only(host))
    }
}

/// `host` of `host:port` (and of `[v6]:port`).
fn host_only(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

/// Whether `host` (`host[:port]`) is this machine.
pub fn is_loopback(host: &str) -> bool {
    let h = host_only(host);
    h == "localhost" || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The API host of a registry domain: Docker Hub's API lives elsewhere.
pub fn api_host(domain: &str) -> &str {
    if domain == crate::reference::DEFAULT_DOMAIN {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// An authentication challenge from `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=…`: send the credentials with every request.
    Basic,
    /// `Bearer realm=…,service=…`: trade the credentials for a token per scope.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// `service` parameter, if any.
        service: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header value.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_auth_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
        }),
        _ => None,
    }
}

/// `key="value", key=value` pairs (quoted values may hold commas and escaped quotes).
fn parse_auth_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}

/// The bearer token in a token service's answer (`token`, or OAuth2's
/// `access_token`), or why there is none.
pub fn token_from_response(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("its token service sent something that is not JSON: {e}"))?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "its token service answered without a token".to_string())
}

/// Percent-encode a query value.
fn encode_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The scope a token must cover: `repository:NAME:pull` or `…:pull,push`.
pub fn scope(repository: &str, push: bool) -> String {
    format!(
        "repository:{repository}:{}",
        if push { "pull,push" } else { "pull" }
    )
}

/// A response: status, headers and a body reader.
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: http::HeaderMap,
    body: ureq::Body,
}

impl Response {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as a reader, unlimited (the caller limits it).
    pub fn into_reader(self) -> Box<dyn Read> {
        Box::new(self.body.into_reader())
    }

    /// The body, at most `limit` bytes.
    pub fn read_limited(mut self, limit: u64) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.body
            .as_reader()
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("reading the response failed: {e}"))?;
        if out.len() as u64 > limit {
            return Err(format!("the response is larger than {limit} bytes"));
        }
        Ok(out)
    }

    /// The registry's error message from the body (`{"errors":[{"code","message"}]}`).
    fn error_text(self) -> String {
        let status = self.status;
        let body = self.read_limited(MAX_ERROR_BODY).unwrap_or_default();
        let mut text = format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
                let msgs: Vec<String> = errors
                    .iter()
                    .map(|e| {
                        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                        let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                        format!("{code}: {msg}")
                    })
                    .collect();
                if !msgs.is_empty() {
                    text.push_str(&format!(" ({})", msgs.join("; ")));
                }
            }
        }
        text
    }
}

/// A request body.
pub enum Body<'a> {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A stream of a known length.
    Reader(&'a mut dyn Read, u64),
}

/// A manifest or index as fetched.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The bytes, exactly as served.
    pub bytes: Vec<u8>,
    /// Media type (from the body, else `Content-Type`).
    pub media_type: String,
    /// `sha256:` of `bytes`.
    pub digest: String,
}

/// Where a blob upload went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadStart {
    /// The blob was mounted from another repository; nothing to upload.
    Mounted,
    /// Upload the blob to this session URL.
    Session(String),
}

/// A connection to one registry, shareable between threads.
pub struct Registry {
    /// The registry as named in references (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    base: String,
    agent: ureq::Agent,
    insecure_agent: Option<ureq::Agent>,
    options: RegistryOptions,
    credentials: Option<Credentials>,
    challenge: Option<Challenge>,
    tokens: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("domain", &self.domain)
            .field("base", &self.base)
            .finish()
    }
}

/// An HTTP agent with wharf's timeouts; `verify` checks TLS certificates.
pub(crate) fn agent(verify: bool) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if !verify {
        tls = tls.disable_verification(true);
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .max_redirects(10)
        .tls_config(tls.build())
        .build()
        .new_agent()
}

impl Registry {
    /// Ping `domain`'s `/v2/` and learn how it wants to be authenticated.
    pub fn connect(
        domain: &str,
        options: &RegistryOptions,
        credentials: Option<Credentials>,
    ) -> Result<Registry, ImageError> {
        let host = api_host(domain);
        let insecure = options.is_insecure(domain);
        let verified = agent(true);
        let unverified = insecure.then(|| agent(false));
        let schemes: &[&str] = if insecure {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut last_error = String::new();
        for scheme in schemes {
            let base = format!("{scheme}://{host}");
            let a = if *scheme == "https" {
                unverified.as_ref().unwrap_or(&verified)
            } else {
                &verified
            };
            let resp = match a.get(format!("{base}/v2/")).call() {
                Ok(r) => r,
                Err(e) => {
                    last_error = format!("{base}/v2/: {e}");
                    continue;
                }
            };
            let status = resp.status();
            let challenge = if status == StatusCode::UNAUTHORIZED {
                let header = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                Some(parse_challenge(header).ok_or_else(|| ImageError::Registry {
                    registry: domain.to_string(),
                    action: "connecting".into(),
                    reason: format!(
                        "it asks for authentication with an unsupported challenge {header:?}"
                    ),
                })?)
            } else if status.is_success() {
                None
            } else {
                last_error = format!(
                    "{base}/v2/ answered HTTP {}; is this a container registry?",
                    status.as_u16()
                );
                continue;
            };
            return Ok(Registry {
                domain: domain.to_string(),
                base,
                agent: verified.clone(),
                insecure_agent: unverified.clone(),
                options: options.clone(),
                credentials,
                challenge,
                tokens: Mutex::new(HashMap::new()),
            });
        }
        let hint = if insecure {
            "check the address and that the registry is running"
        } else {
            "check the address and that the registry is running; a registry served over plain http or with an untrusted certificate must be listed as insecure (WHARF_INSECURE_REGISTRIES or \"insecure-registries\" in /etc/wharf/daemon.json)"
        };
        Err(ImageError::Registry {
            registry: domain.to_string(),
            action: "connecting".into(),
            reason: format!("{last_error}; {hint}"),
        })
    }

    /// The agent for a URL: unverified TLS only toward an insecure registry.
    fn agent_for(&self, url: &str) -> &ureq::Agent {
        match &self.insecure_agent {
            Some(a) if url.starts_with(&self.base) => a,
            _ => &self.agent,
        }
    }

    /// Absolute URL of a path (`/v2/…`) or a `Location` header value.
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base)
        } else {
            format!("{}/{path_or_url}", self.base)
        }
    }

    fn unauthorized(&self, action: &str, status: String) -> ImageError {
        let hint = if self.credentials.is_some() {
            format!(
                "the stored credentials were refused or do not grant this; log in again with \"wharf login {}\", and check the repository name",
                self.domain
            )
        } else {
            format!(
                "log in with \"wharf login {}\" if the repository is private, and check its name",
                self.domain
            )
        };
        ImageError::Unauthorized {
            registry: self.domain.clone(),
            action: action.to_string(),
            status,
            hint,
        }
    }

    /// The `Authorization` header for `scopes`, fetching a token if needed.
    fn authorization(
        &self,
        scopes: &[String],
        action: &str,
        refresh: bool,
    ) -> Result<Option<String>, ImageError> {
        match &self.challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials.as_ref().map(|c| c.basic_header())),
            Some(Challenge::Bearer { realm, service }) => {
                let key = scopes.join(" ");
                if !refresh {
                    if let Some(t) = self
                        .tokens
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&key)
                    {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                }
                let token = self.fetch_token(realm, service.as_deref(), scopes, action)?;
                self.tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        action: &str,
    ) -> Result<String, ImageError> {
        let realm_host = realm
            .split_once("://")
            .map(|(_, r)| r.split(['/', '?']).next().unwrap_or(""))
            .unwrap_or("");
        let allowed = match realm.split_once("://") {
            Some(("https", _)) => true,
            Some(("http", _)) => self.options.is_insecure(realm_host),
            _ => false,
        };
        if !allowed {
            return Err(ImageError::Registry {
                registry: self.domain.clone(),
                action: action.to_string(),
                reason: format!(
                    "its token service {realm:?} is not https; refusing to send credentials there (list {realm_host} as an insecure registry if this is intended)"
                ),
            });
        }
        let agent = match &self.insecure_agent {
            Some(a) if self.options.is_insecure(realm_host) => a,
            _ => &self.agent,
        };
        let sent = match self
            .credentials
            .as_ref()
            .and_then(Credentials::identity_token)
        {
            // An identity token is traded for an access token by OAuth2's
            // refresh-token grant, a form POSTed to the realm.
            Some(token) => {
                let mut form = format!(
                    "grant_type=refresh_token&client_id=wharf&refresh_token={}",
                    encode_query(token)
                );
                if let Some(s) = service {
                    form.push_str(&format!("&service={}", encode_query(s)));
                }
                for s in scopes {
                    form.push_str(&format!("&scope={}", encode_query(s)));
                }
                agent
                    .post(realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .send(form)
            }
            None => {
                let mut url = realm.to_string();
                let mut sep = if url.contains('?') { '&' } else { '?' };
                if let Some(s) = service {
                    url.push_str(&format!("{sep}service={}", encode_query(s)));
                    sep = '&';
                }
                for s in scopes {
                    url.push_str(&format!("{sep}scope={}", encode_query(s)));
                    sep = '&';
                }
                let mut req = agent.get(&url);
                if let Some(c) = &self.credentials {
                    req = req.header("Authorization", c.basic_header());
                }
                req.call()
            }
        };
        let resp = sent.map_err(|e| ImageError::Registry {
            registry: self.domain.clone(),
            action: action.to_string(),
            reason: format!("cannot reach its token service {realm}: {e}"),
        })?;
        let resp = Response {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.into_body(),
        };
        if resp.status == StatusCode::UNAUTHORIZED || resp.status == StatusCode::FORBIDDEN {
            let text = resp.error_text();
            return Err(self.unauthorized(action, text));
        }
        if !resp.status.is_success() {
            let text = resp.error_text();
            return Err(ImageError::Registry {
                registry: self.domain.clone(),
                action: action.to_string(),
                reason: format!("its token service {realm} answered {text}"),
            });
        }
        let body = resp
            .read_limited(MAX_MANIFEST_SIZE)
            .map_err(|r| ImageError::Registry {
                registry: self.domain.clone(),
                action: action.to_string(),
                reason: format!("token service: {r}"),
            })?;
        token_from_response(&body).map_err(|reason| ImageError::Registry {
            registry: self.domain.clone(),
            action: action.to_string(),
            reason,
        })
    }

    /// Send a request with authentication; a 401 on a request that can be repeated
    /// refreshes the token and tries once more. A 401/403 that remains is an error.
    pub fn send(
        &self,
        method: Method,
        path_or_url: &str,
        scopes: &[String],
        headers: &[(&str, String)],
        mut body: Body<'_>,
        action: &str,
    ) -> Result<Response, ImageError> {
        let url = self.url(path_or_url);
        let repeatable = !matches!(body, Body::Reader(..));
        let mut refresh = false;
        loop {
            let auth = self.authorization(scopes, action, refresh)?;
            let mut builder = http::Request::builder().method(method.clone()).uri(&url);
            if let Some(a) = &auth {
                builder = builder.header("Authorization", a);
            }
            for (k, v) in headers {
                builder = builder.header(*k, v);
            }
            let agent = self.agent_for(&url);
            let net_err = |e: ureq::Error| ImageError::Registry {
                registry: self.domain.clone(),
                action: action.to_string(),
                reason: format!("request to {url} failed: {e}"),
            };
            let http_err = |e: http::Error| ImageError::Registry {
                registry: self.domain.clone(),
                action: action.to_string(),
                reason: format!("cannot build the request to {url}: {e}"),
            };
            let resp = match &mut body {
                Body::Empty => {
                    let req = builder.body(()).map_err(http_err)?;
                    agent.run(req).map_err(net_err)?
                }
                Body::Bytes(b) => {
                    let req = builder
                        .header("Content-Length", b.len().to_string())
                        .body(*b)
                        .map_err(http_err)?;
                    agent.run(req).map_err(net_err)?
                }
                Body::Reader(r, len) => {
                    let req = builder
                        .header("Content-Length", len.to_string())
                        .body(ureq::SendBody::from_reader(&mut **r))
                        .map_err(http_err)?;
                    agent.run(req).map_err(net_err)?
                }
            };
            let resp = Response {
                status: resp.status(),
                headers: resp.headers().clone(),
                body: resp.into_body(),
            };
            if resp.status == StatusCode::UNAUTHORIZED && repeatable && !refresh && auth.is_some() {
                refresh = true;
                continue;
            }
            if resp.status == StatusCode::UNAUTHORIZED || resp.status == StatusCode::FORBIDDEN {
                let text = resp.error_text();
                return Err(self.unauthorized(action, text));
            }
            return Ok(resp);
        }
    }

    /// An error for an unexpected status.
    pub fn status_error(&self, resp: Response, action: &str, hint: &str) -> ImageError {
        let text = resp.error_text();
        ImageError::Registry {
            registry: self.domain.clone(),
            action: action.to_string(),
            reason: if hint.is_empty() {
                text
            } else {
                format!("{text}; {hint}")
            },
        }
    }

    /// Fetch the manifest or index `reference` (tag or digest) of `repository`.
    /// With a digest reference, the bytes are checked against it.
    pub fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<FetchedManifest, ImageError> {
        let action = format!("fetching manifest {repository}:{reference}");
        let scopes = [scope(repository, false)];
        let resp = self.send(
            Method::GET,
            &format!("/v2/{repository}/manifests/{reference}"),
            &scopes,
            &[("Accept", MANIFEST_ACCEPT.to_string())],
            Body::Empty,
            &action,
        )?;
        if resp.status == StatusCode::NOT_FOUND {
            let text = resp.error_text();
            return Err(ImageError::NotFound {
                reference: format!("{}/{repository}:{reference}", self.domain)
                    .replace(":sha256:", "@sha256:"),
                hint: format!(
                    "the registry {} has no such manifest ({text}); check the name and the tag",
                    self.domain
                ),
            });
        }
        if !resp.status.is_success() {
            return Err(self.status_error(resp, &action, ""));
        }
        let content_type = resp
            .header("content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let header_digest = resp.header("docker-content-digest").map(str::to_string);
        let bytes = resp
            .read_limited(MAX_MANIFEST_SIZE)
            .map_err(|r| ImageError::BadManifest {
                what: format!("manifest {repository}:{reference} from {}", self.domain),
                reason: r,
            })?;
        let digest = digest::sha256_digest(&bytes);
        let announced = header_digest.filter(|d| d.starts_with("sha256:"));
        if let Some(d) = announced.filter(|d| *d != digest) {
            return Err(ImageError::DigestMismatch {
                what: format!("manifest {repository}:{reference} from {}", self.domain),
                expected: d,
                actual: digest,
            });
        }
        if reference.starts_with("sha256:") && digest != reference {
            return Err(ImageError::DigestMismatch {
                what: format!("manifest {repository}@{reference} from {}", self.domain),
                expected: reference.to_string(),
                actual: digest,
            });
        }
        let body_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string));
        let media_type = body_type.filter(|t| !t.is_empty()).unwrap_or(content_type);
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// The size of blob `digest` in `repository`, or `None` when it is not there.
    pub fn blob_exists(
        &self,
        repository: &str,
        digest: &str,
        push: bool,
    ) -> Result<Option<u64>, ImageError> {
        let action = format!("checking blob {digest} in {repository}");
        let resp = self.send(
            Method::HEAD,
            &format!("/v2/{repository}/blobs/{digest}"),
            &[scope(repository, push)],
            &[],
            Body::Empty,
            &action,
        )?;
        match resp.status {
            s if s.is_success() => Ok(Some(
                resp.header("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.status_error(resp, &action, "")),
        }
    }

    /// Start reading blob `digest` of `repository` at `offset` (0 for all of it).
    pub fn fetch_blob(
        &self,
        repository: &str,
        digest: &str,
        offset: u64,
    ) -> Result<BlobSource, ImageError> {
        let action = format!("downloading blob {digest} of {repository}");
        let mut headers = Vec::new();
        if offset > 0 {
            headers.push(("Range", format!("bytes={offset}-")));
        }
        let resp = self.send(
            Method::GET,
            &format!("/v2/{repository}/blobs/{digest}"),
            &[scope(repository, false)],
            &headers,
            Body::Empty,
            &action,
        )?;
        let start = match resp.status {
            StatusCode::PARTIAL_CONTENT => {
                // `Content-Range: bytes START-END/TOTAL`
                let from = resp
                    .header("content-range")
                    .and_then(|r| r.strip_prefix("bytes "))
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.trim().parse::<u64>().ok());
                match from {
                    Some(f) if f == offset => offset,
                    _ => {
                        return Err(ImageError::Registry {
                            registry: self.domain.clone(),
                            action,
                            reason: "it answered a resumed download with a wrong Content-Range"
                                .into(),
                        })
                    }
                }
            }
            StatusCode::NOT_FOUND => {
                let text = resp.error_text();
                return Err(ImageError::Registry {
                    registry: self.domain.clone(),
                    action,
                    reason: format!(
                        "{text}: the manifest names a blob the registry does not have; the image in the registry is incomplete"
                    ),
                });
            }
            s if s.is_success() => 0,
            _ => return Err(self.status_error(resp, &action, "try again later")),
        };
        Ok(BlobSource {
            reader: resp.into_reader(),
            offset: start,
        })
    }

    /// Begin a blob upload to `repository`, or mount the blob from `mount_from`
    /// (another repository of the same registry) when it is given.
    pub fn start_upload(
        &self,
        repository: &str,
        digest: &str,
        mount_from: Option<&str>,
    ) -> Result<UploadStart, ImageError> {
        let action = format!("starting the upload of blob {digest} to {repository}");
        let mut scopes = vec![scope(repository, true)];
        let path = match mount_from {
            Some(from) => {
                scopes.push(scope(from, false));
                format!(
                    "/v2/{repository}/blobs/uploads/?mount={}&from={}",
                    encode_query(digest),
                    encode_query(from)
                )
            }
            None => format!("/v2/{repository}/blobs/uploads/"),
        };
        let resp = self.send(Method::POST, &path, &scopes, &[], Body::Bytes(&[]), &action)?;
        match resp.status {
            StatusCode::CREATED if mount_from.is_some() => Ok(UploadStart::Mounted),
            StatusCode::ACCEPTED => {
                let loc = resp
                    .header("location")
                    .ok_or_else(|| ImageError::Registry {
                        registry: self.domain.clone(),
                        action: action.clone(),
                        reason: "it accepted the upload without a Location header".into(),
                    })?;
                Ok(UploadStart::Session(self.url(loc)))
            }
            _ => Err(self.status_error(resp, &action, "")),
        }
    }

    /// Upload a whole blob in one `PUT`.
    pub fn upload_monolithic(
        &self,
        repository: &str,
        session: &str,
        digest: &str,
        data: &mut dyn Read,
        size: u64,
    ) -> Result<(), ImageError> {
        let action = format!("uploading blob {digest} to {repository}");
        let url = with_query(session, "digest", digest);
        let resp = self.send(
            Method::PUT,
            &url,
            &[scope(repository, true)],
            &[("Content-Type", "application/octet-stream".into())],
            Body::Reader(data, size),
            &action,
        )?;
        if resp.status != StatusCode::CREATED && !resp.status.is_success() {
            return Err(self.status_error(resp, &action, ""));
        }
        Ok(())
    }

    /// Upload a blob in `PATCH` chunks of `chunk` bytes, then close it with `PUT`.
    /// `progress` gets the bytes sent so far.
    #[allow(clippy::too_many_arguments)]
    pub fn upload_chunked(
        &self,
        repository: &str,
        session: &str,
        digest: &str,
        data: &mut dyn Read,
        size: u64,
        chunk: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), ImageError> {
        let action = format!("uploading blob {digest} to {repository} in chunks");
        let scopes = [scope(repository, true)];
        let mut location = session.to_string();
        let mut sent = 0u64;
        let mut buf = Vec::new();
        while sent < size {
            let n = chunk.min(size - sent);
            buf.clear();
            data.take(n)
                .read_to_end(&mut buf)
                .map_err(|e| ImageError::Registry {
                    registry: self.domain.clone(),
                    action: action.clone(),
                    reason: format!("reading the local blob failed: {e}"),
                })?;
            if buf.len() as u64 != n {
                return Err(ImageError::Registry {
                    registry: self.domain.clone(),
                    action,
                    reason: "the local blob is shorter than its descriptor says".into(),
                });
            }
            let resp = self.send(
                Method::PATCH,
                &location,
                &scopes,
                &[
                    ("Content-Type", "application/octet-stream".into()),
                    ("Content-Range", format!("{sent}-{}", sent + n - 1)),
                ],
                Body::Bytes(&buf),
                &action,
            )?;
            if resp.status != StatusCode::ACCEPTED {
                return Err(self.status_error(resp, &action, ""));
            }
            if let Some(loc) = resp.header("location") {
                location = self.url(loc);
            }
            sent += n;
            progress(sent);
        }
        let resp = self.send(
            Method::PUT,
            &with_query(&location, "digest", digest),
            &scopes,
            &[],
            Body::Bytes(&[]),
            &action,
        )?;
        if !resp.status.is_success() {
            return Err(self.status_error(resp, &action, ""));
        }
        Ok(())
    }

    /// Check that the credentials are accepted (`docker login`): with a `Basic`
    /// challenge an authenticated `GET /v2/`, with `Bearer` a token request.
    pub fn check_login(&self) -> Result<(), ImageError> {
        let action = "logging in";
        if self.credentials.is_none() {
            return Err(ImageError::Registry {
                registry: self.domain.clone(),
                action: action.into(),
                reason: "no credentials given".into(),
            });
        }
        match &self.challenge {
            None | Some(Challenge::Basic) => {
                let resp = self.send(Method::GET, "/v2/", &[], &[], Body::Empty, action)?;
                if resp.status.is_success() {
                    Ok(())
                } else {
                    Err(self.status_error(resp, action, ""))
                }
            }
            Some(Challenge::Bearer { realm, service }) => self
                .fetch_token(realm, service.as_deref(), &[], action)
                .map(drop),
        }
    }

    /// Put a manifest under `reference` (tag or digest); returns its digest.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, ImageError> {
        let action = format!("pushing manifest {repository}:{reference}");
        let resp = self.send(
            Method::PUT,
            &format!("/v2/{repository}/manifests/{reference}"),
            &[scope(repository, true)],
            &[("Content-Type", media_type.to_string())],
            Body::Bytes(bytes),
            &action,
        )?;
        if !resp.status.is_success() {
            return Err(self.status_error(resp, &action, ""));
        }
        Ok(digest::sha256_digest(bytes))
    }
}

/// Append `key=value` to a URL's query.
fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", encode_query(value))
}

/// Whether a media type names a multi-platform index.
pub fn is_index(media_type: &str) -> bool {
    media_type == oci::MEDIA_TYPE_INDEX || media_type == MEDIA_TYPE_DOCKER_LIST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn loopback_and_insecure_hosts() {
        let o = RegistryOptions {
            insecure: vec!["reg.lan:5000".into(), "other.lan".into()],
        };
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:1",
            "127.3.4.5",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
            assert!(o.is_insecure(h), "{h}");
        }
        assert!(o.is_insecure("reg.lan:5000"));
        assert!(o.is_insecure("other.lan:443"));
        assert!(!o.is_insecure("reg.lan:5001"));
        assert!(!o.is_insecure("docker.io"));
        assert!(!is_loopback("127.example.com"));
    }

    #[test]
    fn encodes_scopes() {
        assert_eq!(
            encode_query("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            with_query("http://h/x?_state=1", "digest", "sha256:ab"),
            "http://h/x?_state=1&digest=sha256%3Aab"
        );
    }

    /// Serve `answer(method, path, body)` over plain HTTP on 127.0.0.1 (TLS
    /// attempts are dropped); returns the port and the requests seen.
    fn mock_server(
        answer: fn(&str, &str, &str, u16) -> (u16, String, String),
    ) -> (u16, std::sync::Arc<Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                if reader
                    .fill_buf()
                    .map(|b| b.first() == Some(&0x16))
                    .unwrap_or(true)
                {
                    continue;
                }
                let mut head = Vec::new();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    head.push(std::mem::take(&mut line));
                }
                let length = head
                    .iter()
                    .find_map(|h| {
                        h.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0usize);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).into_owned();
                let mut parts = head
                    .first()
                    .map(|l| l.split_whitespace())
                    .into_iter()
                    .flatten();
                let (method, path) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                log.lock().unwrap().push(format!("{method} {path} {body}"));
                let (status, extra, reply) = answer(&method, &path, &body, port);
                let _ = write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        (port, seen)
    }

    #[test]
    fn identity_tokens_are_traded_by_a_refresh_token_post() {
        let (port, seen) = mock_server(|method, path, body, port| {
            match (method, path) {
            ("GET", "/v2/") => (
                401,
                format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"mock\"\r\n"),
                "{}".into(),
            ),
            ("POST", "/token")
                if body.contains("grant_type=refresh_token")
                    && body.contains("refresh_token=the%2Frefresh") =>
            {
                (200, String::new(), r#"{"access_token":"granted"}"#.into())
            }
            _ => (401, String::new(), "{}".into()),
        }
        });
        let identity = Credentials {
            username: crate::credhelper::IDENTITY_TOKEN_USER.into(),
            password: "the/refresh".into(),
        };
        let host = format!("127.0.0.1:{port}");
        let registry =
            Registry::connect(&host, &RegistryOptions::default(), Some(identity)).unwrap();
        registry.check_login().unwrap();
        let seen_after = seen.clone();
        let seen = seen.lock().unwrap().clone();
        let post = seen
            .iter()
            .find(|r| r.starts_with("POST /token"))
            .expect("a token POST");
        assert!(post.contains("service=mock"), "{post}");
        assert!(
            !seen.iter().any(|r| r.starts_with("GET /token")),
            "{seen:?}"
        );

        // A user and password are still sent by GET with basic authentication.
        let basic = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let registry = Registry::connect(&host, &RegistryOptions::default(), Some(basic)).unwrap();
        assert!(registry.check_login().is_err());
        let seen = seen_after.lock().unwrap();
        assert!(
            seen.iter()
                .any(|r| r.starts_with("GET /token?service=mock")),
            "{seen:?}"
        );
    }
}
