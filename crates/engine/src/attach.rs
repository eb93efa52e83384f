//! Attaching to a running container's stdin and output (`wharf attach`).
//!
//! The monitor of a container with `tty` or `stdin_open` listens on
//! `containers/<id>/attach.sock` (mode 0600). Both ways the bytes are frames
//! `[kind][length: u32 big-endian][bytes]`. The monitor sends the container's
//! output (kind 1 stdout, 2 stderr); the client sends input (kind 0), which
//! goes to the container's stdin (its terminal's master, or the write end of
//! its stdin pipe, which the monitor holds open), and its terminal's size
//! (kind 3: rows and columns, u16 big-endian each) for the container's
//! terminal. Output goes only to a client that asks for it (kind 4, first):
//! one that only sizes the terminal (the Engine API's resize) gets none.
//! The connection ends when the container's output ends.
//!
//! docker's clients attach before they start a container, so they see all
//! it prints; the Engine API can only reach the monitor once it runs. So the
//! output of a start that no client has taken yet is kept (a few seconds,
//! a bounded size) and given to the first client that attaches, even after
//! the output ended: a short command's output is not lost.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wharf_engine_api::{EngineError, LogStream};

/// The socket's name in the container's state directory.
pub const SOCKET: &str = "attach.sock";

/// A client slower than this to take a frame is dropped rather than
/// holding up the container's output.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

const INPUT: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const RESIZE: u8 = 3;
const WANT_OUTPUT: u8 = 4;
/// No frame is larger: a client cannot make the monitor allocate more.
const MAX_FRAME: usize = 1 << 20;
/// How long after a start, and how much of its output, is kept for the
/// first client.
const UNCLAIMED_FOR: Duration = Duration::from_secs(5);
const UNCLAIMED_BYTES: usize = 64 << 10;

/// A frame's header: its kind and the length of the bytes that follow.
fn header(kind: u8, len: usize) -> [u8; 5] {
    let mut header = [0u8; 5];
    header[0] = kind;
    header[1..].copy_from_slice(&(len as u32).to_be_bytes());
    header
}

/// One whole frame.
fn frame(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut frame = header(kind, bytes.len()).to_vec();
    frame.extend_from_slice(bytes);
    frame
}

/// Read the next frame's bytes into `buf`; its kind, `None` at the end.
fn read_any_frame(reader: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<Option<u8>> {
    let mut header = [0u8; 5];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("attach frame of {len} bytes"),
        ));
    }
    buf.resize(len, 0);
    reader.read_exact(buf)?;
    Ok(Some(header[0]))
}

