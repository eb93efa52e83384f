//! Progress of `up`, `down` and the other commands that change resources,
//! in docker compose's `--progress` modes: `tty` redraws a block in place
//! (`[+] Running 3/3` and a line per resource with its status and time),
//! `plain` prints one line per change, `json` one object per change and
//! `quiet` nothing.

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

/// How progress is shown (`--progress`, `COMPOSE_PROGRESS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Redrawn in place; `colour` unless `--ansi never`.
    Tty {
        colour: bool,
    },
    Plain,
    Quiet,
    Json,
}

impl ProgressMode {
    /// `auto` is `tty` on a terminal (that may take ANSI codes), else `plain`.
    pub fn parse(text: &str, ansi: &str, stderr_is_tty: bool, colour: bool) -> Option<Self> {
        Some(match text {
            "auto" if stderr_is_tty && ansi != "never" => ProgressMode::Tty { colour },
            "auto" | "plain" => ProgressMode::Plain,
            "tty" => ProgressMode::Tty {
                colour: ansi != "never",
            },
            "quiet" => ProgressMode::Quiet,
            "json" => ProgressMode::Json,
            _ => return None,
        })
    }
}

pub struct Progress {
    mode: ProgressMode,
    title: &'static str,
    state: Mutex<State>,
}

struct State {
    entries: Vec<Entry>,
    drawn_lines: usize,
}

impl Progress {
    pub fn new(mode: ProgressMode, title: &'static str) -> Self {
        Progress {
            mode,
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
        match self.mode {
            ProgressMode::Tty { colour } => {
                let mut text = self.block(&state.entries);
                if !colour {
                    text = strip_colour(&text);
                }
                if state.drawn_lines > 0 {
                    let _ = write!(err, "\x1b[{}A\x1b[J", state.drawn_lines);
                }
                let _ = err.write_all(text.as_bytes());
                state.drawn_lines = text.lines().count();
            }
            ProgressMode::Plain => {
                let _ = writeln!(err, " {kind} {name}  {status}");
            }
            ProgressMode::Json => {
                let _ = writeln!(err, "{}", json_event(kind, name, status, done, failed));
            }
            ProgressMode::Quiet => {}
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

/// One `--progress json` line, with compose's field names: `id` names the
/// resource, `text` is its state, `status` says whether it is `Working`,
/// `Done` or in `Error`.
pub fn json_event(kind: &str, name: &str, text: &str, done: bool, failed: bool) -> String {
    let status = if failed {
        "Error"
    } else if done {
        "Done"
    } else {
        "Working"
    };
    serde_json::json!({
        "id": format!("{kind} {name}"),
        "text": text,
        "status": status,
    })
    .to_string()
}

/// The block without its SGR colour sequences (`--ansi never`).
fn strip_colour(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('m') {
            Some(end) => rest = &after[end + 1..],
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_compose() {
        let parse = ProgressMode::parse;
        assert_eq!(
            parse("auto", "auto", true, true),
            Some(ProgressMode::Tty { colour: true })
        );
        assert_eq!(
            parse("auto", "auto", false, false),
            Some(ProgressMode::Plain)
        );
        assert_eq!(
            parse("auto", "never", true, false),
            Some(ProgressMode::Plain)
        );
        assert_eq!(
            parse("tty", "never", false, false),
            Some(ProgressMode::Tty { colour: false })
        );
        assert_eq!(
            parse("quiet", "auto", true, true),
            Some(ProgressMode::Quiet)
        );
        assert_eq!(parse("json", "auto", true, true), Some(ProgressMode::Json));
        assert_eq!(parse("fancy", "auto", true, true), None);
    }

    #[test]
    fn json_events_name_the_resource() {
        let line = json_event("Container", "p-web-1", "Started", true, false);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["id"], "Container p-web-1");
        assert_eq!(value["text"], "Started");
        assert_eq!(value["status"], "Done");
    }

    #[test]
    fn never_strips_colour() {
        assert_eq!(strip_colour("\x1b[34m[+]\x1b[0m Running"), "[+] Running");
    }
}
