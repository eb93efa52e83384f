//! IP address management: Docker's default address pools, choosing a subnet that does
//! not collide with what the host already uses, gateways and container addresses.
//! Pure functions; the caller supplies what is taken (see `host_ipv4_networks`).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

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
