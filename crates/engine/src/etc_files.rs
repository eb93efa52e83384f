//! The files a container gets under /etc: `hostname`, `hosts` and
//! `resolv.conf` (the embedded DNS server's address on user networks; the
//! host's resolvers on docker's default `bridge`, which resolves no names), and
//! the DNS tables of the containers that share its networks.

use crate::lock::{self, FileLock};
use crate::store::{self, ContainerRecord, NetworkRecord};
use crate::{dns_data, netmode, network, LinuxEngine, DNS_TABLE_LOCK};
use std::fs;
use wharf_engine_api::{labels, ContainerSpec, EngineError, Result};

impl LinuxEngine {
    /// Rewrite the DNS tables of the containers on `networks` after one of them
    /// was connected, disconnected or renamed (the caller holds the global
    /// lock), in place (each server re-reads its table when it changes). Only
    /// containers with a monitor (running, or being started: the starter holds
    /// the monitor lock) are rewritten; the others get theirs when they start
    /// (`write_etc_files_locked`), so that creating or removing n containers
    /// costs n writes, not n².
    pub(crate) fn refresh_dns_tables(&self, records: &[ContainerRecord], networks: &[String]) {
        // Read once for all the tables, not once per container.
        let host_resolv_conf = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        for record in records {
            if !record
                .endpoints
                .iter()
                .any(|e| networks.contains(&e.network_id))
                || !lock::monitor_lock_held(&self.monitor_lock_path(&record.id))
            {
                continue;
            }
            let dir = self.layout.container(&record.id);
            if dir.join(dns_data::FILE).exists() {
                // The resolvers its server forwards to: the name servers its
                // resolv.conf would have without the server.
                let upstreams =
                    dns_data::nameservers(&container_resolv_conf(&host_resolv_conf, &record.spec));
                if let Ok(_lock) = self.dns_table_lock(&record.id) {
                    let _ = dns_data::write(&dir, record, records, upstreams);
                }
            }
        }
    }

    /// [`Self::write_etc_files`] for a container about to start, whose monitor
    /// lock the caller holds: under its DNS table lock, which a create or
    /// removal takes to rewrite that table too, so that neither overwrites the
    /// other's newer table with an older one. (Not the global lock: the starts
    /// of an `up` would wait for each other.)
    ///
    /// Then the container is added to the tables of its running peers (a
    /// create does not: its addresses are answered only once it runs), one
    /// table lock at a time, so two containers starting at once never wait
    /// for each other's lock.
    pub(crate) fn write_etc_files_locked(&self, record: &ContainerRecord) -> Result<()> {
        let all = {
            let _lock = self.dns_table_lock(&record.id)?;
            let all = self.all_records().unwrap_or_default();
            self.write_etc_files(record, &all)?;
            all
        };
        self.announce_to_peers(record, &all);
        Ok(())
    }

    /// Add `record` to the DNS table of every container with a monitor that
    /// shares a network with it.
    fn announce_to_peers(&self, record: &ContainerRecord, all: &[ContainerRecord]) {
        for peer in all {
            if peer.id == record.id
                || !peer.endpoints.iter().any(|own| {
                    record
                        .endpoints
                        .iter()
                        .any(|e| e.network_id == own.network_id)
                })
                || !lock::monitor_lock_held(&self.monitor_lock_path(&peer.id))
            {
                continue;
            }
            if let Ok(_lock) = self.dns_table_lock(&peer.id) {
                let _ = dns_data::add_peer(&self.layout.container(&peer.id), peer, record);
            }
        }
    }

    pub(crate) fn dns_table_lock(&self, id: &str) -> Result<FileLock> {
        FileLock::acquire(&self.layout.container(id).join(DNS_TABLE_LOCK))
    }

