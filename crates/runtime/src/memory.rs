//! Keeping the per-container monitor small. A monitor lives as long as its
//! container but does almost all of its work in the first milliseconds (parsing,
//! netlink, the seccomp filter, cgroups); afterwards it sleeps in `waitpid`,
//! `read` and `poll`. [`shed_startup_pages`] drops the pages of code and read-only
//! data touched only then from its page tables — they stay in the page cache,
//! shared, and the few the steady state needs fault back in — and returns the
//! allocator's free memory to the kernel.

use std::fs;
use std::time::{Duration, Instant};

/// Cap glibc's allocator at one arena: the monitor's threads allocate little,
/// and every extra arena keeps its own pages. Call before starting threads.
pub fn limit_allocator_arenas() {
    // SAFETY: mallopt only changes a tuning parameter of glibc's allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// How long a shed waits for the other threads to finish starting.
const QUIET_WAIT: Duration = Duration::from_millis(200);

/// Wait, for at most `limit`, until every other thread of this process has
/// slept (state `S`) on two looks a millisecond apart: a thread still
/// starting (the DNS server loading its table, a log pump setting up) would
/// fault its start-up code back in right after the shed. Returns false, at
/// once, when `still_wanted` says the shed is no longer worth it.
fn wait_for_other_threads_to_sleep(limit: Duration, still_wanted: &dyn Fn() -> bool) -> bool {
    let me = nix::unistd::gettid().as_raw();
    let deadline = Instant::now() + limit;
    let mut quiet_looks = 0;
    while quiet_looks < 2 && Instant::now() < deadline {
        if !still_wanted() {
            return false;
        }
        if other_threads_sleep(me) {
            quiet_looks += 1;
        } else {
            quiet_looks = 0;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    still_wanted()
}

/// Whether every thread of this process but `me` is sleeping.
fn other_threads_sleep(me: i32) -> bool {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return true;
    };
    tasks.flatten().all(|task| {
        let tid = task
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok());
        if tid == Some(me) {
            return true;
        }
        // A thread that ended meanwhile has no stat: it runs no code.
        fs::read_to_string(task.path().join("stat"))
            .map(|stat| thread_state(&stat) == Some('S'))
            .unwrap_or(true)
    })
}

/// The state letter of a `/proc/*/stat` line: the first field after the
/// command name, which is in parentheses and may hold any character.
fn thread_state(stat: &str) -> Option<char> {
    stat.rsplit_once(") ")?.1.chars().next()
}

/// At most this many mappings are released; a monitor has a few dozen.
const MAX_RANGES: usize = 256;

/// Drop clean file-backed pages (code, read-only data) from this process's
/// page tables and trim the heap. Never touches a mapping holding private
/// (written) pages, so no data is lost: what is dropped reads back from the file.
/// Returns how many mappings were released.
///
/// Every page executed after the first `madvise` faults back in with its
/// neighbours (the kernel maps up to 64 KiB around a fault), so all the work
/// that allocates or frees (reading smaps, the trim) comes first and the
/// release itself runs on a list kept on the stack; and it waits (up to
/// 200 ms) for the other threads to go to sleep first. Call it just before
/// the caller sleeps. While it waits, `still_wanted` is asked every
/// millisecond; when it says no (the monitor's container has already ended,
/// say, and the exit is to be recorded now), nothing is shed and 0 returned.
pub fn shed_startup_pages(still_wanted: &dyn Fn() -> bool) -> usize {
    if !wait_for_other_threads_to_sleep(QUIET_WAIT, still_wanted) {
        return 0;
    }
    let mut ranges = [(0usize, 0usize); MAX_RANGES];
    let mut count = 0;
    if let Ok(smaps) = fs::read_to_string("/proc/self/smaps") {
        let found = clean_file_mappings(&smaps);
        for range in found.into_iter().chain(unused_main_stack(&smaps)) {
            if count == MAX_RANGES {
                break;
            }
            ranges[count] = range;
            count += 1;
        }
    }
    // After the smaps text is freed, so that it goes back too.
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    let mut released = 0;
    for &(start, end) in &ranges[..count] {
        // SAFETY: each range is either a whole mapping of this process that is
        // file-backed, not writable and has no private (copied-on-write) pages,
        // so MADV_DONTNEED only drops page-table entries that the next access
        // refills from the same file; or the part of the main thread's stack
        // well below the current stack pointer, which holds nothing live (a
        // later use gets fresh zeroed pages).
        let done =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        released += usize::from(done == 0);
    }
    released
}

/// The part of the main thread's stack more than 64 KiB below the current
/// stack pointer, when this runs on the main thread: start-up touched it, the
/// steady state does not.
fn unused_main_stack(smaps: &str) -> Option<(usize, usize)> {
    const PAGE: usize = 4096;
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    let line = smaps.lines().find(|l| l.ends_with("[stack]"))?;
    let (start, end) = line.split_whitespace().next()?.split_once('-')?;
    let (start, end) = (
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    );
    if !(start..end).contains(&sp) {
        return None;
    }
    let keep_from = (sp.saturating_sub(64 * 1024)) & !(PAGE - 1);
    (keep_from > start).then_some((start, keep_from))
}

/// The (start, end) of every mapping in an smaps text that is backed by a file,
/// not writable, private, and has no anonymous (copied) pages.
fn clean_file_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-').and_then(|(s, e)| {
            Some((
                usize::from_str_radix(s, 16).ok()?,
                usize::from_str_radix(e, 16).ok()?,
            ))
        }) {
            let perms = words.next().unwrap_or("");
            let _offset = words.next();
            let _device = words.next();
            let inode = words.next().unwrap_or("0");
            let path = words.next().unwrap_or("");
            let candidate = perms.len() == 4
                && perms.as_bytes()[1] == b'-'
                && perms.ends_with('p')
                && inode != "0"
                && path.starts_with('/');
            current = candidate.then_some((start, end));
            continue;
        }
        if first == "Anonymous:" {
            let kib: u64 = words.next().and_then(|n| n.parse().ok()).unwrap_or(1);
            if let Some(range) = current.take() {
                if kib == 0 {
                    out.push(range);
                }
            }
        }
    }
    out
}

