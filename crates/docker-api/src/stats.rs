//! `GET /containers/{id}/stats`: the engine's readings in docker's JSON
//! (`cpu_stats.cpu_usage.total_usage`, `system_cpu_usage`, `online_cpus`,
//! `precpu_stats`, `memory_stats`, `networks`, `blkio_stats`, `pids_stats`),
//! so `docker stats` computes the percentages `wharf stats` shows.
//!
//! wharf's CPU % is the container's CPU time over the wall time between two
//! readings; docker's is the CPU time over the host's, times the CPUs. With
//! `system_cpu_usage` the reading's time times the CPUs, both agree.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;
use wharf_engine_api::{ContainerInfo, Engine, StatsSample};

/// How often the stream sends a reading (docker's pace).
const STREAM_INTERVAL: Duration = Duration::from_secs(1);

/// One reading in docker's JSON, with the previous one as `precpu_stats`.
pub fn document(info: &ContainerInfo, before: Option<&StatsSample>, now: &StatsSample) -> Value {
    let cpu = |sample: Option<&StatsSample>| match sample {
        Some(s) => json!({
            "cpu_usage": { "total_usage": s.cpu_usage_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
            "system_cpu_usage": s.read_at_ns.saturating_mul(u64::from(s.online_cpus.max(1))),
            "online_cpus": s.online_cpus,
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
        }),
        None => json!({
            "cpu_usage": { "total_usage": 0 },
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
        }),
    };
    json!({
        "id": info.id,
        "name": format!("/{}", info.name),
        "read": rfc3339_now(),
        "preread": if before.is_some() { rfc3339_now() } else { "0001-01-01T00:00:00Z".to_string() },
        "num_procs": 0,
        "pids_stats": { "current": now.pids },
        "cpu_stats": cpu(Some(now)),
        "precpu_stats": cpu(before),
        "memory_stats": {
            // Without the page cache already: no inactive_file to subtract.
            "usage": now.memory_usage,
            "limit": now.memory_limit,
            "stats": { "rss": now.memory_rss, "cache": now.memory_cache },
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                { "major": 0, "minor": 0, "op": "read", "value": now.block_read_bytes },
                { "major": 0, "minor": 0, "op": "write", "value": now.block_write_bytes },
            ],
        },
        "networks": {
            "eth0": {
                "rx_bytes": now.net_rx_bytes, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
                "tx_bytes": now.net_tx_bytes, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
            },
        },
    })
}

fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (y, mo, d, h, mi, s) = wharf_units::calendar::utc_from_unix(now.as_secs() as i64);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:09}Z",
        now.subsec_nanos()
    )
}

pub fn stats(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let info = backend.engine.inspect_container(request.segment(1))?;
    let stream = request.query.bool("stream", true);
    let one_shot = request.query.bool("one-shot", false);
    let backend = backend.clone();
    Ok(Reply::stream("application/json", move |out| {
        let read = |engine: &dyn Engine| engine.stats(&info.id).ok();
        if !info.state.is_running() {
            // docker answers a stopped container with zeros.
            let zero = StatsSample::default();
            return out.write_all(format!("{}\n", document(&info, None, &zero)).as_bytes());
        }
        let mut before = read(&backend.engine);
        if !stream {
            let now = if one_shot {
                before.take()
            } else {
                std::thread::sleep(wharf_app::stats::WINDOW);
                read(&backend.engine)
            };
            let now = now.unwrap_or_default();
            return out
                .write_all(format!("{}\n", document(&info, before.as_ref(), &now)).as_bytes());
        }
        loop {
            std::thread::sleep(STREAM_INTERVAL);
            let Some(now) = read(&backend.engine) else {
                return Ok(());
            };
            out.write_all(format!("{}\n", document(&info, before.as_ref(), &now)).as_bytes())?;
            before = Some(now);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(read_at_ns: u64, cpu_usage_ns: u64) -> StatsSample {
        StatsSample {
            read_at_ns,
            cpu_usage_ns,
            online_cpus: 4,
            memory_usage: 50 << 20,
            memory_limit: 200 << 20,
            ..Default::default()
        }
    }

    /// docker's CLI formula: (cpu delta / system delta) × CPUs × 100.
    fn docker_cpu_percent(doc: &Value) -> f64 {
        let cpu = doc["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_f64()
            .unwrap()
            - doc["precpu_stats"]["cpu_usage"]["total_usage"]
                .as_f64()
                .unwrap();
        let system = doc["cpu_stats"]["system_cpu_usage"].as_f64().unwrap()
            - doc["precpu_stats"]["system_cpu_usage"].as_f64().unwrap();
        cpu / system * doc["cpu_stats"]["online_cpus"].as_f64().unwrap() * 100.0
    }

    #[test]
    fn dockers_formula_gives_wharfs_cpu_percent() {
        let info = ContainerInfo {
            id: "abc".into(),
            name: "web".into(),
            image: String::new(),
            image_id: String::new(),
            command: vec![],
            created: 0,
            state: wharf_engine_api::ContainerState::Created,
            labels: Default::default(),
            ports: vec![],
            addresses: Default::default(),
            addresses_v6: Default::default(),
            health: None,
        };
        let before = sample(1_000_000_000, 0);
        let now = sample(1_500_000_000, 250_000_000);
        let doc = document(&info, Some(&before), &now);
        let wharf = wharf_app::stats::cpu_percent(&before, &now);
        assert!((docker_cpu_percent(&doc) - wharf).abs() < 1e-9, "{wharf}");
        assert_eq!(doc["memory_stats"]["usage"], 50 << 20);
        assert_eq!(doc["memory_stats"]["limit"], 200 << 20);
        assert_eq!(doc["name"], "/web");
    }
}
