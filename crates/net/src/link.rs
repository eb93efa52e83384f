//! Host and container interfaces over rtnetlink: bridges, veth pairs, addresses, routes,
//! and the host's IPv4 networks for IPAM. Each public function builds a current-thread
//! tokio runtime and a netlink connection on the calling thread, so it acts in the
//! network namespace of the calling thread.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use futures::TryStreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use netlink_packet_route::address::{AddressAttribute, AddressFlag, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoVeth, LinkAttribute, LinkFlag, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteType};
use netlink_packet_route::AddressFamily;
use rtnetlink::{Handle, IpVersion};

use crate::error::{io_err, netlink_err, netlink_errno};
use crate::netns::{open_netns_of_pid, run_in_netns};
use crate::NetError;

/// What the kernel reports about one interface (see [`link_details`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkDetails {
    pub index: u32,
    pub name: String,
    /// Device kind from IFLA_INFO_KIND ("bridge", "veth", …); `None` for plain devices.
    pub kind: Option<String>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Index of the bridge (controller) this interface is enslaved to.
    pub master: Option<u32>,
    pub mac: Option<[u8; 6]>,
    /// IPv4 addresses with their prefix length (host bits kept).
    pub ipv4: Vec<Ipv4Net>,
    /// Global IPv6 addresses with their prefix length (link-local ones left out).
    pub ipv6: Vec<Ipv6Net>,
    pub mtu: Option<u32>,
}

/// A container's IPv6 side on a dual-stack network (see [`attach_container`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Endpoint {
    pub address: Ipv6Addr,
    pub prefix: u8,
    /// Next hop of the container's IPv6 default route.
    pub gateway: Option<Ipv6Addr>,
}

/// Run `f` with a netlink handle bound to the calling thread's network namespace.
fn with_netlink<T, F, Fut>(f: F) -> Result<T, NetError>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T, NetError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(io_err(
            "starting the netlink event loop",
            "the process may be out of file descriptors or memory",
        ))?;
    runtime.block_on(async move {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(io_err(
            "opening a netlink (NETLINK_ROUTE) socket",
            "the process may be out of file descriptors",
        ))?;
        let conn_task = tokio::spawn(connection);
        let result = f(handle).await;
        conn_task.abort();
        result
    })
}

/// Reject names the kernel would refuse, with a message that says why.
pub(crate) fn check_ifname(name: &str) -> Result<(), NetError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 15 {
        Some("it is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("it is reserved")
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        Some("it contains '/', ':', whitespace or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetError::InvalidInterfaceName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_prefix(address: Ipv4Addr, prefix: u8) -> Result<(), NetError> {
    if prefix > 32 {
        return Err(NetError::InvalidPrefix { address, prefix });
    }
    Ok(())
}

fn format_mac(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn check_mac(mac: [u8; 6], ifname: &str) -> Result<(), NetError> {
    let reason = if mac == [0; 6] {
        Some("it is all zeros")
    } else if mac[0] & 1 == 1 {
        Some("it is a multicast address (lowest bit of the first byte set); use e.g. 02:42:…")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetError::InvalidMac {
            mac: format_mac(&mac),
            ifname: ifname.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The link called `name`, or `None` when there is none.
async fn find_link(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, NetError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(netlink_err(format!(
            "looking up network interface {name:?}"
        ))(e)),
    }
}

/// The IPv4 addresses (with prefix) configured on interface `index`.
async fn ipv4_addresses(handle: &Handle, index: u32, name: &str) -> Result<Vec<Ipv4Net>, NetError> {
    let messages: Vec<AddressMessage> = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(netlink_err(format!("listing the addresses of {name:?}")))?;
    Ok(messages.iter().filter_map(ipv4_of_address).collect())
}

/// The local IPv4 address of an address message, with its prefix length.
fn ipv4_of_address(msg: &AddressMessage) -> Option<Ipv4Net> {
    if msg.header.family != AddressFamily::Inet {
        return None;
    }
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(v4)) => Some(*v4),
        _ => None,
    });
    let address = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(IpAddr::V4(v4)) => Some(*v4),
        _ => None,
    });
    Ipv4Net::new(local.or(address)?, msg.header.prefix_len).ok()
}

