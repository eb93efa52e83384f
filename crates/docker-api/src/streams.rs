//! A container's output as docker's clients read it: `POST
//! /containers/{id}/attach` on a hijacked connection and `GET
//! /containers/{id}/logs`. Without a TTY each chunk is a multiplexed frame
//! (stdout 1, stderr 2); with one the bytes go out raw. And the size of its
//! terminal: `POST /containers/{id}/resize`.
//!
//! Attach reads the output from the container's log (from the start of the
//! run it attached before, so nothing a short-lived container printed is
//! lost); a container with an open stdin is attached through its monitor,
//! which also takes the input. On a TTY the detach keys (`detachKeys`,
//! ctrl-p ctrl-q by default) typed there end the stream, the container
//! running on.

use crate::backend::Backend;
use crate::detach_keys::{self, Scanned, Scanner};
use crate::error::ApiError;
use crate::hijack::{self, Hijacked, StreamKind, MULTIPLEXED_STREAM, RAW_STREAM};
use crate::reply::Reply;
use crate::request::Request;
use crate::wait;
use hyper::StatusCode;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};
use wharf_engine_api::{ContainerState, Engine, LogLine, LogOptions, LogStream};

/// What an attach or logs client asked to receive.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    stdout: bool,
    stderr: bool,
    timestamps: bool,
    tty: bool,
}

impl Wanted {
    /// Write `line` as the client expects it; false once the client is gone.
    fn write(&self, out: &mut dyn Write, line: &LogLine) -> bool {
        let wanted = match line.stream {
            LogStream::Stdout => self.stdout,
            LogStream::Stderr => self.stderr,
        };
        if !wanted {
            return true;
        }
        let text = if self.timestamps {
            format!("{} {}", rfc3339_nanos(line.time_ns), line.text)
        } else {
            line.text.clone()
        };
        if self.tty {
            out.write_all(text.as_bytes()).is_ok()
        } else {
            let stream = match line.stream {
                LogStream::Stdout => StreamKind::Stdout,
                LogStream::Stderr => StreamKind::Stderr,
            };
            hijack::write_frame(out, stream, text.as_bytes()).is_ok()
        }
    }
}

fn content_type(tty: bool) -> &'static str {
    if tty {
        RAW_STREAM
    } else {
        MULTIPLEXED_STREAM
    }
}

/// `POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1`.
pub fn attach(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1).to_string();
    let initial = backend.engine.inspect_container(&id)?;
    let details = backend.engine.container_details(&id)?;
    let (tty, stdin_open) = (details.spec.tty, details.spec.stdin_open);
    let query = &request.query;
    let wanted = Wanted {
        stdout: query.bool("stdout", false),
        stderr: query.bool("stderr", false),
        timestamps: false,
        tty,
    };
    let with_stdin = query.bool("stdin", false) && stdin_open;
    let keys = detach_keys::from_request(query.get("detachKeys"), |keys| {
        format!("Invalid detach keys ({keys}) provided")
    })?;
    let detach = tty.then_some(keys);
    let past_logs = query.bool("logs", false);
    if !request.wants_upgrade() {
        return Err(ApiError::bad_request(
            "attach takes the connection over: send it with the headers `Connection: Upgrade` and `Upgrade: tcp`",
        ));
    }
    let attached_at = wharf_units::calendar::now_ns();
    // Taken now, before the client starts the container: a `--rm`
    // container that ends before this reader comes is kept until it has
    // read the output.
    let removal_hold = details
        .spec
        .auto_remove
        .then(|| backend.engine.hold_removal(&initial.id).ok())
        .flatten();
    let backend = backend.clone();
    Ok(Reply::Hijack {
        content_type: content_type(tty),
        task: Box::new(move |socket| {
            let _removal_hold = removal_hold;
            if !wait::started(&backend.engine, &initial) {
                let _ = socket.shutdown(Shutdown::Both);
                return;
            }
            // Logs from the start of this run, or only new ones when the
            // container already ran before the attach.
            let since_ns = match initial.state {
                ContainerState::Created => None,
                _ if past_logs => None,
                _ => Some(attached_at),
            };
            if with_stdin {
                if let Ok(Some(monitor)) = backend.engine.attach_stream(&initial.id) {
                    relay_monitor(monitor, socket, wanted, detach);
                    return;
                }
            }
            follow_log(&backend.engine, &initial.id, since_ns, socket, wanted);
        }),
    })
}

