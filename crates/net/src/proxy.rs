//! Userland port publishing, like docker-proxy: listen on the host address and port,
//! forward each TCP connection (with half-close) or UDP flow to the container's address.
//! Binding is separate from serving so that "port already in use" is reported at once.

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::NetError;

/// How long to wait for the container to accept a forwarded TCP connection.
pub const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a UDP flow may stay silent (both ways) before its upstream socket is closed;
/// docker-proxy uses the same 90 s.
pub const UDP_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Most concurrent UDP flows one published port keeps; datagrams of further clients
/// are dropped until older flows expire.
pub const MAX_UDP_FLOWS: usize = 4096;

fn bind_error(addr: SocketAddr, proto: &'static str, source: io::Error) -> NetError {
    if source.kind() == ErrorKind::AddrInUse {
        return NetError::PortInUse {
            addr,
            holder: crate::holder::port_holder(proto, addr),
        };
    }
    let hint = match source.kind() {
        ErrorKind::PermissionDenied => "ports below 1024 need root (CAP_NET_BIND_SERVICE)",
        ErrorKind::AddrNotAvailable => {
            "the host has no such address: publish on 0.0.0.0 or on one of the host's addresses"
        }
        _ => "check the host address and port of the published port",
    };
    NetError::Bind {
        addr,
        proto,
        source,
        hint: hint.to_string(),
    }
}

/// Bind a TCP listener now, so that a taken port is reported to the user right away as
/// [`NetError::PortInUse`].
pub fn bind_tcp(listen: SocketAddr) -> Result<TcpListener, NetError> {
    TcpListener::bind(listen).map_err(|e| bind_error(listen, "tcp", e))
}

/// Bind a UDP socket now (see [`bind_tcp`]).
pub fn bind_udp(listen: SocketAddr) -> Result<UdpSocket, NetError> {
    UdpSocket::bind(listen).map_err(|e| bind_error(listen, "udp", e))
}

/// The `[::]` side of a port published on all addresses: like docker, such a port
/// listens on `0.0.0.0` and on `::`. The socket is IPv6-only, so it does not collide
/// with the IPv4 listener on the same port. `Ok(None)` when the host has no IPv6.
pub fn bind_tcp_ipv6_only(port: u16) -> Result<Option<TcpListener>, NetError> {
    let listen = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
    match ipv6_only_socket(listen, nix::sys::socket::SockType::Stream) {
        Ok(fd) => {
            nix::sys::socket::listen(&fd, nix::sys::socket::Backlog::MAXCONN)
                .map_err(|e| bind_error(listen, "tcp", e.into()))?;
            Ok(Some(TcpListener::from(fd)))
        }
        Err(e) if no_ipv6(&e) => Ok(None),
        Err(e) => Err(bind_error(listen, "tcp", e)),
    }
}

/// The `[::]` side of a UDP port published on all addresses (see
/// [`bind_tcp_ipv6_only`]).
pub fn bind_udp_ipv6_only(port: u16) -> Result<Option<UdpSocket>, NetError> {
    let listen = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
    match ipv6_only_socket(listen, nix::sys::socket::SockType::Datagram) {
        Ok(fd) => Ok(Some(UdpSocket::from(fd))),
        Err(e) if no_ipv6(&e) => Ok(None),
        Err(e) => Err(bind_error(listen, "udp", e)),
    }
}

fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
    )
}

fn ipv6_only_socket(
    listen: SocketAddr,
    kind: nix::sys::socket::SockType,
) -> io::Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockaddrIn6};
    let SocketAddr::V6(v6) = listen else {
        return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
    };
    let fd = socket::socket(AddressFamily::Inet6, kind, SockFlag::SOCK_CLOEXEC, None)?;
    socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    if kind == socket::SockType::Stream {
        // What std does for its listeners: a restarted container can rebind at once.
        socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn6::from(v6))?;
    Ok(fd)
}

