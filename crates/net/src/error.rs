//! `NetError`: every failure of the network side, worded so that the message says what
//! failed, on which interface, address or port, and what the user can do about it.

use std::net::{Ipv4Addr, SocketAddr};

/// An error of the wharf network side.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A netlink request was refused by the kernel (or could not be sent).
    #[error("{action} failed: {source}; {hint}")]
    Netlink {
        /// What was being done, naming the interface/address, e.g. "creating bridge wharf0".
        action: String,
        #[source]
        source: Box<rtnetlink::Error>,
        /// What to do about it.
        hint: String,
    },
    /// A system call or file operation failed.
    #[error("{action} failed: {source}; {hint}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
        hint: String,
    },
    /// A named network interface does not exist.
    #[error("network interface {name:?} does not exist: {hint}")]
    LinkNotFound { name: String, hint: String },
    /// An interface exists under the bridge's name but is of another kind.
    #[error(
        "network interface {name:?} exists but is a {kind} device, not a bridge: delete it or \
         choose another network name"
    )]
    NotABridge { name: String, kind: String },
    /// An interface name the kernel would refuse.
    #[error(
        "invalid network interface name {name:?}: {reason}; use 1 to 15 characters without \
         '/', ':' or whitespace"
    )]
    InvalidInterfaceName { name: String, reason: &'static str },
    /// A prefix length above 32.
    #[error("invalid prefix length /{prefix} for {address}: an IPv4 prefix length is 0 to 32")]
    InvalidPrefix { address: Ipv4Addr, prefix: u8 },
    /// A MAC address the kernel would refuse for an interface.
    #[error("invalid MAC address {mac} for interface {ifname:?}: {reason}")]
    InvalidMac {
        mac: String,
        ifname: String,
        reason: &'static str,
    },
    /// The network namespace of a process could not be opened or entered.
    #[error(
        "cannot use the network namespace of process {pid}: {action} failed: {source}; check \
         that the container process is still running and that wharf runs as root"
    )]
    Namespace {
        pid: u32,
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// A subnet string that does not parse.
    #[error("invalid subnet {input:?}: {reason}")]
    InvalidSubnet { input: String, reason: String },
    /// The host port to publish is taken (`holder`: who has it, when known).
    #[error(
        "port {addr} is already in use on the host{}: stop {} or publish another port",
        holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default(),
        if holder.is_some() { "it" } else { "what uses it" }
    )]
    PortInUse {
        addr: SocketAddr,
        holder: Option<String>,
    },
    /// Listening on a host address failed for another reason than "in use".
    #[error("cannot listen on {addr}/{proto}: {source}; {hint}")]
    Bind {
        addr: SocketAddr,
        proto: &'static str,
        #[source]
        source: std::io::Error,
        hint: String,
    },
    /// The nftables firewall driver was chosen but `nft` is missing.
    #[error(
        "the firewall program `nft` was not found (searched PATH, /usr/sbin and /sbin): install \
         the package `nftables` (e.g. `apt-get install nftables`) or use the `none` firewall driver"
    )]
    NftNotInstalled,
    /// `nft` rejected a ruleset.
    #[error("nft failed while {action} ({status}): {stderr}; {hint}")]
    Nft {
        action: String,
        status: String,
        stderr: String,
        hint: String,
    },
    /// Several independent operations of one teardown failed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<NetError>),
}

impl NetError {
    /// The errno carried by a netlink or I/O error, if any (positive, like `libc::ENOENT`).
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Netlink { source, .. } => netlink_errno(source),
            NetError::Io { source, .. }
            | NetError::Namespace { source, .. }
            | NetError::Bind { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// The (positive) errno of a netlink error answer.
pub(crate) fn netlink_errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| c.get().abs()),
        _ => None,
    }
}

/// Advice for a failed netlink request, chosen by errno.
fn netlink_hint(errno: Option<i32>) -> &'static str {
    match errno {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "wharf needs root (CAP_NET_ADMIN) to configure networking: run it as root"
        }
        Some(libc::EEXIST) => {
            "something with that name or address already exists: remove it or choose another one"
        }
        Some(libc::ENODEV) | Some(libc::ENOENT) => {
            "the interface disappeared meanwhile: retry the command"
        }
        Some(libc::EOPNOTSUPP) => {
            "the kernel lacks support for this device type: load the module (bridge, veth) and retry"
        }
        Some(libc::ENETUNREACH) => {
            "the gateway is not inside the interface's subnet: check the network's subnet and gateway"
        }
        Some(libc::EADDRNOTAVAIL) => "the address is not valid for this interface: check it",
        _ => "check `dmesg` for details and retry",
    }
}

/// Wrap a netlink error with what was being done.
pub(crate) fn netlink_err(action: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let action = action.into();
    move |source| {
        let hint = netlink_hint(netlink_errno(&source)).to_string();
        NetError::Netlink {
            action,
            source: Box::new(source),
            hint,
        }
    }
}

/// Wrap an I/O error with what was being done and advice.
pub(crate) fn io_err(
    action: impl Into<String>,
    hint: impl Into<String>,
) -> impl FnOnce(std::io::Error) -> NetError {
    let (action, hint) = (action.into(), hint.into());
    move |source| NetError::Io {
        action,
        source,
        hint,
    }
}