    /// Write the container's `hostname`, `hosts`, `resolv.conf` and, on user
    /// networks, its DNS table made from `all` (every record, read by the
    /// caller, who may already hold them; `record` is added if missing).
    pub(crate) fn write_etc_files(
        &self,
        record: &ContainerRecord,
        all: &[ContainerRecord],
    ) -> Result<()> {
        let dir = self.layout.container(&record.id);
        let io = |e| EngineError::io(format!("writing the /etc files of {}", record.name), e);
        fs::write(dir.join("hostname"), format!("{}\n", record.hostname)).map_err(io)?;
        let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let plain = container_resolv_conf(&host, &record.spec);
        match &record.spec.network_mode {
            wharf_engine_api::NetworkMode::Bridge
                if !record.endpoints.is_empty() && !self.only_on_default_bridge(record)? => {}
            wharf_engine_api::NetworkMode::Host => {
                // The host's own resolvers are reachable, loopback ones included.
                let resolv = if record.spec.dns.is_empty() {
                    host
                } else {
                    plain
                };
                fs::write(dir.join("resolv.conf"), resolv).map_err(io)?;
                let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
                fs::write(dir.join("hosts"), hosts).map_err(io)?;
                return Ok(());
            }
            wharf_engine_api::NetworkMode::Container(target) => {
                // The other container's files: its network, its DNS server.
                let other = netmode::find(&self.layout, target)?;
                let from = self.layout.container(&other.id);
                for file in ["resolv.conf", "hosts"] {
                    let text = fs::read_to_string(from.join(file)).unwrap_or_default();
                    fs::write(dir.join(file), text).map_err(io)?;
                }
                return Ok(());
            }
            _ => {
                fs::write(dir.join("resolv.conf"), plain).map_err(io)?;
                if !dir.join("hosts").exists() {
                    fs::write(dir.join("hosts"), network::hosts_file(record)).map_err(io)?;
                }
                return Ok(());
            }
        }
        fs::write(dir.join("hosts"), network::hosts_file(record)).map_err(io)?;
        // On user networks names go to the embedded DNS server (127.0.0.11),
        // which forwards what it does not own to the servers of `plain`.
        fs::write(
            dir.join("resolv.conf"),
            dns_data::embedded_resolv_conf(&plain),
        )
        .map_err(io)?;
        // The table builder takes the container itself from `record`.
        dns_data::write(&dir, record, all, dns_data::nameservers(&plain))?;
        Ok(())
    }
}

impl LinuxEngine {
    /// Whether every network of the container is docker's default `bridge`,
    /// where names are not resolved (its containers get the host's resolvers).
    /// Only the records of its own networks are read; one that is gone
    /// counts as not the default bridge.
    fn only_on_default_bridge(&self, record: &ContainerRecord) -> Result<bool, EngineError> {
        for endpoint in &record.endpoints {
            let path = self.layout.network(&endpoint.network_id);
            let network: NetworkRecord = match store::read_json(&path) {
                Ok(network) => network,
                Err(_) if !path.exists() => return Ok(false),
                Err(e) => return Err(e),
            };
            if network
                .labels
                .get(labels::DEFAULT_BRIDGE)
                .map(String::as_str)
                != Some("true")
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The host's resolv.conf without loopback name servers, which a container
/// cannot reach; Google's public servers when none is left, as docker does.
/// `dns`, `dns_search` and `dns_opt` replace the host's corresponding lines.
pub(crate) fn container_resolv_conf(host: &str, spec: &ContainerSpec) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                let addr = words.next().unwrap_or("");
                if !spec.dns.is_empty() || addr.starts_with("127.") || addr == "::1" {
                    continue;
                }
                servers += 1;
            }
            Some("search" | "domain") if !spec.dns_search.is_empty() => continue,
            Some("options") if !spec.dns_opt.is_empty() => continue,
            _ => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    for server in &spec.dns {
        out.push_str(&format!("nameserver {server}\n"));
        servers += 1;
    }
    if !spec.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", spec.dns_search.join(" ")));
    }
    if !spec.dns_opt.is_empty() {
        out.push_str(&format!("options {}\n", spec.dns_opt.join(" ")));
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let host = "search example.org\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n";
        let plain = ContainerSpec::default();
        assert_eq!(
            container_resolv_conf(host, &plain),
            "search example.org\nnameserver 10.0.0.2\n"
        );
        assert_eq!(
            container_resolv_conf("nameserver 127.0.0.1\n", &plain),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let custom = ContainerSpec {
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["corp.example".into()],
            dns_opt: vec!["ndots:2".into()],
            ..Default::default()
        };
        assert_eq!(
            container_resolv_conf(host, &custom),
            "nameserver 1.1.1.1\nsearch corp.example\noptions ndots:2\n"
        );
    }
}
