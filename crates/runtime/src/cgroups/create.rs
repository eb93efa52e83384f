//! Create a container's cgroup: `mkdir -p` in each v1 controller (with Docker's device
//! allow-list) or in the unified tree with controllers enabled down the ancestors (the
//! v2 device program is installed by `allow_devices`).

use super::devices::{DeviceRule, DEFAULT_DEVICE_RULES};
use super::{fs, rel, v1_controller_mounted, CgroupConfig, CgroupHandle, CgroupMode};
use super::{V1_CONTROLLERS, V2_CONTROLLERS};
use crate::{detect, RuntimeError};
use std::path::Path;

impl CgroupHandle {
    /// Create the cgroup described by `cfg` and apply its limits. On failure nothing
    /// that this call created is left behind (best effort).
    pub fn create(cfg: &CgroupConfig) -> Result<Self, RuntimeError> {
        validate_path(&cfg.path)?;
        let mode = detect(&cfg.fs_root)?;
        let handle = CgroupHandle {
            mode,
            fs_root: cfg.fs_root.clone(),
            path: rel(&cfg.path).to_string(),
        };
        let wants_cpuset = cfg.limits.cpuset_cpus.is_some() || cfg.limits.cpuset_mems.is_some();
        let made = match mode {
            CgroupMode::V1 => handle.create_v1(),
            CgroupMode::V2 => handle.create_v2(wants_cpuset),
        }
        .and_then(|()| handle.apply(&cfg.limits));
        if let Err(e) = made {
            let _ = handle.kill_all_and_destroy();
            return Err(e);
        }
        Ok(handle)
    }

    fn create_v1(&self) -> Result<(), RuntimeError> {
        for controller in V1_CONTROLLERS {
            if !v1_controller_mounted(&self.fs_root, controller) {
                continue;
            }
            let dir = self.v1_dir(controller);
            std::fs::create_dir_all(&dir)
                .map_err(|e| RuntimeError::io("create cgroup directory", &dir, e))?;
            if controller == "devices" {
                fs::write(&dir.join("devices.deny"), "a")?;
                for rule in DEFAULT_DEVICE_RULES {
                    fs::write(&dir.join("devices.allow"), &rule.to_string())?;
                }
            }
        }
        if v1_controller_mounted(&self.fs_root, "cpuset") {
            self.create_v1_cpuset()?;
        }
        Ok(())
    }

    /// `mkdir -p` in the cpuset hierarchy, copying `cpuset.cpus` and `cpuset.mems`
    /// down from the parent into every level that has them empty, so that adding a
    /// process never fails with ENOSPC (what `cgroup.clone_children` would do).
    fn create_v1_cpuset(&self) -> Result<(), RuntimeError> {
        let mut parent = self.fs_root.join("cpuset");
        for component in self.path.split('/').filter(|c| !c.is_empty()) {
            let dir = parent.join(component);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(RuntimeError::io("create cgroup directory", &dir, e)),
            }
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let own = fs::read(&dir.join(file))?;
                if own.trim().is_empty() {
                    let inherited = fs::read(&parent.join(file))?;
                    fs::write(&dir.join(file), inherited.trim())?;
                }
            }
            parent = dir;
        }
        Ok(())
    }

    /// Allow `rules` on top of Docker's defaults ([`DEFAULT_DEVICE_RULES`];
    /// [`DeviceRule::ALLOW_ALL`] for a privileged container). On v1 they are added
    /// to `devices.allow` (the defaults were written at create). On v2, where the
    /// kernel's device controller is eBPF only, this installs the cgroup's device
    /// program (defaults plus `rules`, everything else denied) and must be called
    /// for every container, with no rules too, before anything runs in it.
    pub fn allow_devices(&self, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
        if self.mode == CgroupMode::V2 {
            let all: Vec<DeviceRule> = DEFAULT_DEVICE_RULES.iter().chain(rules).copied().collect();
            return super::bpf::install_device_filter(&self.v2_dir(), &all);
        }
        if rules.is_empty() {
            return Ok(());
        }
        if !v1_controller_mounted(&self.fs_root, "devices") {
            return Err(RuntimeError::ControllerMissing {
                what: "device access",
                controller: "devices",
                path: self.fs_root.join("devices"),
            });
        }
        let file = self.v1_dir("devices").join("devices.allow");
        for rule in rules {
            fs::write(&file, &rule.to_string())?;
        }
        Ok(())
    }

    fn create_v2(&self, with_cpuset: bool) -> Result<(), RuntimeError> {
        let mut dir = self.fs_root.clone();
        for component in self.path.split('/').filter(|c| !c.is_empty()) {
            enable_controllers(&dir, with_cpuset);
            dir.push(component);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(RuntimeError::io("create cgroup directory", &dir, e)),
            }
        }
        Ok(())
    }
}

/// Enable our controllers for the children of `dir` (v2). Failures are left for
/// `apply` to report: a limit whose controller ends up missing is an error there.
fn enable_controllers(dir: &Path, with_cpuset: bool) {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let cpuset: &[&str] = if with_cpuset { &["cpuset"] } else { &[] };
    let wanted: Vec<String> = V2_CONTROLLERS
        .iter()
        .chain(cpuset)
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|a| a == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let file = dir.join("cgroup.subtree_control");
    if fs::write_raw(&file, &wanted.join(" ")).is_err() {
        for one in &wanted {
            let _ = fs::write_raw(&file, one);
        }
    }
}

/// Refuse paths that would leave the hierarchy or name its root.
fn validate_path(path: &str) -> Result<(), RuntimeError> {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|c| *c == ".." || *c == ".") {
        return Err(RuntimeError::InvalidCgroupPath {
            path: path.to_string(),
            reason: "must be a relative path below the hierarchy root without '.' or '..'",
        });
    }
    Ok(())
}