/// How long attach reads the log at a fast pace before it leaves the
/// following to the engine (which looks every 50 ms): a short-lived
/// container's output and end then reach the client without that wait.
const FAST_FOLLOW: Duration = Duration::from_secs(1);
const FAST_POLL: Duration = Duration::from_millis(5);

/// Where a log read continues: after the lines already sent at `time_ns`.
#[derive(Debug, Default)]
struct Cursor {
    time_ns: Option<i64>,
    sent_at_time: usize,
}

impl Cursor {
    /// Options reading from the cursor on.
    fn options(&self, follow: bool) -> LogOptions {
        LogOptions {
            follow,
            since_ns: self.time_ns,
            ..Default::default()
        }
    }

    /// Send `line` unless it was sent already; false once the client is gone.
    fn send(
        &mut self,
        line: &LogLine,
        skip: &mut usize,
        out: &mut dyn Write,
        wanted: Wanted,
    ) -> bool {
        if Some(line.time_ns) == self.time_ns && *skip > 0 {
            *skip -= 1;
            return true;
        }
        if Some(line.time_ns) == self.time_ns {
            self.sent_at_time += 1;
        } else {
            self.time_ns = Some(line.time_ns);
            self.sent_at_time = 1;
        }
        wanted.write(out, line)
    }
}

/// Send the container's log from `since_ns` until it stops, then close.
fn follow_log(
    engine: &dyn Engine,
    id: &str,
    since_ns: Option<i64>,
    mut socket: Hijacked,
    wanted: Wanted,
) {
    let mut cursor = Cursor {
        time_ns: since_ns,
        sent_at_time: 0,
    };
    let fast_until = Instant::now() + FAST_FOLLOW;
    loop {
        let running =
            matches!(wait::current(engine, id), Ok(Some(info)) if info.state.is_running());
        let follow = running && Instant::now() >= fast_until;
        let mut skip = cursor.sent_at_time;
        let mut client_here = true;
        let read = engine.logs(id, &cursor.options(follow), &mut |line| {
            client_here = cursor.send(&line, &mut skip, &mut socket, wanted);
            client_here
        });
        if read.is_err() || !client_here || !running || follow {
            break;
        }
        std::thread::sleep(FAST_POLL);
    }
    let _ = socket.shutdown(Shutdown::Both);
}

/// Relay the client's input to the container's monitor and the monitor's
/// output back, until the output ends, the client goes away or types the
/// `detach` keys (with a TTY).
fn relay_monitor(
    monitor: wharf_engine::attach::Attached,
    socket: Hijacked,
    wanted: Wanted,
    detach: Option<Vec<u8>>,
) {
    let monitor = std::sync::Arc::new(monitor);
    let mut input = match socket.try_clone() {
        Ok(input) => input,
        Err(_) => return,
    };
    let mut socket = socket;
    let pending = socket.take_pending();
    let to_container = monitor.clone();
    let reader = std::thread::spawn(move || {
        let mut scanner = detach.map(Scanner::new);
        // False once the input ends here: sent, detached or refused.
        let mut pass_on = |chunk: &[u8]| -> bool {
            let scanned = match scanner.as_mut() {
                Some(scanner) => scanner.scan(chunk),
                None => Scanned::Input(chunk.to_vec()),
            };
            match scanned {
                Scanned::Input(bytes) => {
                    bytes.is_empty() || to_container.send_input(&bytes).is_ok()
                }
                Scanned::Detach(bytes) => {
                    if !bytes.is_empty() {
                        let _ = to_container.send_input(&bytes);
                    }
                    // Ends the output relay below, and the connection.
                    let _ = to_container.stream.shutdown(Shutdown::Both);
                    false
                }
            }
        };
        if !pending.is_empty() && !pass_on(&pending) {
            return;
        }
        let mut chunk = [0u8; 8192];
        loop {
            match input.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if !pass_on(&chunk[..n]) {
                        return;
                    }
                }
            }
        }
    });
    let mut buffer = Vec::new();
    let mut stream = &monitor.stream;
    while let Ok(Some(kind)) = wharf_engine::attach::read_frame(&mut stream, &mut buffer) {
        let line = LogLine {
            stream: kind,
            time_ns: 0,
            text: String::from_utf8_lossy(&buffer).into_owned(),
        };
        if !wanted.write(&mut socket, &line) {
            break;
        }
    }
    // The output ended: the client sees the end, and its input thread ends
    // with the connection.
    let _ = socket.shutdown(Shutdown::Both);
    let _ = monitor.stream.shutdown(Shutdown::Both);
    let _ = reader.join();
}

