//! Container log files: one JSON object a line (`{"log":…,"stream":…,"time":…}`,
//! time in Unix nanoseconds), appended by the monitor and read by `wharf logs`.
//!
//! With a `max-size` the monitor rotates the log as docker's json-file driver
//! does: `container.log` becomes `container.log.1`, older files move up one
//! number and the oldest beyond `max-file` goes. With `compress`, rotated files
//! from `.2` on are gzipped (`container.log.2.gz`); `.1` stays plain. A
//! follower that finds the file it was reading rotated away finishes it, then
//! looks for it among the rotated files (by inode, or by its first line once
//! gzipped) and reads every newer one, so it loses nothing unless it fell
//! behind by more than `max-file` rotations. Rotation holds an exclusive lock on `container.log.lock`; readers
//! hold it shared while they open the set of files, so they never see it half
//! renamed.

use flate2::read::GzDecoder;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wharf_engine_api::{EngineError, LogConfig, LogDriver, LogLine, LogOptions, LogStream};

#[derive(Debug, Serialize, Deserialize)]
pub struct LogRecord {
    pub log: String,
    pub stream: LogStream,
    pub time: i64,
}

/// How often a follower looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// The path of rotated file `number` of `log`, plain or gzipped.
fn rotated(log: &Path, number: u32, gzipped: bool) -> PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(format!(".{number}"));
    if gzipped {
        name.push(".gz");
    }
    PathBuf::from(name)
}

fn lock_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// The rotation lock of `log`, exclusive for the writer, shared for readers.
/// Only the writer creates the file (when it may rotate): a reader creating
/// files in the directory could race with the container's removal.
fn lock(log: &Path, exclusive: bool) -> std::io::Result<Flock<File>> {
    let file = OpenOptions::new()
        .create(exclusive)
        .truncate(false)
        .write(true)
        .open(lock_path(log))?;
    let kind = if exclusive {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockShared
    };
    Flock::lock(file, kind).map_err(|(_, errno)| errno.into())
}

/// Appends records to a container's log, rotating it as its [`LogConfig`]
/// says; with the `none` driver it stores nothing.
pub struct LogWriter {
    path: PathBuf,
    config: LogConfig,
    file: Option<File>,
    size: u64,
}

impl LogWriter {
    pub fn open(path: &Path, config: LogConfig) -> Result<Self, EngineError> {
        let mut writer = LogWriter {
            path: path.to_path_buf(),
            config,
            file: None,
            size: 0,
        };
        if config.driver != LogDriver::None {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| EngineError::io(format!("opening {}", path.display()), e))?;
            writer.size = file.metadata().map(|m| m.len()).unwrap_or(0);
            writer.file = Some(file);
            if config.max_size.is_some() {
                // Readers lock it only if it exists: make it before any rotation.
                drop(
                    lock(path, true)
                        .map_err(|e| EngineError::io(format!("locking {}", path.display()), e))?,
                );
            }
        }
        Ok(writer)
    }

    /// Append one whole line (a serialized record and its newline).
    pub fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let len = line.len() as u64;
        if self
            .config
            .max_size
            .is_some_and(|max| self.size > 0 && self.size + len > max)
        {
            self.rotate()?;
        }
        if let Some(file) = &mut self.file {
            file.write_all(line)?;
            self.size += len;
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let _lock = lock(&self.path, true)?;
        let keep = self.config.max_file.max(1);
        if keep == 1 {
            // Nothing rotated is kept; a follower still holds the old file open.
            remove_if_present(&self.path)?;
        } else {
            remove_if_present(&rotated(&self.path, keep - 1, false))?;
            remove_if_present(&rotated(&self.path, keep - 1, true))?;
            for number in (1..keep - 1).rev() {
                for gzipped in [true, false] {
                    let from = rotated(&self.path, number, gzipped);
                    if from.exists() {
                        let to = rotated(&self.path, number + 1, gzipped);
                        std::fs::rename(&from, &to)?;
                        if self.config.compress && !gzipped {
                            compress(&to)?;
                        }
                    }
                }
            }
            std::fs::rename(&self.path, rotated(&self.path, 1, false))?;
        }
        self.file = Some(
            OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&self.path)?,
        );
        self.size = 0;
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Replace `path` by `path.gz`.
fn compress(path: &Path) -> std::io::Result<()> {
    let mut name = path.as_os_str().to_os_string();
    name.push(".gz");
    let target = PathBuf::from(name);
    let mut partial = target.as_os_str().to_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut encoder =
        flate2::write::GzEncoder::new(File::create(&partial)?, flate2::Compression::default());
    std::io::copy(&mut File::open(path)?, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    std::fs::rename(&partial, &target)?;
    std::fs::remove_file(path)
}

/// An open log file: a finished rotated one or the one being written.
struct Opened {
    file: File,
    gzipped: bool,
    inode: (u64, u64),
}

impl Opened {
    /// The first line of the file (the newline included), if it has one.
    fn first_line(&self) -> Option<Vec<u8>> {
        // Read from the start and leave the position there for the next reader.
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0)).ok()?;
        let mut line = Vec::new();
        let read = if self.gzipped {
            BufReader::new(GzDecoder::new(file)).read_until(b'\n', &mut line)
        } else {
            BufReader::new(file).read_until(b'\n', &mut line)
        };
        file.seek(SeekFrom::Start(0)).ok()?;
        (read.is_ok() && line.ends_with(b"\n")).then_some(line)
    }
}

