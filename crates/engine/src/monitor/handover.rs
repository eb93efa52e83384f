//! Port handover between two monitors (start-first updates), so a published
//! port is never closed while one container replaces another. Every monitor
//! whose container publishes ports answers on `ports.sock` in the container's
//! directory, one request a connection:
//!
//! - `give` (from the successor's monitor): the proxy's listening sockets go
//!   over `SCM_RIGHTS`, described in JSON (`give ID` names the successor). On `taken` this proxy stops taking
//!   clients, lets its open connections finish and answers `drained`; then it
//!   watches the connection: if the successor's monitor ends (or fails before
//!   `taken`) while this container still runs, this proxy serves again and
//!   takes its forwarding rules back, so the ports are always served by one
//!   of the two.
//! - `take ID` (from the engine, to a monitor started with `--await-ports`):
//!   fetch ID's sockets, serve them (both proxies accept on the same sockets
//!   for a moment), move the DNAT rules in one nftables transaction, record
//!   the ports, tell ID `taken`, and answer `ok` once it has drained.
//! - `bind` (the same, when the old container published nothing): bind the
//!   ports as a start does.

use super::{Bound, Listener, Monitor};
use crate::store::ContainerRecord;
use crate::LinuxEngine;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use wharf_engine_api::{EngineError, PortBinding, PublishedPort};
use wharf_net::proxy::ProxyGate;

/// The monitor's handover socket, in the container's directory.
pub(crate) const SOCKET: &str = "ports.sock";
/// How long the old proxy's open connections may take to finish before the
/// handover goes on (the old container's stop grace period follows).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the engine waits for a monitor to finish a handover.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The listening sockets a monitor's proxy serves, kept to be handed over.
#[derive(Default)]
pub(super) struct HeldPorts {
    gate: Arc<ProxyGate>,
    sockets: Mutex<Vec<(OwnedFd, OfferedPort)>>,
    published: Mutex<Vec<PublishedPort>>,
    /// The connection to the monitor the ports came from: it serves again
    /// if this one ends while it runs.
    predecessor: Mutex<Option<UnixStream>>,
}

/// One listening socket as the handover describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OfferedPort {
    port: PublishedPort,
    /// The `[::]` companion of a port published on every address.
    v6only: bool,
}

