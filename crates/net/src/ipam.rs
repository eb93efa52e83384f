//! IP address management: Docker's default address pools, choosing a subnet that does
//! not collide with what the host already uses, gateways and container addresses.
//! Pure functions; the caller supplies what is taken (see `host_ipv4_networks`).
//! IPv6 has its own functions below ([`ula_prefix`], [`pick_ipv6_subnet`], …).

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::NetError;

/// Docker's default pools: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 …
/// 192.168.240.0/20 (Docker's default-address-pools).
pub fn default_pools() -> Vec<Ipv4Net> {
    let class_b = (17..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16));
    let class_c = (0..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    class_b
        .chain(class_c)
        .map(|net| net.expect("prefix lengths 16 and 20 are valid"))
        .collect()
}

/// Whether two networks share at least one address.
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// First subnet of the pools that overlaps none of `taken`.
pub fn pick_subnet(pools: &[Ipv4Net], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pools
        .iter()
        .map(|p| p.trunc())
        .find(|pool| !taken.iter().any(|t| overlaps(*pool, *t)))
}

/// Gateway = first host address of the subnet.
pub fn gateway_of(subnet: Ipv4Net) -> Ipv4Addr {
    subnet.trunc().hosts().next().unwrap_or(subnet.network())
}

/// Lowest host address that is not the network, broadcast, gateway, or in `used`.
pub fn next_free_address(
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    used: &[Ipv4Addr],
) -> Option<Ipv4Addr> {
    let used: HashSet<Ipv4Addr> = used.iter().copied().collect();
    subnet
        .trunc()
        .hosts()
        .find(|a| *a != gateway && !used.contains(a))
}

/// Lowest host address of `range` (a part of `subnet`) that is not the subnet's
/// network or broadcast address, the gateway, or in `used`.
pub fn next_free_address_in(
    subnet: Ipv4Net,
    range: Ipv4Net,
    gateway: Ipv4Addr,
    used: &[Ipv4Addr],
) -> Option<Ipv4Addr> {
    let used: HashSet<Ipv4Addr> = used.iter().copied().collect();
    let subnet = subnet.trunc();
    let range = range.trunc();
    let (first, last) = (u32::from(range.network()), u32::from(range.broadcast()));
    (first..=last).map(Ipv4Addr::from).find(|a| {
        subnet.contains(a)
            && *a != subnet.network()
            && *a != subnet.broadcast()
            && *a != gateway
            && !used.contains(a)
    })
}

/// A gateway given by the user: an address of `subnet` other than its network
/// and broadcast addresses.
pub fn parse_gateway(text: &str, subnet: Ipv4Net) -> Result<Ipv4Addr, String> {
    let addr: Ipv4Addr = text.trim().parse().map_err(|_| {
        format!("gateway {text:?} is not an IPv4 address (write it like 10.5.0.254)")
    })?;
    host_address_of(addr, subnet).map_err(|why| format!("gateway {addr} {why}"))
}

/// An `ip_range` given by the user: a CIDR block inside `subnet`.
pub fn parse_ip_range(text: &str, subnet: Ipv4Net) -> Result<Ipv4Net, String> {
    let range = parse_subnet(text).map_err(|e| format!("ip_range: {e}"))?;
    if !subnet.contains(&range) {
        return Err(format!(
            "ip_range {range} is not inside the subnet {subnet}: choose a block of the subnet"
        ));
    }
    Ok(range)
}

/// One of `aux_addresses` (`host: address`): an address of `subnet`.
pub fn parse_aux_address(host: &str, text: &str, subnet: Ipv4Net) -> Result<Ipv4Addr, String> {
    let addr: Ipv4Addr = text
        .trim()
        .parse()
        .map_err(|_| format!("aux_addresses.{host} {text:?} is not an IPv4 address"))?;
    host_address_of(addr, subnet).map_err(|why| format!("aux_addresses.{host} {addr} {why}"))
}

fn host_address_of(addr: Ipv4Addr, subnet: Ipv4Net) -> Result<Ipv4Addr, String> {
    if !subnet.contains(&addr) {
        return Err(format!("is not in the subnet {subnet}"));
    }
    if subnet.prefix_len() < 31 && (addr == subnet.network() || addr == subnet.broadcast()) {
        return Err(format!(
            "is the network or broadcast address of {subnet}: choose a host address"
        ));
    }
    Ok(addr)
}

