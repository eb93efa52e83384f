//! The embedded DNS server, docker's 127.0.0.11: one per running container, in the
//! container's network namespace, answering the names of the containers that share a
//! network with it (from a JSON table the engine keeps current) and forwarding every
//! other name to the upstream resolvers, from inside the same namespace.

pub mod codec;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

use crate::NetError;
use codec::ParseError;

/// The address containers query, as in docker.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// TTL of our own answers (docker's).
const TTL: u32 = 600;
/// How long one upstream gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this many forwarded queries and TCP connections at once, each on its
/// own thread of the monitor; a container that sends more gets SERVFAIL (UDP) or
/// a closed connection (TCP) instead of growing the monitor without bound.
const MAX_IN_FLIGHT: usize = 64;

/// What a container's DNS server answers: names (lower case) with their addresses in
/// answer order, and the resolvers other names go to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    #[serde(default)]
    pub names: BTreeMap<String, Vec<Ipv4Addr>>,
    #[serde(default)]
    pub upstreams: Vec<IpAddr>,
    /// Addresses answered only while a file exists: the running-marker of the
    /// container that has them, so a stopped container no longer resolves
    /// (as under docker, where it leaves the network). Others are always answered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alive: BTreeMap<Ipv4Addr, PathBuf>,
    /// The IPv6 addresses of names on dual-stack networks (AAAA answers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names_v6: BTreeMap<String, Vec<Ipv6Addr>>,
    /// Like `alive`, for IPv6 addresses.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alive_v6: BTreeMap<Ipv6Addr, PathBuf>,
}

impl Table {
    /// The IPv4 addresses of `name` whose containers run, in table order.
    fn live_addresses(&self, name: &str) -> Vec<Ipv4Addr> {
        live(self.names.get(name), &self.alive)
    }

    /// The IPv6 addresses of `name` whose containers run, in table order.
    fn live_addresses_v6(&self, name: &str) -> Vec<Ipv6Addr> {
        live(self.names_v6.get(name), &self.alive_v6)
    }
}

fn live<A: Ord + Copy>(addresses: Option<&Vec<A>>, alive: &BTreeMap<A, PathBuf>) -> Vec<A> {
    addresses
        .into_iter()
        .flatten()
        .filter(|a| alive.get(a).is_none_or(|marker| marker.exists()))
        .copied()
        .collect()
}

/// What to do with one query.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Not ours: relay the query to the upstreams.
    Forward,
    /// Not worth an answer.
    Drop,
}

/// Decide the answer to `msg` from `table`; `turn` is asked only for an A answer with
/// several addresses, and rotates them (round robin).
pub fn answer(table: &Table, msg: &[u8], turn: impl FnOnce() -> usize) -> Action {
    let query = match codec::parse_query(msg) {
        Ok(q) => q,
        Err(ParseError::NoHeader) => return Action::Drop,
        Err(ParseError::Malformed(_)) => {
            return codec::build_header_error(msg, codec::FORMERR)
                .map_or(Action::Drop, Action::Reply)
        }
    };
    if query.is_response() {
        return Action::Drop;
    }
    if query.opcode() != 0 {
        return Action::Reply(codec::build_response(&query, codec::NOTIMP, &[], TTL));
    }
    let v4 = table.live_addresses(&query.name);
    let v6 = table.live_addresses_v6(&query.name);
    if query.qclass != codec::CLASS_IN || (v4.is_empty() && v6.is_empty()) {
        return Action::Forward;
    }
    let mut records: Vec<IpAddr> = Vec::new();
    let several = |n: usize| n > 1;
    let mut turn = Some(turn);
    let mut next_turn = || turn.take().map_or(0, |f| f());
    if matches!(query.qtype, codec::TYPE_A | codec::TYPE_ANY) {
        let v4 = if several(v4.len()) {
            rotated(&v4, next_turn())
        } else {
            v4
        };
        records.extend(v4.into_iter().map(IpAddr::V4));
    }
    if matches!(query.qtype, codec::TYPE_AAAA | codec::TYPE_ANY) {
        let v6 = if several(v6.len()) {
            rotated(&v6, next_turn())
        } else {
            v6
        };
        records.extend(v6.into_iter().map(IpAddr::V6));
    }
    // Other types (and A or AAAA of a name without such addresses): the name
    // exists, with no such record.
    Action::Reply(codec::build_response_records(
        &query,
        codec::NOERROR,
        &records,
        TTL,
    ))
}

