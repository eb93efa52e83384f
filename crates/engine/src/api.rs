//! The [`Engine`] trait for [`LinuxEngine`]: each call finds its container
//! or network and hands the work to the module that does it.

use crate::lock::FileLock;
use crate::procfs::process_info;
use crate::stats::HostFigures;
use crate::store::{self, NetworkRecord};
use crate::{
    events, image_err, leftovers, logs, network, runtime_err, LinuxEngine, CONFIG_FILE, LOG_FILE,
    RESTART_MARKER, STOP_MARKER,
};
use std::fs;

use std::time::Duration;
use wharf_engine_api::{
    ContainerInfo, ContainerSpec, ContainerState, EngineError, ExecSpec, Result,
};

use wharf_engine_api::{
    CopyToOptions, Engine, ImageInfo, LockGuard, LogDriver, LogLine, LogOptions, NetworkInfo,
    NetworkSpec, PathStat, ProcessInfo, StatsSample,
};

impl Engine for LinuxEngine {
    fn check_ports(&self, spec: &ContainerSpec) -> Result<()> {
        if !matches!(spec.network_mode, wharf_engine_api::NetworkMode::Bridge) {
            return Ok(());
        }
        for port in spec.ports.iter().filter(|p| p.host_port != 0) {
            let listen = port.listen_addr();
            // Bound and released at once: only whether it can be bound matters.
            match port.protocol {
                wharf_engine_api::Protocol::Tcp => {
                    wharf_net::proxy::bind_tcp(listen).map_err(network::net_err)?;
                }
                wharf_engine_api::Protocol::Udp => {
                    wharf_net::proxy::bind_udp(listen).map_err(network::net_err)?;
                }
            }
        }
        Ok(())
    }

    fn lock_project(&self, project: &str) -> Result<LockGuard> {
        let name: String = project
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let lock = FileLock::acquire(&self.layout.locks().join(format!("project-{name}.lock")))?;
        Ok(Box::new(lock))
    }

    fn image_inspect(&self, reference: &str) -> Result<Option<ImageInfo>> {
        Ok(self
            .images
            .resolve(reference)
            .map_err(image_err)?
            .map(|image| image.info))
    }

    fn list_containers(&self, wanted: &[(&str, &str)]) -> Result<Vec<ContainerInfo>> {
        let _listing = self.phase("list containers", "");
        let mut out = Vec::new();
        for record in self.all_records()? {
            if wanted
                .iter()
                .all(|(k, v)| record.spec.labels.get(*k).map(String::as_str) == Some(*v))
            {
                out.push(self.info(&record)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn discarded_limits(&self, resources: &wharf_engine_api::Resources) -> Vec<String> {
        crate::resources::discarded(resources, &self.config.cgroup_fs_root)
    }

    fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        self.create(spec)
    }

    fn start_container(&self, id: &str) -> Result<()> {
        self.start(id, false)
    }

    fn start_container_awaiting_ports(&self, id: &str) -> Result<()> {
        self.start(id, true)
    }

    fn hand_over_ports(&self, from_id: &str, to_id: &str) -> Result<()> {
        let (from, to) = (self.find(from_id)?, self.find(to_id)?);
        let _handover = self.phase("hand the published ports over", &to.name);
        self.request_port_handover(&from, &to)
    }

    fn start_attached(&self, id: &str) -> Result<i32> {
        let record = self.find(id)?;
        // The monitor in the foreground takes the lock itself: its stdin is ours.
        if self.claim_monitor(&record)?.is_none() {
            return Err(EngineError::Invalid(format!(
                "container {} is already running",
                record.name
            )));
        }
        let _ = fs::remove_file(self.layout.container(&record.id).join(STOP_MARKER));
        self.write_etc_files_locked(&record)?;
        let _attached = self.phase("run: the attached monitor, start to end", &record.name);
        self.run_monitor_attached(&record)
    }

    fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let record = self.find(id)?;
        if !record.spec.pre_stop.is_empty() {
            let state = self.settled_state(&record)?;
            if state.state.is_running() {
                // A frozen container cannot run its hooks: thaw it first.
                if let (true, Some(cgroup)) = (state.state.is_paused(), &state.cgroup) {
                    cgroup.thaw().map_err(runtime_err)?;
                }
                self.run_hooks(&record, &record.spec.pre_stop, "pre_stop")?;
            }
        }
        self.stop_record(&record, timeout)
    }

    fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let record = self.find(id)?;
        let signal = wharf_runtime::parse_signal(signal).map_err(runtime_err)?;
        let state = self.live_state(&record.id)?;
        match state.state {
            ContainerState::Running { pid, paused, .. } => {
                // Recorded before the signal: the monitor writes `die` as
                // soon as the process ends, and `kill` must come first.
                events::record(
                    &self.layout,
                    &record,
                    "kill",
                    &[("signal", signal.to_string())],
                );
                wharf_runtime::send_signal(pid, signal).map_err(runtime_err)?;
                // Thawed to act on it, as docker does.
                match (paused, &state.cgroup) {
                    (true, Some(cgroup)) => cgroup.thaw().map_err(runtime_err),
                    _ => Ok(()),
                }
            }
            _ => Err(EngineError::Invalid(format!(
                "container {} is not running",
                record.name
            ))),
        }
    }

    fn pause_container(&self, id: &str) -> Result<()> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        let (ContainerState::Running { paused, .. }, Some(cgroup)) = (&state.state, &state.cgroup)
        else {
            return Err(EngineError::Invalid(format!(
                "container {} is not running",
                record.name
            )));
        };
        if *paused {
            return Err(EngineError::Invalid(format!(
                "container {} is already paused",
                record.name
            )));
        }
        cgroup
            .freeze()
            .map_err(|e| EngineError::step(format!("pausing container {}", record.name), e, ""))?;
        events::record(&self.layout, &record, "pause", &[]);
        Ok(())
    }

