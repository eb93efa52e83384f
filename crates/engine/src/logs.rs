//! Container log files: one JSON object a line (`{"log":…,"stream":…,"time":…}`,
//! time in Unix nanoseconds), appended by the monitor and read by `wharf logs`.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;
use wharf_engine_api::{EngineError, LogLine, LogOptions, LogStream};

#[derive(Debug, Serialize, Deserialize)]
pub struct LogRecord {
    pub log: String,
    pub stream: LogStream,
    pub time: i64,
}

/// How often a follower looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// Read `path` as `options` say, feeding `sink`. While following, `running`
/// tells whether more output can still come.
pub fn read_log(
    path: &Path,
    options: &LogOptions,
    running: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<(), EngineError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !options.follow => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The container has not written anything yet.
            File::create(path)
                .map_err(|e| EngineError::io(format!("creating {}", path.display()), e))?
        }
        Err(e) => return Err(EngineError::io(format!("opening {}", path.display()), e)),
    };
    let mut reader = BufReader::new(file);
    let wanted = |line: &LogLine| {
        options.since_ns.is_none_or(|since| line.time_ns >= since)
            && options.until_ns.is_none_or(|until| line.time_ns < until)
    };

    // What exists now: keep only the tail if asked.
    let mut existing: VecDeque<LogLine> = VecDeque::new();
    let mut buf = String::new();
    let mut offset = 0u64;
    while let Some(n) = read_whole_line(&mut reader, &mut buf, path)? {
        offset += n as u64;
        if let Some(line) = parse(&buf).filter(|l| wanted(l)) {
            existing.push_back(line);
            if options.tail.is_some_and(|t| existing.len() > t) {
                existing.pop_front();
            }
        }
    }
    for line in existing {
        if !sink(line) {
            return Ok(());
        }
    }
    if !options.follow {
        return Ok(());
    }
    loop {
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
        let alive = running();
        let mut progressed = false;
        while let Some(n) = read_whole_line(&mut reader, &mut buf, path)? {
            offset += n as u64;
            progressed = true;
            if let Some(line) = parse(&buf).filter(|l| wanted(l)) {
                if !sink(line) {
                    return Ok(());
                }
            }
        }
        if !alive && !progressed {
            return Ok(());
        }
        if options
            .until_ns
            .is_some_and(|until| crate::store::now_nanos() >= until)
        {
            // Following up to --until: nothing later can be shown.
            return Ok(());
        }
        if !progressed {
            std::thread::sleep(FOLLOW_POLL);
        }
    }
}

/// The next line into `buf` with its length, or None at the end of what is
/// complete: a last line still being written is left for the next read.
fn read_whole_line(
    reader: &mut BufReader<File>,
    buf: &mut String,
    path: &Path,
) -> Result<Option<usize>, EngineError> {
    buf.clear();
    let n = reader
        .read_line(buf)
        .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
    Ok((n > 0 && buf.ends_with('\n')).then_some(n))
}

fn parse(line: &str) -> Option<LogLine> {
    let record: LogRecord = serde_json::from_str(line).ok()?;
    Some(LogLine {
        stream: record.stream,
        time_ns: record.time,
        text: record.log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_lines(path: &Path, lines: &[(&str, i64)]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        for (text, time) in lines {
            let rec = LogRecord {
                log: format!("{text}\n"),
                stream: LogStream::Stdout,
                time: *time,
            };
            writeln!(f, "{}", serde_json::to_string(&rec).unwrap()).unwrap();
        }
    }

    fn collect(path: &Path, options: &LogOptions) -> Vec<String> {
        let mut out = Vec::new();
        read_log(path, options, &|| false, &mut |l| {
            out.push(l.text.trim_end().to_string());
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn tail_and_since_select_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        write_lines(&path, &[("a", 1), ("b", 2), ("c", 3), ("d", 4)]);
        assert_eq!(collect(&path, &LogOptions::default()), ["a", "b", "c", "d"]);
        let tail = LogOptions {
            tail: Some(2),
            ..Default::default()
        };
        assert_eq!(collect(&path, &tail), ["c", "d"]);
        let since = LogOptions {
            since_ns: Some(3),
            ..Default::default()
        };
        assert_eq!(collect(&path, &since), ["c", "d"]);
        let window = LogOptions {
            since_ns: Some(2),
            until_ns: Some(4),
            ..Default::default()
        };
        assert_eq!(collect(&path, &window), ["b", "c"]);
    }

    #[test]
    fn follow_reads_lines_written_later_and_ends_when_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        write_lines(&path, &[("first", 1)]);
        let writer_path = path.clone();
        let running = std::sync::atomic::AtomicBool::new(true);
        let mut seen = Vec::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                write_lines(&writer_path, &[("second", 2)]);
                running.store(false, std::sync::atomic::Ordering::SeqCst);
            });
            let options = LogOptions {
                follow: true,
                ..Default::default()
            };
            read_log(
                &path,
                &options,
                &|| running.load(std::sync::atomic::Ordering::SeqCst),
                &mut |l| {
                    seen.push(l.text.trim_end().to_string());
                    true
                },
            )
            .unwrap();
        });
        assert_eq!(seen, ["first", "second"]);
    }

    #[test]
    fn a_partial_last_line_is_not_shown_until_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        write_lines(&path, &[("whole", 1)]);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"log\":\"par")
            .unwrap();
        assert_eq!(collect(&path, &LogOptions::default()), ["whole"]);
    }
}
