//! A small HTTP/1.1 server side: one request per connection, heads parsed by
//! `httparse`, every size bounded (head, body, header count), read and write
//! timeouts, so a slow or hostile client costs a bounded amount of memory.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The request line and headers may take at most this much.
pub const MAX_HEAD: usize = 16 * 1024;
/// A form (a Compose file edited in the browser) may take at most this much.
pub const MAX_BODY: usize = 1024 * 1024;
const MAX_HEADERS: usize = 64;
/// How long a client may take to send its request or read the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub fn form(&self) -> BTreeMap<String, String> {
        parse_query(&String::from_utf8_lossy(&self.body))
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.header("cookie")?.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

/// What a request could not be read as.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// A head beyond [`MAX_HEAD`] (431) or a body beyond [`MAX_BODY`] (413).
    TooLarge(u16),
    Malformed(String),
}

/// Read one request from `stream`.
pub fn read_request(stream: &mut TcpStream) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        let n = stream.read(&mut chunk).map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Malformed("connection closed mid-request".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::TooLarge(431));
        }
    };
    if head_len > MAX_HEAD {
        return Err(ReadError::TooLarge(431));
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..head_len]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(ReadError::Malformed("incomplete head".into()))
        }
        Err(e) => return Err(ReadError::Malformed(e.to_string())),
    }
    let target = parsed.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: parsed.method.unwrap_or("GET").to_string(),
        path: percent_decode(path),
        query: parse_query(query),
        ..Default::default()
    };
    for h in parsed.headers.iter() {
        let value = String::from_utf8_lossy(h.value).into_owned();
        request.headers.insert(h.name.to_ascii_lowercase(), value);
    }
    let length: usize = match request.header("content-length") {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ReadError::Malformed(format!("bad Content-Length {v:?}")))?,
        None => 0,
    };
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Malformed(
            "chunked bodies are not accepted".into(),
        ));
    }
    if length > MAX_BODY {
        return Err(ReadError::TooLarge(413));
    }
    let mut body = buf.split_off(head_len);
    body.truncate(length);
    if body.len() < length {
        let mut rest = vec![0u8; length - body.len()];
        stream.read_exact(&mut rest).map_err(ReadError::Io)?;
        body.extend_from_slice(&rest);
    }
    request.body = body;
    Ok(request)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// An answer to send.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn html(status: u16, body: String) -> Self {
        Response::new(status, "text/html; charset=utf-8", body)
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// 303 to `location` (after a form's POST).
    pub fn see_other(location: &str) -> Self {
        Response::text(303, "").with_header("Location", location)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// `a=1&b=x%20y` (also `+` for a space) into a map; the last value of a key wins.
pub fn parse_query(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// `%XX` escapes decoded; a broken escape is kept as it is.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_escapes_decode() {
        let q = parse_query("a=1&b=x%20y+z&c&bad=%zz%4");
        assert_eq!(q["a"], "1");
        assert_eq!(q["b"], "x y z");
        assert_eq!(q["c"], "");
        assert_eq!(q["bad"], "%zz%4");
        assert_eq!(percent_decode("%2Fetc%2fpasswd"), "/etc/passwd");
        assert_eq!(percent_decode("%é%"), "%é%");
    }
}