fn rotated<A: Copy>(addresses: &[A], turn: usize) -> Vec<A> {
    if addresses.is_empty() {
        return Vec::new();
    }
    let start = turn % addresses.len();
    addresses[start..]
        .iter()
        .chain(&addresses[..start])
        .copied()
        .collect()
}

/// SERVFAIL for a query no upstream answered (or there are none).
fn servfail(msg: &[u8]) -> Option<Vec<u8>> {
    match codec::parse_query(msg) {
        Ok(q) => Some(codec::build_response(&q, codec::SERVFAIL, &[], TTL)),
        Err(_) => codec::build_header_error(msg, codec::SERVFAIL),
    }
}

/// Relay `msg` over UDP to each upstream (port 53, or `port` for tests) in turn;
/// the first answer with the query's id, else SERVFAIL.
pub fn forward_udp(msg: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    let id = codec::message_id(msg)?;
    for upstream in upstreams {
        let bind: SocketAddr = match upstream {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let Ok(socket) = UdpSocket::bind(bind) else {
            continue;
        };
        if socket.connect(upstream).is_err() || socket.send(msg).is_err() {
            continue;
        }
        let _ = socket.set_read_timeout(Some(UPSTREAM_TIMEOUT));
        let mut buf = vec![0u8; 65535];
        while let Ok(n) = socket.recv(&mut buf) {
            if codec::message_id(&buf[..n]) == Some(id) {
                return Some(buf[..n].to_vec());
            }
        }
    }
    servfail(msg)
}

/// Relay `msg` over TCP to each upstream in turn.
pub fn forward_tcp(msg: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let Ok(mut stream) = TcpStream::connect_timeout(upstream, UPSTREAM_TIMEOUT) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(UPSTREAM_TIMEOUT));
        let _ = stream.set_write_timeout(Some(UPSTREAM_TIMEOUT));
        if write_framed(&mut stream, msg).is_err() {
            continue;
        }
        if let Ok(reply) = read_framed(&mut stream) {
            return Some(reply);
        }
    }
    servfail(msg)
}

fn read_framed(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut msg)?;
    Ok(msg)
}

fn write_framed(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&(msg.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(msg);
    stream.write_all(&out)
}

/// When a file was last changed, and its size.
type Stamp = (SystemTime, u64);

/// The table file, re-read when its modification time or size changes.
struct TableFile {
    path: PathBuf,
    seen: Mutex<(Option<Stamp>, Arc<Table>)>,
}

impl TableFile {
    fn new(path: PathBuf) -> Self {
        TableFile {
            path,
            seen: Mutex::new((None, Arc::new(Table::default()))),
        }
    }

    fn current(&self) -> Arc<Table> {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if stamp.is_some() && stamp != seen.0 {
            if let Some(table) = std::fs::read(&self.path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Table>(&b).ok())
            {
                *seen = (stamp, Arc::new(table));
            }
        }
        seen.1.clone()
    }
}

/// One server: the table, the round-robin counter, the upstream addresses and the
/// threads at work.
struct Server {
    table: TableFile,
    turn: AtomicUsize,
    upstream_port: u16,
    in_flight: AtomicUsize,
}

/// One of the [`MAX_IN_FLIGHT`] places for a thread; given back when dropped.
struct InFlight(Arc<Server>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Server {
    /// A place for one more thread, unless all are taken.
    fn try_start(self: &Arc<Self>) -> Option<InFlight> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_IN_FLIGHT).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(self.clone()))
    }

    fn handle(&self, msg: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let table = self.table.current();
        match answer(&table, msg, || self.turn.fetch_add(1, Ordering::Relaxed)) {
            Action::Reply(reply) => Some(reply),
            Action::Drop => None,
            Action::Forward => {
                let upstreams: Vec<SocketAddr> = table
                    .upstreams
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, self.upstream_port))
                    .collect();
                if tcp {
                    forward_tcp(msg, &upstreams)
                } else {
                    forward_udp(msg, &upstreams)
                }
            }
        }
    }
}

