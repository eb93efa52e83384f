//! Interface deletions asked for by several threads of one process, coalesced
//! into kernel batches.
//!
//! Deleting a link holds the kernel's RTNL lock through RCU grace periods
//! (about 10 ms), so deletions from parallel threads (`down` stops every
//! container at once) wait for each other: n containers cost n grace periods.
//! Here the first caller deletes what is queued while the next callers queue
//! up behind it; when it is done, one of them deletes everything that queued
//! meanwhile in one batch (see [`crate::link::delete_now`]), as a database
//! commits a group of transactions. Nobody waits for a timer.
//!
//! A batch only takes requests made from the leader's network namespace: the
//! deletion acts in the namespace of the thread that sends it.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::NetError;

/// A network namespace, as the device and inode of its `ns/net` file.
type NetnsId = (u64, u64);

struct Request {
    ticket: u64,
    netns: NetnsId,
    names: Vec<String>,
}

#[derive(Default)]
struct Queue {
    next_ticket: u64,
    pending: Vec<Request>,
    /// Finished requests' failures (empty: deleted), by ticket.
    done: HashMap<u64, Vec<NetError>>,
    /// A thread is deleting a batch.
    busy: bool,
}

static QUEUE: Mutex<Option<Queue>> = Mutex::new(None);
static FINISHED: Condvar = Condvar::new();

fn lock() -> MutexGuard<'static, Option<Queue>> {
    // A panic while holding the lock leaves the queue consistent (every
    // change to it is one statement), so a poisoned lock is taken as is.
    QUEUE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn current_netns() -> Result<NetnsId, NetError> {
    let meta = std::fs::metadata("/proc/thread-self/ns/net").map_err(|source| NetError::Io {
        action: "reading the thread's network namespace (/proc/thread-self/ns/net)".into(),
        source,
        hint: "is /proc mounted?".into(),
    })?;
    Ok((meta.dev(), meta.ino()))
}

/// Deletes `names` (checked names; absent ones are fine) in the calling
/// thread's network namespace, in a batch with other threads' deletions.
pub(crate) fn delete(names: &[&str]) -> Result<(), NetError> {
    let netns = current_netns()?;
    let mut guard = lock();
    let queue = guard.get_or_insert_with(Queue::default);
    let ticket = queue.next_ticket;
    queue.next_ticket += 1;
    queue.pending.push(Request {
        ticket,
        netns,
        names: names.iter().map(|n| n.to_string()).collect(),
    });
    loop {
        let queue = guard.get_or_insert_with(Queue::default);
        if let Some(mut failures) = queue.done.remove(&ticket) {
            return match failures.len() {
                0 => Ok(()),
                1 => Err(failures.remove(0)),
                _ => Err(NetError::Several(failures)),
            };
        }
        if queue.busy {
            guard = FINISHED
                .wait(guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            continue;
        }
        // Lead a batch: every request from this namespace queued so far.
        let (batch, others): (Vec<Request>, Vec<Request>) = std::mem::take(&mut queue.pending)
            .into_iter()
            .partition(|r| r.netns == netns);
        queue.pending = others;
        queue.busy = true;
        drop(guard);
        let results = run_batch(&batch);
        guard = lock();
        let queue = guard.get_or_insert_with(Queue::default);
        queue.busy = false;
        queue.done.extend(results);
        FINISHED.notify_all();
    }
}

/// Deletes every request's interfaces at once; each request's failures.
fn run_batch(batch: &[Request]) -> Vec<(u64, Vec<NetError>)> {
    let names: Vec<String> = batch.iter().flat_map(|r| r.names.clone()).collect();
    let mut failures: HashMap<String, NetError> = match crate::link::delete_now(&names) {
        Ok(failures) => failures.into_iter().collect(),
        Err(e) => {
            // No netlink socket: every request fails with the same cause.
            let message = e.to_string();
            return batch
                .iter()
                .map(|r| {
                    let error = NetError::Io {
                        action: format!("deleting network interfaces {:?}", r.names),
                        source: std::io::Error::other(message.clone()),
                        hint: "the process may be out of file descriptors".into(),
                    };
                    (r.ticket, vec![error])
                })
                .collect();
        }
    };
    batch
        .iter()
        .map(|r| {
            let mine = r.names.iter().filter_map(|n| failures.remove(n)).collect();
            (r.ticket, mine)
        })
        .collect()
}