/// Serve forever in background threads: accept each client, connect to `target` (a
/// refused or timed-out connection just closes the client) and copy both ways; when one
/// side reaches end of stream, the write half of the other is shut down. Returns the
/// accept thread, which ends only if the listener fails for good.
pub fn serve_tcp(listener: TcpListener, target: SocketAddr) -> JoinHandle<()> {
    serve_tcp_gated(listener, target, Arc::new(ProxyGate::default()))
}

/// [`serve_tcp`] behind `gate`: no client is accepted while it is closed.
pub fn serve_tcp_gated(
    listener: TcpListener,
    target: SocketAddr,
    gate: Arc<ProxyGate>,
) -> JoinHandle<()> {
    wake_up_regularly(&listener);
    thread::Builder::new()
        .name(format!("proxy-tcp-{target}"))
        .spawn(move || tcp_accept_loop(listener, target, gate))
        .expect("spawning the TCP proxy thread")
}

/// How often a proxy blocked on its socket looks at its gate again. The timeout is
/// set on the socket, which a handover shares between two processes: both proxies
/// wake up this often, and neither ever sets the socket non-blocking (that flag
/// would be shared too).
const GATE_POLL: Duration = Duration::from_millis(200);

fn wake_up_regularly(socket: &impl std::os::fd::AsFd) {
    let timeout = nix::sys::time::TimeVal::new(0, GATE_POLL.as_micros() as _);
    let _ =
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReceiveTimeout, &timeout);
}

/// Whether a proxy takes new clients, and how many connections it still
/// serves: a port handover closes the old proxy's gate and waits until its
/// open connections have finished, while the new proxy accepts on the same
/// listening socket. Opening it again makes the proxy serve again.
#[derive(Default)]
pub struct ProxyGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    /// Loops inside `accept`/`recv`, which may still take one client.
    receiving: usize,
    /// Connections being proxied.
    active: usize,
}

impl ProxyGate {
    fn state(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stop taking new clients.
    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_all();
    }

    /// Take new clients again.
    pub fn open(&self) {
        self.state().closed = false;
        self.changed.notify_all();
    }