/// Parse "10.1.0.0/16" strictly: a prefix length is required and host bits must be zero
/// (Docker refuses "10.1.0.1/16" the same way).
pub fn parse_subnet(s: &str) -> Result<Ipv4Net, NetError> {
    let fail = |reason: String| NetError::InvalidSubnet {
        input: s.to_string(),
        reason,
    };
    let text = s.trim();
    let Some((addr, len)) = text.split_once('/') else {
        return Err(fail(
            "it has no prefix length: write it in CIDR form, e.g. 10.1.0.0/16".to_string(),
        ));
    };
    let addr: Ipv4Addr = addr.parse().map_err(|_| {
        fail(format!(
            "{addr:?} is not an IPv4 address: write the subnet in CIDR form, e.g. 10.1.0.0/16"
        ))
    })?;
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| fail(format!("prefix length /{len} is not a number from 0 to 32")))?;
    let net = Ipv4Net::new(addr, len).map_err(|e| fail(e.to_string()))?;
    if net.trunc() != net {
        return Err(fail(format!(
            "{addr} has host bits set for a /{len}: it should be {}",
            net.trunc()
        )));
    }
    Ok(net)
}

/// The /48 unique local prefix (RFC 4193: `fd` + a 40-bit global id) that IPv6
/// subnets are allocated from when a network asks for IPv6 without a subnet. The
/// global id is a hash of `seed` (the host's machine id), so it is stable per host
/// and differs between hosts, like docker's default IPv6 pool.
pub fn ula_prefix(seed: &[u8]) -> Ipv6Net {
    // FNV-1a; any stable spread of the seed's bits will do.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let id = hash.to_be_bytes();
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    octets[1..6].copy_from_slice(&id[..5]);
    Ipv6Net::new(Ipv6Addr::from(octets), 48).expect("48 is a valid IPv6 prefix length")
}

/// Whether two IPv6 networks share at least one address.
pub fn overlaps_v6(a: Ipv6Net, b: Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// First /64 of `prefix` that overlaps none of `taken`.
pub fn pick_ipv6_subnet(prefix: Ipv6Net, taken: &[Ipv6Net]) -> Option<Ipv6Net> {
    let prefix = prefix.trunc();
    if prefix.prefix_len() > 64 {
        return None;
    }
    prefix
        .subnets(64)
        .ok()?
        .find(|candidate| !taken.iter().any(|t| overlaps_v6(*candidate, *t)))
}

/// IPv6 gateway = the subnet's first address after the (subnet-router anycast)
/// network address.
pub fn gateway_of_v6(subnet: Ipv6Net) -> Ipv6Addr {
    let network = u128::from(subnet.network());
    let next = Ipv6Addr::from(network.saturating_add(1));
    if subnet.contains(&next) {
        next
    } else {
        subnet.network()
    }
}

/// Lowest address of `range` (a part of `subnet`) that is not the subnet's network
/// address, the gateway, or in `used`. Looks at no more than `used.len() + 2`
/// candidates, so a /64 costs nothing.
pub fn next_free_address_v6_in(
    subnet: Ipv6Net,
    range: Ipv6Net,
    gateway: Ipv6Addr,
    used: &[Ipv6Addr],
) -> Option<Ipv6Addr> {
    let used: HashSet<Ipv6Addr> = used.iter().copied().collect();
    let subnet = subnet.trunc();
    let range = range.trunc();
    let (first, last) = (u128::from(range.network()), u128::from(range.broadcast()));
    let mut candidate = first;
    loop {
        let addr = Ipv6Addr::from(candidate);
        if subnet.contains(&addr)
            && addr != subnet.network()
            && addr != gateway
            && !used.contains(&addr)
        {
            return Some(addr);
        }
        if candidate == last {
            return None;
        }
        candidate += 1;
    }
}

/// Parse an IPv6 subnet in CIDR form strictly (prefix length required, no host bits).
pub fn parse_subnet_v6(s: &str) -> Result<Ipv6Net, NetError> {
    let fail = |reason: String| NetError::InvalidSubnet {
        input: s.to_string(),
        reason,
    };
    let text = s.trim();
    let Some((addr, len)) = text.split_once('/') else {
        return Err(fail(
            "it has no prefix length: write it in CIDR form, e.g. fd00:db8:1::/64".to_string(),
        ));
    };
    let addr: Ipv6Addr = addr.parse().map_err(|_| {
        fail(format!(
            "{addr:?} is not an IPv6 address: write the subnet in CIDR form, e.g. fd00:db8:1::/64"
        ))
    })?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 128).ok_or_else(|| {
        fail(format!(
            "prefix length /{len} is not a number from 0 to 128"
        ))
    })?;
    let net = Ipv6Net::new(addr, len).map_err(|e| fail(e.to_string()))?;
    if net.trunc() != net {
        return Err(fail(format!(
            "{addr} has host bits set for a /{len}: it should be {}",
            net.trunc()
        )));
    }
    Ok(net)
}

