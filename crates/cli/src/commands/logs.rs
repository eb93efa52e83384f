//! `wharf logs`: container output, one service or all of them multiplexed
//! with `web-1  | ` prefixes.

use super::short_name;
use crate::context::GlobalOptions;
use crate::render::{colour, units};
use anyhow::Result;
use clap::Args;
use std::io::Write;
use wharf_app::logs::LogRequest;
use wharf_engine_api::{ContainerInfo, Engine, LogLine, LogOptions};

/// The log flags docker's `logs` and docker compose's share.
#[derive(Args, Debug)]
pub struct LogsFlags {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs (of each container)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
}

impl LogsFlags {
    /// The engine's reading options for these flags.
    pub fn options(&self) -> Result<LogOptions> {
        let request = LogRequest {
            follow: self.follow,
            tail: self.tail.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
        };
        Ok(request.options(wharf_units::calendar::now_ns())?)
    }
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub flags: LogsFlags,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Index of the container if the service has multiple replicas
    #[arg(long)]
    pub index: Option<u32>,
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
    let containers = wharf_app::logs::project_containers(
        &engine,
        &name,
        project.as_ref(),
        &args.services,
        args.index,
    )?;
    let options = args.flags.options()?;
    let printer = Printer {
        timestamps: args.flags.timestamps,
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

/// Print the logs of `containers`: merged by time, or as they come with
/// follow until every container has stopped.
pub fn stream(
    engine: &dyn Engine,
    containers: &[ContainerInfo],
    options: &LogOptions,
    printer: &Printer,
) -> Result<()> {
    let names: Vec<String> = containers.iter().map(short_name).collect();
    let stdout = std::io::stdout();
    wharf_app::logs::read_merged(engine, containers, options, &mut |index, line| {
        let mut out = stdout.lock();
        printer.line(&mut out, index, &names[index], line);
        if options.follow {
            let _ = out.flush();
        }
        true
    })?;
    Ok(())
}