/// Serve `udp` and `tcp` on the calling thread until `stop` becomes readable (a pidfd
/// of the container's init, or any fd that signals the end). Forwarded queries and TCP
/// connections run on their own threads, which inherit the calling thread's network
/// namespace.
pub fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    table_path: &Path,
    upstream_port: u16,
    stop: OwnedFd,
) {
    let server = Arc::new(Server {
        table: TableFile::new(table_path.to_path_buf()),
        turn: AtomicUsize::new(0),
        upstream_port,
        in_flight: AtomicUsize::new(0),
    });
    let udp = Arc::new(udp);
    let _ = tcp.set_nonblocking(true);
    // Queries are small (a question or two; EDNS caps even replies at a few
    // KiB); a larger datagram is cut and then fails to parse. Not 64 KiB:
    // every monitor on a user network keeps this buffer for its whole life.
    let mut buf = vec![0u8; 4096];
    loop {
        let mut fds = [
            PollFd::new(udp.as_fd(), PollFlags::POLLIN),
            PollFd::new(tcp.as_fd(), PollFlags::POLLIN),
            PollFd::new(stop.as_fd(), PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[2]) {
            return;
        }
        if ready(&fds[0]) {
            if let Ok((n, peer)) = udp.recv_from(&mut buf) {
                let msg = buf[..n].to_vec();
                let table = server.table.current();
                match answer(&table, &msg, || server.turn.fetch_add(1, Ordering::Relaxed)) {
                    Action::Reply(reply) => {
                        let _ = udp.send_to(&reply, peer);
                    }
                    Action::Drop => {}
                    Action::Forward => match server.try_start() {
                        Some(place) => {
                            let udp = udp.clone();
                            std::thread::spawn(move || {
                                if let Some(reply) = place.0.handle(&msg, false) {
                                    let _ = udp.send_to(&reply, peer);
                                }
                            });
                        }
                        None => {
                            if let Some(reply) = servfail(&msg) {
                                let _ = udp.send_to(&reply, peer);
                            }
                        }
                    },
                }
            }
        }
        if ready(&fds[1]) {
            while let Ok((mut stream, _)) = tcp.accept() {
                let Some(place) = server.try_start() else {
                    continue; // dropped: closed
                };
                std::thread::spawn(move || {
                    let server = &place.0;
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
                    while let Ok(msg) = read_framed(&mut stream) {
                        match server.handle(&msg, true) {
                            Some(reply) => {
                                if write_framed(&mut stream, &reply).is_err() {
                                    break;
                                }
                            }
                            None => break,
                        }
                    }
                });
            }
        }
    }
}

fn io_err(action: String, hint: &str) -> impl FnOnce(std::io::Error) -> NetError + '_ {
    move |source| NetError::Io {
        action,
        source,
        hint: hint.to_string(),
    }
}

/// Bind UDP and TCP on `addr` in the calling thread's network namespace.
pub fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), NetError> {
    let hint = "is another DNS server bound in the container's network namespace?";
    let udp = UdpSocket::bind(addr).map_err(io_err(format!("binding DNS on udp {addr}"), hint))?;
    let tcp =
        TcpListener::bind(addr).map_err(io_err(format!("binding DNS on tcp {addr}"), hint))?;
    Ok((udp, tcp))
}

/// A pidfd of `pid`: readable once the process has exited.
pub fn pidfd(pid: u32) -> Result<OwnedFd, NetError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory
    // is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(NetError::Io {
            action: format!("pidfd_open({pid})"),
            source: std::io::Error::last_os_error(),
            hint: "wharf needs Linux 5.3 or newer".to_string(),
        });
    }
    // SAFETY: the syscall returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Start the embedded DNS server of the container whose init is `pid`: a thread joins
/// the container's network namespace (for good), binds 127.0.0.11:53 on UDP and TCP
/// there, and serves `table_path` until the container's init exits. Returns once the
/// sockets are bound (or failed to bind). The container's loopback must be up.
pub fn spawn_in_netns_of(pid: u32, table_path: PathBuf) -> Result<(), NetError> {
    let netns = crate::netns::open_netns_of_pid(pid)?;
    let stop = pidfd(pid)?;
    let (ready, bound) = mpsc::channel::<Result<(), NetError>>();
    std::thread::Builder::new()
        .name(format!("dns-{pid}"))
        .spawn(move || {
            let setup = (|| {
                nix::sched::setns(netns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|errno| {
                    NetError::Namespace {
                        pid,
                        action: "setns(CLONE_NEWNET) for the DNS server".to_string(),
                        source: errno.into(),
                    }
                })?;
                drop(netns);
                bind(SocketAddr::new(IpAddr::V4(ADDRESS), 53))
            })();
            match setup {
                Ok((udp, tcp)) => {
                    let _ = ready.send(Ok(()));
                    serve(udp, tcp, &table_path, 53, stop);
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        })
        .map_err(io_err(
            "starting the DNS server thread".to_string(),
            "the monitor is out of threads",
        ))?;
    bound.recv().unwrap_or_else(|_| {
        Err(NetError::Io {
            action: "starting the DNS server".to_string(),
            source: std::io::Error::other("the DNS thread ended early"),
            hint: String::new(),
        })
    })
}

#[cfg(test)]
mod tests;
