//! What `down` removes beyond the state it finds: a container of the project
//! whose state directory was deleted by hand is invisible to the records, but
//! its cgroup (named after its id, below the project's cgroup parent) still
//! holds its processes, its monitor may still run and its published ports may
//! still have firewall rules. All go, so that nothing of the project outlives
//! its `down`.

use crate::{runtime_err, store::Layout};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use wharf_engine_api::EngineError;
use wharf_runtime::CgroupHandle;

/// Kill and remove the containers of `project` that have a cgroup but no state
/// directory; one line for each, naming what was done.
pub(crate) fn remove_orphan_containers(
    layout: &Layout,
    cgroup_fs_root: &Path,
    cgroup_parent: &str,
    project: &str,
) -> Result<Vec<String>, EngineError> {
    let mode = wharf_runtime::cgroups::detect(cgroup_fs_root).map_err(runtime_err)?;
    let project_cgroup = format!("{cgroup_parent}/{project}");
    let parent = CgroupHandle {
        mode,
        fs_root: cgroup_fs_root.to_path_buf(),
        path: project_cgroup.clone(),
    };
    let mut ids = BTreeSet::new();
    for dir in parent.dirs() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            // The name first: a cgroup v1 directory holds dozens of control
            // files, and the type comes from the directory entry, not a stat.
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_container_id(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                ids.insert(name);
            }
        }
    }
    let mut removed = Vec::new();
    let mut failures = Vec::new();
    for id in ids {
        if layout.container(&id).exists() {
            continue;
        }
        // Its monitor first, so that it cannot restart what is killed next.
        for pid in monitors_of(layout, &id) {
            let _ = wharf_runtime::send_signal(pid, libc::SIGKILL);
            let _ = wharf_runtime::wait_for_exit(pid, std::time::Duration::from_secs(5));
        }
        let cgroup = CgroupHandle {
            mode,
            fs_root: cgroup_fs_root.to_path_buf(),
            path: format!("{project_cgroup}/{id}"),
        };
        let firewall = wharf_net::firewall::detect()
            .teardown_ports(&id)
            .map_err(|e| format!("; its published-port rules could not be removed: {e}"));
        match cgroup.kill_all_and_destroy() {
            Ok(()) => match firewall {
                Ok(()) => removed.push(id),
                Err(e) => failures.push(format!("container {}{e}", &id[..12])),
            },
            Err(e) => failures.push(format!(
                "container {} has no state left and its cgroup {} could not be removed: {e}",
                &id[..12],
                cgroup.path
            )),
        }
    }
    if !removed.is_empty() {
        CgroupHandle::remove_empty_parents(cgroup_fs_root, &project_cgroup);
    }
    if failures.is_empty() {
        Ok(removed)
    } else {
        Err(EngineError::Teardown {
            what: format!("removing what is left of project {project}"),
            failures,
        })
    }
}

/// A full container id: 64 lowercase hex digits.
fn is_container_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The monitors (`wharf __monitor … --root ROOT … ID`) of container `id` under
/// this state root, found by their command line: with the directory went the
/// lock file that would otherwise name them.
fn monitors_of(layout: &Layout, id: &str) -> Vec<u32> {
    let root = layout.root.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_monitor = args.contains(&b"__monitor".as_slice());
        let same_root = args
            .windows(2)
            .any(|w| w[0] == b"--root" && w[1] == root.as_bytes());
        let same_id = args.contains(&id.as_bytes());
        if is_monitor && same_root && same_id {
            pids.push(pid);
        }
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_are_64_hex_digits() {
        assert!(is_container_id(&"a1".repeat(32)));
        assert!(!is_container_id("a1"));
        assert!(!is_container_id(&"A1".repeat(32)));
        assert!(!is_container_id(&"g1".repeat(32)));
    }
}
