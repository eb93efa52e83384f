use super::*;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn container(name: &str, project: &str, state: ContainerState) -> ContainerInfo {
    let mut labels = BTreeMap::new();
    labels.insert(labels::PROJECT.to_string(), project.to_string());
    labels.insert(labels::SERVICE.to_string(), "web".to_string());
    labels.insert(labels::CONTAINER_NUMBER.to_string(), "1".to_string());
    ContainerInfo {
        id: format!("{name:0>64}"),
        name: name.into(),
        image: "busybox:latest".into(),
        image_id: "sha256:00".into(),
        command: vec![],
        created: 1,
        state,
        labels,
        ports: vec![],
        addresses: BTreeMap::new(),
        addresses_v6: BTreeMap::new(),
        health: None,
    }
}

fn running() -> ContainerState {
    ContainerState::Running {
        pid: 10,
        started_at: 1_700_000_000,
        paused: false,
    }
}

fn reading(name: &str, project: &str) -> Reading {
    Reading {
        container: container(name, project, running()),
        sample: StatsSample {
            cpu_usage_ns: 1_500_000_000,
            memory_usage: 200 << 20,
            memory_usage_total: 210 << 20,
            memory_limit_set: Some(64 << 20),
            net_rx_bytes: 100,
            pids: 3,
            ..Default::default()
        },
    }
}

#[test]
fn cadvisor_names_units_and_labels() {
    let text = render(&[reading("p-web-1", "p")], &[]);
    let labels = format!(
        "id=\"{:0>64}\",name=\"p-web-1\",image=\"busybox:latest\",compose_project=\"p\",compose_service=\"web\",container_number=\"1\"",
        "p-web-1"
    );
    for line in [
        format!("container_cpu_usage_seconds_total{{{labels}}} 1.5"),
        format!("container_spec_memory_limit_bytes{{{labels}}} 67108864"),
        format!("container_memory_working_set_bytes{{{labels}}} 209715200"),
        format!("container_memory_usage_bytes{{{labels}}} 220200960"),
        format!("container_start_time_seconds{{{labels}}} 1700000000"),
        "# TYPE container_cpu_usage_seconds_total counter".to_string(),
        "wharf_project_memory_working_set_bytes{compose_project=\"p\"} 209715200".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    // No quota set: no quota series, as cAdvisor.
    assert!(!text.contains("container_spec_cpu_quota{"));
}

#[test]
fn projects_are_summed_and_states_always_counted() {
    let all = vec![
        container("a", "p", running()),
        container("b", "p", running()),
        container(
            "c",
            "q",
            ContainerState::Exited {
                exit_code: 0,
                finished_at: 2,
                oom_killed: false,
            },
        ),
    ];
    let text = render(&[reading("a", "p"), reading("b", "p")], &all);
    assert!(text.contains("wharf_project_cpu_usage_seconds_total{compose_project=\"p\"} 3\n"));
    assert!(text.contains("wharf_project_containers_running{compose_project=\"p\"} 2\n"));
    assert!(text.contains("wharf_containers{state=\"running\"} 2\n"));
    assert!(text.contains("wharf_containers{state=\"exited\"} 1\n"));
    assert!(text.contains("wharf_containers{state=\"dead\"} 0\n"));
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    let mut r = reading("x", "we\"ird\nname");
    r.container.image = "back\\slash".into();
    let text = render(&[r], &[]);
    assert!(text.contains("compose_project=\"we\\\"ird\\nname\""));
    assert!(text.contains("image=\"back\\\\slash\""));
}

/// promtool from Debian's prometheus package (scripts/install-deps.sh puts
/// it in /var/cache/wharf-dev/prometheus).
fn promtool() -> Option<PathBuf> {
    let cached = PathBuf::from("/var/cache/wharf-dev/prometheus/promtool");
    if cached.exists() {
        return Some(cached);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join("promtool"))
        .find(|p| p.exists())
}

#[test]
fn promtool_accepts_the_exposition() {
    let Some(promtool) = promtool() else {
        eprintln!("skipped: promtool not installed (scripts/install-deps.sh)");
        return;
    };
    let mut health = reading("h", "p");
    health.container.health = Some(Health::Starting);
    health.sample.cpu_quota_us = Some((50_000, 100_000));
    let all: Vec<_> = [reading("a", "p"), health.clone()]
        .into_iter()
        .map(|r| r.container)
        .collect();
    let text = render(&[reading("a", "p"), health], &all);
    let (ok, said) = promtool_check(&promtool, &text);
    assert!(ok && said.trim().is_empty(), "promtool: {said}\n{text}");
    // The check has teeth: a broken line fails it.
    let broken = format!("{text}container_pids{{id=\"x\" 1\n");
    assert!(!promtool_check(&promtool, &broken).0);
}

fn promtool_check(promtool: &PathBuf, text: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}
