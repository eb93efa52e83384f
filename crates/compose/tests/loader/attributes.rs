//! Service attributes beyond the first slice: each family read into the
//! typed model in its long form, with its units, and its errors.

use super::{error_of, load_yaml};
use std::time::Duration;

#[test]
fn capabilities_namespaces_and_flags() {
    let p = load_yaml(
        "services:\n  a:\n    image: x\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    privileged: true\n    read_only: true\n    init: true\n    tty: true\n    stdin_open: true\n    security_opt: [no-new-privileges]\n    pid: host\n    ipc: shareable\n    userns_mode: host\n    group_add: [audio]\n    domainname: example.com\n    platform: linux/amd64\n    pull_policy: every_12h\n    runtime: runc\n    stop_signal: SIGINT\n",
    );
    let a = &p.services["a"];
    assert_eq!(a.cap_add, ["NET_ADMIN"]);
    assert_eq!(a.cap_drop, ["ALL"]);
    assert!(a.privileged && a.read_only && a.tty && a.stdin_open);
    assert_eq!(a.init, Some(true));
    assert_eq!(a.pid.as_deref(), Some("host"));
    assert_eq!(a.pull_policy.as_deref(), Some("every_12h"));
}

#[test]
fn sizes_counts_and_limits() {
    let p = load_yaml(
        "services:\n  a:\n    image: x\n    mem_limit: 1g\n    memswap_limit: -1\n    mem_reservation: 512k\n    shm_size: 64M\n    cpus: 1.5\n    cpu_shares: 512\n    cpu_quota: 50000\n    cpu_period: 100000\n    cpuset: 0-2\n    pids_limit: 100\n    oom_score_adj: -500\n    ulimits:\n      nproc: 65535\n      nofile: {soft: 1024, hard: 2048}\n    sysctls: [net.core.somaxconn=1024]\n",
    );
    let a = &p.services["a"];
    assert_eq!(a.mem_limit, Some(1 << 30));
    assert_eq!(a.limits.memory_bytes, Some(1 << 30));
    assert_eq!(a.memswap_limit, Some(-1));
    assert_eq!(a.mem_reservation, Some(512 << 10));
    assert_eq!(a.shm_size, Some(64 << 20));
    assert_eq!(a.cpus, Some(1.5));
    assert_eq!(a.limits.nano_cpus, Some(1_500_000_000));
    assert_eq!(a.ulimits["nproc"].single, Some(65535));
    assert_eq!(
        (a.ulimits["nofile"].soft, a.ulimits["nofile"].hard),
        (Some(1024), Some(2048))
    );
    assert_eq!(a.sysctls["net.core.somaxconn"], "1024");
}

#[test]
fn deploy_in_the_shape_of_the_file() {
    let p = load_yaml(
        "services:\n  a:\n    image: x\n    deploy:\n      mode: replicated\n      replicas: 3\n      labels: [tier=web]\n      resources:\n        limits: {cpus: '0.25', memory: 256M, pids: 50}\n        reservations:\n          memory: 64M\n          devices:\n            - driver: nvidia\n              count: all\n              capabilities: [gpu]\n      restart_policy:\n        condition: on-failure\n        delay: 5s\n        max_attempts: 3\n        window: 2m\n      update_config: {parallelism: 2, delay: 10s, order: start-first}\n      placement:\n        constraints: [node.role==manager]\n",
    );
    let a = &p.services["a"];
    let d = a.deploy.as_ref().unwrap();
    assert_eq!(d.replicas, Some(3));
    assert_eq!(a.replicas, 3);
    assert_eq!(d.labels["tier"], "web");
    let lim = d.resources.limits.as_ref().unwrap();
    assert_eq!(
        (lim.cpus, lim.memory, lim.pids),
        (Some(0.25), Some(256 << 20), Some(50))
    );
    let res = d.resources.reservations.as_ref().unwrap();
    assert_eq!(res.devices[0].count, Some(-1));
    assert_eq!(res.devices[0].capabilities, ["gpu"]);
    let rp = d.restart_policy.as_ref().unwrap();
    assert_eq!(rp.delay, Some(Duration::from_secs(5)));
    assert_eq!(rp.window, Some(Duration::from_secs(120)));
    assert_eq!(a.restart.as_deref(), Some("on-failure:3"));
    assert_eq!(d.update_config.as_ref().unwrap().parallelism, Some(2));
    assert_eq!(d.placement.constraints, ["node.role==manager"]);
}

