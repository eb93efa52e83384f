//! Pause and unpause: freeze every process of a container's cgroup and thaw it
//! again (v1 `freezer.state`, also on hybrid hosts; v2 `cgroup.freeze`), waiting
//! until the kernel reports the new state.

use super::{fs, v1_controller_mounted, CgroupHandle, CgroupMode};
use crate::RuntimeError;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long freezing may take before it is given up (and undone).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);

impl CgroupHandle {
    /// Freeze every process of the cgroup; returns once all are frozen. A freeze
    /// that does not complete in time is undone and reported.
    pub fn freeze(&self) -> Result<(), RuntimeError> {
        let file = self.freezer_file("pause")?;
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        loop {
            // v1 may stay FREEZING while a task is busy in the kernel; writing
            // FROZEN again retries it, as runc does.
            fs::write(&file, self.freezer_value(true))?;
            if self.reports_frozen()? {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.thaw();
                return Err(RuntimeError::CgroupBusy {
                    path: PathBuf::from(&self.path),
                    detail: format!(
                        "its processes were not all frozen within {FREEZE_TIMEOUT:?}; the container was left running"
                    ),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Thaw the cgroup (a cgroup that is not frozen stays as it is).
    pub fn thaw(&self) -> Result<(), RuntimeError> {
        let file = self.freezer_file("unpause")?;
        fs::write(&file, self.freezer_value(false))
    }

    /// Whether the cgroup is frozen or being frozen (paused); false when it does
    /// not exist (any more).
    pub fn is_frozen(&self) -> Result<bool, RuntimeError> {
        let file = match self.mode {
            CgroupMode::V1 => self.v1_dir("freezer").join("freezer.state"),
            CgroupMode::V2 => self.v2_dir().join("cgroup.freeze"),
        };
        match fs::read_raw(&file) {
            Ok(text) => Ok(matches!(text.trim(), "FROZEN" | "FREEZING" | "1")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(RuntimeError::io("read cgroup file", file, e)),
        }
    }

    /// Whether the kernel says every process is frozen now (not only asked to be).
    fn reports_frozen(&self) -> Result<bool, RuntimeError> {
        match self.mode {
            CgroupMode::V1 => {
                let state = fs::read(&self.v1_dir("freezer").join("freezer.state"))?;
                Ok(state.trim() == "FROZEN")
            }
            CgroupMode::V2 => {
                let events = fs::read(&self.v2_dir().join("cgroup.events"))?;
                Ok(fs::keyed_value(&events, "frozen") == Some(1))
            }
        }
    }

    fn freezer_value(&self, frozen: bool) -> &'static str {
        match (self.mode, frozen) {
            (CgroupMode::V1, true) => "FROZEN",
            (CgroupMode::V1, false) => "THAWED",
            (CgroupMode::V2, true) => "1",
            (CgroupMode::V2, false) => "0",
        }
    }

    /// The file that freezes the cgroup, or why there is none.
    fn freezer_file(&self, what: &'static str) -> Result<PathBuf, RuntimeError> {
        match self.mode {
            CgroupMode::V1 => {
                let file = self.v1_dir("freezer").join("freezer.state");
                if !v1_controller_mounted(&self.fs_root, "freezer") || !file.exists() {
                    return Err(RuntimeError::ControllerMissing {
                        what,
                        controller: "freezer",
                        path: self.fs_root.join("freezer"),
                    });
                }
                Ok(file)
            }
            CgroupMode::V2 => {
                let file = self.v2_dir().join("cgroup.freeze");
                if !file.exists() {
                    return Err(RuntimeError::Unsupported {
                        what,
                        path: file,
                        hint: "the cgroup v2 freezer needs Linux 5.2 or later",
                    });
                }
                Ok(file)
            }
        }
    }
}