/// Under the shared rotation lock, open every file of `log` that exists,
/// oldest first, the current one last (None when it does not exist).
fn open_all(log: &Path) -> Result<(Vec<Opened>, Option<Opened>), EngineError> {
    let io = |e| EngineError::io(format!("reading {}", log.display()), e);
    let _lock = match lock(log, false) {
        Ok(lock) => Some(lock),
        // No rotation configured (or a directory we cannot write to):
        // nothing renames the files under us.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            None
        }
        Err(e) => return Err(io(e)),
    };
    let open = |path: &Path, gzipped: bool| -> Result<Option<Opened>, EngineError> {
        match File::open(path) {
            Ok(file) => {
                let meta = file.metadata().map_err(io)?;
                Ok(Some(Opened {
                    file,
                    gzipped,
                    inode: (meta.dev(), meta.ino()),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    };
    let mut numbers = Vec::new();
    let dir = log.parent().unwrap_or(Path::new("."));
    let base = log
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&base).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let (number, gzipped) = match rest.strip_suffix(".gz") {
                Some(n) => (n, true),
                None => (rest, false),
            };
            if let Ok(number) = number.parse::<u32>() {
                numbers.push((number, gzipped));
            }
        }
    }
    // Oldest (highest number) first.
    numbers.sort_by_key(|&(number, _)| std::cmp::Reverse(number));
    let mut rotated_files = Vec::new();
    for (number, gzipped) in numbers {
        if let Some(opened) = open(&rotated(log, number, gzipped), gzipped)? {
            rotated_files.push(opened);
        }
    }
    Ok((rotated_files, open(log, false)?))
}

/// Read `path` (and its rotated files) as `options` say, feeding `sink`.
/// While following, `running` tells whether more output can still come.
pub fn read_log(
    path: &Path,
    options: &LogOptions,
    running: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<(), EngineError> {
    let io = |e| EngineError::io(format!("reading {}", path.display()), e);
    let (finished, current) = open_all(path)?;
    let current = match current {
        Some(current) => Some(current),
        None if !options.follow => None,
        None => {
            // The container has not written anything yet.
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| EngineError::io(format!("creating {}", path.display()), e))?;
            let meta = file.metadata().map_err(io)?;
            Some(Opened {
                file,
                gzipped: false,
                inode: (meta.dev(), meta.ino()),
            })
        }
    };
    let wanted = |line: &LogLine| {
        options.since_ns.is_none_or(|since| line.time_ns >= since)
            && options.until_ns.is_none_or(|until| line.time_ns < until)
    };

    // What exists now: keep only the tail if asked.
    let mut existing: VecDeque<LogLine> = VecDeque::new();
    let mut keep = |line: LogLine| {
        if wanted(&line) {
            existing.push_back(line);
            if options.tail.is_some_and(|t| existing.len() > t) {
                existing.pop_front();
            }
        }
        true
    };
    for opened in finished {
        read_finished(opened, path, &mut keep)?;
    }
    let mut following = None;
    if let Some(current) = current {
        let mut reader = BufReader::new(current.file);
        let mut buf = String::new();
        let mut offset = 0u64;
        while let Some(n) = read_whole_line(&mut reader, &mut buf, path)? {
            offset += n as u64;
            if let Some(line) = parse(&buf) {
                keep(line);
            }
        }
        following = Some((reader.into_inner(), current.inode, offset));
    }
    for line in existing {
        if !sink(line) {
            return Ok(());
        }
    }
    let Some((mut file, mut inode, mut offset)) = following.filter(|_| options.follow) else {
        return Ok(());
    };
    let mut emit = |line: LogLine| !wanted(&line) || sink(line);
    loop {
        let alive = running();
        let (progressed, go_on) = read_from(&mut file, &mut offset, path, &mut emit)?;
        if !go_on {
            return Ok(());
        }
        let mut progressed = progressed;
        if !progressed && rotated_away(path, inode) {
            // Whatever was written before the rotation, then the newer files.
            if !read_from(&mut file, &mut offset, path, &mut emit)?.1 {
                return Ok(());
            }
            let (older, newest) = open_all(path)?;
            let first_line = Opened {
                file: file.try_clone().map_err(io)?,
                gzipped: false,
                inode,
            }
            .first_line();
            let start = older
                .iter()
                .position(|o| {
                    o.inode == inode
                        || (o.gzipped && first_line.is_some() && o.first_line() == first_line)
                })
                .map_or(0, |i| i + 1);
            for opened in older.into_iter().skip(start) {
                if !read_finished(opened, path, &mut emit)? {
                    return Ok(());
                }
            }
            let Some(newest) = newest else {
                return Ok(());
            };
            (file, inode, offset) = (newest.file, newest.inode, 0);
            progressed = true;
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

/// Whether `path` is no longer the file `inode` (rotated or removed).
fn rotated_away(path: &Path, inode: (u64, u64)) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) => (meta.dev(), meta.ino()) != inode,
        Err(_) => true,
    }
}

/// Feed every whole line of `file` after `offset` to `sink`, moving
/// `offset` on: (whether any line was read, whether the sink wants more).
fn read_from(
    file: &mut File,
    offset: &mut u64,
    path: &Path,
    sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<(bool, bool), EngineError> {
    file.seek(SeekFrom::Start(*offset))
        .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
    let mut reader = BufReader::new(&*file);
    let mut buf = String::new();
    let mut progressed = false;
    while let Some(n) = read_whole_line(&mut reader, &mut buf, path)? {
        *offset += n as u64;
        progressed = true;
        if let Some(line) = parse(&buf) {
            if !sink(line) {
                return Ok((progressed, false));
            }
        }
    }
    Ok((progressed, true))
}

/// Feed every line of a file no longer written to `sink`; false when the
/// sink wants no more.
fn read_finished(
    opened: Opened,
    path: &Path,
    sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<bool, EngineError> {
    let mut reader: Box<dyn BufRead> = if opened.gzipped {
        Box::new(BufReader::new(GzDecoder::new(opened.file)))
    } else {
        Box::new(BufReader::new(opened.file))
    };
    let mut buf = String::new();
    while let Some(_n) = read_whole_line(&mut reader, &mut buf, path)? {
        if let Some(line) = parse(&buf) {
            if !sink(line) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The next line into `buf` with its length, or None at the end of what is
/// complete: a last line still being written is left for the next read.
fn read_whole_line(
    reader: &mut dyn BufRead,
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

    fn record_line(text: &str, time: i64) -> Vec<u8> {
        let rec = LogRecord {
            log: format!("{text}\n"),
            stream: LogStream::Stdout,
            time,
        };
        let mut line = serde_json::to_vec(&rec).unwrap();
        line.push(b'\n');
        line
    }

    fn rotating(max_size: u64, max_file: u32, compress: bool) -> LogConfig {
        LogConfig {
            driver: LogDriver::JsonFile,
            max_size: Some(max_size),
            max_file,
            compress,
        }
    }

    fn files_of(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        names.sort();
        names
    }

    /// The first and last numbers of `lines` ("line N"), checked to be
    /// consecutive (with `gaps`: only increasing).
    fn numbered(lines: &[String], gaps: bool) -> std::ops::RangeInclusive<u32> {
        let numbers: Vec<u32> = lines
            .iter()
            .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
            .collect();
        for pair in numbers.windows(2) {
            let fine = if gaps {
                pair[1] > pair[0]
            } else {
                pair[1] == pair[0] + 1
            };
            assert!(fine, "line {} follows line {}", pair[1], pair[0]);
        }
        numbers[0]..=*numbers.last().unwrap()
    }

    fn consecutive(lines: &[String]) -> std::ops::RangeInclusive<u32> {
        numbered(lines, false)
    }

    #[test]
    fn rotated_files_are_named_by_number() {
        let log = Path::new("/state/c/container.log");
        assert_eq!(
            rotated(log, 1, false),
            Path::new("/state/c/container.log.1")
        );
        assert_eq!(
            rotated(log, 2, true),
            Path::new("/state/c/container.log.2.gz")
        );
        assert_eq!(lock_path(log), Path::new("/state/c/container.log.lock"));
    }

    #[test]
    fn rotation_keeps_max_file_files_and_reading_spans_them_in_order() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("container.log");
            let mut writer = LogWriter::open(&path, rotating(1000, 3, compress)).unwrap();
            for n in 1..=200 {
                writer
                    .write_line(&record_line(&format!("line {n}"), n))
                    .unwrap();
            }
            let expected: &[&str] = if compress {
                &["container.log", "container.log.1", "container.log.2.gz"]
            } else {
                &["container.log", "container.log.1", "container.log.2"]
            };
            assert_eq!(files_of(dir.path()), expected);
            let all = collect(&path, &LogOptions::default());
            let kept = consecutive(&all);
            assert_eq!(*kept.end(), 200);
            assert!(*kept.start() > 1, "the oldest lines were dropped");
            for file in std::fs::read_dir(dir.path()).unwrap() {
                assert!(file.unwrap().metadata().unwrap().len() <= 1000);
            }
            let tail = LogOptions {
                tail: Some(3),
                ..Default::default()
            };
            assert_eq!(collect(&path, &tail), ["line 198", "line 199", "line 200"]);
        }
    }

    #[test]
    fn max_file_one_keeps_only_the_current_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let mut writer = LogWriter::open(&path, rotating(500, 1, false)).unwrap();
        for n in 1..=50 {
            writer
                .write_line(&record_line(&format!("line {n}"), n))
                .unwrap();
        }
        assert_eq!(files_of(dir.path()), ["container.log"]);
        let kept = consecutive(&collect(&path, &LogOptions::default()));
        assert_eq!(*kept.end(), 50);
    }

    #[test]
    fn the_none_driver_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let config = LogConfig {
            driver: LogDriver::None,
            ..LogConfig::default()
        };
        let mut writer = LogWriter::open(&path, config).unwrap();
        writer.write_line(&record_line("lost", 1)).unwrap();
        assert!(files_of(dir.path()).is_empty());
    }

    #[test]
    fn reading_orders_gzipped_rotated_and_current_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        write_lines(&rotated(&path, 3, false), &[("a", 1)]);
        compress(&rotated(&path, 3, false)).unwrap();
        write_lines(&rotated(&path, 2, false), &[("b", 2)]);
        write_lines(&rotated(&path, 1, false), &[("c", 3), ("d", 4)]);
        write_lines(&path, &[("e", 5)]);
        assert_eq!(
            collect(&path, &LogOptions::default()),
            ["a", "b", "c", "d", "e"]
        );
        let since = LogOptions {
            since_ns: Some(3),
            until_ns: Some(5),
            ..Default::default()
        };
        assert_eq!(collect(&path, &since), ["c", "d"]);
    }

    #[test]
    fn follow_continues_across_rotations_without_gaps_or_repeats() {
        for (max_file, compress) in [(200, false), (200, true), (1, false)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("container.log");
            let total: u32 = 3000;
            let config = rotating(2000, max_file, compress);
            let mut writer = LogWriter::open(&path, config).unwrap();
            let running = std::sync::atomic::AtomicBool::new(true);
            let mut seen = Vec::new();
            std::thread::scope(|s| {
                let running = &running;
                let writer = &mut writer;
                s.spawn(move || {
                    for n in 1..=total {
                        writer
                            .write_line(&record_line(&format!("line {n}"), n.into()))
                            .unwrap();
                    }
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
            // With nothing rotated kept, a follower that falls two
            // rotations behind loses lines (docker's does too); never
            // repeats them.
            let range = numbered(&seen, max_file == 1);
            assert_eq!(
                *range.end(),
                total,
                "max_file {max_file}, compress {compress}"
            );
            if max_file > 1 {
                assert_eq!(
                    *range.start(),
                    1,
                    "max_file {max_file}, compress {compress}"
                );
            }
        }
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
