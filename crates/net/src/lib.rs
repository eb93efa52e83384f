//! wharf-net: the privileged network side of wharf — Linux bridges, veth pairs and
//! addresses over rtnetlink, IPAM, the firewall/NAT driver (nftables or none),
//! userland port publishing and the embedded DNS server. Public functions are
//! synchronous; each netlink call runs on a private current-thread runtime and acts in
//! the calling thread's network namespace.
#![allow(unsafe_code)]

pub mod dns;
mod error;
pub mod firewall;
pub mod handover;
pub mod holder;
pub mod ipam;
mod link;
mod netns;
pub mod proxy;

pub use error::NetError;
pub use ipnet::{Ipv4Net, Ipv6Net};
pub use link::{
    attach_container, delete_link, delete_links, delete_links_together, enable_ip_forwarding,
    enable_ipv6_forwarding, ensure_bridge, ensure_bridge_ipv6, host_ipv4_networks,
    host_ipv6_networks, ipv4_default_gateway, link_details, link_exists, link_index, loopback_up,
    loopback_up_in, mac_for_address, set_mtu, Ipv6Endpoint, LinkDetails,
};
pub use netns::in_netns_of_pid;
