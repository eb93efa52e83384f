//! Why a v2 controller is missing from a container's cgroup: the first cgroup on the
//! way down that does not pass it on, and what keeps it from doing so (the kernel
//! lacks it, it was not delegated to a sub-tree wharf runs in, or the cgroup holds
//! processes of its own), so the error can say what to change.

use super::fs;
use std::path::{Path, PathBuf};

/// The cgroup (below `fs_root`, on the way to `rel_path`) that does not pass
/// `controller` on to its children, and the reason.
pub(crate) fn missing_controller(
    fs_root: &Path,
    rel_path: &str,
    controller: &str,
) -> (PathBuf, String) {
    let mut dir = fs_root.to_path_buf();
    for component in rel_path.split('/').filter(|c| !c.is_empty()) {
        let offered = words(&dir.join("cgroup.controllers"));
        if !offered.iter().any(|c| c == controller) {
            return (
                dir.clone(),
                not_offered(fs_root, &dir, controller, &offered),
            );
        }
        let enabled = words(&dir.join("cgroup.subtree_control"));
        if !enabled.iter().any(|c| c == controller) {
            return (dir.clone(), not_enabled(fs_root, &dir, controller));
        }
        dir.push(component);
    }
    (
        dir,
        format!("the kernel did not create the cgroup's {controller} files"),
    )
}

fn not_offered(fs_root: &Path, dir: &Path, controller: &str, offered: &[String]) -> String {
    let listed = if offered.is_empty() {
        "none".to_string()
    } else {
        offered.join(" ")
    };
    if is_hierarchy_root(fs_root, dir) {
        format!(
            "the hierarchy at {} offers no {controller} controller (its cgroup.controllers lists {listed}): \
             boot a kernel with it, or leave the limit out",
            dir.display()
        )
    } else {
        format!(
            "it is not delegated to {} (its cgroup.controllers lists {listed}): have the manager of the \
             cgroup above it delegate {controller} (systemd: Delegate=yes or Delegate={controller}), \
             or leave the limit out",
            dir.display()
        )
    }
}

fn not_enabled(fs_root: &Path, dir: &Path, controller: &str) -> String {
    // Writing the file again gives the kernel's reason (EBUSY, ENOENT, ...).
    let file = dir.join("cgroup.subtree_control");
    let refused = match fs::write_raw(&file, &format!("+{controller}")) {
        Ok(()) => {
            return format!(
            "{controller} was not enabled in {} when the cgroup was made (it is now: try again)",
            file.display()
        )
        }
        Err(e) => e,
    };
    let has_processes = !std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .trim()
        .is_empty();
    if !is_hierarchy_root(fs_root, dir) && has_processes {
        format!(
            "{} holds processes of its own, and cgroup v2 gives controllers only to the children of a \
             cgroup without processes ({}: {refused}): move those processes (wharf too) into a leaf \
             cgroup below it",
            dir.display(),
            file.display()
        )
    } else {
        format!("enabling it in {} failed ({refused})", file.display())
    }
}

/// Whether `dir` is the hierarchy's real root, not the root of a cgroup namespace
/// (a delegated cgroup mounted at `fs_root`): only the real root lacks `cgroup.type`.
fn is_hierarchy_root(fs_root: &Path, dir: &Path) -> bool {
    dir == fs_root && !dir.join("cgroup.type").exists()
}

fn words(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
