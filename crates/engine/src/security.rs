//! A container spec's security and process settings turned into the
//! runtime's, checked at create time so that a misspelt capability, a bad
//! seccomp file or a host-wide sysctl fails before anything exists.

use std::path::{Path, PathBuf};
use wharf_engine_api::{ContainerSpec, EngineError};
use wharf_runtime::{Device, ProcessOptions, SeccompProfile, Security, Ulimit};

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
    }
}

/// Everything the runtime would refuse at start, refused now.
pub fn validate(spec: &ContainerSpec, cache_dir: &Path) -> Result<(), EngineError> {
    let runtime = |e: wharf_runtime::RuntimeError| invalid(spec, e.to_string());
    security(spec, cache_dir)?
        .validate(&ulimits(spec))
        .map_err(runtime)?;
    for key in spec.sysctls.keys() {
        // Every wharf container has its own network namespace.
        wharf_runtime::check_sysctl(key, true).map_err(runtime)?;
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
