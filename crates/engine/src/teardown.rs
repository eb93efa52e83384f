//! A teardown (`down`): work of its many stops and removals that is done
//! once for all of them or off their critical path, and finished before the
//! teardown ends. Deleting a link holds RTNL through RCU grace periods, so
//! the veth pairs of parallel stops, deleted each as its process ended,
//! queued behind one another and then behind the bridge: while a teardown
//! runs, stops and removals gather their containers' host ends instead, a
//! network removal deletes them with its bridge in one batch, and the end of
//! the teardown deletes what is left. A removal's state directory, renamed
//! into the trash, is unlinked on a thread of its own while the teardown
//! goes on to the networks; the end of the teardown waits for it.

use crate::store::ContainerRecord;
use crate::LinuxEngine;
use std::sync::MutexGuard;
use wharf_engine_api::TeardownGuard;

/// What the teardowns in progress finish before they end.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Teardowns in progress: work is gathered while there is one.
    teardowns: usize,
    /// Host ends of veth pairs to delete.
    names: Vec<String>,
    /// Trashed state directories being unlinked.
    unlinking: Vec<std::thread::JoinHandle<()>>,
}

/// Ends a teardown when dropped; the last one deletes what was gathered.
struct Teardown<'a> {
    engine: &'a LinuxEngine,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        let (names, unlinking) = {
            let mut gathered = self.engine.gathered();
            gathered.teardowns -= 1;
            if gathered.teardowns > 0 {
                return;
            }
            (
                std::mem::take(&mut gathered.names),
                std::mem::take(&mut gathered.unlinking),
            )
        };
        let _whole = self.engine.phase("teardown: finish what was gathered", "");
        // Nothing can report a failure from here; the kernel deletes the
        // pairs with the containers' network namespaces anyway, and a
        // trashed directory left behind is swept by the next removal.
        let _ = wharf_net::delete_links_together(&as_strs(&names));
        for thread in unlinking {
            let _ = thread.join();
        }
    }
}

impl LinuxEngine {
    fn gathered(&self) -> MutexGuard<'_, Gathered> {
        self.gathered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn begin_teardown_batch(&self) -> TeardownGuard<'_> {
        self.gathered().teardowns += 1;
        Box::new(Teardown { engine: self })
    }

    /// Queue the host ends of `record`'s veth pairs for the teardown in
    /// progress; false (nothing queued) when there is none.
    pub(crate) fn gather_veths(&self, record: &ContainerRecord) -> bool {
        if self.gathered().teardowns == 0 {
            return false;
        }
        let names = self.veth_names(record);
        let mut gathered = self.gathered();
        if gathered.teardowns == 0 {
            return false;
        }
        for name in names {
            // A removal after the stop gathers the same pairs again.
            if !gathered.names.contains(&name) {
                gathered.names.push(name);
            }
        }
        true
    }

    /// Unlink the trashed state directory `trashed` (of container `name`)
    /// on a thread the teardown in progress waits for; false (nothing
    /// started) when there is none.
    pub(crate) fn unlink_during_teardown(&self, trashed: &std::path::Path, name: &str) -> bool {
        let mut gathered = self.gathered();
        if gathered.teardowns == 0 {
            return false;
        }
        let trashed = trashed.to_path_buf();
        let name = name.to_string();
        let timings = self.config.timings;
        gathered.unlinking.push(std::thread::spawn(move || {
            let _files = crate::timing::phase(timings, "remove: delete the files", &name);
            let _ = std::fs::remove_dir_all(&trashed);
        }));
        true
    }

    /// Take every gathered host end, to delete with a bridge.
    pub(crate) fn take_gathered_veths(&self) -> Vec<String> {
        std::mem::take(&mut self.gathered().names)
    }

    /// Give back host ends taken by [`Self::take_gathered_veths`] that were
    /// not deleted (a network removal refused before deleting anything).
    pub(crate) fn regather_veths(&self, names: Vec<String>) {
        let mut gathered = self.gathered();
        if gathered.teardowns == 0 {
            drop(gathered);
            let _ = wharf_net::delete_links_together(&as_strs(&names));
            return;
        }
        gathered.names.extend(names);
    }
}

pub(crate) fn as_strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}