#[test]
fn hosts_devices_logging_hooks_and_develop() {
    let p = load_yaml(
        "services:\n  a:\n    image: x\n    extra_hosts: [\"db=10.0.0.2\", \"cache:10.0.0.3\", \"v6=[::1]\"]\n    devices: [\"/dev/fuse\", \"/dev/sda:/dev/xvda:r\"]\n    dns: 8.8.8.8\n    dns_search: [example.com]\n    logging:\n      driver: json-file\n      options: {max-size: 10m}\n    post_start:\n      - command: echo started\n        user: root\n    pre_stop:\n      - command: [\"sh\", \"-c\", \"sleep 1\"]\n        environment: [X=1]\n    develop:\n      watch:\n        - path: ./src\n          action: sync+restart\n          target: /app\n",
    );
    let a = &p.services["a"];
    assert_eq!(a.extra_hosts["db"], ["10.0.0.2"]);
    assert_eq!(a.extra_hosts["cache"], ["10.0.0.3"]);
    assert_eq!(a.extra_hosts["v6"], ["::1"]);
    assert_eq!(a.devices[0].target, "/dev/fuse");
    assert_eq!(a.devices[1].permissions, "r");
    assert_eq!(a.dns, ["8.8.8.8"]);
    assert_eq!(a.logging.as_ref().unwrap().options["max-size"], "10m");
    assert_eq!(a.post_start[0].command, ["echo", "started"]);
    assert_eq!(a.pre_stop[0].environment["X"], "1");
    let w = &a.develop.as_ref().unwrap().watch[0];
    assert!(w.path.ends_with("myapp/src"));
    assert_eq!(w.action, "sync+restart");
}

#[test]
fn secrets_and_configs() {
    let p = load_yaml(
        "services:\n  a:\n    image: x\n    secrets: [token, {source: key, target: /k, mode: 0400}]\n    configs: [conf]\nsecrets:\n  token: {file: ./token.txt}\n  key: {environment: KEY}\nconfigs:\n  conf: {content: hello}\n",
    );
    let a = &p.services["a"];
    assert_eq!(a.secrets[0].target.as_deref(), Some("/run/secrets/token"));
    assert_eq!(a.secrets[1].mode, Some(0o400));
    assert_eq!(a.configs[0].target, None);
    assert!(p.secrets["token"]
        .file
        .as_ref()
        .unwrap()
        .ends_with("myapp/token.txt"));
    assert_eq!(p.secrets["key"].name, "myapp_key");
    assert_eq!(p.configs["conf"].content.as_deref(), Some("hello"));
}

#[test]
fn an_environment_secret_takes_its_value_from_the_project_environment() {
    let yaml = "services:\n  a:\n    image: x\n    secrets: [key, other]\nsecrets:\n  key: {environment: KEY}\n  other: {environment: UNSET}\n";
    let p = super::Proj::with(yaml).env("KEY", "from-shell");
    let loaded = p.load().unwrap();
    assert_eq!(
        loaded.secrets["key"].environment_value.as_deref(),
        Some("from-shell")
    );
    assert_eq!(loaded.secrets["other"].environment_value, None);
    // `.env` counts, and the value is never printed by `config`.
    let p = super::Proj::with(yaml);
    p.file(".env", "KEY=from-dotenv\n");
    let loaded = p.load().unwrap();
    assert_eq!(
        loaded.secrets["key"].environment_value.as_deref(),
        Some("from-dotenv")
    );
    let json = serde_json::to_string(&loaded).unwrap();
    assert!(!json.contains("from-dotenv"), "{json}");
}

