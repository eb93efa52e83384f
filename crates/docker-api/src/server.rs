//! The HTTP/1.1 server: one task a connection on a single-threaded tokio
//! runtime, handlers on blocking threads, streamed bodies through bounded
//! channels, upgraded connections handed to their task as blocking sockets,
//! and the idle timeout (no open connection for that long ends `serve`, see
//! [`crate::idle`]).

use crate::backend::Backend;
use crate::error::ApiError;
use crate::hijack::{Hijacked, Socket};
use crate::idle::{Activity, OpenConnection};
use crate::reply::{HijackTask, Reply, StreamWriter};
use crate::request::{BodyReader, Request};
use crate::timing::RequestTimer;
use crate::{query::Query, router};
use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// A bound listening socket.
#[derive(Debug)]
pub enum Listener {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

/// Serve the API on `listener` until the idle timeout (None: never) passes
/// with no connection open, or SIGTERM / SIGINT arrives.
pub fn serve(
    backend: Backend,
    listener: Listener,
    idle_timeout: Option<Duration>,
) -> io::Result<()> {
    serve_sharing_idleness(backend, listener, idle_timeout, Arc::new(Activity::new()))
}

/// [`serve`], counting the API's connections in `activity`, which another
/// listener of the process counts its own in too: the idle timeout passes
/// only when none of them has had a connection open for that long.
pub fn serve_sharing_idleness(
    backend: Backend,
    listener: Listener,
    idle_timeout: Option<Duration>,
    activity: Arc<Activity>,
) -> io::Result<()> {
    // Before the runtime's threads: they then share one arena.
    wharf_runtime::memory::limit_allocator_arenas();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(64)
        .thread_keep_alive(Duration::from_secs(2))
        .build()?;
    runtime.block_on(accept_loop(backend, listener, idle_timeout, activity))
}

async fn accept_loop(
    backend: Backend,
    listener: Listener,
    idle_timeout: Option<Duration>,
    activity: Arc<Activity>,
) -> io::Result<()> {
    let listener = AsyncListener::new(listener)?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::spawn(crate::idle::release_memory_when_idle(
        activity.clone(),
        backend.timings,
    ));
    let idle = activity.clone().idle_for(idle_timeout);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(socket) => {
                    let open = activity.open();
                    tokio::spawn(serve_connection(backend.clone(), socket, open));
                }
                // A client that went away between connect and accept, or
                // too many open files: keep serving the others.
                Err(error) => {
                    eprintln!("wharf system service: accepting a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            () = &mut idle => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        }
    }
}

enum AsyncListener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

enum AsyncSocket {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

impl AsyncListener {
    fn new(listener: Listener) -> io::Result<Self> {
        Ok(match listener {
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                AsyncListener::Unix(tokio::net::UnixListener::from_std(l)?)
            }
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                AsyncListener::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
        })
    }

    async fn accept(&self) -> io::Result<AsyncSocket> {
        Ok(match self {
            AsyncListener::Unix(l) => AsyncSocket::Unix(l.accept().await?.0),
            AsyncListener::Tcp(l) => {
                let (socket, _) = l.accept().await?;
                socket.set_nodelay(true)?;
                AsyncSocket::Tcp(socket)
            }
        })
    }
}

async fn serve_connection(backend: Backend, socket: AsyncSocket, open: Arc<OpenConnection>) {
    let builder = hyper::server::conn::http1::Builder::new();
    // Errors here are clients that went away mid-request: nothing to report.
    let _ = match socket {
        AsyncSocket::Unix(s) => {
            let service = hyper::service::service_fn(move |request| {
                dispatch(backend.clone(), open.clone(), request)
            });
            builder
                .serve_connection(TokioIo::new(s), service)
                .with_upgrades()
                .await
        }
        AsyncSocket::Tcp(s) => {
            let service = hyper::service::service_fn(move |request| {
                dispatch(backend.clone(), open.clone(), request)
            });
            builder
                .serve_connection(TokioIo::new(s), service)
                .with_upgrades()
                .await
        }
    };
}

async fn dispatch(
    backend: Backend,
    open: Arc<OpenConnection>,
    request: hyper::Request<Incoming>,
) -> Result<Response<ReplyBody>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let timer = RequestTimer::start(backend.timings, &parts.method, parts.uri.path());
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let segments = router::segments(parts.uri.path());
    let (version, path, handler) = match router::resolve(&parts.method, &segments) {
        Ok(found) => found,
        Err(error) => return Ok(error_response(&error)),
    };
    let (chunks_in, chunks) = mpsc::channel(4);
    tokio::spawn(feed_body(body, chunks_in));
    let request = Request {
        method: parts.method,
        path,
        version,
        query: Query::parse(parts.uri.query().unwrap_or("")),
        headers: parts.headers,
        body: BodyReader::new(chunks),
        upgradable: on_upgrade.is_some(),
    };
    let handled = tokio::task::spawn_blocking(move || {
        let reply = handler(&backend, request);
        (backend, reply)
    })
    .await;
    let response = match handled {
        Ok((_, Ok(reply))) => into_response(reply, on_upgrade, open, &timer),
        Ok((_, Err(error))) => error_response(&error),
        Err(panicked) => error_response(&ApiError::internal(format!(
            "the request handler failed: {panicked}"
        ))),
    };
    timer.report("");
    Ok(response)
}

/// Pass the request body's chunks to the handler's reader until it stops
/// reading (its receiver is dropped with the request).
async fn feed_body(mut body: Incoming, chunks: mpsc::Sender<io::Result<Bytes>>) {
    while let Some(frame) = body.frame().await {
        let chunk = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => Ok(data),
                Err(_trailers) => continue,
            },
            Err(error) => Err(io::Error::other(error)),
        };
        let failed = chunk.is_err();
        if chunks.send(chunk).await.is_err() || failed {
            return;
        }
    }
}