/// `POST /containers/{id}/resize?h=&w=`: the size of a `-t` container's
/// terminal, whose master its monitor holds (a message to the monitor, as
/// `wharf attach` sends on SIGWINCH). Without a terminal there is nothing
/// to size, and docker answers 200 all the same.
pub fn resize(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let size = crate::exec::requested_size(&request)?;
    let info = backend.engine.inspect_container(id)?;
    if !info.state.is_running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            info.id
        )));
    }
    // A connection of its own that takes no output: the client's attach,
    // which may reach the monitor after this, gets what the start printed.
    backend.engine.resize_terminal(&info.id, size)?;
    Ok(Reply::empty(StatusCode::OK))
}

/// `GET /containers/{id}/logs`.
pub fn logs(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1).to_string();
    let details = backend.engine.container_details(&id)?;
    let query = &request.query;
    let wanted = Wanted {
        stdout: query.bool("stdout", false),
        stderr: query.bool("stderr", false),
        timestamps: query.bool("timestamps", false),
        tty: details.spec.tty,
    };
    if !wanted.stdout && !wanted.stderr {
        return Err(ApiError::bad_request(
            "you must choose at least one stream: add stdout=1 or stderr=1 to the query",
        ));
    }
    let tail = match query.get("tail").unwrap_or("all") {
        "all" | "" => None,
        n => Some(n.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid value for query parameter \"tail\": {n:?} (a number of lines or all)"
            ))
        })?),
    };
    let options = LogOptions {
        follow: query.bool("follow", false),
        tail,
        since_ns: time_param(query.get("since"), "since")?,
        until_ns: time_param(query.get("until"), "until")?,
    };
    let backend = backend.clone();
    Ok(Reply::stream(content_type(wanted.tty), move |out| {
        backend
            .engine
            .logs(&id, &options, &mut |line| wanted.write(out, &line))
            .map_err(std::io::Error::other)
    }))
}

/// docker's `since`/`until`: Unix seconds with an optional fraction; 0 is unset.
fn time_param(value: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "invalid value for query parameter {name:?}: {text:?} (Unix seconds, like 1700000000.5)"
        ))
    })?;
    let digits: String = fraction.chars().take(9).collect();
    let nanos: i64 = format!("{digits:0<9}").parse().unwrap_or(0);
    Ok((secs != 0 || nanos != 0).then_some(secs * 1_000_000_000 + nanos))
}

/// RFC 3339 with nanoseconds, as docker's `timestamps=1`.
fn rfc3339_nanos(nanos: i64) -> String {
    let (y, mo, d, h, mi, s) =
        wharf_units::calendar::utc_from_unix(nanos.div_euclid(1_000_000_000));
    let fraction = nanos.rem_euclid(1_000_000_000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{fraction:09}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(stream: LogStream, text: &str) -> LogLine {
        LogLine {
            stream,
            time_ns: 1_700_000_000_000_000_001,
            text: text.into(),
        }
    }

    #[test]
    fn without_a_tty_lines_are_frames_of_their_stream() {
        let wanted = Wanted {
            stdout: true,
            stderr: true,
            timestamps: false,
            tty: false,
        };
        let mut out = Vec::new();
        assert!(wanted.write(&mut out, &line(LogStream::Stdout, "hi\n")));
        assert!(wanted.write(&mut out, &line(LogStream::Stderr, "e\n")));
        assert_eq!(
            out,
            [
                &[1, 0, 0, 0, 0, 0, 0, 3][..],
                b"hi\n",
                &[2, 0, 0, 0, 0, 0, 0, 2],
                b"e\n"
            ]
            .concat()
        );
    }

    #[test]
    fn with_a_tty_bytes_go_raw_and_unwanted_streams_are_left_out() {
        let wanted = Wanted {
            stdout: true,
            stderr: false,
            timestamps: true,
            tty: true,
        };
        let mut out = Vec::new();
        wanted.write(&mut out, &line(LogStream::Stdout, "hi\n"));
        wanted.write(&mut out, &line(LogStream::Stderr, "e\n"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2023-11-14T22:13:20.000000001Z hi\n"
        );
    }

    #[test]
    fn since_and_until_are_unix_seconds_with_a_fraction() {
        assert_eq!(
            time_param(Some("12.5"), "since").unwrap(),
            Some(12_500_000_000)
        );
        assert_eq!(time_param(Some("0"), "since").unwrap(), None);
        assert_eq!(time_param(None, "since").unwrap(), None);
        assert!(time_param(Some("yesterday"), "until")
            .unwrap_err()
            .to_string()
            .contains("until"));
    }
}