/// The global IPv6 addresses (with prefix) configured on interface `index`.
async fn ipv6_addresses(handle: &Handle, index: u32, name: &str) -> Result<Vec<Ipv6Net>, NetError> {
    let messages: Vec<AddressMessage> = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(netlink_err(format!("listing the addresses of {name:?}")))?;
    Ok(messages
        .iter()
        .filter(|msg| msg.header.family == AddressFamily::Inet6)
        .filter_map(|msg| {
            msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(IpAddr::V6(v6)) if !is_link_local(v6) => {
                    Ipv6Net::new(*v6, msg.header.prefix_len).ok()
                }
                _ => None,
            })
        })
        .collect())
}

fn is_link_local(addr: &Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

/// Add `address/prefix` to link `index` without duplicate address detection (the
/// subnet is wharf's, and a tentative address could not be used for seconds).
async fn add_ipv6_address(
    handle: &Handle,
    index: u32,
    address: Ipv6Addr,
    prefix: u8,
) -> Result<(), rtnetlink::Error> {
    let mut request = handle.address().add(index, IpAddr::V6(address), prefix);
    request
        .message_mut()
        .attributes
        .push(AddressAttribute::Flags(vec![AddressFlag::Nodad]));
    request.execute().await
}

/// Turn IPv6 on (`disable_ipv6 = 0`) for `all`, `default` and the given interfaces in
/// the calling thread's network namespace, where it is off.
fn enable_ipv6_sysctls(interfaces: &[&str]) -> Result<(), NetError> {
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        return Err(NetError::Io {
            action: "enabling IPv6 for a network".to_string(),
            source: std::io::Error::from_raw_os_error(libc::EAFNOSUPPORT),
            hint: "the kernel has IPv6 turned off (ipv6.disable=1 on its command line): \
                   enable it or remove enable_ipv6 from the network"
                .to_string(),
        });
    }
    for name in ["all", "default"].iter().chain(interfaces) {
        let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
        if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "0") {
            continue;
        }
        std::fs::write(&path, b"0\n").map_err(io_err(
            format!("enabling IPv6 (writing 0 to {path})"),
            "run wharf as root, with /proc/sys writable",
        ))?;
    }
    Ok(())
}

fn details_of(link: &LinkMessage, ipv4: Vec<Ipv4Net>) -> LinkDetails {
    let mut details = LinkDetails {
        index: link.header.index,
        name: String::new(),
        kind: None,
        up: link.header.flags.contains(&LinkFlag::Up),
        master: None,
        mac: None,
        ipv4,
        ipv6: Vec::new(),
        mtu: None,
    };
    for attr in &link.attributes {
        match attr {
            LinkAttribute::IfName(name) => details.name = name.clone(),
            LinkAttribute::Controller(index) => details.master = Some(*index),
            LinkAttribute::Mtu(mtu) => details.mtu = Some(*mtu),
            LinkAttribute::Address(bytes) if bytes.len() == 6 => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(bytes);
                details.mac = Some(mac);
            }
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        details.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    details
}

/// A stable, locally administered unicast MAC for a bridge, derived from its name and
/// gateway: setting it explicitly keeps the bridge from changing its MAC (and confusing
/// ARP caches) whenever a container joins or leaves.
fn bridge_mac(name: &str, gateway: Ipv4Addr) -> [u8; 6] {
    // FNV-1a over the name and the gateway.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes().chain(gateway.octets()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let h = hash.to_be_bytes();
    [0x02, h[0], h[1], h[2], h[3], h[4]]
}

/// Create bridge `name` if missing, give it `gateway/prefix` (if not already there), set
/// it up. Idempotent. Fails with [`NetError::NotABridge`] when `name` is another device.
pub fn ensure_bridge(name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<(), NetError> {
    check_ifname(name)?;
    check_prefix(gateway, prefix)?;
    with_netlink(|handle| async move {
        let link = match find_link(&handle, name).await? {
            Some(link) => link,
            None => {
                let created = handle
                    .link()
                    .add()
                    .bridge(name.to_string())
                    .address(bridge_mac(name, gateway).to_vec())
                    .execute()
                    .await;
                match created {
                    Ok(()) => {}
                    // Another wharf process created it meanwhile: use it.
                    Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => {}
                    Err(e) => return Err(netlink_err(format!("creating bridge {name:?}"))(e)),
                }
                find_link(&handle, name)
                    .await?
                    .ok_or_else(|| NetError::LinkNotFound {
                        name: name.to_string(),
                        hint: "it vanished right after being created: retry".to_string(),
                    })?
            }
        };
        let details = details_of(&link, Vec::new());
        if details.kind.as_deref() != Some("bridge") {
            return Err(NetError::NotABridge {
                name: name.to_string(),
                kind: details.kind.unwrap_or_else(|| "non-bridge".to_string()),
            });
        }
        let index = link.header.index;
        // Added, not looked up first: the kernel answers EEXIST when the
        // bridge has it, and listing the addresses dumps every address of
        // the host (the filter by interface is applied on our side), a cost
        // that grew with unrelated interfaces at each container start.
        match handle
            .address()
            .add(index, IpAddr::V4(gateway), prefix)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(netlink_err(format!(
                    "adding address {gateway}/{prefix} to bridge {name:?}"
                ))(e))
            }
        }
        if !details.up {
            handle
                .link()
                .set(index)
                .up()
                .execute()
                .await
                .map_err(netlink_err(format!("setting bridge {name:?} up")))?;
        }
        Ok(())
    })
}

