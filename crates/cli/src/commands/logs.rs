//! `wharf logs`: container output, one service or all of them multiplexed
//! with `web-1  | ` prefixes.

use super::{filter_services, short_name};
use crate::context::GlobalOptions;
use crate::render::{colour, units};
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::sync::mpsc;
use wharf_engine_api::{ContainerInfo, Engine, LogLine, LogOptions};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Index of the container if the service has multiple replicas
    #[arg(long)]
    pub index: Option<u32>,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// How lines are printed.
pub struct Printer {
    pub timestamps: bool,
    pub prefix: bool,
    pub colour: bool,
    pub width: usize,
}

impl Printer {
    pub fn line(&self, out: &mut impl Write, index: usize, name: &str, line: &LogLine) {
        let mut text = String::new();
        if self.prefix {
            // docker compose pads names to the longest plus one.
            let prefix = format!("{name:<width$} | ", width = self.width + 1);
            text.push_str(&if self.colour {
                colour(index, &prefix)
            } else {
                prefix
            });
        }
        if self.timestamps {
            text.push_str(&units::rfc3339_nanos(line.time_ns));
            text.push(' ');
        }
        text.push_str(&line.text);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = out.write_all(text.as_bytes());
    }
}

pub fn logs(global: &GlobalOptions, args: LogsArgs) -> Result<i32> {
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let containers = wharf_orchestrator::project_containers(&engine, &name, true)?;
    let mut containers = filter_services(containers, &args.services, project.as_ref())?;
    if let Some(index) = args.index {
        let index = index.to_string();
        containers.retain(|c| c.label(wharf_engine_api::labels::CONTAINER_NUMBER) == Some(&index));
    }
    let tail = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(n.parse::<usize>().map_err(|_| {
            anyhow::anyhow!("--tail {n:?} is not a number of lines: give a number or \"all\"")
        })?),
    };
    let now = units::now_nanos();
    let when = |flag: &str, value: &Option<String>| -> Result<Option<i64>> {
        value
            .as_deref()
            .map(|v| {
                units::parse_time(v, now).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{flag} {v:?}: give a time like 2013-01-02T13:23:37Z, a Unix timestamp, or a duration ago like 42m or 1h30m"
                    )
                })
            })
            .transpose()
    };
    let options = LogOptions {
        follow: args.follow,
        tail,
        since_ns: when("--since", &args.since)?,
        until_ns: when("--until", &args.until)?,
    };
    let printer = Printer {
        timestamps: args.timestamps,
        prefix: !args.no_log_prefix,
        colour: !args.no_color && global.stdout_ansi(),
        width: containers
            .iter()
            .map(|c| short_name(c).len())
            .max()
            .unwrap_or(0),
    };
    stream(&engine, &containers, &options, &printer)?;
    Ok(0)
}

/// Print the logs of `containers`. Without follow, lines of all containers
/// are merged by time; with follow, printed as they come until every
/// container has stopped.
pub fn stream(
    engine: &dyn Engine,
    containers: &[ContainerInfo],
    options: &LogOptions,
    printer: &Printer,
) -> Result<()> {
    let (sender, receiver) = mpsc::channel::<(usize, LogLine)>();
    let names: Vec<String> = containers.iter().map(short_name).collect();
    let mut errors = Vec::new();
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (index, container) in containers.iter().enumerate() {
            let sender = sender.clone();
            handles.push(scope.spawn(move || {
                engine.logs(&container.id, options, &mut |line| {
                    sender.send((index, line)).is_ok()
                })
            }));
        }
        drop(sender);
        let stdout = std::io::stdout();
        if options.follow {
            for (index, line) in receiver {
                let mut out = stdout.lock();
                printer.line(&mut out, index, &names[index], &line);
                let _ = out.flush();
            }
        } else {
            let mut lines: Vec<(usize, LogLine)> = receiver.into_iter().collect();
            lines.sort_by_key(|(_, l)| l.time_ns);
            let mut out = stdout.lock();
            for (index, line) in &lines {
                printer.line(&mut out, *index, &names[*index], line);
            }
        }
        for handle in handles {
            match handle.join() {
                Ok(Err(e)) => errors.push(e.to_string()),
                Err(_) => errors.push("a log reader failed".into()),
                Ok(Ok(())) => {}
            }
        }
    });
    if errors.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(errors.join("; "))
    }
}
