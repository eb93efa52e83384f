//! A connection taken over after `101 UPGRADED` (attach, exec start), as a
//! blocking socket, and docker's stream multiplexing: without a TTY each
//! chunk of stdout or stderr goes out behind an 8-byte header (stream byte,
//! three zero bytes, big-endian length).

use hyper::body::Bytes;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};

/// The content type of a raw stream (with a TTY).
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// The content type of a multiplexed stream (without a TTY).
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// The stream a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

/// The 8-byte header of a frame of `len` bytes on `stream`.
pub fn frame_header(stream: StreamKind, len: usize) -> [u8; 8] {
    let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [stream as u8, 0, 0, 0, len[0], len[1], len[2], len[3]]
}

/// Write `data` as frames on `stream` (split when over 4 GiB).
pub fn write_frame(out: &mut dyn Write, stream: StreamKind, data: &[u8]) -> io::Result<()> {
    for chunk in data.chunks(u32::MAX as usize) {
        let mut frame = Vec::with_capacity(8 + chunk.len());
        frame.extend_from_slice(&frame_header(stream, chunk.len()));
        frame.extend_from_slice(chunk);
        out.write_all(&frame)?;
    }
    Ok(())
}

/// The socket under an upgraded connection.
#[derive(Debug)]
pub enum Socket {
    Unix(std::os::unix::net::UnixStream),
    Tcp(std::net::TcpStream),
}

/// An upgraded connection: the blocking socket and the bytes the client
/// sent after its request that the server had already read.
#[derive(Debug)]
pub struct Hijacked {
    pub socket: Socket,
    pending: Bytes,
}

impl Hijacked {
    pub(crate) fn new(socket: Socket, pending: Bytes) -> Self {
        Hijacked { socket, pending }
    }

    /// A second handle on the same connection (one thread reads stdin while
    /// another writes output); bytes already read stay with `self`.
    pub fn try_clone(&self) -> io::Result<Hijacked> {
        let socket = match &self.socket {
            Socket::Unix(s) => Socket::Unix(s.try_clone()?),
            Socket::Tcp(s) => Socket::Tcp(s.try_clone()?),
        };
        Ok(Hijacked {
            socket,
            pending: Bytes::new(),
        })
    }

    /// Take the bytes the server read ahead (stdin sent with the request).
    pub fn take_pending(&mut self) -> Bytes {
        std::mem::take(&mut self.pending)
    }

    /// Close the writing half: the client sees the end of the output.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match &self.socket {
            Socket::Unix(s) => s.shutdown(how),
            Socket::Tcp(s) => s.shutdown(how),
        }
    }
}

impl Read for Hijacked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending.is_empty() {
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending.split_to(n));
            return Ok(n);
        }
        match &mut self.socket {
            Socket::Unix(s) => s.read(buf),
            Socket::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Hijacked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.socket {
            Socket::Unix(s) => s.write(buf),
            Socket::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Hijacked {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.socket {
            Socket::Unix(s) => s.as_fd(),
            Socket::Tcp(s) => s.as_fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_stream_three_zeros_and_big_endian_length() {
        assert_eq!(
            frame_header(StreamKind::Stdout, 0x0102_0304),
            [1, 0, 0, 0, 1, 2, 3, 4]
        );
        let mut out = Vec::new();
        write_frame(&mut out, StreamKind::Stderr, b"hi\n").unwrap();
        assert_eq!(out, [2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']);
    }

    #[test]
    fn pending_bytes_are_read_before_the_socket() {
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        theirs.write_all(b" world").unwrap();
        drop(theirs);
        let mut hijacked = Hijacked::new(Socket::Unix(ours), Bytes::from_static(b"hello"));
        let mut text = String::new();
        hijacked.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello world");
    }
}