/// Give bridge `name` (made by [`ensure_bridge`]) the IPv6 gateway address
/// `gateway/prefix`, turning IPv6 on for it first. Idempotent.
pub fn ensure_bridge_ipv6(name: &str, gateway: Ipv6Addr, prefix: u8) -> Result<(), NetError> {
    check_ifname(name)?;
    if prefix > 128 {
        return Err(NetError::InvalidSubnet {
            input: format!("{gateway}/{prefix}"),
            reason: "an IPv6 prefix length is at most 128".to_string(),
        });
    }
    enable_ipv6_sysctls(&[name])?;
    with_netlink(|handle| async move {
        let link = find_link(&handle, name)
            .await?
            .ok_or_else(|| NetError::LinkNotFound {
                name: name.to_string(),
                hint: "create the bridge first (ensure_bridge)".to_string(),
            })?;
        let index = link.header.index;
        let present = ipv6_addresses(&handle, index, name)
            .await?
            .iter()
            .any(|net| net.addr() == gateway && net.prefix_len() == prefix);
        if present {
            return Ok(());
        }
        match add_ipv6_address(&handle, index, gateway, prefix).await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(netlink_err(format!(
                "adding address {gateway}/{prefix} to bridge {name:?}"
            ))(e)),
        }
    })
}

/// Set the MTU of link `name` (a network's bridge; its containers' veth pairs get
/// the same through [`attach_container`]).
pub fn set_mtu(name: &str, mtu: u32) -> Result<(), NetError> {
    check_ifname(name)?;
    with_netlink(|handle| async move {
        let link = find_link(&handle, name)
            .await?
            .ok_or_else(|| NetError::LinkNotFound {
                name: name.to_string(),
                hint: "create the bridge first".to_string(),
            })?;
        handle
            .link()
            .set(link.header.index)
            .mtu(mtu)
            .execute()
            .await
            .map_err(netlink_err(format!("setting the MTU of {name:?} to {mtu}")))
    })
}

/// Delete a link by name; Ok if it does not exist.
pub fn delete_link(name: &str) -> Result<(), NetError> {
    delete_links(&[name])
}

/// Delete the interfaces `names` (absent ones are fine), all requests in
/// flight at once on one netlink socket, so n deletions cost about one
/// round trip instead of n. Deleting one end of a veth pair deletes both:
/// the pair is gone when this returns. Every failure is reported, not only
/// the first.
pub fn delete_links(names: &[&str]) -> Result<(), NetError> {
    for name in names {
        check_ifname(name)?;
    }
    if names.is_empty() {
        return Ok(());
    }
    with_netlink(|handle| async move {
        let deletions = names.iter().map(|name| {
            let handle = handle.clone();
            async move {
                let Some(link) = find_link(&handle, name).await? else {
                    return Ok(());
                };
                match handle.link().del(link.header.index).execute().await {
                    Ok(()) => Ok(()),
                    Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(()),
                    Err(e) => Err(netlink_err(format!("deleting network interface {name:?}"))(
                        e,
                    )),
                }
            }
        });
        let mut failures: Vec<NetError> = futures::future::join_all(deletions)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        match failures.len() {
            0 => Ok(()),
            1 => Err(failures.remove(0)),
            _ => Err(NetError::Several(failures)),
        }
    })
}

