//! `wharf container export|commit|diff`: a container's file system as a tar, as a
//! new image, or its changes. Containers are named as `wharf ps -a` lists them, or by id (a
//! unique prefix is enough), in any project.

use crate::context::GlobalOptions;
use anyhow::{Context, Result};
use clap::Args;
use wharf_engine::CommitOptions;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Container name or id
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Container name or id
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(
        short = 'p',
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub pause: bool,
    /// Container name or id
    pub container: String,
    #[arg(help = "Name and tag of the new image (REPOSITORY[:TAG])")]
    pub reference: Option<String>,
}

pub fn export(global: &GlobalOptions, args: ExportArgs) -> Result<i32> {
    let engine = global.engine()?;
    super::super::write_archive(args.output.as_deref(), |out| {
        Ok(engine.export_container(&args.container, out)?)
    })?;
    Ok(0)
}

pub fn diff(global: &GlobalOptions, args: DiffArgs) -> Result<i32> {
    let engine = global.engine()?;
    let changes = engine.container_changes(&args.container)?;
    let mut out = String::new();
    for (kind, path) in changes {
        out.push_str(&format!("{} {path}\n", kind.letter()));
    }
    print!("{out}");
    Ok(0)
}

pub fn commit(global: &GlobalOptions, args: CommitArgs) -> Result<i32> {
    let engine = global.engine()?;
    let options = CommitOptions {
        reference: args.reference.clone(),
        comment: args.message,
        author: args.author,
        changes: args.changes,
        pause: args.pause,
    };
    let id = engine
        .commit_container(&args.container, &options)
        .with_context(|| format!("committing container {}", args.container))?;
    println!("{id}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: crate::commands::container::ContainerCommand,
    }

    #[test]
    fn pause_defaults_to_true_and_takes_a_value_only_with_equals() {
        let commit = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            crate::commands::container::ContainerCommand::Commit(c) => c,
            other => panic!("{other:?}"),
        };
        let c = commit(&["t", "commit", "web-1", "snap:v1"]);
        assert!(c.pause);
        assert_eq!(c.reference.as_deref(), Some("snap:v1"));
        let c = commit(&["t", "commit", "--pause=false", "-c", "ENV A=1", "web-1"]);
        assert!(!c.pause);
        assert_eq!(c.changes, ["ENV A=1"]);
        let c = commit(&["t", "commit", "-p", "web-1"]);
        assert!(c.pause && c.container == "web-1");
    }
}
