//! What a handler answers: a whole body, a stream written on a blocking
//! thread (logs, stats, progress), or a connection taken over (attach,
//! exec start) after `101 UPGRADED`.

use crate::hijack::Hijacked;
use hyper::StatusCode;
use std::io::{self, Write};

/// Writes a streamed response; each write goes out as one chunk. A write
/// fails once the client has gone, so producers stop with it.
pub struct StreamWriter {
    pub(crate) sender: tokio::sync::mpsc::Sender<hyper::body::Bytes>,
}

impl StreamWriter {
    /// Whether the client has gone (a producer waiting for data checks it).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

impl Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.sender
            .blocking_send(hyper::body::Bytes::copy_from_slice(buf))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client has gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub type Producer = Box<dyn FnOnce(&mut StreamWriter) -> io::Result<()> + Send>;
pub type HijackTask = Box<dyn FnOnce(Hijacked) + Send>;

pub enum Reply {
    Full {
        status: StatusCode,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    Stream {
        status: StatusCode,
        headers: Vec<(&'static str, String)>,
        produce: Producer,
    },
    /// Answer `101 UPGRADED` with this content type and run `task` on the
    /// raw connection.
    Hijack {
        content_type: &'static str,
        task: HijackTask,
    },
}

impl Reply {
    /// A JSON document.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        Reply::Full {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// 200 with a JSON document.
    pub fn ok(value: serde_json::Value) -> Self {
        Reply::json(StatusCode::OK, &value)
    }

    /// A status without a body (204, 304).
    pub fn empty(status: StatusCode) -> Self {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Plain text (`/_ping`'s `OK`).
    pub fn text(status: StatusCode, text: &str) -> Self {
        Reply::Full {
            status,
            headers: vec![("content-type", "text/plain; charset=utf-8".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    /// A streamed body of `content_type` written by `produce`.
    pub fn stream(
        content_type: &str,
        produce: impl FnOnce(&mut StreamWriter) -> io::Result<()> + Send + 'static,
    ) -> Self {
        Reply::Stream {
            status: StatusCode::OK,
            headers: vec![("content-type", content_type.to_string())],
            produce: Box::new(produce),
        }
    }

    /// Add a header to a whole or streamed reply.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        match &mut self {
            Reply::Full { headers, .. } | Reply::Stream { headers, .. } => {
                headers.push((name, value))
            }
            Reply::Hijack { .. } => {}
        }
        self
    }
}