/// Delete the interfaces `names` (absent ones are fine) in one kernel
/// batch: each is moved into an interface group numbered at random for this
/// call, and one `RTM_DELLINK` deletes the group. The kernel then waits for
/// its RCU grace periods once for all of them instead of once per link (each
/// deletion holds RTNL through them, so separate deletions queue). Where the
/// group cannot be deleted whole, the tagged links are deleted one by one.
pub fn delete_links_together(names: &[&str]) -> Result<(), NetError> {
    if names.len() < 2 {
        return delete_links(names);
    }
    for name in names {
        check_ifname(name)?;
    }
    let group = batch_group();
    let batched = with_netlink(|handle| async move {
        let taggings = names.iter().map(|name| {
            let handle = handle.clone();
            async move {
                let mut request = handle.link().set(0);
                let message = request.message_mut();
                message
                    .attributes
                    .push(LinkAttribute::IfName(name.to_string()));
                message.attributes.push(LinkAttribute::Group(group));
                match request.execute().await {
                    Ok(()) => Ok(true),
                    Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(false),
                    Err(e) => Err(netlink_err(format!(
                        "marking network interface {name:?} for deletion"
                    ))(e)),
                }
            }
        });
        let mut tagged = false;
        for outcome in futures::future::join_all(taggings).await {
            tagged |= outcome?;
        }
        if !tagged {
            return Ok(());
        }
        let mut request = handle.link().del(0);
        request
            .message_mut()
            .attributes
            .push(LinkAttribute::Group(group));
        match request.execute().await {
            Ok(()) => Ok(()),
            // Another process (or the kernel's clean-up of a dead namespace) was first.
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(netlink_err("deleting network interfaces as one group")(e)),
        }
    });
    match batched {
        Ok(()) => Ok(()),
        Err(_) => delete_links(names),
    }
}

/// A random interface group number for one batch deletion: never 0, the
/// group every interface starts in, nor a small number an administrator may
/// have given a meaning.
fn batch_group() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    (hasher.finish() as u32) | 0x4000_0000
}

/// Whether a link called `name` exists in the calling thread's network namespace.
pub fn link_exists(name: &str) -> Result<bool, NetError> {
    check_ifname(name)?;
    with_netlink(|handle| async move { Ok(find_link(&handle, name).await?.is_some()) })
}

/// Kind, state, bridge, MAC and IPv4 addresses of interface `name`, or `None` if absent.
pub fn link_details(name: &str) -> Result<Option<LinkDetails>, NetError> {
    check_ifname(name)?;
    with_netlink(|handle| async move {
        let Some(link) = find_link(&handle, name).await? else {
            return Ok(None);
        };
        let ipv4 = ipv4_addresses(&handle, link.header.index, name).await?;
        let mut details = details_of(&link, ipv4);
        details.ipv6 = ipv6_addresses(&handle, link.header.index, name).await?;
        Ok(Some(details))
    })
}

/// Index of interface `name`, or `None` if absent.
pub fn link_index(name: &str) -> Result<Option<u32>, NetError> {
    check_ifname(name)?;
    with_netlink(
        |handle| async move { Ok(find_link(&handle, name).await?.map(|l| l.header.index)) },
    )
}

/// Set `lo` up in the current thread's network namespace.
pub fn loopback_up() -> Result<(), NetError> {
    with_netlink(|handle| async move { set_up(&handle, "lo").await })
}

/// Set `lo` up inside the network namespace of process `pid` (a container without
/// networks still needs its loopback).
pub fn loopback_up_in(pid: u32) -> Result<(), NetError> {
    crate::netns::in_netns_of_pid(pid, loopback_up)
}

async fn set_up(handle: &Handle, name: &str) -> Result<(), NetError> {
    let link = find_link(handle, name)
        .await?
        .ok_or_else(|| NetError::LinkNotFound {
            name: name.to_string(),
            hint: "it should exist in this network namespace: was it deleted or renamed?"
                .to_string(),
        })?;
    handle
        .link()
        .set(link.header.index)
        .up()
        .execute()
        .await
        .map_err(netlink_err(format!("setting {name:?} up")))
}

/// The MAC address of a container interface without `mac_address`: docker's
/// `02:42` followed by the IPv4 address. An address freed by one container and
/// given to the next keeps its MAC, so the host's neighbour entry for it (still
/// reachable for up to 30 s) stays right: with a random MAC, the host would send
/// the new container's traffic to the old one's address for that long, which
/// broke the second start-first update in a row (its new container takes the
/// address the first update freed).
pub fn mac_for_address(address: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = address.octets();
    [0x02, 0x42, a, b, c, d]
}

