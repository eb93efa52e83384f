//! Progress of `up` and `down` as docker compose shows it: on a terminal a
//! block redrawn in place (`[+] Running 3/3` and a line per resource with
//! its status and time), elsewhere one plain line per change.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

struct Entry {
    kind: &'static str,
    name: String,
    status: String,
    done: bool,
    failed: bool,
    started: Instant,
    finished: Option<Instant>,
}

pub struct Progress {
    tty: bool,
    title: &'static str,
    state: Mutex<State>,
}

struct State {
    entries: Vec<Entry>,
    drawn_lines: usize,
}

impl Progress {
    pub fn new(tty: bool, title: &'static str) -> Self {
        Progress {
            tty,
            title,
            state: Mutex::new(State {
                entries: Vec::new(),
                drawn_lines: 0,
            }),
        }
    }

    /// Record a resource's new status. `done` marks a final state for the count.
    pub fn update(&self, kind: &'static str, name: &str, status: &str, done: bool, failed: bool) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        match state
            .entries
            .iter_mut()
            .find(|e| e.kind == kind && e.name == name)
        {
            Some(entry) => {
                entry.status = status.to_string();
                entry.done = done;
                entry.failed = failed;
                entry.finished = done.then_some(now);
            }
            None => state.entries.push(Entry {
                kind,
                name: name.to_string(),
                status: status.to_string(),
                done,
                failed,
                started: now,
                finished: done.then_some(now),
            }),
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            let text = self.block(&state.entries);
            if state.drawn_lines > 0 {
                let _ = write!(err, "\x1b[{}A\x1b[J", state.drawn_lines);
            }
            let _ = err.write_all(text.as_bytes());
            state.drawn_lines = text.lines().count();
        } else {
            let _ = writeln!(err, " {kind} {name}  {status}");
        }
        let _ = err.flush();
    }

    fn block(&self, entries: &[Entry]) -> String {
        let done = entries.iter().filter(|e| e.done).count();
        let width = entries
            .iter()
            .map(|e| e.kind.len() + 1 + e.name.len())
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "\x1b[34m[+]\x1b[0m {} {done}/{}\n",
            self.title,
            entries.len()
        );
        for e in entries {
            let mark = if e.failed {
                "\x1b[31m✘\x1b[0m"
            } else if e.done {
                "\x1b[32m✔\x1b[0m"
            } else {
                "\x1b[33m⠿\x1b[0m"
            };
            let label = format!("{} {}", e.kind, e.name);
            let elapsed = e
                .finished
                .unwrap_or_else(Instant::now)
                .duration_since(e.started)
                .as_secs_f64();
            out.push_str(&format!(
                " {mark} {label:<width$}  {:<10} {elapsed:.1}s\n",
                e.status
            ));
        }
        out
    }
}
