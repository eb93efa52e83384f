//! Network byte counters of a container, read from `/proc/<pid>/net/dev` (which shows
//! the network namespace of that process).

use crate::RuntimeError;

/// Bytes (received, transmitted) on every interface but `lo` in the network namespace
/// of `pid`.
pub fn net_io(pid: u32) -> Result<(u64, u64), RuntimeError> {
    net_counters(pid).map(|c| (c.rx_bytes, c.tx_bytes))
}

/// Every counter of the network namespace of `pid` (interfaces but `lo`).
pub fn net_counters(pid: u32) -> Result<NetCounters, RuntimeError> {
    let path = format!("/proc/{pid}/net/dev");
    let text = crate::cgroups::read_kernel_text(std::path::Path::new(&path))
        .map_err(|e| RuntimeError::io("read", &path, e))?;
    parse_net_counters(&text).map_err(|e| RuntimeError::Parse {
        file: path.into(),
        detail: e.to_string(),
    })
}

/// Sums over the interfaces of a network namespace, `lo` left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
}

/// A `/proc/net/dev` line that is not what the kernel writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetDevError {
    #[error("interface {interface} has {found} counters, expected 16")]
    TooFewCounters { interface: String, found: usize },
    #[error("bad counter {value:?} for {interface}")]
    BadCounter { interface: String, value: String },
}

/// Parse the text of a `/proc/net/dev` file: two header lines, then
/// `iface: rx_bytes rx_packets … (8 rx fields) tx_bytes …`.
pub fn parse_net_dev(text: &str) -> Result<(u64, u64), NetDevError> {
    parse_net_counters(text).map(|c| (c.rx_bytes, c.tx_bytes))
}

/// Parse a `/proc/net/dev` text into every counter [`NetCounters`] keeps.
pub fn parse_net_counters(text: &str) -> Result<NetCounters, NetDevError> {
    let mut sum = NetCounters::default();
    for line in text.lines().skip(2) {
        let Some((iface, rest)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() < 9 {
            return Err(NetDevError::TooFewCounters {
                interface: iface.trim().to_string(),
                found: fields.len(),
            });
        }
        let num = |s: &str| {
            s.parse::<u64>().map_err(|_| NetDevError::BadCounter {
                interface: iface.trim().to_string(),
                value: s.to_string(),
            })
        };
        let tx_errors = fields.get(10).map_or(Ok(0), |f| num(f))?;
        sum.rx_bytes = sum.rx_bytes.saturating_add(num(fields[0])?);
        sum.rx_packets = sum.rx_packets.saturating_add(num(fields[1])?);
        sum.rx_errors = sum.rx_errors.saturating_add(num(fields[2])?);
        sum.tx_bytes = sum.tx_bytes.saturating_add(num(fields[8])?);
        sum.tx_packets = sum
            .tx_packets
            .saturating_add(fields.get(9).map_or(Ok(0), |f| num(f))?);
        sum.tx_errors = sum.tx_errors.saturating_add(tx_errors);
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       8    0    0    0     0       0          0
  eth1:      25       1    0    0    0     0          0         0       75       1    0    0    0     0       0          0
";

    #[test]
    fn sums_all_interfaces_but_lo() {
        assert_eq!(parse_net_dev(SAMPLE).unwrap(), (1525, 775));
    }

    #[test]
    fn packets_and_errors_are_summed_too() {
        let c = parse_net_counters(SAMPLE).unwrap();
        assert_eq!(
            (c.rx_packets, c.tx_packets, c.rx_errors, c.tx_errors),
            (13, 9, 0, 0)
        );
        let errors = SAMPLE.replace("1500      12    0", "1500      12    3");
        assert_eq!(parse_net_counters(&errors).unwrap().rx_errors, 3);
    }

    #[test]
    fn only_lo_is_zero_and_junk_is_an_error() {
        let only_lo: String = SAMPLE.lines().take(3).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse_net_dev(&only_lo).unwrap(), (0, 0));
        let bad = format!("{}\n{}\n  eth0: 1 2 3\n", "h1", "h2");
        assert!(parse_net_dev(&bad)
            .unwrap_err()
            .to_string()
            .contains("eth0"));
    }

    #[test]
    fn reads_our_own_namespace() {
        net_io(std::process::id()).unwrap();
        let err = net_io(u32::MAX - 1).unwrap_err();
        assert!(err.to_string().contains("/net/dev"), "{err}");
    }
}
