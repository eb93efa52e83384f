//! `wharf convert kubernetes` read by a real consumer of Kubernetes YAML:
//! `podman kube play` (Debian's `podman`, installed by
//! `scripts/install-deps.sh`) runs the converted manifests of a busybox
//! project, with the busybox image that wharf saved loaded into podman, and
//! the pods and containers it makes are checked: names, environment,
//! command, volumes, and one claim shared by two pods. podman is only a
//! consumer of wharf's output here, never a runtime for wharf's containers.
//!
//! podman runs inside the sandbox with its own storage, run and temporary
//! directories under the test's temporary directory, the `none` network and
//! cgroupfs. Two things of this host are hidden from it in a mount namespace
//! of its own: the cgroup v2 tree that a hybrid (v1) host mounts at
//! `unified/` (crun refuses a hybrid host whose v2 tree holds controllers),
//! and the real cgroup roots, each replaced by a bind mount of a cgroup below
//! the sandbox's parent inside a new cgroup namespace, so podman's
//! `libpod_parent` is made there and removed with the sandbox. The host
//! paths podman writes whatever its flags (`/run`, `/etc/cni`,
//! `/var/lib/containers`, `/var/tmp`) are bind mounts of directories under
//! the test's, in that mount namespace. Without
//! podman the test fails when `CI` is set and is skipped, saying why,
//! otherwise.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const ROOT: &str = "/sys/fs/cgroup";
/// The cgroup below the sandbox's parent that podman sees as the root.
const PODMAN_CGROUP: &str = "podman";

const PROJECT: &str = r#"services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "echo \"$$GREETING from app\" > /data/hello; exec sleep 300"]
    environment:
      GREETING: hi
    working_dir: /data
    volumes: [data:/data]
    tmpfs: ["/scratch:size=1m"]
  reader:
    image: busybox:latest
    entrypoint: ["sh", "-c"]
    command: ["exec sleep 300"]
    volumes: ["data:/data:ro"]
    environment:
      ROLE: reader
volumes:
  data:
"#;

