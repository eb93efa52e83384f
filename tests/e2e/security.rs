//! Service security and process settings reach the container: capabilities,
//! read-only root, tmpfs, sysctls, ulimits, DNS and extra hosts, seccomp; and
//! settings wharf cannot honour are refused before anything is created.

use crate::harness::sandboxed;

const COMPOSE: &str = r#"
services:
  box:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    read_only: true
    tmpfs: [/tmp]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1000, hard: 2000}}
    dns: [10.9.9.9]
    dns_search: [corp.example]
    extra_hosts: ["gw:host-gateway", "db.local:10.1.2.3"]
    shm_size: 32m
"#;

#[test]
fn settings_reach_the_container() {
    sandboxed("security::settings_reach_the_container", |s| {
        s.import_busybox();
        let dir = s.project("sec", COMPOSE);
        s.ok(&dir, &["up", "-d"]);
        let exec = |script: &str| s.ok(&dir, &["exec", "box", "sh", "-c", script]);
        assert_eq!(
            exec("grep CapEff /proc/self/status")
                .split_whitespace()
                .nth(1),
            Some("0000000000000400")
        );
        assert_eq!(
            exec("grep Seccomp: /proc/self/status")
                .split_whitespace()
                .nth(1),
            Some("2")
        );
        assert!(
            s.wharf(&dir, &["exec", "box", "touch", "/x"]).status.code() != Some(0),
            "the root is read-only"
        );
        exec("touch /tmp/x");
        assert_eq!(exec("cat /proc/sys/net/core/somaxconn").trim(), "1024");
        assert_eq!(exec("ulimit -n").trim(), "1000");
        let resolv = exec("cat /etc/resolv.conf");
        assert!(
            // The embedded DNS server answers and forwards to the dns: servers.
            resolv.contains("nameserver 127.0.0.11")
                && resolv.contains("ExtServers: [10.9.9.9]")
                && resolv.contains("search corp.example"),
            "{resolv}"
        );
        let hosts = exec("cat /etc/hosts");
        assert!(hosts.contains("10.1.2.3\tdb.local"), "{hosts}");
        let gateway = hosts.lines().find(|l| l.ends_with("\tgw")).expect(&hosts);
        assert!(
            gateway.ends_with(".1\tgw"),
            "host-gateway is the network's gateway: {hosts}"
        );
        // On a terminal, exec gives the command a pseudo-terminal of the
        // container's own (util-linux `script` plays the terminal here).
        let out = std::process::Command::new("script")
            .args([
                "-qec",
                &format!("{} exec box tty", env!("CARGO_BIN_EXE_wharf")),
                "/dev/null",
            ])
            .current_dir(&dir)
            .env("WHARF_ROOT", s.root.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let tty = String::from_utf8_lossy(&out.stdout);
        assert!(
            // `script` may echo a control character of its own first.
            out.status.success() && tty.contains("/dev/pts/"),
            "{out:?}"
        );
        assert_eq!(
            exec("tty 2>&1 || true").trim(),
            "not a tty",
            "-T-like when not on a terminal"
        );
        let shm = exec("df -k /dev/shm | tail -1");
        assert!(shm.split_whitespace().nth(1) == Some("32768"), "{shm}");
        s.ok(&dir, &["down"]);
    });
}

#[test]
fn unsupported_and_invalid_settings_are_refused_up_front() {
    sandboxed(
        "security::unsupported_and_invalid_settings_are_refused_up_front",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "userns",
                "services:\n  a:\n    image: busybox\n    userns_mode: host\n",
            );
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(
                err.contains("userns_mode is not supported by wharf yet"),
                "{err}"
            );
            let dir = s.project("caps", "services:\n  a:\n    image: busybox\n    command: [sleep, '9']\n    cap_add: [NET_WIZARDRY]\n");
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(err.contains("NET_WIZARDRY"), "{err}");
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
            let dir = s.project("sysctl", "services:\n  a:\n    image: busybox\n    command: [sleep, '9']\n    sysctls: {vm.swappiness: '10'}\n");
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(err.contains("vm.swappiness"), "{err}");
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
        },
    );
}

const DEVICES: &str = r#"
services:
  plain:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
  listed:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    devices: ["/dev/loop-control"]
  priv:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    privileged: true
"#;

/// On cgroup v2 (here a cgroup2 hierarchy mounted in the test's own mount
/// namespace, so hybrid hosts run it too) a container's root may mknod a disk
/// but not open it; listed devices and privileged containers may.
#[test]
fn regression_cgroup_v2_container_cannot_open_a_mknod_disk() {
    sandboxed(
        "security::regression_cgroup_v2_container_cannot_open_a_mknod_disk",
        |s| {
            s.import_busybox();
            let cgroup2 = tempfile::tempdir().unwrap();
            let mounted = std::process::Command::new("mount")
                .args(["-t", "cgroup2", "cgroup2"])
                .arg(cgroup2.path())
                .status()
                .unwrap();
            assert!(mounted.success(), "mounting cgroup2 in the sandbox");
            let fs = cgroup2.path().to_str().unwrap();
            let dir = s.project("devices", DEVICES);
            let wharf = |args: &[&str]| {
                let out = s.wharf_with(&dir, args, &[("WHARF_CGROUP_FS", fs)], b"");
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (out.status.success(), text(&out.stdout) + &text(&out.stderr))
            };
            let (ok, out) = wharf(&["up", "-d"]);
            assert!(ok, "up: {out}");
            let parent = cgroup2.path().join(wharf_testkit::sandbox::cgroup_parent());
            assert!(
                parent.is_dir(),
                "the containers' cgroups are in the v2 tree"
            );
            let open = |service: &str, node: &str, how: &str| {
                let script = format!("(exec 3{how}{node}) && echo OPENED");
                wharf(&["exec", service, "sh", "-c", &script])
            };
            const EPERM: &str = "Operation not permitted";
            for service in ["plain", "listed", "priv"] {
                let (ok, out) = wharf(&[
                    "exec",
                    service,
                    "sh",
                    "-c",
                    "mknod /tmp/sda b 8 0 && mknod /tmp/loop0 b 7 0 && mknod /tmp/lc c 10 237",
                ]);
                assert!(ok, "{service}: mknod is allowed: {out}");
                for node in ["/dev/null", "/dev/zero", "/dev/urandom"] {
                    let (ok, out) = open(service, node, "<>");
                    assert!(ok && out.contains("OPENED"), "{service} {node}: {out}");
                }
                let (_, out) = open(service, "/dev/tty", "<>");
                assert!(!out.contains(EPERM), "{service} /dev/tty: {out}");
            }
            for node in ["/tmp/sda", "/tmp/loop0", "/tmp/lc"] {
                let (ok, out) = open("plain", node, "<");
                assert!(!ok && out.contains(EPERM), "plain {node}: {out}");
            }
            let (ok, out) = open("listed", "/dev/loop-control", "<>");
            assert!(ok, "listed device: {out}");
            let (ok, out) = open("listed", "/tmp/lc", "<>");
            assert!(ok, "listed device under another name: {out}");
            let (ok, out) = open("listed", "/tmp/sda", "<");
            assert!(!ok && out.contains(EPERM), "listed /tmp/sda: {out}");
            let (ok, out) = open("priv", "/tmp/loop0", "<");
            assert!(ok, "privileged loop0: {out}");
            let (_, out) = open("priv", "/tmp/sda", "<");
            assert!(!out.contains(EPERM), "privileged /tmp/sda: {out}");
            let (ok, out) = wharf(&["down", "-t", "1"]);
            assert!(ok, "down: {out}");
        },
    );
}