/// An IPv6 gateway given by the user: an address of `subnet` other than its network
/// address.
pub fn parse_gateway_v6(text: &str, subnet: Ipv6Net) -> Result<Ipv6Addr, String> {
    let addr: Ipv6Addr = text.trim().parse().map_err(|_| {
        format!("gateway {text:?} is not an IPv6 address (write it like fd00:db8:1::1)")
    })?;
    host_address_v6_of(addr, subnet).map_err(|why| format!("gateway {addr} {why}"))
}

/// An IPv6 `ip_range` given by the user: a CIDR block inside `subnet`.
pub fn parse_ip_range_v6(text: &str, subnet: Ipv6Net) -> Result<Ipv6Net, String> {
    let range = parse_subnet_v6(text).map_err(|e| format!("ip_range: {e}"))?;
    if !subnet.contains(&range) {
        return Err(format!(
            "ip_range {range} is not inside the subnet {subnet}: choose a block of the subnet"
        ));
    }
    Ok(range)
}

/// One of the `aux_addresses` of an IPv6 pool: an address of `subnet`.
pub fn parse_aux_address_v6(host: &str, text: &str, subnet: Ipv6Net) -> Result<Ipv6Addr, String> {
    let addr: Ipv6Addr = text
        .trim()
        .parse()
        .map_err(|_| format!("aux_addresses.{host} {text:?} is not an IPv6 address"))?;
    host_address_v6_of(addr, subnet).map_err(|why| format!("aux_addresses.{host} {addr} {why}"))
}

fn host_address_v6_of(addr: Ipv6Addr, subnet: Ipv6Net) -> Result<Ipv6Addr, String> {
    if !subnet.contains(&addr) {
        return Err(format!("is not in the subnet {subnet}"));
    }
    if addr == subnet.network() {
        return Err(format!(
            "is the network address of {subnet}: choose a host address"
        ));
    }
    Ok(addr)
}

#[cfg(test)]
mod ipv6_tests {
    use super::*;

    fn net6(s: &str) -> Ipv6Net {
        parse_subnet_v6(s).unwrap()
    }
    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn ula_prefix_is_a_stable_fd_48() {
        let a = ula_prefix(b"machine-a");
        assert_eq!(a, ula_prefix(b"machine-a"));
        assert_ne!(a, ula_prefix(b"machine-b"));
        assert_eq!(a.prefix_len(), 48);
        assert_eq!(a.network().octets()[0], 0xfd);
        assert_eq!(a.trunc(), a);
    }

    #[test]
    fn ipv6_subnets_are_64s_that_avoid_host_routes() {
        let prefix = net6("fd12:3456:789a::/48");
        assert_eq!(
            pick_ipv6_subnet(prefix, &[]),
            Some(net6("fd12:3456:789a::/64"))
        );
        // A host route inside the first /64, and a wider one over the next two.
        let taken = [
            net6("fd12:3456:789a:0:1::/80"),
            net6("fd12:3456:789a:2::/63"),
        ];
        assert_eq!(
            pick_ipv6_subnet(prefix, &taken),
            Some(net6("fd12:3456:789a:1::/64"))
        );
        let taken = [net6("fd12:3456:789a::/63"), net6("fd12:3456:789a:2::/64")];
        assert_eq!(
            pick_ipv6_subnet(prefix, &taken),
            Some(net6("fd12:3456:789a:3::/64"))
        );
        // A route covering the whole prefix leaves nothing.
        assert_eq!(pick_ipv6_subnet(prefix, &[net6("fd00::/8")]), None);
    }

