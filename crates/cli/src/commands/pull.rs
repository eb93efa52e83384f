//! `wharf pull` (the project's service images, pulled by the application
//! core), `wharf image pull NAME`, and the rendering of transfer progress
//! every registry command shares (a bar per layer on a terminal, one plain
//! line per change elsewhere).

use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::Result;
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use wharf_app::pull::{PullPolicy, PullRequest};
use wharf_app::LocalImages;
use wharf_image::progress::{ItemStatus, Progress};
use wharf_image::Reference;

#[derive(Args, Debug)]
pub struct ImagePullArgs {
    #[arg(help = "Image to pull (NAME[:TAG|@DIGEST])")]
    pub name: String,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Ignore images that can't be pulled
    #[arg(long)]
    pub ignore_pull_failures: bool,
    /// Apply pull policy ("missing"|"always")
    #[arg(long)]
    pub policy: Option<String>,
    /// Pull without printing progress information
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Ignore images that can be built
    #[arg(long)]
    pub ignore_buildable: bool,
    /// Services to pull (all by default)
    pub services: Vec<String>,
}

/// Renders pull/push progress: indicatif bars on a terminal, plain lines otherwise.
pub struct TransferView {
    quiet: bool,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    last: Mutex<HashMap<String, String>>,
}

impl TransferView {
    pub fn new(global: &GlobalOptions, quiet: bool) -> Self {
        let tty = global.stdout_ansi() && std::io::stdout().is_terminal();
        TransferView {
            quiet,
            multi: (tty && !quiet).then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
            last: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
        }
    }

    pub fn event(&self, p: Progress) {
        if self.quiet {
            return;
        }
        match p {
            Progress::Line(text) => self.line(&text),
            Progress::Item { id, status } => match &self.multi {
                Some(m) => {
                    let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
                    let bar = bars.entry(id.clone()).or_insert_with(|| {
                        let b = m.add(ProgressBar::new(0));
                        b.set_style(
                            ProgressStyle::with_template(
                                "{prefix}: {msg:<18} {wide_bar} {bytes}/{total_bytes}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        b.set_prefix(id.clone());
                        b
                    });
                    if let Some((done, total)) = status.transfer() {
                        bar.set_length(total);
                        bar.set_position(done);
                    }
                    if status.is_final() {
                        bar.set_style(
                            ProgressStyle::with_template("{prefix}: {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        bar.finish_with_message(status.text());
                    } else {
                        bar.set_message(status.text());
                    }
                }
                None => {
                    if matches!(
                        status,
                        ItemStatus::Downloading { .. } | ItemStatus::Pushing { .. }
                    ) {
                        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                        if last.get(&id).map(String::as_str) == Some("transfer") {
                            return;
                        }
                        last.insert(id.clone(), "transfer".into());
                    }
                    self.line(&format!("{id}: {}", status.text()));
                }
            },
        }
    }

    pub fn finish(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

/// `wharf image pull NAME`.
pub fn image_pull(global: &GlobalOptions, args: ImagePullArgs) -> Result<i32> {
    let engine = global.engine()?;
    let opts = global
        .registry()?
        .pull_options(&args.name, args.platform.as_deref())?;
    let view = TransferView::new(global, args.quiet);
    let outcome = engine.images().pull(&args.name, &opts, &|p| view.event(p));
    view.finish();
    let outcome = outcome?;
    if args.quiet {
        println!("{}", outcome_name(&outcome.reference, &args.name));
    } else {
        println!("{}", full_name(&args.name));
    }
    Ok(0)
}

fn full_name(name: &str) -> String {
    Reference::parse(name)
        .map(|r| r.with_default_tag().to_string())
        .unwrap_or_else(|_| name.to_string())
}

fn outcome_name(familiar: &str, given: &str) -> String {
    if familiar.is_empty() {
        full_name(given)
    } else {
        full_name(familiar)
    }
}

/// `wharf pull`: pull every service image of the project.
pub fn pull(global: &GlobalOptions, args: PullArgs) -> Result<i32> {
    let project = global.load_project()?;
    if let Some(p) = args.policy.as_deref() {
        if !matches!(p, "always" | "missing") {
            anyhow::bail!("invalid --policy {p:?}: use \"missing\" or \"always\"");
        }
    }
    wharf_app::check_services(&project, &args.services)?;
    let engine = global.engine()?;
    let request = PullRequest {
        services: args.services,
        policy: args.policy,
        default_policy: PullPolicy::Always,
        ignore_failures: args.ignore_pull_failures,
        ignore_buildable: args.ignore_buildable,
        report_skipped: true,
        parallel: global.parallel_limit(),
    };
    let mut view = View::new(global);
    view.quiet_pull = args.quiet;
    view.pull_errors = true;
    let images = LocalImages::new(&engine, global.registry()?);
    let failures = wharf_app::pull::pull_images(&images, &project, &request, &view)?;
    Ok(i32::from(!failures.is_empty()))
}