/// Read the next output frame into `buf`; `None` at the end of the output.
pub fn read_frame(reader: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<Option<LogStream>> {
    Ok(read_any_frame(reader, buf)?.map(|kind| match kind {
        STDERR => LogStream::Stderr,
        _ => LogStream::Stdout,
    }))
}

/// The monitor's side: the attached clients and where their input goes.
#[derive(Default)]
pub struct Hub {
    clients: Mutex<Vec<UnixStream>>,
    /// The current start's stdin (none between restarts, or without `stdin_open`).
    input: Mutex<Option<Arc<File>>>,
    /// The current start's terminal, resized by clients (with `tty`).
    terminal: Mutex<Option<File>>,
    /// The output of the current start that no client has taken yet.
    unclaimed: Mutex<Unclaimed>,
}

/// Output kept for the first client of a start.
#[derive(Default)]
struct Unclaimed {
    frames: Vec<u8>,
    kept_until: Option<Instant>,
    ended: bool,
}

impl Unclaimed {
    fn keep(&mut self, kind: u8, bytes: &[u8]) {
        let open = self.kept_until.is_some_and(|until| Instant::now() < until);
        if open && self.frames.len() + 5 + bytes.len() <= UNCLAIMED_BYTES {
            self.frames.extend_from_slice(&header(kind, bytes.len()));
            self.frames.extend_from_slice(bytes);
        } else {
            self.release();
        }
    }

    fn release(&mut self) {
        self.kept_until = None;
        self.frames = Vec::new();
    }
}

impl Hub {
    /// Listen on `dir/attach.sock` for the monitor's whole life.
    pub fn listen(dir: &Path) -> Result<Arc<Hub>, EngineError> {
        let hub = Arc::new(Hub::default());
        // Through the directory's descriptor: the state root may be deep
        // enough for the full path to pass the 108 bytes a socket address holds.
        let dir_file = File::open(dir)
            .map_err(|e| EngineError::io(format!("opening {}", dir.display()), e))?;
        let path = format!("/proc/self/fd/{}/{SOCKET}", dir_file.as_raw_fd());
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).map_err(|e| {
            EngineError::io(format!("listening on {}", dir.join(SOCKET).display()), e)
        })?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                |e| EngineError::io(format!("restricting {}", dir.join(SOCKET).display()), e),
            )?;
        }
        let accepting = hub.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                accepting.accept(client);
            }
        });
        Ok(hub)
    }

    fn accept(self: &Arc<Self>, client: UnixStream) {
        let _ = client.set_write_timeout(Some(WRITE_TIMEOUT));
        let Ok(reader) = client.try_clone() else {
            return;
        };
        let hub = self.clone();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(reader);
            let mut buf = Vec::new();
            let mut client = Some(client);
            while let Ok(Some(kind)) = read_any_frame(&mut reader, &mut buf) {
                match (kind, buf.as_slice()) {
                    (WANT_OUTPUT, _) => {
                        if let Some(client) = client.take() {
                            hub.send_output_to(client);
                        }
                    }
                    (INPUT, bytes) => {
                        let input = hub.input.lock().ok().and_then(|i| i.clone());
                        if let Some(input) = input {
                            let _ = (&*input).write_all(bytes);
                        }
                    }
                    (RESIZE, [r0, r1, c0, c1]) => {
                        if let Ok(terminal) = hub.terminal.lock() {
                            if let Some(terminal) = terminal.as_ref() {
                                wharf_runtime::WindowSize {
                                    rows: u16::from_be_bytes([*r0, *r1]),
                                    cols: u16::from_be_bytes([*c0, *c1]),
                                }
                                .apply_to(terminal.as_raw_fd());
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
    }

    /// From now on `client` gets the output, the kept output of the start
    /// first if no client took it yet.
    fn send_output_to(&self, mut client: UnixStream) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        // Under the clients' lock: no output passes the kept one.
        let (kept, ended) = match self.unclaimed.lock() {
            Ok(mut unclaimed) => {
                let kept = std::mem::take(&mut unclaimed.frames);
                unclaimed.release();
                (kept, unclaimed.ended)
            }
            Err(_) => (Vec::new(), false),
        };
        if !kept.is_empty() && client.write_all(&kept).is_err() {
            return;
        }
        if ended {
            let _ = client.shutdown(std::net::Shutdown::Both);
            return;
        }
        clients.push(client);
    }

    /// The terminal clients resize from now on.
    pub fn set_terminal(&self, terminal: Option<File>) {
        if let Ok(mut slot) = self.terminal.lock() {
            *slot = terminal;
        }
    }

    /// Where client input goes from now on.
    pub fn set_input(&self, input: Option<File>) {
        if let Ok(mut slot) = self.input.lock() {
            *slot = input.map(Arc::new);
        }
    }

    /// A start begins: its output is kept until a client takes it.
    pub fn begin_output(&self) {
        if let Ok(mut unclaimed) = self.unclaimed.lock() {
            *unclaimed = Unclaimed {
                kept_until: Some(Instant::now() + UNCLAIMED_FOR),
                ..Unclaimed::default()
            };
        }
    }

    /// Send output to every client, dropping those that fail.
    pub fn broadcast(&self, stream: LogStream, bytes: &[u8]) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        let kind = match stream {
            LogStream::Stdout => STDOUT,
            LogStream::Stderr => STDERR,
        };
        if clients.is_empty() {
            if let Ok(mut unclaimed) = self.unclaimed.lock() {
                if unclaimed.kept_until.is_some() {
                    unclaimed.keep(kind, bytes);
                }
            }
            return;
        }
        let header = header(kind, bytes.len());
        clients.retain_mut(|c| {
            c.write_all(&header)
                .and_then(|()| c.write_all(bytes))
                .is_ok()
        });
    }

    /// The container's output ended: clients see the end of their stream.
    pub fn end_output(&self) {
        if let Ok(mut unclaimed) = self.unclaimed.lock() {
            unclaimed.ended = true;
        }
        if let Ok(mut clients) = self.clients.lock() {
            for client in clients.drain(..) {
                let _ = client.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// A client's connection to a container's monitor.
#[derive(Debug)]
pub struct Attached {
    /// Read output frames from it with [`read_frame`]; write through
    /// [`Attached::send_input`] and [`Attached::send_size`].
    pub stream: UnixStream,
    /// Serializes the frames of several writing threads.
    writer: Mutex<()>,
    /// The output is a terminal's: one stream, and keys are sent as typed.
    pub tty: bool,
    /// What is written reaches the container's stdin (else it is dropped).
    pub stdin_open: bool,
}

impl Attached {
    pub(crate) fn new(stream: UnixStream, tty: bool, stdin_open: bool) -> Attached {
        Attached {
            stream,
            writer: Mutex::new(()),
            tty,
            stdin_open,
        }
    }

    fn send(&self, frame: &[u8]) -> std::io::Result<()> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        (&self.stream).write_all(frame)
    }

    /// Send bytes to the container's stdin.
    pub fn send_input(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.send(&frame(INPUT, bytes))
    }

    /// Give the container's terminal the size of our stdin's, if it is one.
    pub fn send_size(&self) -> std::io::Result<()> {
        match wharf_runtime::WindowSize::of(0) {
            Some(size) => self.send_window_size(size),
            None => Ok(()),
        }
    }

    /// Give the container's terminal `size` (nothing without a terminal).
    pub fn send_window_size(&self, size: wharf_runtime::WindowSize) -> std::io::Result<()> {
        if !self.tty {
            return Ok(());
        }
        let mut bytes = size.rows.to_be_bytes().to_vec();
        bytes.extend_from_slice(&size.cols.to_be_bytes());
        self.send(&frame(RESIZE, &bytes))
    }
}

/// Connect to the attach socket in `dir`, for input and sizes only.
pub fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    let dir_file = File::open(dir)?;
    UnixStream::connect(format!("/proc/self/fd/{}/{SOCKET}", dir_file.as_raw_fd()))
}

/// Connect to the attach socket in `dir` and ask for the output too.
pub fn connect_for_output(dir: &Path) -> std::io::Result<UnixStream> {
    let mut stream = connect(dir)?;
    stream.write_all(&frame(WANT_OUTPUT, &[]))?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut wire = frame(STDERR, b"abc");
        wire.extend_from_slice(&frame(STDOUT, b""));
        let mut reader = wire.as_slice();
        let mut buf = Vec::new();
        assert_eq!(
            read_frame(&mut reader, &mut buf).unwrap(),
            Some(LogStream::Stderr)
        );
        assert_eq!(buf, b"abc");
        assert_eq!(
            read_frame(&mut reader, &mut buf).unwrap(),
            Some(LogStream::Stdout)
        );
        assert!(buf.is_empty());
        assert_eq!(read_frame(&mut reader, &mut buf).unwrap(), None);
        let resize = frame(RESIZE, &[0, 40, 0, 120]);
        let mut reader = resize.as_slice();
        assert_eq!(read_any_frame(&mut reader, &mut buf).unwrap(), Some(RESIZE));
        assert_eq!(buf, [0, 40, 0, 120]);
        let huge = header(INPUT, MAX_FRAME + 1);
        assert!(read_any_frame(&mut huge.as_slice(), &mut buf).is_err());
    }

    fn output_of(stream: &mut UnixStream) -> Vec<(LogStream, Vec<u8>)> {
        let mut seen = Vec::new();
        let mut buf = Vec::new();
        while let Some(kind) = read_frame(stream, &mut buf).unwrap() {
            seen.push((kind, buf.clone()));
        }
        seen
    }

    #[test]
    fn the_first_client_gets_what_a_start_printed_before_it_came() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::listen(dir.path()).unwrap();
        hub.begin_output();
        hub.broadcast(LogStream::Stdout, b"one-off\n");
        hub.broadcast(LogStream::Stderr, b"warning\n");
        hub.end_output();
        // A client that only sizes the terminal, first, takes nothing.
        let mut sizer = connect(dir.path()).unwrap();
        sizer.write_all(&frame(RESIZE, &[0, 30, 0, 90])).unwrap();
        drop(sizer);
        let mut first = connect_for_output(dir.path()).unwrap();
        first
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(
            output_of(&mut first),
            vec![
                (LogStream::Stdout, b"one-off\n".to_vec()),
                (LogStream::Stderr, b"warning\n".to_vec()),
            ]
        );
        // Taken once: a second client of the ended output gets nothing.
        let mut second = connect_for_output(dir.path()).unwrap();
        second
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert!(output_of(&mut second).is_empty());
    }

    #[test]
    fn output_nobody_took_is_kept_only_up_to_its_bound() {
        let mut unclaimed = Unclaimed {
            kept_until: Some(Instant::now() + UNCLAIMED_FOR),
            ..Unclaimed::default()
        };
        unclaimed.keep(STDOUT, &[b'x'; 100]);
        assert_eq!(unclaimed.frames.len(), 105);
        unclaimed.keep(STDOUT, &vec![b'y'; UNCLAIMED_BYTES]);
        assert!(unclaimed.frames.is_empty() && unclaimed.kept_until.is_none());
        unclaimed.keep(STDOUT, b"later");
        assert!(unclaimed.frames.is_empty());
    }
}