    #[test]
    fn ipv6_addresses_skip_network_gateway_aux_and_used() {
        let subnet = net6("fd00:db8:1::/64");
        let gw = gateway_of_v6(subnet);
        assert_eq!(gw, addr("fd00:db8:1::1"));
        assert_eq!(
            next_free_address_v6_in(subnet, subnet, gw, &[]),
            Some(addr("fd00:db8:1::2"))
        );
        let used = [addr("fd00:db8:1::2"), addr("fd00:db8:1::4")];
        assert_eq!(
            next_free_address_v6_in(subnet, subnet, gw, &used),
            Some(addr("fd00:db8:1::3"))
        );
        // From an ip_range, skipping a user gateway and an aux address inside it.
        let range = net6("fd00:db8:1::100/120");
        let gw = addr("fd00:db8:1::100");
        let aux = addr("fd00:db8:1::101");
        assert_eq!(
            next_free_address_v6_in(subnet, range, gw, &[aux]),
            Some(addr("fd00:db8:1::102"))
        );
        // A full small range.
        let tiny = net6("fd00:db8:1::10/127");
        let used = [addr("fd00:db8:1::10"), addr("fd00:db8:1::11")];
        assert_eq!(next_free_address_v6_in(subnet, tiny, gw, &used), None);
    }

    #[test]
    fn ipv6_user_input_is_checked() {
        let subnet = net6("fd00:db8:1::/64");
        assert!(parse_subnet_v6("fd00:db8:1::1/64")
            .unwrap_err()
            .to_string()
            .contains("should be fd00:db8:1::/64"));
        assert!(parse_subnet_v6("10.0.0.0/24")
            .unwrap_err()
            .to_string()
            .contains("not an IPv6 address"));
        assert!(parse_subnet_v6("fd00::/129")
            .unwrap_err()
            .to_string()
            .contains("0 to 128"));
        assert_eq!(
            parse_gateway_v6("fd00:db8:1::fe", subnet),
            Ok(addr("fd00:db8:1::fe"))
        );
        assert!(parse_gateway_v6("fd00:db8:2::1", subnet)
            .unwrap_err()
            .contains("not in the subnet"));
        assert!(parse_gateway_v6("fd00:db8:1::", subnet)
            .unwrap_err()
            .contains("network address"));
        assert_eq!(
            parse_ip_range_v6("fd00:db8:1::100/120", subnet),
            Ok(net6("fd00:db8:1::100/120"))
        );
        assert!(parse_ip_range_v6("fd00:db8::/32", subnet)
            .unwrap_err()
            .contains("not inside"));
        assert!(parse_aux_address_v6("router", "10.0.0.1", subnet)
            .unwrap_err()
            .contains("aux_addresses.router"));
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        parse_subnet(s).unwrap()
    }