    /// Whether the gate is closed.
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Wait until the closed gate's last connection ended and no loop can
    /// take another one, or until `deadline`; whether it did.
    pub fn wait_drained(&self, deadline: Instant) -> bool {
        let mut state = self.state();
        loop {
            if state.receiving == 0 && state.active == 0 {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left.min(GATE_POLL))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Block while the gate is closed, then count the caller as receiving.
    fn enter_receive(&self) {
        let mut state = self.state();
        while state.closed {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.receiving += 1;
    }

    /// The caller's `accept`/`recv` returned; `took_client` counts a new connection.
    fn leave_receive(&self, took_client: bool) {
        let mut state = self.state();
        state.receiving -= 1;
        if took_client {
            state.active += 1;
        }
        drop(state);
        self.changed.notify_all();
    }

    fn connection_ended(&self) {
        self.state().active -= 1;
        self.changed.notify_all();
    }
}

fn tcp_accept_loop(listener: TcpListener, target: SocketAddr, gate: Arc<ProxyGate>) {
    loop {
        gate.enter_receive();
        let accepted = listener.accept();
        gate.leave_receive(accepted.is_ok());
        match accepted {
            Ok((client, _)) => {
                // An accepted socket inherits the listener's receive timeout
                // (the gate's wake-up): a client quiet for that long while its
                // answer streams would be taken for a failed one and cut.
                let _ = client.set_read_timeout(None);
                let connection_gate = Arc::clone(&gate);
                let spawned = thread::Builder::new()
                    .name(format!("proxy-tcp-conn-{target}"))
                    .spawn(move || {
                        tcp_forward(client, target);
                        connection_gate.connection_ended();
                    });
                // If no thread can be spawned, the client was dropped (closed).
                if spawned.is_err() {
                    gate.connection_ended();
                }
            }
            Err(e) if is_transient_accept_error(&e) => {
                // Out of descriptors or memory: back off instead of spinning.
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) {
                    thread::sleep(Duration::from_millis(100));
                }
            }
            Err(_) => return,
        }
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Interrupted
            | ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::WouldBlock
    ) || matches!(
        e.raw_os_error(),
        Some(
            libc::EMFILE
                | libc::ENFILE
                | libc::ENOBUFS
                | libc::ENOMEM
                | libc::EPROTO
                | libc::EPERM
                | libc::ENETDOWN
                | libc::EHOSTUNREACH
        )
    )
}

fn tcp_forward(client: TcpStream, target: SocketAddr) {
    let Ok(upstream) = TcpStream::connect_timeout(&target, TCP_CONNECT_TIMEOUT) else {
        return; // dropping `client` closes it
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let to_upstream = thread::Builder::new()
        .name(format!("proxy-tcp-up-{target}"))
        .spawn(move || copy_half(client2, upstream2));
    copy_half(upstream, client);
    if let Ok(handle) = to_upstream {
        let _ = handle.join();
    }
}

/// Copy `from` into `to` until end of stream, then half-close `to`. On an error, both
/// connections are shut down so that the opposite direction stops too.
fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    match io::copy(&mut from, &mut to) {
        Ok(_) => {
            let _ = to.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        }
    }
}

struct UdpFlow {
    upstream: UdpSocket,
    last_active: Instant,
}

type Flows = Arc<Mutex<HashMap<SocketAddr, UdpFlow>>>;

fn lock(flows: &Flows) -> MutexGuard<'_, HashMap<SocketAddr, UdpFlow>> {
    flows.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serve forever in background threads: each client address gets its own upstream
/// socket connected to `target`; replies go back to that client from the published port;
/// a flow silent for [`UDP_IDLE_TIMEOUT`] is closed. Returns the receiving thread.
pub fn serve_udp(socket: UdpSocket, target: SocketAddr) -> JoinHandle<()> {
    serve_udp_with_idle_timeout(socket, target, UDP_IDLE_TIMEOUT)
}

/// [`serve_udp`] with a chosen idle timeout for flows.
pub fn serve_udp_with_idle_timeout(
    socket: UdpSocket,
    target: SocketAddr,
    idle: Duration,
) -> JoinHandle<()> {
    serve_udp_gated(socket, target, idle, Arc::new(ProxyGate::default()))
}

/// [`serve_udp_with_idle_timeout`] behind `gate`: no datagram is taken while
/// it is closed (the flows already open still carry replies back).
pub fn serve_udp_gated(
    socket: UdpSocket,
    target: SocketAddr,
    idle: Duration,
    gate: Arc<ProxyGate>,
) -> JoinHandle<()> {
    wake_up_regularly(&socket);
    thread::Builder::new()
        .name(format!("proxy-udp-{target}"))
        .spawn(move || udp_receive_loop(socket, target, idle, gate))
        .expect("spawning the UDP proxy thread")
}

fn udp_receive_loop(socket: UdpSocket, target: SocketAddr, idle: Duration, gate: Arc<ProxyGate>) {
    let flows: Flows = Arc::new(Mutex::new(HashMap::new()));
    let mut buf = vec![0u8; 65536];
    loop {
        gate.enter_receive();
        let received = socket.recv_from(&mut buf);
        gate.leave_receive(false);
        let (len, client) = match received {
            Ok(received) => received,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::ConnectionRefused
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        let mut table = lock(&flows);
        if !table.contains_key(&client) {
            if table.len() >= MAX_UDP_FLOWS {
                continue;
            }
            let Some(flow) = open_udp_flow(&socket, client, target, idle, &flows) else {
                continue;
            };
            table.insert(client, flow);
        }
        if let Some(flow) = table.get_mut(&client) {
            flow.last_active = Instant::now();
            let _ = flow.upstream.send(&buf[..len]);
        }
    }
}

/// Open the upstream socket of a new flow and start its reply thread.
fn open_udp_flow(
    listener: &UdpSocket,
    client: SocketAddr,
    target: SocketAddr,
    idle: Duration,
    flows: &Flows,
) -> Option<UdpFlow> {
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let upstream = UdpSocket::bind(local).ok()?;
    upstream.connect(target).ok()?;
    let poll = (idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
    upstream.set_read_timeout(Some(poll)).ok()?;
    let reader = upstream.try_clone().ok()?;
    let replier = listener.try_clone().ok()?;
    let flows = Arc::clone(flows);
    thread::Builder::new()
        .name(format!("proxy-udp-flow-{client}"))
        .spawn(move || udp_reply_loop(reader, replier, client, idle, flows))
        .ok()?;
    Some(UdpFlow {
        upstream,
        last_active: Instant::now(),
    })
}

/// Relay the container's replies of one flow back to its client, and retire the flow
/// (under the table lock, so no datagram is sent into a dying flow) once it is idle.
fn udp_reply_loop(
    upstream: UdpSocket,
    listener: UdpSocket,
    client: SocketAddr,
    idle: Duration,
    flows: Flows,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match upstream.recv(&mut buf) {
            Ok(len) => {
                let _ = listener.send_to(&buf[..len], client);
                if let Some(flow) = lock(&flows).get_mut(&client) {
                    flow.last_active = Instant::now();
                }
            }
            // ICMP port unreachable from the container: keep the flow, the service may
            // come up.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::Interrupted
                ) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let mut table = lock(&flows);
                let expired = !matches!(
                    table.get(&client),
                    Some(flow) if flow.last_active.elapsed() < idle
                );
                if expired {
                    table.remove(&client);
                    return;
                }
            }
            Err(_) => {
                lock(&flows).remove(&client);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn localhost0() -> SocketAddr {
        (Ipv4Addr::LOCALHOST, 0).into()
    }

    #[test]
    fn second_tcp_bind_reports_port_in_use() {
        let first = bind_tcp(localhost0()).unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind_tcp(addr).unwrap_err();
        assert!(
            matches!(err, NetError::PortInUse { addr: a, .. } if a == addr),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "port 127.0.0.1:{} is already in use on the host by {} (pid {}): stop it or \
                 publish another port",
                addr.port(),
                std::fs::read_to_string("/proc/self/comm").unwrap().trim(),
                std::process::id()
            )
        );
    }

    #[test]
    fn second_udp_bind_reports_port_in_use() {
        let first = bind_udp(localhost0()).unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind_udp(addr).unwrap_err();
        assert!(
            matches!(err, NetError::PortInUse { addr: a, .. } if a == addr),
            "{err:?}"
        );
    }

    /// An echo server that answers only after the client's end of stream, so the test
    /// passes only if the proxy forwards the half-close.
    fn echo_after_eof_server() -> SocketAddr {
        let listener = TcpListener::bind(localhost0()).unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                thread::spawn(move || {
                    let mut data = Vec::new();
                    conn.read_to_end(&mut data).unwrap();
                    conn.write_all(b"echo:").unwrap();
                    conn.write_all(&data).unwrap();
                });
            }
        });
        addr
    }

