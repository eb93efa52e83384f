//! `healthcheck` → a readiness probe AND a liveness probe of the same check
//! (Compose's health gates dependents, which readiness does in Kubernetes,
//! and a check that keeps failing means a broken container, which liveness
//! restarts), plus a startup probe for `start_period`.
//!
//! `CMD` runs its arguments, `CMD-SHELL` runs `/bin/sh -c` with its string.
//! `interval` → periodSeconds, `timeout` → timeoutSeconds, `retries` →
//! failureThreshold (Compose's defaults 30s, 30s and 3 when unset). A
//! `start_period` becomes a startupProbe polled every `start_interval` (5s
//! when unset) that may fail for the whole start period and then `retries`
//! more times. Durations round up to whole seconds (at least 1).

use crate::container::escape;
use serde_json::{json, Map, Value};
use std::time::Duration;
use wharf_compose::Healthcheck;

fn seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The probes of `healthcheck` (`readinessProbe`, `livenessProbe`,
/// `startupProbe`), none when it is disabled or has no test.
pub fn probes(check: &Healthcheck) -> Map<String, Value> {
    let mut m = Map::new();
    let command: Vec<String> = match check.test.split_first() {
        _ if check.disable => return m,
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        _ => return m,
    };
    let command: Vec<String> = command.iter().map(|c| escape(c)).collect();
    let period = seconds(check.interval.unwrap_or(Duration::from_secs(30))).max(1);
    let timeout = seconds(check.timeout.unwrap_or(Duration::from_secs(30))).max(1);
    let retries = u64::from(check.retries.unwrap_or(3).max(1));
    let probe = json!({
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": retries,
    });
    m.insert("readinessProbe".into(), probe.clone());
    m.insert("livenessProbe".into(), probe);
    if let Some(start) = check.start_period.filter(|d| !d.is_zero()) {
        let every = seconds(check.start_interval.unwrap_or(Duration::from_secs(5))).max(1);
        let tries = seconds(start).div_ceil(every) + retries;
        m.insert(
            "startupProbe".into(),
            json!({
                "exec": {"command": command},
                "periodSeconds": every,
                "timeoutSeconds": timeout,
                "failureThreshold": tries,
            }),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(test: &[&str]) -> Healthcheck {
        Healthcheck {
            test: test.iter().map(|s| s.to_string()).collect(),
            interval: Some(Duration::from_millis(1500)),
            timeout: None,
            retries: Some(5),
            start_period: Some(Duration::from_secs(20)),
            start_interval: None,
            disable: false,
        }
    }

    #[test]
    fn shell_checks_run_in_sh() {
        let p = probes(&check(&["CMD-SHELL", "curl -f localhost || exit 1"]));
        assert_eq!(
            p["readinessProbe"]["exec"]["command"],
            json!(["/bin/sh", "-c", "curl -f localhost || exit 1"])
        );
        assert_eq!(p["livenessProbe"]["periodSeconds"], json!(2));
        assert_eq!(p["livenessProbe"]["failureThreshold"], json!(5));
        assert_eq!(p["startupProbe"]["failureThreshold"], json!(4 + 5));
    }

    #[test]
    fn disabled_and_none_give_no_probe() {
        let mut c = check(&["CMD", "true"]);
        c.disable = true;
        assert!(probes(&c).is_empty());
        assert!(probes(&check(&["NONE"])).is_empty());
    }
}
