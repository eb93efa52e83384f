//! `wharf pull` (the project's service images), `wharf image pull NAME`, and
//! what every registry command shares: the transport policy (insecure registries),
//! credentials from the docker config, and the rendering of transfer progress
//! (a bar per layer on a terminal, one plain line per change elsewhere).

use crate::context::GlobalOptions;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use wharf_image::auth::{self, Credentials, DockerConfig};
use wharf_image::progress::{ItemStatus, Progress};
use wharf_image::pull::{parse_platform, PullOptions};
use wharf_image::registry::RegistryOptions;
use wharf_image::Reference;

#[derive(Args, Debug)]
pub struct ImagePullArgs {
    /// Image to pull (NAME[:TAG|@DIGEST])
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

/// The docker client config directory, from `DOCKER_CONFIG` or `$HOME/.docker`.
pub fn docker_config_dir() -> PathBuf {
    auth::config_dir(
        std::env::var("DOCKER_CONFIG").ok().as_deref(),
        std::env::var("HOME").ok().as_deref(),
    )
}

/// Registries that may be reached without verified TLS: `WHARF_INSECURE_REGISTRIES`
/// (comma-separated) and `insecure-registries` in `/etc/wharf/daemon.json`.
pub fn registry_options() -> RegistryOptions {
    let mut insecure: Vec<String> = std::env::var("WHARF_INSECURE_REGISTRIES")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let daemon_json = std::env::var("WHARF_DAEMON_CONFIG")
        .unwrap_or_else(|_| "/etc/wharf/daemon.json".to_string());
    if let Ok(data) = std::fs::read(&daemon_json) {
        match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(v) => {
                if let Some(list) = v.get("insecure-registries").and_then(|l| l.as_array()) {
                    insecure.extend(list.iter().filter_map(|s| s.as_str().map(str::to_string)));
                }
            }
            Err(e) => eprintln!("WARN[0000] ignoring {daemon_json}: not valid JSON: {e}"),
        }
    }
    RegistryOptions { insecure }
}

/// Stored credentials for the registry of `reference`.
pub fn credentials_for(domain: &str) -> Result<Option<Credentials>> {
    let config = DockerConfig::load(&docker_config_dir())?;
    Ok(config.credentials(domain)?)
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

/// Pull options for `reference` with its stored credentials.
pub fn pull_options(reference: &str, platform: Option<&str>) -> Result<PullOptions> {
    let r = Reference::parse(reference)?;
    Ok(PullOptions {
        platform: platform.map(parse_platform).transpose()?,
        registry: registry_options(),
        credentials: credentials_for(&r.domain)?,
        concurrency: 3,
    })
}

/// `wharf image pull NAME`.
pub fn image_pull(global: &GlobalOptions, args: ImagePullArgs) -> Result<i32> {
    let engine = global.engine()?;
    let opts = pull_options(&args.name, args.platform.as_deref())?;
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

/// The effective pull policy: `--policy`, else the service's `pull_policy`, else
/// `always` (what `docker compose pull` does).
fn effective_policy(
    flag: Option<&str>,
    service: Option<&str>,
    default: &'static str,
) -> Result<&'static str> {
    let Some(p) = flag.or(service) else {
        return Ok(default);
    };
    Ok(match p {
        "always" => "always",
        "missing" | "if_not_present" => "missing",
        "never" => "never",
        "build" => "build",
        p if p.starts_with("every_") || p == "daily" || p == "weekly" => "always",
        other => {
            anyhow::bail!("invalid pull policy {other:?}: use always, missing, never or build")
        }
    })
}

/// Which images of a project [`pull_images`] pulls, and how.
pub struct PullRequest<'a> {
    /// Services whose images to pull; empty for all.
    pub services: &'a [String],
    /// Overrides each service's `pull_policy`.
    pub policy: Option<&'a str>,
    /// The policy of a service without `pull_policy`: `always` for `pull`,
    /// `missing` for `up`.
    pub default_policy: &'static str,
    pub quiet: bool,
    /// A failed pull is a warning, not an error.
    pub ignore_failures: bool,
    /// Leave out the images of services that have `build:`.
    pub ignore_buildable: bool,
    /// Print each failure as it happens (`pull`); else only return it (`up`).
    pub print_errors: bool,
}

