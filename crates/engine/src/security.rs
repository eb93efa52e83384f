//! A container spec's security and process settings turned into the
//! runtime's, checked at create time so that a misspelt capability, a bad
//! seccomp file or a host-wide sysctl fails before anything exists.

use std::path::{Path, PathBuf};
use wharf_engine_api::{ContainerSpec, EngineError, IpcMode, UtsMode};
use wharf_runtime::{Device, Namespace, ProcessOptions, SeccompProfile, Security, Ulimit};

fn invalid(spec: &ContainerSpec, message: String) -> EngineError {
    EngineError::Invalid(format!("container {}: {message}", spec.name))
}

/// The runtime's security settings for `spec`; `cache_dir` holds compiled
/// seccomp programs.
pub fn security(spec: &ContainerSpec, cache_dir: &Path) -> Result<Security, EngineError> {
    let sec = &spec.security;
    let mut out = Security {
        privileged: sec.privileged,
        cap_add: sec.cap_add.clone(),
        cap_drop: sec.cap_drop.clone(),
        read_only_rootfs: sec.read_only,
        devices: sec
            .devices
            .iter()
            .map(|d| Device {
                host_path: PathBuf::from(&d.host_path),
                container_path: d.container_path.clone(),
                permissions: d.permissions.clone(),
            })
            .collect(),
        seccomp_cache_dir: Some(cache_dir.to_path_buf()),
        ..Security::default()
    };
    for option in &sec.security_opt {
        let (key, value) = option
            .split_once(['=', ':'])
            .map_or((option.as_str(), None), |(k, v)| (k, Some(v)));
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => out.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => out.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => out.seccomp = SeccompProfile::Unconfined,
            ("seccomp", Some(path)) if !path.is_empty() => {
                out.seccomp = SeccompProfile::File(PathBuf::from(path))
            }
            ("apparmor", Some("unconfined")) | ("label", Some("disable")) => {}
            // Without AppArmor or SELinux on the host these have no effect, as with docker.
            ("apparmor", Some(_)) if !Path::new("/sys/kernel/security/apparmor").exists() => {}
            ("label", Some(_)) if !Path::new("/sys/fs/selinux/enforce").exists() => {}
            _ => {
                return Err(invalid(
                    spec,
                    format!(
                        "security_opt {option:?} is not supported: use seccomp=unconfined, seccomp=FILE.json or no-new-privileges"
                    ),
                ))
            }
        }
    }
    Ok(out)
}

pub fn ulimits(spec: &ContainerSpec) -> Vec<Ulimit> {
    spec.ulimits
        .iter()
        .map(|(name, u)| Ulimit {
            name: name.clone(),
            soft: u.soft,
            hard: u.hard,
        })
        .collect()
}

/// The runtime's process options for `spec`; the pid and IPC namespaces of
/// another container are filled in at start (see `netmode`).
pub fn process(spec: &ContainerSpec) -> ProcessOptions {
    ProcessOptions {
        ulimits: ulimits(spec),
        oom_score_adj: spec.oom_score_adj,
        sysctls: spec
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        shm_size: spec.shm_size,
        domainname: spec.domainname.clone(),
        init: spec.init,
        uts_namespace: match spec.uts_mode {
            UtsMode::Private => Namespace::New,
            UtsMode::Host => Namespace::Host,
        },
        no_shm: spec.ipc_mode == IpcMode::None,
        group_add: spec.group_add.clone(),
        ..ProcessOptions::default()
    }
}

/// Whether the container gets an IPC namespace of its own.
fn own_ipc(spec: &ContainerSpec) -> bool {
    matches!(
        spec.ipc_mode,
        IpcMode::Private | IpcMode::Shareable | IpcMode::None
    )
}

/// Everything the runtime would refuse at start, refused now.
pub fn validate(spec: &ContainerSpec, cache_dir: &Path) -> Result<(), EngineError> {
    let runtime = |e: wharf_runtime::RuntimeError| invalid(spec, e.to_string());
    security(spec, cache_dir)?
        .validate(&ulimits(spec))
        .map_err(runtime)?;
    for key in spec.sysctls.keys() {
        // The network namespace is checked at start, where it is known.
        wharf_runtime::check_sysctl_in(key, true, own_ipc(spec)).map_err(runtime)?;
    }
    if spec.uts_mode == UtsMode::Host {
        for (attribute, set) in [
            ("hostname", spec.hostname.is_some()),
            ("domainname", spec.domainname.is_some()),
        ] {
            if set {
                return Err(invalid(
                    spec,
                    format!("{attribute} cannot be set with uts: host, which keeps the host's names: remove one of them"),
                ));
            }
        }
    }
    if let Some(group) = spec
        .group_add
        .iter()
        .find(|g| g.trim().is_empty() || g.contains([':', ',', '\n', '\0']))
    {
        return Err(invalid(
            spec,
            format!("group_add entry {group:?} is not a group name or number"),
        ));
    }
    Ok(())
}

