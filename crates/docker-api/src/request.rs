//! A request as a handler sees it: the method, the path's segments after
//! the version prefix, the negotiated version, the query, the headers and
//! the body as a blocking reader (handlers run on blocking threads). JSON
//! bodies are bounded and their errors name the field.

use crate::error::ApiError;
use crate::query::Query;
use crate::version::ApiVersion;
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use std::io::Read;

/// The largest JSON body accepted (a create body is a few KiB).
pub const JSON_BODY_LIMIT: usize = 1 << 20;

pub struct Request {
    pub method: Method,
    /// The path's segments after `/vX.Y`, percent-decoded.
    pub path: Vec<String>,
    pub version: ApiVersion,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: BodyReader,
    /// Whether the connection can be taken over after this request.
    pub(crate) upgradable: bool,
}

impl Request {
    /// Path segment `index` (`containers/{id}/start`: 1 is the id).
    pub fn segment(&self, index: usize) -> &str {
        self.path.get(index).map(String::as_str).unwrap_or("")
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the client asked to take the connection over
    /// (`Connection: Upgrade`, `Upgrade: tcp`).
    pub fn wants_upgrade(&self) -> bool {
        let has = |name: &str, token: &str| {
            self.headers.get_all(name).iter().any(|value| {
                value
                    .to_str()
                    .unwrap_or("")
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case(token))
            })
        };
        has("connection", "upgrade") && self.upgradable
    }

    /// The body, at most [`JSON_BODY_LIMIT`] bytes.
    pub fn bytes(&mut self) -> Result<Vec<u8>, ApiError> {
        let mut buffer = Vec::new();
        (&mut self.body)
            .take(JSON_BODY_LIMIT as u64 + 1)
            .read_to_end(&mut buffer)
            .map_err(|error| ApiError::bad_request(format!("reading the request body: {error}")))?;
        if buffer.len() > JSON_BODY_LIMIT {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body is larger than the limit of {} MiB",
                    JSON_BODY_LIMIT >> 20
                ),
            ));
        }
        Ok(buffer)
    }

    /// The body as JSON of type `T`; an empty body is `T::default()`.
    pub fn json<T: DeserializeOwned + Default>(&mut self) -> Result<T, ApiError> {
        let bytes = self.bytes()?;
        parse_json(&bytes)
    }

    /// The body as a JSON value; an empty body is an empty object.
    pub fn json_value(&mut self) -> Result<serde_json::Value, ApiError> {
        let bytes = self.bytes()?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_slice(&bytes).map_err(|error| malformed(&error))
    }
}

/// Parse a JSON body; an empty one is `T::default()`, a malformed one or a
/// field of the wrong type a 400 naming the position and the field.
pub fn parse_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            malformed(&inner)
        } else {
            ApiError::bad_request(format!("invalid JSON body: field {path}: {inner}"))
        }
    })
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::bad_request(format!(
        "invalid JSON body: {error} (send a JSON object with docker's field names)"
    ))
}

/// The body of a request, read on a blocking thread while the server feeds
/// it chunk by chunk.
pub struct BodyReader {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl BodyReader {
    pub(crate) fn new(chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>) -> Self {
        BodyReader {
            chunks,
            current: Bytes::new(),
        }
    }

    /// A body with these bytes (tests).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let (sender, chunks) = tokio::sync::mpsc::channel(1);
        drop(sender);
        BodyReader {
            chunks,
            current: Bytes::copy_from_slice(bytes),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Body {
        #[serde(default)]
        cmd: Vec<String>,
        #[serde(default)]
        tty: bool,
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let error = parse_json::<Body>(br#"{"Cmd": "ls"}"#).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("field Cmd"), "{error}");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let error = parse_json::<Body>(br#"{"Tty": true, "Bogus": 1}"#).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("Bogus"), "{error}");
    }

    #[test]
    fn malformed_json_is_a_400_with_its_position() {
        let error = parse_json::<Body>(b"{\"Tty\": tru").unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("line 1 column"), "{error}");
        let body: Body = parse_json(b"  ").unwrap();
        assert!(body.cmd.is_empty() && !body.tty);
    }

    #[test]
    fn a_body_over_the_limit_is_413() {
        let (sender, chunks) = tokio::sync::mpsc::channel(4);
        let feeder = std::thread::spawn(move || {
            for _ in 0..5 {
                let chunk = Bytes::from(vec![b' '; JSON_BODY_LIMIT / 4]);
                if sender.blocking_send(Ok(chunk)).is_err() {
                    break;
                }
            }
        });
        let mut request = Request {
            method: Method::POST,
            path: vec![],
            version: ApiVersion::MAX,
            query: Query::default(),
            headers: HeaderMap::new(),
            body: BodyReader::new(chunks),
            upgradable: false,
        };
        let error = request.json_value().unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        drop(request);
        feeder.join().unwrap();
    }
}