    #[test]
    fn addresses_come_from_the_range_and_skip_what_is_taken() {
        let subnet = net("10.99.0.0/24");
        let gw: Ipv4Addr = "10.99.0.254".parse().unwrap();
        let range = net("10.99.0.128/25");
        let aux: Ipv4Addr = "10.99.0.128".parse().unwrap();
        let aux2: Ipv4Addr = "10.99.0.129".parse().unwrap();
        assert_eq!(
            next_free_address_in(subnet, range, gw, &[aux, aux2]),
            Some("10.99.0.130".parse().unwrap())
        );
        // The subnet's own network address is never given, even at a range start.
        assert_eq!(
            next_free_address_in(subnet, net("10.99.0.0/30"), gw, &[]),
            Some("10.99.0.1".parse().unwrap())
        );
        // Neither the broadcast nor the gateway at the end of a range.
        let tail = net("10.99.0.252/30");
        assert_eq!(
            next_free_address_in(subnet, tail, gw, &[]),
            Some("10.99.0.252".parse().unwrap())
        );
        let used: Vec<Ipv4Addr> = ["10.99.0.252", "10.99.0.253"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(next_free_address_in(subnet, tail, gw, &used), None);
    }

    #[test]
    fn user_gateways_ranges_and_aux_addresses_are_checked() {
        let subnet = net("10.99.0.0/24");
        assert_eq!(
            parse_gateway("10.99.0.254", subnet),
            Ok("10.99.0.254".parse().unwrap())
        );
        assert!(parse_gateway("10.98.0.1", subnet)
            .unwrap_err()
            .contains("not in the subnet 10.99.0.0/24"));
        assert!(parse_gateway("10.99.0.255", subnet)
            .unwrap_err()
            .contains("broadcast"));
        assert!(parse_gateway("gw", subnet)
            .unwrap_err()
            .contains("not an IPv4"));
        assert_eq!(
            parse_ip_range("10.99.0.128/25", subnet),
            Ok(net("10.99.0.128/25"))
        );
        assert!(parse_ip_range("10.99.0.0/16", subnet)
            .unwrap_err()
            .contains("not inside"));
        assert!(parse_aux_address("router", "10.99.1.1", subnet)
            .unwrap_err()
            .contains("aux_addresses.router"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn default_pools_match_docker() {
        let pools = default_pools();
        assert_eq!(pools.len(), 15 + 16);
        assert_eq!(pools[0], net("172.17.0.0/16"));
        assert_eq!(pools[14], net("172.31.0.0/16"));
        assert_eq!(pools[15], net("192.168.0.0/20"));
        assert_eq!(pools[16], net("192.168.16.0/20"));
        assert_eq!(pools[30], net("192.168.240.0/20"));
    }

    #[test]
    fn pick_subnet_skips_overlaps() {
        let pools = default_pools();
        assert_eq!(pick_subnet(&pools, &[]), Some(net("172.17.0.0/16")));
        // A smaller network inside the first pool, and a bigger one around the second.
        let taken = [net("172.17.5.0/24"), net("172.18.0.0/15")];
        assert_eq!(pick_subnet(&pools, &taken), Some(net("172.20.0.0/16")));
    }

    #[test]
    fn pick_subnet_skips_a_vpn_route_covering_several_pools() {
        let pools = default_pools();
        // A VPN pushing 172.16.0.0/12 covers every 172.x pool.
        let taken = [net("172.16.0.0/12"), net("192.168.0.0/24")];
        assert_eq!(pick_subnet(&pools, &taken), Some(net("192.168.16.0/20")));
        // A /8 route over 172.0.0.0 does the same.
        let taken = [net("172.0.0.0/8")];
        assert_eq!(pick_subnet(&pools, &taken), Some(net("192.168.0.0/20")));
    }

    #[test]
    fn pick_subnet_exhausted() {
        let pools = default_pools();
        let taken = [net("172.0.0.0/8"), net("192.168.0.0/16")];
        assert_eq!(pick_subnet(&pools, &taken), None);
        assert_eq!(pick_subnet(&[], &[]), None);
    }

    #[test]
    fn gateway_is_first_host() {
        assert_eq!(
            gateway_of(net("172.17.0.0/16")),
            Ipv4Addr::new(172, 17, 0, 1)
        );
        assert_eq!(gateway_of(net("10.1.2.0/24")), Ipv4Addr::new(10, 1, 2, 1));
    }

    #[test]
    fn next_free_address_skips_gateway_used_and_broadcast() {
        let subnet = net("10.0.0.0/29"); // hosts .1 – .6, broadcast .7
        let gw = gateway_of(subnet);
        assert_eq!(
            next_free_address(subnet, gw, &[]),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        let used = [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 4)];
        assert_eq!(
            next_free_address(subnet, gw, &used),
            Some(Ipv4Addr::new(10, 0, 0, 3))
        );
        let used: Vec<_> = (2..=6).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        assert_eq!(next_free_address(subnet, gw, &used), None, "never .0 or .7");
        // A gateway that is not the first host (user-chosen) frees .1.
        assert_eq!(
            next_free_address(subnet, Ipv4Addr::new(10, 0, 0, 6), &[]),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
    }

    #[test]
    fn parse_subnet_accepts_cidr() {
        assert_eq!(parse_subnet("10.1.0.0/16").unwrap(), net("10.1.0.0/16"));
        assert_eq!(
            parse_subnet(" 192.168.5.0/24 ").unwrap(),
            net("192.168.5.0/24")
        );
    }

    #[test]
    fn parse_subnet_errors_are_clear() {
        let msg = parse_subnet("10.0.0.1/33").unwrap_err().to_string();
        assert!(
            msg.contains("\"10.0.0.1/33\"") && msg.contains("0 to 32"),
            "{msg}"
        );
        let msg = parse_subnet("foo").unwrap_err().to_string();
        assert!(msg.contains("\"foo\"") && msg.contains("CIDR"), "{msg}");
        let msg = parse_subnet("foo/24").unwrap_err().to_string();
        assert!(msg.contains("not an IPv4 address"), "{msg}");
        let msg = parse_subnet("10.0.0.1/24").unwrap_err().to_string();
        assert!(msg.contains("should be 10.0.0.0/24"), "{msg}");
    }
}