/// A listening socket received from the old monitor.
pub(super) struct Offer {
    pub(super) port: PublishedPort,
    v6only: bool,
    pub(super) socket: OwnedFd,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Take from `offered` the socket that publishes `port` (its host address,
/// protocol and host port; an ephemeral host port takes the one that
/// published the same container port).
pub(super) fn take_offer(
    offered: &mut Vec<Offer>,
    port: &PortBinding,
    v6only: bool,
) -> Option<Offer> {
    let index = offered.iter().position(|offer| {
        offer.v6only == v6only
            && offer.port.protocol == port.protocol
            && offer.port.host_ip == port.host_ip
            && (offer.port.host_port == port.host_port
                || (port.host_port == 0 && offer.port.container_port == port.container_port))
    })?;
    Some(offered.remove(index))
}

impl HeldPorts {
    /// The ports as published now.
    pub(super) fn published(&self) -> Vec<PublishedPort> {
        lock(&self.published).clone()
    }

    /// Record the ports as published now.
    pub(super) fn set_published(&self, published: Vec<PublishedPort>) {
        *lock(&self.published) = published;
    }

    /// Serve `bound` through the gated proxy, keeping a copy of each socket
    /// for a later handover.
    pub(super) fn serve(&self, bound: Vec<Bound>) {
        let mut sockets = lock(&self.sockets);
        for Bound {
            listener,
            port,
            v6only,
        } in bound
        {
            let copy = match &listener {
                Listener::Tcp(l, _) => l.as_fd().try_clone_to_owned(),
                Listener::Udp(s, _) => s.as_fd().try_clone_to_owned(),
            };
            if let Ok(copy) = copy {
                sockets.push((copy, OfferedPort { port, v6only }));
            }
            let gate = Arc::clone(&self.gate);
            match listener {
                Listener::Tcp(l, target) => {
                    wharf_net::proxy::serve_tcp_gated(l, target, gate);
                }
                Listener::Udp(s, target) => {
                    wharf_net::proxy::serve_udp_gated(
                        s,
                        target,
                        wharf_net::proxy::UDP_IDLE_TIMEOUT,
                        gate,
                    );
                }
            }
        }
    }
}

/// The handover socket of the container directory `dir`, reached through
/// the directory's descriptor (kept open alongside): the state root may be
/// deep enough for the full path to pass the 108 bytes a socket address holds.
fn socket_in(dir: &Path) -> std::io::Result<(File, String)> {
    let dir_file = File::open(dir)?;
    let path = format!("/proc/self/fd/{}/{SOCKET}", dir_file.as_raw_fd());
    Ok((dir_file, path))
}

fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    let (_dir_file, path) = socket_in(dir)?;
    UnixStream::connect(path)
}

/// Whether `id` can be a container id (and so a path component).
fn is_container_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Removes the handover socket when the monitor ends.
pub(super) struct HandoverSocket(PathBuf);

impl Drop for HandoverSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Monitor {
    /// Answer handover requests on `ports.sock`, when the container publishes ports.
    pub(super) fn listen_for_handover(
        self: &Arc<Self>,
    ) -> Result<Option<HandoverSocket>, EngineError> {
        if self.record.spec.ports.is_empty() {
            return Ok(None);
        }
        let path = self.dir.join(SOCKET);
        let listening = format!("listening on {}", path.display());
        let (_dir_file, short) =
            socket_in(&self.dir).map_err(|e| EngineError::io(listening.clone(), e))?;
        let _ = std::fs::remove_file(&short);
        let listener =
            UnixListener::bind(&short).map_err(|e| EngineError::io(listening.clone(), e))?;
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| EngineError::io(listening, e))?;
        let monitor = Arc::clone(self);
        std::thread::Builder::new()
            .name("port-handover".to_string())
            .spawn(move || {
                for connection in listener.incoming().flatten() {
                    let monitor = Arc::clone(&monitor);
                    let _ = std::thread::Builder::new()
                        .name("port-handover-request".to_string())
                        .spawn(move || monitor.answer(connection));
                }
            })
            .map_err(|e| EngineError::io("starting the port handover thread", e))?;
        Ok(Some(HandoverSocket(path)))
    }