fn error_response(error: &ApiError) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::full(error.body().into_bytes()));
    *response.status_mut() = error.status();
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_server_headers(&mut response);
    response
}

/// docker's headers on every response.
fn add_server_headers(response: &mut Response<ReplyBody>) {
    let headers = response.headers_mut();
    headers.insert(
        "api-version",
        HeaderValue::from_static(crate::system::API_VERSION),
    );
    headers.insert("docker-experimental", HeaderValue::from_static("false"));
    headers.insert("ostype", HeaderValue::from_static("linux"));
    headers.insert(
        hyper::header::SERVER,
        HeaderValue::from_static(concat!("wharf/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
}

fn into_response(
    reply: Reply,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    open: Arc<OpenConnection>,
    timer: &RequestTimer,
) -> Response<ReplyBody> {
    let (status, headers, body) = match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => (status, headers, ReplyBody::full(body)),
        Reply::Stream {
            status,
            headers,
            produce,
        } => {
            let (sender, receiver) = mpsc::channel(16);
            let timer = timer.clone();
            tokio::task::spawn_blocking(move || {
                let mut writer = StreamWriter { sender };
                if let Err(error) = produce(&mut writer) {
                    if error.kind() != io::ErrorKind::BrokenPipe {
                        eprintln!("wharf system service: streaming a response: {error}");
                    }
                }
                timer.report(" (body ended)");
            });
            (status, headers, ReplyBody::Channel(receiver))
        }
        Reply::Hijack { content_type, task } => {
            let Some(on_upgrade) = on_upgrade else {
                return error_response(&ApiError::bad_request(
                    "this endpoint takes the connection over: send the request with `Connection: Upgrade` and `Upgrade: tcp`",
                ));
            };
            tokio::spawn(run_hijacked(on_upgrade, task, open, timer.clone()));
            let headers = vec![
                ("content-type", content_type.to_string()),
                ("connection", "Upgrade".to_string()),
                ("upgrade", "tcp".to_string()),
            ];
            (
                StatusCode::SWITCHING_PROTOCOLS,
                headers,
                ReplyBody::full(Vec::new()),
            )
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .append(HeaderName::from_static(name), value);
        }
    }
    add_server_headers(&mut response);
    response
}

/// Wait for hyper to hand the connection over, then run `task` on it as a
/// blocking socket; the connection counts as open until `task` returns.
async fn run_hijacked(
    on_upgrade: hyper::upgrade::OnUpgrade,
    task: HijackTask,
    open: Arc<OpenConnection>,
    timer: RequestTimer,
) {
    let Ok(upgraded) = on_upgrade.await else {
        return;
    };
    let hijacked = match into_blocking(upgraded) {
        Ok(hijacked) => hijacked,
        Err(error) => {
            eprintln!("wharf system service: taking a connection over: {error}");
            return;
        }
    };
    let _ = tokio::task::spawn_blocking(move || {
        task(hijacked);
        timer.report(" (connection ended)");
        drop(open);
    })
    .await;
}

fn into_blocking(upgraded: hyper::upgrade::Upgraded) -> io::Result<Hijacked> {
    let upgraded = match upgraded.downcast::<TokioIo<tokio::net::UnixStream>>() {
        Ok(parts) => {
            let socket = parts.io.into_inner().into_std()?;
            socket.set_nonblocking(false)?;
            return Ok(Hijacked::new(Socket::Unix(socket), parts.read_buf));
        }
        Err(upgraded) => upgraded,
    };
    match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
        Ok(parts) => {
            let socket = parts.io.into_inner().into_std()?;
            socket.set_nonblocking(false)?;
            Ok(Hijacked::new(Socket::Tcp(socket), parts.read_buf))
        }
        Err(_) => Err(io::Error::other("the upgraded connection is not a socket")),
    }
}

/// A response body: whole, or chunks from a producer thread.
pub enum ReplyBody {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Bytes>),
}

impl ReplyBody {
    fn full(bytes: Vec<u8>) -> Self {
        ReplyBody::Full((!bytes.is_empty()).then(|| Bytes::from(bytes)))
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ReplyBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ReplyBody::Channel(receiver) => receiver
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReplyBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ReplyBody::Channel(_) => SizeHint::default(),
        }
    }
}