/// Attach the network namespace of process `pid` to `bridge` with a veth pair: the host
/// end `host_ifname` is enslaved to the bridge and up; the other end is created directly
/// inside the namespace of `pid` as `container_ifname` (with `mac` if given, else
/// [`mac_for_address`]), gets
/// `address/prefix`, goes up together with `lo`, and gets a default route via `gateway`
/// when given. With `ipv6`, IPv6 is turned on in the namespace and the interface also
/// gets that address and an IPv6 default route. Both ends get `mtu` when given (the
/// bridge's, see [`set_mtu`]). On failure everything created is deleted again.
#[allow(clippy::too_many_arguments)]
pub fn attach_container(
    pid: u32,
    bridge: &str,
    host_ifname: &str,
    container_ifname: &str,
    address: Ipv4Addr,
    prefix: u8,
    gateway: Option<Ipv4Addr>,
    mac: Option<[u8; 6]>,
    mtu: Option<u32>,
    ipv6: Option<Ipv6Endpoint>,
) -> Result<(), NetError> {
    check_ifname(bridge)?;
    check_ifname(host_ifname)?;
    check_ifname(container_ifname)?;
    check_prefix(address, prefix)?;
    if let Some(mac) = mac {
        check_mac(mac, container_ifname)?;
    }
    let mac = Some(mac.unwrap_or_else(|| mac_for_address(address)));
    let netns = open_netns_of_pid(pid)?;
    let netns_fd = netns.as_raw_fd();

    // Host side: one request creates the pair, enslaves and raises the host end, and
    // places the peer (named and with its MAC) in the container's namespace. It either
    // fully happens or not at all.
    with_netlink(|handle| async move {
        let bridge_link =
            find_link(&handle, bridge)
                .await?
                .ok_or_else(|| NetError::LinkNotFound {
                    name: bridge.to_string(),
                    hint: "create the network's bridge first (ensure_bridge)".to_string(),
                })?;
        // `veth(a, b)` names the main link `b` and its peer `a`.
        let mut request = handle
            .link()
            .add()
            .veth(container_ifname.to_string(), host_ifname.to_string());
        let message = request.message_mut();
        message
            .attributes
            .push(LinkAttribute::Controller(bridge_link.header.index));
        if let Some(mtu) = mtu {
            message.attributes.push(LinkAttribute::Mtu(mtu));
        }
        for attr in message.attributes.iter_mut() {
            let LinkAttribute::LinkInfo(infos) = attr else {
                continue;
            };
            for info in infos.iter_mut() {
                if let LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))) = info {
                    peer.attributes.push(LinkAttribute::NetNsFd(netns_fd));
                    if let Some(mac) = mac {
                        peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
                    }
                    if let Some(mtu) = mtu {
                        peer.attributes.push(LinkAttribute::Mtu(mtu));
                    }
                }
            }
        }
        request.execute().await.map_err(netlink_err(format!(
            "creating veth pair {host_ifname:?} (on bridge {bridge:?}) / {container_ifname:?} \
             (in the network namespace of process {pid})"
        )))
    })?;

    // Container side, from a thread inside the container's namespace.
    let inside = run_in_netns(&netns, pid, || {
        configure_container_side(container_ifname, address, prefix, gateway)?;
        match ipv6 {
            Some(v6) => configure_container_ipv6(container_ifname, v6),
            None => Ok(()),
        }
    });
    if let Err(err) = inside {
        // Deleting one end of a veth pair deletes the other end too.
        let _ = delete_link(host_ifname);
        return Err(err);
    }
    Ok(())
}

fn configure_container_side(
    ifname: &str,
    address: Ipv4Addr,
    prefix: u8,
    gateway: Option<Ipv4Addr>,
) -> Result<(), NetError> {
    with_netlink(|handle| async move {
        let link = find_link(&handle, ifname)
            .await?
            .ok_or_else(|| NetError::LinkNotFound {
                name: ifname.to_string(),
                hint: "the veth end vanished from the container's namespace: retry".to_string(),
            })?;
        let index = link.header.index;
        handle
            .address()
            .add(index, IpAddr::V4(address), prefix)
            .execute()
            .await
            .map_err(netlink_err(format!(
                "adding address {address}/{prefix} to {ifname:?} in the container"
            )))?;
        handle
            .link()
            .set(index)
            .up()
            .execute()
            .await
            .map_err(netlink_err(format!(
                "setting {ifname:?} up in the container"
            )))?;
        set_up(&handle, "lo").await?;
        if let Some(gateway) = gateway {
            handle
                .route()
                .add()
                .v4()
                .gateway(gateway)
                .output_interface(index)
                .execute()
                .await
                .map_err(netlink_err(format!(
                    "adding the default route via {gateway} on {ifname:?} in the container"
                )))?;
        }
        Ok(())
    })
}