    fn answer(&self, connection: UnixStream) {
        let mut reader = BufReader::new(&connection);
        let mut request = String::new();
        if reader.read_line(&mut request).is_err() {
            return;
        }
        let request = request.trim_end();
        let result = match request.split_once(' ') {
            Some(("give", successor)) if is_container_id(successor) => {
                return self.give(&connection, &mut reader, successor)
            }
            _ if request == "bind" => self.take(None),
            Some(("take", from)) => self.take(Some(from)),
            _ => Err(EngineError::Invalid(format!(
                "unknown port handover request {request:?}"
            ))),
        };
        let answer = match result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {}", e.to_string().replace('\n', " ")),
        };
        let _ = writeln!(&connection, "{answer}");
    }

    /// The old side: hand the sockets over, stop taking clients once the
    /// successor serves them, and serve again if the successor ends first.
    fn give(&self, connection: &UnixStream, reader: &mut BufReader<&UnixStream>, successor: &str) {
        let held = &self.held_ports;
        {
            let sockets = lock(&held.sockets);
            let described: Vec<&OfferedPort> = sockets.iter().map(|(_, port)| port).collect();
            let payload = serde_json::to_vec(&described).unwrap_or_default();
            let fds: Vec<_> = sockets.iter().map(|(fd, _)| fd.as_fd()).collect();
            if wharf_net::handover::send_fds(connection, &payload, &fds).is_err() {
                return;
            }
        }
        let mut line = String::new();
        if reader.read_line(&mut line).is_ok() && line.trim_end() == "taken" {
            held.gate.close();
            let drained = held.gate.wait_drained(Instant::now() + DRAIN_TIMEOUT);
            let _ = writeln!(&*connection, "{}", if drained { "drained" } else { "busy" });
            // Blocks until the successor's monitor ends (or this process does).
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(reader, &mut rest);
        }
        // The successor ended (or failed) while this container runs: serve
        // again. Its rules, left by a killed monitor, would win over ours, so
        // they go in the same transaction that puts ours back.
        let forwards = self
            .publishing_endpoint()
            .map(|endpoint| crate::ports::forwards(endpoint, &held.published()))
            .unwrap_or_default();
        let _ =
            wharf_net::firewall::detect().hand_over_ports(successor, &self.record.id, &forwards);
        held.gate.open();
    }

    /// The new side: serve the sockets of container `from` (or bind the
    /// ports when there is none), move the forwarding rules, record the ports.
    fn take(&self, from: Option<&str>) -> Result<(), EngineError> {
        let mut offers = Vec::new();
        let predecessor = match from {
            Some(from) => Some(self.fetch_sockets(from, &mut offers)?),
            None => None,
        };
        let (bound, published) = self.listeners_for_ports(&mut offers)?;
        self.held_ports.serve(bound);
        self.held_ports.set_published(published.clone());
        let forwards = self
            .publishing_endpoint()
            .map(|endpoint| crate::ports::forwards(endpoint, &published))
            .unwrap_or_default();
        let firewall = wharf_net::firewall::detect();
        match from {
            Some(from) => firewall.hand_over_ports(from, &self.record.id, &forwards),
            None => firewall.setup_ports(&self.record.id, &forwards),
        }
        .map_err(crate::network::net_err)?;
        self.write_state(|s| s.ports = published)?;
        if let Some(stream) = predecessor {
            let _ = stream.set_read_timeout(Some(DRAIN_TIMEOUT + Duration::from_secs(5)));
            if writeln!(&stream, "taken").is_ok() {
                let mut drained = String::new();
                let _ = BufReader::new(&stream).read_line(&mut drained);
            }
            let _ = stream.set_read_timeout(None);
            *lock(&self.held_ports.predecessor) = Some(stream);
        }
        Ok(())
    }

    /// Ask the monitor of container `from` for its listening sockets.
    fn fetch_sockets(
        &self,
        from: &str,
        offers: &mut Vec<Offer>,
    ) -> Result<UnixStream, EngineError> {
        if !is_container_id(from) {
            return Err(EngineError::Invalid(format!(
                "invalid container id {from:?} in a port handover request"
            )));
        }
        let action = format!("asking the monitor of container {from} for its published ports");
        let stream = connect(&self.layout.container(from))
            .map_err(|e| EngineError::io(action.clone(), e))?;
        let _ = stream.set_read_timeout(Some(ANSWER_TIMEOUT));
        writeln!(&stream, "give {}", self.record.id)
            .map_err(|e| EngineError::io(action.clone(), e))?;
        let (payload, fds) =
            wharf_net::handover::recv_fds(&stream).map_err(crate::network::net_err)?;
        let described: Vec<OfferedPort> = serde_json::from_slice(&payload).map_err(|e| {
            EngineError::Invalid(format!("{action}: its answer is not understood: {e}"))
        })?;
        if described.len() != fds.len() {
            return Err(EngineError::Invalid(format!(
                "{action}: it described {} sockets but sent {}",
                described.len(),
                fds.len()
            )));
        }
        offers.extend(described.into_iter().zip(fds).map(|(d, socket)| Offer {
            port: d.port,
            v6only: d.v6only,
            socket,
        }));
        Ok(stream)
    }
}

impl LinuxEngine {
    /// Have the monitor of `to` take the published ports of `from` over.
    pub(crate) fn request_port_handover(
        &self,
        from: &ContainerRecord,
        to: &ContainerRecord,
    ) -> Result<(), EngineError> {
        if to.spec.ports.is_empty() {
            return Ok(());
        }
        let action = format!(
            "handing the published ports of {} over to {}",
            from.name, to.name
        );
        let stream = connect(&self.layout.container(&to.id))
            .map_err(|e| EngineError::io(action.clone(), e))?;
        let _ = stream.set_read_timeout(Some(ANSWER_TIMEOUT));
        let request = if from.spec.ports.is_empty() {
            "bind".to_string()
        } else {
            format!("take {}", from.id)
        };
        writeln!(&stream, "{request}").map_err(|e| EngineError::io(action.clone(), e))?;
        let mut answer = String::new();
        BufReader::new(&stream)
            .read_line(&mut answer)
            .map_err(|e| EngineError::io(action.clone(), e))?;
        match answer.trim_end() {
            "ok" => Ok(()),
            other => Err(EngineError::Monitor {
                container: to.name.clone(),
                message: match other.strip_prefix("error: ") {
                    Some(message) => format!("{action}: {message}"),
                    None => format!("{action}: its monitor ended before it answered"),
                },
            }),
        }
    }
}