#[test]
fn mount_options() {
    let p = load_yaml(
        "services:\n  a:\n    image: x\n    volumes:\n      - ./a:/a:ro,z\n      - data:/data:nocopy\n      - type: tmpfs\n        target: /t\n        tmpfs: {size: 1g, mode: 0700}\n      - type: volume\n        source: data\n        target: /sub\n        volume: {subpath: x}\nvolumes:\n  data:\n",
    );
    let v = &p.services["a"].volumes;
    let bind = v[0].bind.as_ref().unwrap();
    assert!(bind.create_host_path);
    assert_eq!(bind.selinux.as_deref(), Some("z"));
    assert!(v[1].volume.as_ref().unwrap().nocopy);
    let t = v[2].tmpfs.as_ref().unwrap();
    assert_eq!((t.size, t.mode), (Some(1 << 30), Some(0o700)));
    assert_eq!(v[3].volume.as_ref().unwrap().subpath.as_deref(), Some("x"));
}

/// Options of another mount type load (docker compose's `config` keeps and
/// prints them); `up` refuses them.
#[test]
fn options_of_another_mount_type_load() {
    let p = load_yaml(
        "services:\n  a:\n    image: x\n    volumes:\n      - type: npipe\n        source: '\\\\.\\pipe\\x'\n        target: '\\\\.\\pipe\\x'\n        bind: {propagation: rprivate}\n      - type: volume\n        source: data\n        target: /d\n        tmpfs: {size: 1000}\nvolumes:\n  data:\n",
    );
    let v = &p.services["a"].volumes;
    assert_eq!(
        v[0].bind.as_ref().unwrap().propagation.as_deref(),
        Some("rprivate")
    );
    assert_eq!(v[1].tmpfs.as_ref().unwrap().size, Some(1000));
}

#[test]
fn attribute_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "    secrets: [nope]\n",
            "compose.yaml:4:15: services.a.secrets[0]: secret \"nope\" is not declared in the top-level secrets: add it there",
        ),
        (
            "    container_name: one\n    scale: 2\n",
            "compose.yaml:4:21: services.a.container_name: container name \"one\" is unique, but the service asks for 2 containers (scale or deploy.replicas): remove container_name or set one replica",
        ),
        (
            "    ulimits:\n      nofile: {soft: 20, hard: 10}\n",
            "compose.yaml:5:15: services.a.ulimits.nofile: the soft limit (20) is larger than the hard limit (10)",
        ),
        (
            "    devices: [\"/dev/a:/dev/b:rx\"]\n",
            "compose.yaml:4:15: services.a.devices[0].permissions: invalid device permissions \"rx\": use a combination of r, w and m",
        ),
        (
            "    oom_score_adj: 5000\n",
            "compose.yaml:4:20: services.a.oom_score_adj: must be a number from -1000 to 1000, not 5000",
        ),
        (
            "    pull_policy: sometimes\n",
            "compose.yaml:4:18: services.a.pull_policy: invalid pull policy \"sometimes\": use always, never, missing, build, daily, weekly or every_<duration>",
        ),
        (
            "    extra_hosts: [\"nohost\"]\n",
            "compose.yaml:4:19: services.a.extra_hosts[0]: invalid extra host \"nohost\": write HOST=IP",
        ),
        (
            "    shm_size: lots\n",
            "compose.yaml:4:15: services.a.shm_size: invalid size \"lots\": write a number of bytes or a number with a unit b, k, m, g, t or p, like 64M or 1g",
        ),
        (
            "    develop:\n      watch:\n        - path: .\n          action: copy\n",
            "compose.yaml:7:19: services.a.develop.watch[0].action: unknown action \"copy\": use sync, rebuild, restart, sync+restart or sync+exec",
        ),
    ];
    for (extra, want) in cases {
        let yaml = format!("services:\n  a:\n    image: x\n{extra}");
        assert_eq!(&error_of(&yaml), want, "for:\n{yaml}");
    }
}