/// The clean file-backed mappings of this process, found once and released
/// as often as wanted after: a long-lived process (the Engine API service)
/// gives back what each burst of work touched. Finding reads smaps, which
/// walks every page table (milliseconds for wharf's binary); a release only
/// checks each mapping against `/proc/self/maps`, which does not.
#[derive(Debug, Default)]
pub struct CleanMappings {
    /// Each mapping's range and its line in `/proc/self/maps`.
    mappings: Vec<(usize, usize, String)>,
}

impl CleanMappings {
    /// The mappings [`shed_startup_pages`] would release now.
    pub fn find() -> Self {
        let Ok(smaps) = fs::read_to_string("/proc/self/smaps") else {
            return Self::default();
        };
        CleanMappings {
            mappings: mapping_lines(&smaps, &clean_file_mappings(&smaps)),
        }
    }

    /// Drop the pages of the mappings still mapped as they were found, and
    /// trim the heap; returns how many mappings were released.
    pub fn release(&self) -> usize {
        let maps = fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let current: std::collections::HashSet<&str> = maps.lines().map(str::trim_end).collect();
        let unchanged: Vec<(usize, usize)> = self
            .mappings
            .iter()
            .filter(|(_, _, line)| current.contains(line.as_str()))
            .map(|(start, end, _)| (*start, *end))
            .collect();
        // SAFETY: malloc_trim only returns free heap memory to the kernel.
        unsafe {
            libc::malloc_trim(0);
        }
        unchanged
            .into_iter()
            .filter(|(start, end)| {
                // SAFETY: each range is a whole mapping of this process that
                // was file-backed, not writable and without private pages when
                // found, and is still mapped with the same line in maps (same
                // range, permissions, file and offset); a read-only mapping
                // cannot have gained written pages, so MADV_DONTNEED only drops
                // page-table entries that the next access refills from the file.
                unsafe {
                    libc::madvise(
                        *start as *mut libc::c_void,
                        end - start,
                        libc::MADV_DONTNEED,
                    ) == 0
                }
            })
            .count()
    }
}

