//! Handing listening sockets from one process to another over a unix stream
//! socket (`SCM_RIGHTS`), so that a published port moves from one container's
//! proxy to its replacement's without ever being closed: both processes hold
//! the same listening socket for a moment, and the kernel's accept queue is
//! never without an owner.

use crate::NetError;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Most descriptors one message carries (a service publishing more ports is
/// refused rather than handed over in part).
pub const MAX_FDS: usize = 128;
/// Largest description accepted alongside the descriptors.
const MAX_PAYLOAD: usize = 1 << 20;

fn io_error(action: &str, source: std::io::Error) -> NetError {
    NetError::Io {
        action: action.to_string(),
        source,
        hint: "the container handing its published ports over ended or is not a wharf monitor: \
               run the update again"
            .to_string(),
    }
}

/// Send `payload` (a description of the sockets) and duplicates of `fds` as
/// one message. The descriptors ride on the length prefix, so the receiver
/// gets them with its first read.
pub fn send_fds(stream: &UnixStream, payload: &[u8], fds: &[BorrowedFd]) -> Result<(), NetError> {
    let action = "sending the listening sockets";
    if fds.len() > MAX_FDS || payload.len() > MAX_PAYLOAD {
        return Err(io_error(
            action,
            std::io::Error::other(format!(
                "{} sockets and {} bytes of description are more than one handover carries",
                fds.len(),
                payload.len()
            )),
        ));
    }
    let length = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let control = [ControlMessage::ScmRights(&raw)];
    let control: &[ControlMessage] = if raw.is_empty() { &[] } else { &control };
    let sent = sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(&length)],
        control,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| io_error(action, e.into()))?;
    let mut writer = stream;
    writer
        .write_all(&length[sent..])
        .and_then(|()| writer.write_all(payload))
        .map_err(|e| io_error(action, e))
}

/// Receive one message of [`send_fds`]: the description and the descriptors.
pub fn recv_fds(stream: &UnixStream) -> Result<(Vec<u8>, Vec<OwnedFd>), NetError> {
    let action = "receiving the listening sockets";
    let mut length = [0u8; 4];
    let mut control = nix::cmsg_space!([RawFd; MAX_FDS]);
    let (read, fds) = {
        let mut iov = [IoSliceMut::new(&mut length)];
        let message = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| io_error(action, e.into()))?;
        let mut fds = Vec::new();
        let truncated = message.flags.contains(MsgFlags::MSG_CTRUNC);
        for cmsg in message.cmsgs().map_err(|e| io_error(action, e.into()))? {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                for fd in received {
                    // SAFETY: the kernel just installed `fd` in this process for
                    // this message; nothing else owns it, so it is owned once here.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        if truncated {
            return Err(io_error(
                action,
                std::io::Error::other("more sockets were sent than one handover carries"),
            ));
        }
        (message.bytes, fds)
    };
    if read == 0 {
        return Err(io_error(
            action,
            std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        ));
    }
    let mut reader = stream;
    reader
        .read_exact(&mut length[read..])
        .map_err(|e| io_error(action, e))?;
    let size = u32::from_le_bytes(length) as usize;
    if size > MAX_PAYLOAD {
        return Err(io_error(
            action,
            std::io::Error::other(format!("a description of {size} bytes is too large")),
        ));
    }
    let mut payload = vec![0u8; size];
    reader
        .read_exact(&mut payload)
        .map_err(|e| io_error(action, e))?;
    Ok((payload, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;

    #[test]
    fn a_listening_socket_handed_over_keeps_accepting() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        send_fds(&a, b"{\"port\":1}", &[listener.as_fd()]).unwrap();
        // The sender lets go of its copy: the port must stay open.
        drop(listener);
        let (payload, mut fds) = recv_fds(&b).unwrap();
        assert_eq!(payload, b"{\"port\":1}");
        assert_eq!(fds.len(), 1);
        let received = TcpListener::from(fds.remove(0));
        assert_eq!(received.local_addr().unwrap(), addr);
        let _client = TcpStream::connect(addr).unwrap();
        received.accept().unwrap();
    }

    #[test]
    fn a_message_without_sockets_and_a_closed_peer_are_told_apart() {
        let (a, b) = UnixStream::pair().unwrap();
        send_fds(&a, b"[]", &[]).unwrap();
        let (payload, fds) = recv_fds(&b).unwrap();
        assert_eq!((payload.as_slice(), fds.len()), (b"[]".as_slice(), 0));
        drop(a);
        let error = recv_fds(&b).unwrap_err().to_string();
        assert!(error.contains("receiving the listening sockets"), "{error}");
    }
}
