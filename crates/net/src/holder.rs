//! Who holds a host port: when publishing fails because the port is in use, the
//! error names the process (`nginx (pid 812)`), found from the socket tables in
//! `/proc/net` and the open descriptors in `/proc/<pid>/fd`. Best effort: `None`
//! when the holder cannot be seen (another network namespace, a kernel socket).

use std::net::SocketAddr;
use std::path::Path;

/// The process holding `addr` for `proto` ("tcp" or "udp"), described for a user.
pub fn port_holder(proto: &str, addr: SocketAddr) -> Option<String> {
    port_holder_in(Path::new("/proc"), proto, addr)
}

fn port_holder_in(proc: &Path, proto: &str, addr: SocketAddr) -> Option<String> {
    let mut inodes = Vec::new();
    for table in [proto.to_string(), format!("{proto}6")] {
        let text = std::fs::read_to_string(proc.join("net").join(&table)).unwrap_or_default();
        inodes.extend(socket_inodes(&text, addr.port(), proto == "tcp"));
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir(proc).ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
        });
        if holds {
            return Some(describe(&entry.path(), pid));
        }
    }
    None
}

/// The inodes of the sockets bound to `port` in a `/proc/net/{tcp,udp}[6]` table;
/// for TCP only listening ones (state 0A).
fn socket_inodes(table: &str, port: u16, listening_only: bool) -> Vec<u64> {
    let mut inodes = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9))
        else {
            continue;
        };
        let local_port = local
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok());
        if local_port != Some(port) || (listening_only && *state != "0A") {
            continue;
        }
        if let Ok(inode) = inode.parse::<u64>() {
            if inode != 0 {
                inodes.push(inode);
            }
        }
    }
    inodes
}

fn describe(proc_pid: &Path, pid: u32) -> String {
    let cmdline = std::fs::read(proc_pid.join("cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.iter().any(|a| a == "__monitor") {
        if let Some(id) = args.last() {
            let short = id.get(..12).unwrap_or(id);
            return format!("the wharf container {short} (monitor pid {pid})");
        }
    }
    let comm = std::fs::read_to_string(proc_pid.join("comm")).unwrap_or_default();
    let comm = comm.trim();
    if comm.is_empty() {
        format!("pid {pid}")
    } else {
        format!("{comm} (pid {pid})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn finds_the_listening_socket_of_a_port() {
        assert_eq!(socket_inodes(TCP, 8080, true), vec![4242]);
        assert_eq!(socket_inodes(TCP, 8080, false), vec![4242, 777]);
        assert_eq!(socket_inodes(TCP, 22, true), vec![99]);
        assert!(socket_inodes(TCP, 9999, true).is_empty());
        assert!(socket_inodes("garbage\nmore garbage", 80, true).is_empty());
    }

    #[test]
    fn names_the_process_holding_a_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let holder = port_holder("tcp", addr).expect("this process holds the port");
        assert!(
            holder.ends_with(&format!("(pid {})", std::process::id())),
            "{holder}"
        );
    }
}