/// Pull the images of a project's services as their policies say, each image
/// once, with docker compose's progress lines. Returns the failures; the image
/// of a service that can be built may fail to pull (it is built instead).
pub fn pull_images(
    global: &GlobalOptions,
    engine: &wharf_engine::LinuxEngine,
    project: &wharf_compose::Project,
    request: &PullRequest<'_>,
) -> Result<Vec<String>> {
    let board = global.progress("Pulling");
    struct Wanted {
        image: String,
        services: Vec<String>,
        buildable: bool,
        policy: &'static str,
        platform: Option<String>,
    }
    // Each image once, with the services that use it.
    let mut images: Vec<Wanted> = Vec::new();
    for (name, service) in &project.services {
        if !request.services.is_empty() && !request.services.contains(name) {
            continue;
        }
        let buildable = service.build.is_some();
        if buildable && (service.image.is_none() || request.ignore_buildable) {
            continue;
        }
        let policy = effective_policy(
            request.policy,
            service.pull_policy.as_deref(),
            request.default_policy,
        )?;
        let image = wharf_orchestrator::service_image(project, service);
        match images.iter_mut().find(|w| w.image == image) {
            Some(w) => {
                w.services.push(name.clone());
                w.buildable = w.buildable && buildable;
                if policy == "always" {
                    w.policy = "always";
                }
            }
            None => images.push(Wanted {
                image,
                services: vec![name.clone()],
                buildable,
                policy,
                platform: service.platform.clone(),
            }),
        }
    }
    let quiet = request.quiet;
    let failures = std::sync::Mutex::new(Vec::new());
    // Images are pulled side by side, at most `--parallel` at once.
    super::for_each_limited(images, global.parallel_limit(), |w| {
        let shown = w.services.join(", ");
        let image = &w.image;
        let present = engine.images().image_id(image).is_ok();
        let skip = match w.policy {
            "never" | "build" => Some("Skipped"),
            "missing" if present => Some("Skipped - Image is already present locally"),
            _ => None,
        };
        if let Some(why) = skip {
            // `up` says nothing about images it does not pull.
            if !quiet && request.default_policy == "always" {
                board.update("Image", &shown, why, true, false);
            }
            return;
        }
        if !quiet {
            board.update("Image", &shown, "Pulling", false, false);
        }
        let result = pull_options(image, w.platform.as_deref()).and_then(|opts| {
            engine
                .images()
                .pull(image, &opts, &|_| {})
                .with_context(|| format!("pulling {image} for {shown}"))
        });
        match result {
            Ok(_) => {
                if !quiet {
                    board.update("Image", &shown, "Pulled", true, false);
                }
            }
            Err(e) if w.buildable || request.ignore_failures => {
                if !quiet {
                    board.update("Image", &shown, "Warning", true, false);
                }
                eprintln!("WARN[0000] {e:#}");
            }
            Err(e) => {
                if !quiet {
                    board.update("Image", &shown, "Error", true, true);
                }
                if request.print_errors {
                    eprintln!("error: {e:#}");
                }
                failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(format!("{e:#}"));
            }
        }
    });
    Ok(failures
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// `wharf pull`: pull every service image of the project.
pub fn pull(global: &GlobalOptions, args: PullArgs) -> Result<i32> {
    let project = global.load_project()?;
    if let Some(p) = args.policy.as_deref() {
        if !matches!(p, "always" | "missing") {
            anyhow::bail!("invalid --policy {p:?}: use \"missing\" or \"always\"");
        }
    }
    super::check_services(&project, &args.services)?;
    let engine = global.engine()?;
    let request = PullRequest {
        services: &args.services,
        policy: args.policy.as_deref(),
        default_policy: "always",
        quiet: args.quiet,
        ignore_failures: args.ignore_pull_failures,
        ignore_buildable: args.ignore_buildable,
        print_errors: true,
    };
    let failures = pull_images(global, &engine, &project, &request)?;
    Ok(i32::from(!failures.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::effective_policy;

    #[test]
    fn policies() {
        assert_eq!(effective_policy(None, None, "always").unwrap(), "always");
        assert_eq!(effective_policy(None, None, "missing").unwrap(), "missing");
        assert_eq!(
            effective_policy(None, Some("if_not_present"), "always").unwrap(),
            "missing"
        );
        assert_eq!(
            effective_policy(Some("always"), Some("never"), "missing").unwrap(),
            "always"
        );
        assert_eq!(
            effective_policy(None, Some("build"), "always").unwrap(),
            "build"
        );
        assert!(effective_policy(None, Some("sometimes"), "always").is_err());
        assert!(effective_policy(Some("sometimes"), None, "missing").is_err());
    }
}
