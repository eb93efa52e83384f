//! Where the service listens: the URI of `wharf system service`
//! (`unix:///path`, `tcp://127.0.0.1:PORT`), the socket made for it (its
//! directory 0755, the socket 0660 and group `docker` when that group
//! exists), or the one a service manager passed (socket activation).

use crate::server::Listener;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Docker's socket path, under wharf's own directory.
pub const DEFAULT_URI: &str = "unix:///run/wharf/docker.sock";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("invalid URI {uri:?}: {reason}")]
    Uri { uri: String, reason: String },
    #[error("refusing to listen on {uri}: it is not a loopback address, and wharf has no TLS support for the API yet, so anyone who can reach it could run containers as root; listen on tcp://127.0.0.1:PORT or a unix:// socket")]
    NotLoopback { uri: String },
    #[error(
        "{path}: another service is listening on this socket already; stop it or give another path"
    )]
    InUse { path: PathBuf },
    #[error("socket activation: {reason}")]
    Activation { reason: String },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> ListenError {
    move |source| ListenError::Io { context, source }
}

impl ListenAddress {
    /// Parse `unix:///run/wharf/docker.sock` or `tcp://127.0.0.1:2375`.
    pub fn parse(uri: &str) -> Result<Self, ListenError> {
        let invalid = |reason: &str| ListenError::Uri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = uri.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(invalid(
                    "a unix socket needs an absolute path (unix:///path/to/socket)",
                ));
            }
            return Ok(ListenAddress::Unix(PathBuf::from(path)));
        }
        if let Some(address) = uri.strip_prefix("tcp://") {
            let address: SocketAddr = address.trim_end_matches('/').parse().map_err(|_| {
                invalid("expected tcp://ADDRESS:PORT with an IP address, like tcp://127.0.0.1:2375")
            })?;
            if !address.ip().is_loopback() {
                return Err(ListenError::NotLoopback {
                    uri: uri.to_string(),
                });
            }
            return Ok(ListenAddress::Tcp(address));
        }
        Err(invalid(
            "use unix:///path/to/socket or tcp://127.0.0.1:PORT",
        ))
    }
}

/// The socket file the service made; it is removed when this is dropped.
#[derive(Debug)]
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Bind `address`; a Unix socket's file comes back to be removed at the end.
pub fn bind(address: &ListenAddress) -> Result<(Listener, Option<SocketFile>), ListenError> {
    match address {
        ListenAddress::Tcp(address) => {
            let listener = std::net::TcpListener::bind(address)
                .map_err(io_error(format!("listening on tcp://{address}")))?;
            Ok((Listener::Tcp(listener), None))
        }
        ListenAddress::Unix(path) => {
            let listener = bind_unix(path)?;
            Ok((Listener::Unix(listener), Some(SocketFile(path.clone()))))
        }
    }
}

fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener, ListenError> {
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        std::fs::create_dir_all(dir).map_err(io_error(format!(
            "creating the socket's directory {}",
            dir.display()
        )))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .map_err(io_error(format!("setting the mode of {}", dir.display())))?;
    }
    remove_stale_socket(path)?;
    // Created without access for others from the start: no moment where
    // any user could connect.
    let previous = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o117));
    let bound = std::os::unix::net::UnixListener::bind(path);
    nix::sys::stat::umask(previous);
    let listener = bound.map_err(io_error(format!("listening on {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(io_error(format!("setting the mode of {}", path.display())))?;
    if let Ok(Some(group)) = nix::unistd::Group::from_name("docker") {
        nix::unistd::chown(path, None, Some(group.gid)).map_err(|errno| ListenError::Io {
            context: format!("giving {} to the group docker", path.display()),
            source: errno.into(),
        })?;
    }
    Ok(listener)
}

/// A socket file left by a service that ended is removed; one a service
/// still answers on is an error.
fn remove_stale_socket(path: &Path) -> Result<(), ListenError> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !metadata.file_type().is_socket() {
        return Err(ListenError::Io {
            context: format!(
                "{} exists and is not a socket; remove it or give another path",
                path.display()
            ),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(ListenError::InUse {
            path: path.to_path_buf(),
        });
    }
    std::fs::remove_file(path).map_err(io_error(format!(
        "removing the stale socket {}",
        path.display()
    )))
}

/// The name that marks the dashboard's socket among the ones a service
/// manager passed (`FileDescriptorName=dashboard`); any other name is the
/// API's.
pub const DASHBOARD_FD_NAME: &str = "dashboard";

/// The listeners a service manager passed (`LISTEN_FDS`), told apart by
/// their names.
#[derive(Debug, Default)]
pub struct Activated {
    pub api: Option<Listener>,
    pub dashboard: Option<std::net::TcpListener>,
}

/// Take the passed sockets: the one named [`DASHBOARD_FD_NAME`] is the
/// dashboard's, the other one the API's.
pub fn activated() -> Result<Activated, ListenError> {
    let passed = wharf_runtime::activation::activated_sockets();
    let names: Vec<&str> = passed.iter().map(|p| p.name.as_str()).collect();
    let (api_at, dashboard_at) = pick_by_name(&names)?;
    let mut activated = Activated::default();
    for (index, socket) in passed.into_iter().enumerate() {
        let listener = into_listener(socket.fd);
        if Some(index) == api_at {
            activated.api = Some(listener);
        } else if Some(index) == dashboard_at {
            match listener {
                Listener::Tcp(tcp) => activated.dashboard = Some(tcp),
                Listener::Unix(_) => {
                    return Err(ListenError::Activation {
                        reason: format!("the socket named {DASHBOARD_FD_NAME:?} is a Unix socket, and the dashboard serves TCP: give its socket unit ListenStream=127.0.0.1:9323"),
                    })
                }
            }
        }
    }
    Ok(activated)
}

/// Which of the passed sockets (by their names, in order) is the API's
/// and which the dashboard's.
pub fn pick_by_name(names: &[&str]) -> Result<(Option<usize>, Option<usize>), ListenError> {
    let mut api = None;
    let mut dashboard = None;
    for (index, name) in names.iter().enumerate() {
        let slot = if *name == DASHBOARD_FD_NAME {
            &mut dashboard
        } else {
            &mut api
        };
        if let Some(first) = slot.replace(index) {
            let role = if *name == DASHBOARD_FD_NAME {
                "the dashboard"
            } else {
                "the Engine API"
            };
            return Err(ListenError::Activation {
                reason: format!(
                    "two sockets were passed for {role} ({:?} and {name:?}); pass one for the API and at most one named {DASHBOARD_FD_NAME:?} (FileDescriptorName={DASHBOARD_FD_NAME} in its socket unit)",
                    names[first]
                ),
            });
        }
    }
    Ok((api, dashboard))
}

fn into_listener(fd: OwnedFd) -> Listener {
    let is_unix =
        nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(fd.as_raw_fd())
            .is_ok_and(|address| address.as_unix_addr().is_some());
    if is_unix {
        Listener::Unix(std::os::unix::net::UnixListener::from(fd))
    } else {
        Listener::Tcp(std::net::TcpListener::from(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_as_docker_writes_them() {
        assert_eq!(
            ListenAddress::parse(DEFAULT_URI).unwrap(),
            ListenAddress::Unix("/run/wharf/docker.sock".into())
        );
        assert_eq!(
            ListenAddress::parse("tcp://127.0.0.1:2375").unwrap(),
            ListenAddress::Tcp("127.0.0.1:2375".parse().unwrap())
        );
        assert!(ListenAddress::parse("tcp://[::1]:2375").is_ok());
    }

    #[test]
    fn a_non_loopback_tcp_address_is_refused() {
        let error = ListenAddress::parse("tcp://0.0.0.0:2375").unwrap_err();
        assert!(matches!(error, ListenError::NotLoopback { .. }));
        assert!(error.to_string().contains("TLS"), "{error}");
    }

    #[test]
    fn bad_uris_say_what_is_expected() {
        for bad in [
            "unix://relative.sock",
            "tcp://localhost",
            "http://x",
            "/run/x.sock",
        ] {
            let error = ListenAddress::parse(bad).unwrap_err();
            assert!(matches!(error, ListenError::Uri { .. }), "{bad}");
        }
    }

    #[test]
    fn passed_sockets_are_told_apart_by_name() {
        assert_eq!(pick_by_name(&[]).unwrap(), (None, None));
        assert_eq!(pick_by_name(&["unknown"]).unwrap(), (Some(0), None));
        assert_eq!(
            pick_by_name(&["wharf.socket", "dashboard"]).unwrap(),
            (Some(0), Some(1))
        );
        assert_eq!(
            pick_by_name(&["dashboard", "api"]).unwrap(),
            (Some(1), Some(0))
        );
        assert_eq!(pick_by_name(&["dashboard"]).unwrap(), (None, Some(0)));
    }

    #[test]
    fn two_sockets_for_one_role_are_refused_with_the_names() {
        let error = pick_by_name(&["unknown", "unknown"]).unwrap_err();
        assert!(matches!(error, ListenError::Activation { .. }));
        assert!(
            error.to_string().contains("FileDescriptorName=dashboard"),
            "{error}"
        );
        let error = pick_by_name(&["dashboard", "api", "dashboard"]).unwrap_err();
        assert!(error.to_string().contains("for the dashboard"), "{error}");
    }

    #[test]
    fn a_socket_is_made_0660_and_a_stale_one_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/docker.sock");
        let (listener, file) = bind(&ListenAddress::Unix(path.clone())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o755);
        let error = bind(&ListenAddress::Unix(path.clone())).unwrap_err();
        assert!(matches!(error, ListenError::InUse { .. }), "{error}");
        drop(listener);
        std::mem::forget(file);
        let (_listener, file) = bind(&ListenAddress::Unix(path.clone())).unwrap();
        drop(file);
        assert!(!path.exists());
    }
}