/// `oom_kill_disable` and `mem_swappiness` exist only on cgroup v1: refused
/// up front on a v2 host, which cannot honour them.
pub fn validate_cgroup_settings(
    spec: &ContainerSpec,
    mode: wharf_runtime::CgroupMode,
) -> Result<(), EngineError> {
    if mode != wharf_runtime::CgroupMode::V2 {
        return Ok(());
    }
    if spec.resources.oom_kill_disable {
        return Err(invalid(
            spec,
            "oom_kill_disable cannot be enforced on this host: it runs cgroup v2, which has no way to keep the OOM killer away from a container; remove oom_kill_disable (the memory limit still applies)".into(),
        ));
    }
    if spec.resources.mem_swappiness.is_some() {
        return Err(invalid(
            spec,
            "mem_swappiness cannot be honoured on this host: it runs cgroup v2, which has no per-container swappiness; remove mem_swappiness (the host's vm.swappiness applies)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine_api::SecuritySpec;

    fn spec(options: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: "p-web-1".into(),
            security: SecuritySpec {
                security_opt: options.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn v1_only_memory_settings_are_refused_on_v2_and_host_names_are_kept() {
        use wharf_runtime::CgroupMode;
        let mut spec = spec(&[]);
        spec.resources.oom_kill_disable = true;
        validate_cgroup_settings(&spec, CgroupMode::V1).unwrap();
        let err = validate_cgroup_settings(&spec, CgroupMode::V2).unwrap_err();
        assert!(
            err.to_string()
                .contains("container p-web-1: oom_kill_disable cannot be enforced on this host"),
            "{err}"
        );
        spec.resources.oom_kill_disable = false;
        spec.resources.mem_swappiness = Some(0);
        let err = validate_cgroup_settings(&spec, CgroupMode::V2).unwrap_err();
        assert!(
            err.to_string()
                .contains("mem_swappiness cannot be honoured"),
            "{err}"
        );

        let dir = Path::new("/nonexistent");
        let mut spec = self::spec(&[]);
        spec.uts_mode = UtsMode::Host;
        spec.domainname = Some("example.org".into());
        let err = validate(&spec, dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("domainname cannot be set with uts: host"),
            "{err}"
        );
        let mut spec = self::spec(&[]);
        spec.ipc_mode = IpcMode::Host;
        spec.sysctls.insert("kernel.shmmax".into(), "1".into());
        let err = validate(&spec, dir).unwrap_err();
        assert!(err.to_string().contains("kernel.shmmax"), "{err}");
        let options = process(&ContainerSpec {
            init: true,
            ipc_mode: IpcMode::None,
            uts_mode: UtsMode::Host,
            group_add: vec!["tty".into()],
            ..Default::default()
        });
        assert!(options.init && options.no_shm);
        assert_eq!(options.uts_namespace, Namespace::Host);
        assert_eq!(options.pid_namespace, Namespace::New);
        assert_eq!(options.group_add, ["tty"]);
    }

    #[test]
    fn security_opt_forms_are_understood() {
        let dir = Path::new("/nonexistent");
        let s = security(
            &spec(&["no-new-privileges:true", "seccomp=unconfined"]),
            dir,
        )
        .unwrap();
        assert!(s.no_new_privileges);
        assert_eq!(s.seccomp, SeccompProfile::Unconfined);
        let s = security(
            &spec(&["seccomp:/etc/profile.json", "no-new-privileges"]),
            dir,
        )
        .unwrap();
        assert_eq!(s.seccomp, SeccompProfile::File("/etc/profile.json".into()));
        assert!(s.no_new_privileges);
        let err = security(&spec(&["systempaths=unconfined"]), dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"systempaths=unconfined\" is not supported"),
            "{err}"
        );
    }
}
