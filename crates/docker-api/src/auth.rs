//! Registry credentials through the API: `POST /auth` checks them against
//! the registry (`{"Status":"Login Succeeded"}`), and the `X-Registry-Auth`
//! header (base64 JSON) a client sends with a pull or push.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use base64::Engine as _;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use wharf_image::auth::Credentials;
use wharf_image::registry::Registry;

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::POST, ["auth"]) => Some(login),
        _ => None,
    }
}

/// docker's `AuthConfig` (the body of `/auth`, the JSON of `X-Registry-Auth`).
#[derive(Debug, Default, Deserialize)]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    serveraddress: String,
    #[serde(default, rename = "identitytoken")]
    identity_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    auth: String,
}

impl AuthConfig {
    fn credentials(&self) -> Option<Credentials> {
        if !self.identity_token.is_empty() {
            return Some(Credentials {
                username: "<token>".into(),
                password: self.identity_token.clone(),
            });
        }
        (!self.username.is_empty()).then(|| Credentials {
            username: self.username.clone(),
            password: self.password.clone(),
        })
    }
}

/// The credentials of an `X-Registry-Auth` header, if one was sent; a
/// header that is not base64 JSON is a 400 naming it.
pub fn registry_auth(request: &Request) -> Result<Option<Credentials>, ApiError> {
    let Some(header) = request.header("x-registry-auth").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: String| {
        ApiError::bad_request(format!(
            "X-Registry-Auth: {why} (send base64url-encoded JSON credentials)"
        ))
    };
    let decoded = base64::engine::general_purpose::URL_SAFE
        .decode(header.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(header.trim()))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim()))
        .map_err(|e| bad(e.to_string()))?;
    if decoded.iter().all(u8::is_ascii_whitespace) || decoded == b"{}" || decoded == b"null" {
        return Ok(None);
    }
    let config: AuthConfig = serde_json::from_slice(&decoded).map_err(|e| bad(e.to_string()))?;
    Ok(config.credentials())
}

fn login(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let config: AuthConfig = request.json()?;
    let _ = (&config.email, &config.auth);
    let credentials = config
        .credentials()
        .ok_or_else(|| ApiError::bad_request("username is required: give username and password"))?;
    let domain = wharf_app::registry::server_domain(Some(&config.serveraddress));
    let options = backend.registry.registry_options();
    let registry = Registry::connect(&domain, &options, Some(credentials))
        .map_err(|e| ApiError::internal(format!("reaching registry {domain}: {e}")))?;
    registry.check_login().map_err(|e| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("login attempt to {domain} failed: {e}"),
        )
    })?;
    Ok(Reply::ok(
        json!({ "Status": "Login Succeeded", "IdentityToken": "" }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_configs_give_credentials_or_none() {
        let config: AuthConfig =
            serde_json::from_str(r#"{"username":"u","password":"p","serveraddress":"r"}"#).unwrap();
        let credentials = config.credentials().unwrap();
        assert_eq!(
            (credentials.username.as_str(), credentials.password.as_str()),
            ("u", "p")
        );
        assert!(AuthConfig::default().credentials().is_none());
    }
}