fn configure_container_ipv6(ifname: &str, v6: Ipv6Endpoint) -> Result<(), NetError> {
    enable_ipv6_sysctls(&[ifname])?;
    with_netlink(|handle| async move {
        let link = find_link(&handle, ifname)
            .await?
            .ok_or_else(|| NetError::LinkNotFound {
                name: ifname.to_string(),
                hint: "the veth end vanished from the container's namespace: retry".to_string(),
            })?;
        let index = link.header.index;
        let Ipv6Endpoint {
            address, prefix, ..
        } = v6;
        add_ipv6_address(&handle, index, address, prefix)
            .await
            .map_err(netlink_err(format!(
                "adding address {address}/{prefix} to {ifname:?} in the container"
            )))?;
        if let Some(gateway) = v6.gateway {
            handle
                .route()
                .add()
                .v6()
                .gateway(gateway)
                .output_interface(index)
                .execute()
                .await
                .map_err(netlink_err(format!(
                    "adding the IPv6 default route via {gateway} on {ifname:?} in the container"
                )))?;
        }
        Ok(())
    })
}

/// The IPv4 gateway of the default route of the main table in the calling thread's
/// network namespace, if any.
pub fn ipv4_default_gateway() -> Result<Option<Ipv4Addr>, NetError> {
    with_netlink(|handle| async move {
        let routes: Vec<_> = handle
            .route()
            .get(IpVersion::V4)
            .execute()
            .try_collect()
            .await
            .map_err(netlink_err("listing IPv4 routes"))?;
        Ok(routes
            .iter()
            .filter(|r| r.header.destination_prefix_length == 0)
            .find_map(|r| {
                r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Gateway(RouteAddress::Inet(gw)) => Some(*gw),
                    _ => None,
                })
            }))
    })
}

/// Every IPv4 network in use in the calling thread's network namespace: the subnets of
/// all addresses (and peer addresses) plus the destinations of all routes in every table
/// (VPN and policy-routing tables included), default routes, broadcast and multicast
/// entries skipped. Sorted, without duplicates.
pub fn host_ipv4_networks() -> Result<Vec<Ipv4Net>, NetError> {
    with_netlink(|handle| async move {
        let addresses: Vec<AddressMessage> =
            handle
                .address()
                .get()
                .execute()
                .try_collect()
                .await
                .map_err(netlink_err("listing the host's addresses"))?;
        let routes: Vec<_> = handle
            .route()
            .get(IpVersion::V4)
            .execute()
            .try_collect()
            .await
            .map_err(netlink_err("listing the host's IPv4 routes"))?;

        let mut nets = Vec::new();
        for msg in &addresses {
            if msg.header.family != AddressFamily::Inet {
                continue;
            }
            for attr in &msg.attributes {
                if let AddressAttribute::Address(IpAddr::V4(a))
                | AddressAttribute::Local(IpAddr::V4(a)) = attr
                {
                    if let Ok(net) = Ipv4Net::new(*a, msg.header.prefix_len) {
                        nets.push(net.trunc());
                    }
                }
            }
        }
        for route in &routes {
            let len = route.header.destination_prefix_length;
            if len == 0
                || matches!(
                    route.header.kind,
                    RouteType::Broadcast | RouteType::Multicast | RouteType::Anycast
                )
            {
                continue;
            }
            for attr in &route.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet(dst)) = attr {
                    if let Ok(net) = Ipv4Net::new(*dst, len) {
                        nets.push(net.trunc());
                    }
                }
            }
        }
        nets.sort();
        nets.dedup();
        Ok(nets)
    })
}