/// Runs podman (arguments after the first two) in the cgroup `$1` (relative
/// to each hierarchy's root) with its state under `$2`: the shell joins the
/// cgroup, then a new cgroup and mount namespace sees that cgroup as every
/// hierarchy's root.
const PODMAN_SH: &str = r#"
set -eu
cg=$1; state=$2; shift 2
roots() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup; return; fi
  for h in /sys/fs/cgroup/*; do
    [ -f "$h/cgroup.procs" ] && [ "$h" != /sys/fs/cgroup/unified ] && echo "$h"
  done
}
for h in $(roots); do echo $$ > "$h/$cg/cgroup.procs"; done
exec unshare --cgroup --mount --propagation private -- sh -c '
set -eu
roots=$1; cg=$2; state=$3; shift 3
umount /sys/fs/cgroup/unified 2>/dev/null || true
for h in $roots; do mount --bind "$h/$cg" "$h"; done
mkdir -p "$state/run" "$state/cni" "$state/var-lib" "$state/var-tmp"
mount --bind "$state/run" /run
mount --bind "$state/cni" /etc/cni
if [ -d /var/lib/containers ]; then
  mount --bind "$state/var-lib" /var/lib/containers
else
  mount --bind "$state/var-lib" /var/lib
fi
mount --bind "$state/var-tmp" /var/tmp
exec podman --root "$state/storage" --runroot "$state/runroot" --tmpdir "$state/tmp" \
  --cgroup-manager cgroupfs --events-backend none --storage-driver vfs "$@"
' sh "$(roots)" "$cg" "$state" "$@"
"#;

fn podman_available() -> bool {
    let found = Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "podman is missing: run scripts/install-deps.sh"
        );
        eprintln!(
            "skipping kube:: tests: podman is not installed (scripts/install-deps.sh installs it)"
        );
    }
    found
}

/// The hierarchy roots podman's cgroup is made in, as `PODMAN_SH` lists them.
fn hierarchy_roots() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    if root.join("cgroup.controllers").is_file() {
        return vec![root.to_path_buf()];
    }
    let mut roots: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").is_file() && !p.ends_with("unified"))
        .collect();
    roots.sort();
    roots
}

/// podman confined to the sandbox: its state directory and its cgroup.
struct Podman {
    state: PathBuf,
    cgroup: String,
}

impl Podman {
    fn new(s: &Sandbox) -> Podman {
        let cgroup = format!(
            "{}/{PODMAN_CGROUP}",
            wharf_testkit::sandbox::cgroup_parent()
        );
        for h in hierarchy_roots() {
            let mut dir = h.clone();
            for part in cgroup.split('/') {
                dir.push(part);
                if !dir.exists() {
                    std::fs::create_dir(&dir).unwrap();
                }
                // A new v1 cpuset takes no process until it has CPUs and nodes.
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    if dir.join(file).exists()
                        && std::fs::read_to_string(dir.join(file))
                            .unwrap()
                            .trim()
                            .is_empty()
                    {
                        let value = std::fs::read_to_string(h.join(file)).unwrap();
                        std::fs::write(dir.join(file), value.trim()).unwrap();
                    }
                }
            }
        }
        Podman {
            state: s.work.path().join("podman"),
            cgroup,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg(PODMAN_SH)
            .arg("sh")
            .arg(&self.cgroup)
            .arg(&self.state)
            .args(args)
            .output()
            .expect("running podman")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn inspect(&self, container: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", "--type", "container", container]);
        let list: serde_json::Value = serde_json::from_str(&out).unwrap();
        list[0].clone()
    }

    /// Remove the cgroups podman made and ours, requiring that no process is
    /// left in any. podman never removes its `libpod_parent`, and on a v1
    /// host it leaves each pod's empty cgroup in the named `systemd`
    /// hierarchy, which it does not manage.
    fn remove_cgroups(&self) {
        fn remove_tree(dir: &Path) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                if entry.path().is_dir() {
                    remove_tree(&entry.path());
                }
            }
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            assert!(
                procs.trim().is_empty(),
                "processes left in {}: {procs}",
                dir.display()
            );
            eventually(
                &format!("{} to be removable", dir.display()),
                Duration::from_secs(10),
                || std::fs::remove_dir(dir).ok(),
            );
        }
        for h in hierarchy_roots() {
            let ours = h.join(&self.cgroup);
            if ours.exists() {
                remove_tree(&ours);
            }
        }
    }
}

/// A list of strings; podman 4 shows `Entrypoint` as its words joined by
/// spaces instead.
fn strings(v: &serde_json::Value) -> Vec<String> {
    if let Some(joined) = v.as_str() {
        return joined.split(' ').map(str::to_string).collect();
    }
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Each mount's destination with its volume name and whether it is writable.
fn mounts(container: &serde_json::Value) -> Vec<(String, String, bool)> {
    let mut list: Vec<(String, String, bool)> = container["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Destination"].as_str().unwrap().to_string(),
                m["Name"].as_str().unwrap_or("").to_string(),
                m["RW"].as_bool().unwrap(),
            )
        })
        .collect();
    list.sort();
    list
}

#[test]
fn podman_kube_play_runs_the_converted_project() {
    if !podman_available() {
        return;
    }
    sandboxed("kube::podman_kube_play_runs_the_converted_project", |s| {
        // The busybox image as wharf holds it, saved and loaded into podman
        // (the harness's image has no PATH, which podman does not add).
        let tar = s.work.path().join("busybox-rootfs.tar");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-tar.sh");
        let made = Command::new("bash").arg(script).arg(&tar).output().unwrap();
        assert!(made.status.success(), "make-busybox-tar.sh failed");
        let tar = tar.to_str().unwrap();
        s.ok(
            s.work.path(),
            &[
                "image",
                "import",
                "-c",
                "CMD [\"/bin/sh\"]",
                "-c",
                "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                tar,
                "busybox:latest",
            ],
        );
        let saved = s.work.path().join("busybox-image.tar");
        let saved = saved.to_str().unwrap();
        s.ok(
            s.work.path(),
            &["image", "save", "-o", saved, "busybox:latest"],
        );

        let dir = s.project("kubeplay", PROJECT);
        let manifests = dir.join("kubeplay.yaml");
        let yaml = s.ok(&dir, &["convert", "kubernetes", "-o", "-"]);
        std::fs::write(&manifests, &yaml).unwrap();
        let manifests = manifests.to_str().unwrap();

        let podman = Podman::new(s);
        let loaded = podman.ok(&["load", "-i", saved]);
        assert!(
            loaded.contains("busybox:latest"),
            "podman load printed {loaded:?}"
        );
        podman.ok(&["kube", "play", "--network", "none", manifests]);

        // A Deployment is one pod, named after it; its container after both.
        let pods = podman.ok(&["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
        let mut pods: Vec<&str> = pods.lines().collect();
        pods.sort();
        assert_eq!(pods, ["app-pod-0 Running", "reader-pod-0 Running"]);

        let app = podman.inspect("app-pod-0-app");
        assert_eq!(app["State"]["Status"], "running", "{app}");
        assert!(
            strings(&app["Config"]["Env"]).contains(&"GREETING=hi".to_string()),
            "{}",
            app["Config"]["Env"]
        );
        // `$$GREETING` in Compose is the shell's `$GREETING`, written so that
        // Kubernetes (and podman, which expands nothing) passes it on.
        assert_eq!(
            strings(&app["Config"]["Cmd"]),
            [
                "sh",
                "-c",
                "echo \"$GREETING from app\" > /data/hello; exec sleep 300"
            ]
        );
        assert_eq!(app["Config"]["WorkingDir"], "/data");
        assert_eq!(
            mounts(&app),
            [
                ("/data".to_string(), "data".to_string(), true),
                ("/scratch".to_string(), "tmp-0".to_string(), true),
            ]
        );

        let reader = podman.inspect("reader-pod-0-reader");
        assert_eq!(reader["State"]["Status"], "running", "{reader}");
        assert_eq!(strings(&reader["Config"]["Entrypoint"]), ["sh", "-c"]);
        assert_eq!(strings(&reader["Config"]["Cmd"]), ["exec sleep 300"]);
        assert!(strings(&reader["Config"]["Env"]).contains(&"ROLE=reader".to_string()));
        assert_eq!(
            mounts(&reader),
            [("/data".to_string(), "data".to_string(), false)]
        );

        // One claim for both pods: what app wrote, reader reads.
        let hello = eventually(
            "app's file in the shared claim",
            Duration::from_secs(30),
            || {
                let out = podman.run(&["exec", "reader-pod-0-reader", "cat", "/data/hello"]);
                out.status
                    .success()
                    .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            },
        );
        assert_eq!(hello, "hi from app\n");

        podman.ok(&["kube", "down", manifests]);
        let left = podman.ok(&["ps", "-a", "-q"]);
        assert!(left.trim().is_empty(), "containers left: {left}");
        let left = podman.ok(&["pod", "ps", "-q"]);
        assert!(left.trim().is_empty(), "pods left: {left}");
        podman.remove_cgroups();
    });
}