    #[test]
    fn tcp_forwarding_with_half_close() {
        let target = echo_after_eof_server();
        let listener = bind_tcp(localhost0()).unwrap();
        let published = listener.local_addr().unwrap();
        serve_tcp(listener, target);
        for round in 0..3 {
            let mut client = TcpStream::connect(published).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let payload = format!("hello {round}").repeat(10_000);
            client.write_all(payload.as_bytes()).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            let mut reply = String::new();
            client.read_to_string(&mut reply).unwrap();
            assert_eq!(reply, format!("echo:{payload}"));
        }
    }

    /// Regression: accepted clients inherited the listener's 200 ms receive
    /// timeout, so a client that sent its request and then only read was
    /// cut off after 200 ms of a long answer (a 256 MiB download stopped at
    /// about 100 MB).
    #[test]
    fn a_client_quiet_longer_than_the_gate_poll_keeps_its_connection() {
        let listener = TcpListener::bind(localhost0()).unwrap();
        let target = listener.local_addr().unwrap();
        thread::spawn(move || {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let mut request = [0u8; 4];
            conn.read_exact(&mut request).unwrap();
            for _ in 0..4 {
                thread::sleep(GATE_POLL);
                conn.write_all(b"part").unwrap();
            }
        });
        let listener = bind_tcp(localhost0()).unwrap();
        let published = listener.local_addr().unwrap();
        serve_tcp(listener, target);
        let mut client = TcpStream::connect(published).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client.write_all(b"ping").unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "part".repeat(4));
    }

    /// A server that answers every connection with `name` and closes it.
    fn named_server(name: &'static str) -> SocketAddr {
        let listener = TcpListener::bind(localhost0()).unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let _ = conn.write_all(name.as_bytes());
            }
        });
        addr
    }

    fn ask(published: SocketAddr) -> String {
        let mut client = TcpStream::connect(published).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        reply
    }

    #[test]
    fn a_closed_gate_hands_every_new_client_to_the_other_proxy_of_the_socket() {
        let (old, new) = (named_server("old"), named_server("new"));
        let listener = bind_tcp(localhost0()).unwrap();
        let published = listener.local_addr().unwrap();
        let shared = listener.try_clone().unwrap();
        let old_gate = Arc::new(ProxyGate::default());
        serve_tcp_gated(listener, old, Arc::clone(&old_gate));
        assert_eq!(ask(published), "old");
        serve_tcp_gated(shared, new, Arc::new(ProxyGate::default()));
        old_gate.close();
        assert!(old_gate.wait_drained(Instant::now() + Duration::from_secs(30)));
        for _ in 0..20 {
            assert_eq!(ask(published), "new");
        }
        // Opened again, the old proxy takes clients too.
        old_gate.open();
        let deadline = Instant::now() + Duration::from_secs(10);
        while ask(published) != "old" {
            assert!(
                Instant::now() < deadline,
                "the reopened proxy took no client"
            );
        }
    }

    #[test]
    fn tcp_client_is_closed_when_target_refuses() {
        // Grab a free port, then close it so connecting is refused.
        let target = TcpListener::bind(localhost0())
            .unwrap()
            .local_addr()
            .unwrap();
        let listener = bind_tcp(localhost0()).unwrap();
        let published = listener.local_addr().unwrap();
        serve_tcp(listener, target);
        let mut client = TcpStream::connect(published).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 16];
        match client.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("expected the proxy to close the client, got {other:?}"),
        }
    }

    #[test]
    fn udp_forwarding_per_client_with_idle_expiry() {
        let server = UdpSocket::bind(localhost0()).unwrap();
        let target = server.local_addr().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = server.recv_from(&mut buf) else {
                    return;
                };
                let mut reply = format!("{from}|").into_bytes();
                reply.extend_from_slice(&buf[..n]);
                let _ = server.send_to(&reply, from);
            }
        });
        let socket = bind_udp(localhost0()).unwrap();
        let published = socket.local_addr().unwrap();
        serve_udp_with_idle_timeout(socket, target, Duration::from_millis(200));

        let ask = |client: &UdpSocket, msg: &str| -> (String, String) {
            client.send_to(msg.as_bytes(), published).unwrap();
            let mut buf = [0u8; 1500];
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(from, published, "replies come from the published port");
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            let (upstream, body) = text.split_once('|').unwrap();
            (upstream.to_string(), body.to_string())
        };
        let a = UdpSocket::bind(localhost0()).unwrap();
        let b = UdpSocket::bind(localhost0()).unwrap();
        for c in [&a, &b] {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let (a_up1, body) = ask(&a, "one");
        assert_eq!(body, "one");
        let (a_up2, _) = ask(&a, "two");
        assert_eq!(a_up1, a_up2, "one client keeps its upstream socket");
        let (b_up, _) = ask(&b, "three");
        assert_ne!(a_up1, b_up, "each client has its own upstream socket");
        thread::sleep(Duration::from_millis(700));
        let (a_up3, body) = ask(&a, "four");
        assert_eq!(body, "four");
        assert_ne!(a_up1, a_up3, "an idle flow is expired and a new one opened");
    }
}