/// Every IPv6 network in use in the calling thread's network namespace, like
/// [`host_ipv4_networks`]: address subnets and route destinations of every table;
/// default, link-local and multicast entries skipped. Sorted, without duplicates.
pub fn host_ipv6_networks() -> Result<Vec<Ipv6Net>, NetError> {
    with_netlink(|handle| async move {
        let addresses: Vec<AddressMessage> =
            handle
                .address()
                .get()
                .execute()
                .try_collect()
                .await
                .map_err(netlink_err("listing the host's addresses"))?;
        let routes: Vec<_> = handle
            .route()
            .get(IpVersion::V6)
            .execute()
            .try_collect()
            .await
            .map_err(netlink_err("listing the host's IPv6 routes"))?;
        let mut nets = Vec::new();
        let mut keep = |addr: Ipv6Addr, len: u8| {
            if len == 0 || is_link_local(&addr) || addr.segments()[0] >> 8 == 0xff {
                return;
            }
            if let Ok(net) = Ipv6Net::new(addr, len) {
                nets.push(net.trunc());
            }
        };
        for msg in &addresses {
            if msg.header.family != AddressFamily::Inet6 {
                continue;
            }
            for attr in &msg.attributes {
                if let AddressAttribute::Address(IpAddr::V6(a)) = attr {
                    keep(*a, msg.header.prefix_len);
                }
            }
        }
        for route in &routes {
            if matches!(
                route.header.kind,
                RouteType::Broadcast | RouteType::Multicast | RouteType::Anycast
            ) {
                continue;
            }
            for attr in &route.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet6(dst)) = attr {
                    keep(*dst, route.header.destination_prefix_length);
                }
            }
        }
        nets.sort();
        nets.dedup();
        Ok(nets)
    })
}

/// Enable IPv6 forwarding (`net.ipv6.conf.all.forwarding`) in the calling thread's
/// network namespace, for containers on IPv6 networks to reach beyond the bridge.
pub fn enable_ipv6_forwarding() -> Result<(), NetError> {
    const PATH: &str = "/proc/sys/net/ipv6/conf/all/forwarding";
    if std::fs::read_to_string(PATH).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(PATH, b"1\n").map_err(io_err(
        format!("enabling IPv6 forwarding (writing 1 to {PATH})"),
        "run wharf as root, with /proc/sys writable",
    ))
}

/// Enable net.ipv4.ip_forward (in the calling thread's network namespace), which
/// containers need for outbound traffic.
pub fn enable_ip_forwarding() -> Result<(), NetError> {
    const PATH: &str = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(PATH).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(PATH, b"1\n").map_err(io_err(
        format!("enabling IPv4 forwarding (writing 1 to {PATH})"),
        "run wharf as root, with /proc/sys writable (not inside a container with a read-only /proc/sys)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        assert!(check_ifname("veth0123abcd").is_ok());
        assert!(check_ifname("wharf-br-12345").is_ok());
        let err = check_ifname("a-very-long-interface-name").unwrap_err();
        assert!(err.to_string().contains("longer than 15"), "{err}");
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("eth 0").is_err());
    }

    #[test]
    fn a_container_mac_follows_its_address_as_dockers_does() {
        let mac = mac_for_address(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac, [0x02, 0x42, 0xac, 0x11, 0, 2]);
        assert!(check_mac(mac, "eth0").is_ok());
    }

    #[test]
    fn macs_are_checked() {
        assert!(check_mac([0x02, 0x42, 0xac, 0x11, 0, 2], "eth0").is_ok());
        let err = check_mac([0x01, 0, 0, 0, 0, 1], "eth0").unwrap_err();
        assert!(err.to_string().contains("01:00:00:00:00:01"), "{err}");
        assert!(check_mac([0; 6], "eth0").is_err());
    }

    #[test]
    fn bridge_mac_is_stable_local_unicast() {
        let a = bridge_mac("wharf0", Ipv4Addr::new(172, 17, 0, 1));
        assert_eq!(a, bridge_mac("wharf0", Ipv4Addr::new(172, 17, 0, 1)));
        assert_ne!(a, bridge_mac("wharf1", Ipv4Addr::new(172, 17, 0, 1)));
        assert_eq!(a[0], 0x02);
    }

    #[test]
    fn invalid_arguments_fail_before_touching_the_kernel() {
        let err = ensure_bridge("br0", Ipv4Addr::new(10, 0, 0, 1), 33).unwrap_err();
        assert!(err.to_string().contains("/33"), "{err}");
        let err = attach_container(
            1,
            "br0",
            "veth-name-too-long",
            "eth0",
            Ipv4Addr::new(10, 0, 0, 2),
            24,
            None,
            None,
            None,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, NetError::InvalidInterfaceName { .. }),
            "{err}"
        );
    }
}