    fn unpause_container(&self, id: &str) -> Result<()> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        match (&state.state, &state.cgroup) {
            (ContainerState::Running { paused: true, .. }, Some(cgroup)) => {
                cgroup.thaw().map_err(|e| {
                    EngineError::step(format!("unpausing container {}", record.name), e, "")
                })?;
                events::record(&self.layout, &record, "unpause", &[]);
                Ok(())
            }
            _ => Err(EngineError::Invalid(format!(
                "container {} is not paused",
                record.name
            ))),
        }
    }

    fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        let _lock = self.global_lock()?;
        let record = self.find(id)?;
        let mut records = self.all_records_repairing()?;
        if records
            .iter()
            .any(|r| r.name == new_name && r.id != record.id)
        {
            return Err(EngineError::Conflict {
                kind: "container",
                name: new_name.to_string(),
            });
        }
        let mut renamed = record.clone();
        renamed.name = new_name.to_string();
        renamed.spec.name = new_name.to_string();
        store::write_json(
            &self.layout.container(&record.id).join(CONFIG_FILE),
            &renamed,
        )?;
        for r in records.iter_mut().filter(|r| r.id == record.id) {
            *r = renamed.clone();
        }
        let nets: Vec<String> = renamed
            .endpoints
            .iter()
            .map(|e| e.network_id.clone())
            .collect();
        self.refresh_dns_tables(&records, &nets);
        events::record(
            &self.layout,
            &renamed,
            "rename",
            &[("oldName", record.name.clone())],
        );
        Ok(())
    }

    fn remove_container(&self, id: &str, force: bool) -> Result<()> {
        self.remove(id, force)
    }

    fn remove_container_and_anonymous_volumes(&self, id: &str, force: bool) -> Result<()> {
        let record = self.find(id)?;
        if self.has_anonymous_volumes(&record) {
            wharf_engine_api::remove_with_anonymous_volumes(self, &record.id, force)
        } else {
            self.remove(&record.id, force)
        }
    }

    fn restart_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let record = self.find(id)?;
        let marker = self.layout.container(&record.id).join(RESTART_MARKER);
        fs::write(&marker, b"")
            .map_err(|e| EngineError::io(format!("restarting {}", record.name), e))?;
        self.stop_container(&record.id, timeout)?;
        self.start_container(&record.id)
    }

    fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInfo> {
        let record = self.find(id_or_name)?;
        self.info(&record)
    }

    fn list_networks(&self, wanted: &[(&str, &str)]) -> Result<Vec<NetworkInfo>> {
        Ok(network::load_networks(&self.layout)?
            .into_iter()
            .filter(|n| {
                wanted
                    .iter()
                    .all(|(k, v)| n.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|n: NetworkRecord| NetworkInfo {
                id: n.id,
                name: n.name,
                labels: n.labels,
                subnet: n.subnet,
                gateway: std::net::IpAddr::V4(n.gateway),
                bridge: n.bridge,
                ip_range: n.ip_range,
                aux_addresses: n
                    .aux_addresses
                    .into_iter()
                    .map(|(host, addr)| (host, addr.to_string()))
                    .collect(),
                mtu: n.mtu,
                ipv6: n.ipv6.map(|v6| wharf_engine_api::Ipv6Pool {
                    subnet: Some(v6.subnet),
                    gateway: Some(v6.gateway.to_string()),
                    ip_range: v6.ip_range,
                    aux_addresses: v6
                        .aux_addresses
                        .into_iter()
                        .map(|(host, addr)| (host, addr.to_string()))
                        .collect(),
                }),
            })
            .collect())
    }

    fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        let _lock = self.global_lock()?;
        Ok(network::create(&self.layout, spec)?.id)
    }

    fn remove_project_leftovers(&self, project: &str) -> Result<Vec<String>> {
        let _scan = self.phase("down: look for leftover containers", project);
        leftovers::remove_orphan_containers(
            &self.layout,
            &self.config.cgroup_fs_root,
            &self.config.cgroup_parent,
            project,
        )
    }

    fn remove_network(&self, id: &str) -> Result<()> {
        let _lock = self.global_lock()?;
        let record = network::load_networks(&self.layout)?
            .into_iter()
            .find(|n| n.id == id || n.name == id)
            .ok_or_else(|| EngineError::not_found("network", id))?;
        let records = self.all_records_repairing()?;
        let _whole = self.phase("remove network: firewall, bridge and gathered veths", id);
        // The veths a teardown gathered go in the bridge's batch.
        let veths = self.take_gathered_veths();
        match network::remove(&self.layout, &record, &records, &veths) {
            Err(e @ EngineError::Invalid(_)) => {
                self.regather_veths(veths);
                Err(e)
            }
            outcome => outcome,
        }
    }

    fn begin_teardown(&self) -> wharf_engine_api::TeardownGuard<'_> {
        self.begin_teardown_batch()
    }

    fn connect_network(
        &self,
        network: &str,
        container: &str,
        attachment: &wharf_engine_api::NetworkAttachment,
    ) -> Result<()> {
        self.connect(network, container, attachment)
    }

    fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        self.disconnect(network, container, force)
    }

    fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32> {
        let record = self.find(id)?;
        self.exec_in(&record, spec, None, &|_| {})
    }

    fn logs(
        &self,
        id: &str,
        options: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let record = self.find(id)?;
        if record.spec.logging.driver == LogDriver::None {
            return Err(EngineError::Invalid(format!(
                "configured logging driver does not support reading (container {} has logging driver none)",
                record.name
            )));
        }
        let path = self.layout.container(&record.id).join(LOG_FILE);
        let running = || {
            self.live_state(&record.id)
                .map(|s| s.state.is_running() || matches!(s.state, ContainerState::Restarting))
                .unwrap_or(false)
        };
        logs::read_log(&path, options, &running, sink)
    }

    fn stats(&self, id: &str) -> Result<StatsSample> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        self.sample(&state, HostFigures::read())
    }

    fn list_with_stats(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<(ContainerInfo, Option<StatsSample>)>> {
        let _listing = self.phase("list containers with their readings", "");
        self.list_with_readings(labels)
    }

    fn top(&self, id: &str) -> Result<Vec<ProcessInfo>> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        let (ContainerState::Running { .. }, Some(cgroup)) = (&state.state, &state.cgroup) else {
            return Err(EngineError::Invalid(format!(
                "container {} is not running",
                record.name
            )));
        };
        let mut pids = cgroup.pids().map_err(runtime_err)?;
        pids.sort_unstable();
        // A process may end while we read it: skip it.
        Ok(pids.into_iter().filter_map(process_info).collect())
    }

    fn stat_path(&self, id: &str, path: &str, follow_link: bool) -> Result<PathStat> {
        self.stat_in(id, path, follow_link)
    }

    fn copy_from_container(
        &self,
        id: &str,
        path: &str,
        follow_link: bool,
        name: Option<&str>,
        out: &mut dyn std::io::Write,
    ) -> Result<PathStat> {
        self.archive_from(id, path, follow_link, name, out)
    }

    fn copy_to_container(
        &self,
        id: &str,
        dir: &str,
        archive: &mut dyn std::io::Read,
        options: &CopyToOptions,
    ) -> Result<()> {
        self.extract_into(id, dir, archive, options)
    }

    fn remove_path(&self, id: &str, path: &str) -> Result<()> {
        self.remove_in(id, path)
    }
}
