//! Attaching to a running container's stdin and output (`wharf attach`).
//!
//! The monitor of a container with `tty` or `stdin_open` listens on
//! `containers/<id>/attach.sock` (mode 0600). A client writes raw bytes, which
//! go to the container's stdin (its terminal's master, or the write end of its
//! stdin pipe, which the monitor holds open); it reads the container's output
//! as frames `[stream: 1 stdout | 2 stderr][length: u32 big-endian][bytes]`.
//! The connection ends when the container's output ends.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wharf_engine_api::{EngineError, LogStream};

/// The socket's name in the container's state directory.
pub const SOCKET: &str = "attach.sock";

/// A client slower than this to take a frame is dropped rather than
/// holding up the container's output.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A frame's header: the stream and the length of the bytes that follow.
pub fn frame_header(stream: LogStream, len: u32) -> [u8; 5] {
    let mut header = [0u8; 5];
    header[0] = match stream {
        LogStream::Stdout => 1,
        LogStream::Stderr => 2,
    };
    header[1..].copy_from_slice(&len.to_be_bytes());
    header
}

/// Read the next frame into `buf`; `None` at the end of the output.
pub fn read_frame(reader: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<Option<LogStream>> {
    let mut header = [0u8; 5];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let stream = match header[0] {
        2 => LogStream::Stderr,
        _ => LogStream::Stdout,
    };
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    buf.resize(len, 0);
    reader.read_exact(buf)?;
    Ok(Some(stream))
}

/// The monitor's side: the attached clients and where their input goes.
#[derive(Default)]
pub struct Hub {
    clients: Mutex<Vec<UnixStream>>,
    /// The current start's stdin (none between restarts, or without `stdin_open`).
    input: Mutex<Option<Arc<File>>>,
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
        let Ok(mut reader) = client.try_clone() else {
            return;
        };
        if let Ok(mut clients) = self.clients.lock() {
            clients.push(client);
        }
        let hub = self.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let input = hub.input.lock().ok().and_then(|i| i.clone());
                if let Some(input) = input {
                    let _ = (&*input).write_all(&buf[..n]);
                }
            }
        });
    }

    /// Where client input goes from now on.
    pub fn set_input(&self, input: Option<File>) {
        if let Ok(mut slot) = self.input.lock() {
            *slot = input.map(Arc::new);
        }
    }

    /// Send output to every client, dropping those that fail.
    pub fn broadcast(&self, stream: LogStream, bytes: &[u8]) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        if clients.is_empty() {
            return;
        }
        let header = frame_header(stream, bytes.len() as u32);
        clients.retain_mut(|c| {
            c.write_all(&header)
                .and_then(|()| c.write_all(bytes))
                .is_ok()
        });
    }

    /// The container's output ended: clients see the end of their stream.
    pub fn end_output(&self) {
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
    pub stream: UnixStream,
    /// The output is a terminal's: one stream, and keys are sent as typed.
    pub tty: bool,
    /// What is written reaches the container's stdin (else it is dropped).
    pub stdin_open: bool,
}

/// Connect to the attach socket in `dir`.
pub fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    let dir_file = File::open(dir)?;
    UnixStream::connect(format!("/proc/self/fd/{}/{SOCKET}", dir_file.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&frame_header(LogStream::Stderr, 3));
        wire.extend_from_slice(b"abc");
        wire.extend_from_slice(&frame_header(LogStream::Stdout, 0));
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
    }
}