/// Each range in `ranges` with its header line in an smaps text (the line
/// `/proc/self/maps` shows for the same mapping).
fn mapping_lines(smaps: &str, ranges: &[(usize, usize)]) -> Vec<(usize, usize, String)> {
    ranges
        .iter()
        .filter_map(|&(start, end)| {
            let prefix = format!("{start:x}-{end:x} ");
            smaps
                .lines()
                .find(|line| line.starts_with(&prefix))
                .map(|line| (start, end, line.trim_end().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d724b9a000-55d724e22000 r--p 00000000 fe:00 326279                     /usr/bin/wharf
Size:               2592 kB
Rss:                1176 kB
Anonymous:             0 kB
55d724e22000-55d7257e8000 r-xp 00288000 fe:00 326279                     /usr/bin/wharf
Rss:                5080 kB
Anonymous:             0 kB
55d7257e8000-55d725870000 r--p 00c4e000 fe:00 326279                     /usr/bin/wharf
Rss:                 248 kB
Anonymous:           248 kB
55d725870000-55d725871000 rw-p 00cd6000 fe:00 326279                     /usr/bin/wharf
Anonymous:             4 kB
55d726000000-55d726100000 rw-p 00000000 00:00 0                          [heap]
Anonymous:           364 kB
7f0000000000-7f0000001000 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
7f0000002000-7f0000003000 r--s 00000000 fe:00 1234                       /dev/shm/x
Anonymous:             0 kB
";

    #[test]
    fn only_clean_private_read_only_file_mappings_are_chosen() {
        assert_eq!(
            clean_file_mappings(SMAPS),
            vec![
                (0x55d724b9a000, 0x55d724e22000),
                (0x55d724e22000, 0x55d7257e8000)
            ]
        );
        assert!(clean_file_mappings("").is_empty());
        assert!(clean_file_mappings("garbage\nAnonymous: 0 kB\n").is_empty());
    }

    #[test]
    fn the_state_follows_the_command_name() {
        assert_eq!(thread_state("42 (dns-7) S 1 42 42 0"), Some('S'));
        assert_eq!(thread_state("43 (a) b) R 1 43"), Some('R'));
        assert_eq!(thread_state("garbage"), None);
    }

    #[test]
    fn the_wait_lasts_while_another_thread_runs_and_ends_at_its_limit() {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinner = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        let started = Instant::now();
        assert!(wait_for_other_threads_to_sleep(
            Duration::from_millis(50),
            &|| true
        ));
        let waited = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        spinner.join().unwrap();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
    }

    #[test]
    fn a_shed_no_longer_wanted_ends_at_once_and_sheds_nothing() {
        let started = Instant::now();
        assert_eq!(shed_startup_pages(&|| false), 0);
        assert!(started.elapsed() < QUIET_WAIT, "{:?}", started.elapsed());
    }

    #[test]
    fn each_clean_mapping_keeps_its_maps_line() {
        let lines = mapping_lines(SMAPS, &clean_file_mappings(SMAPS));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].0, 0x55d724e22000);
        assert!(lines[1]
            .2
            .starts_with("55d724e22000-55d7257e8000 r-xp 00288000"));
        assert!(lines[1].2.ends_with("/usr/bin/wharf"));
    }

    #[test]
    fn clean_mappings_release_again_and_again() {
        let found = CleanMappings::find();
        assert!(!found.mappings.is_empty());
        assert!(found.release() > 0);
        assert_eq!(format!("{}", 6 * 7), "42");
        assert!(found.release() > 0);
    }

    #[test]
    fn shedding_keeps_the_process_working() {
        let before = fs::read_to_string("/proc/self/status").unwrap();
        assert!(shed_startup_pages(&|| true) > 0);
        // Code and data read back from the files.
        let after = fs::read_to_string("/proc/self/status").unwrap();
        assert_eq!(before.lines().next(), after.lines().next());
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
