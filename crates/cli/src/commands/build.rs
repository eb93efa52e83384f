//! `wharf build` (the services with `build:`), `wharf image build` (one image from a
//! Dockerfile) and the building step of `up` (missing images, or all with
//! `--build`). Progress is docker's plain build output on stderr: `#3 [web 2/5] RUN …`,
//! the step's output, `CACHED`, `DONE 0.4s`.

use crate::context::GlobalOptions;
use crate::render::progress::ProgressMode;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;
use wharf_engine::wharf_image::build::{BuildEvent, BuildRequest, Builder};
use wharf_engine::wharf_image::ImageError;
use wharf_engine::LinuxEngine;

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Set build-time variables for services
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Don't print anything to STDOUT; print image ids only
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImageBuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "CONTEXT/Dockerfile"; "-" reads standard input)
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Set metadata for an image
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull all referenced images
    #[arg(long)]
    pub pull: bool,
    /// Set the networking mode for the RUN instructions (default, none, host)
    #[arg(long)]
    pub network: Option<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The build context directory
    pub context: PathBuf,
}

/// Docker's plain progress on stderr.
fn printer(quiet: bool) -> impl Fn(BuildEvent) + Sync {
    move |e: BuildEvent| {
        if quiet {
            return;
        }
        match e {
            BuildEvent::Step { n, label } => eprintln!("#{n} {label}"),
            BuildEvent::Output { n, elapsed, line } => {
                eprintln!("#{n} {:.3} {line}", elapsed.as_secs_f64())
            }
            BuildEvent::Cached { n } => eprintln!("#{n} CACHED"),
            BuildEvent::Done { n, elapsed } => eprintln!("#{n} DONE {:.1}s", elapsed.as_secs_f64()),
            BuildEvent::Failed { n, message } => {
                eprintln!("#{n} ERROR: {}", message.lines().next().unwrap_or(""))
            }
            BuildEvent::Warning(w) => eprintln!("WARN[0000] {w}"),
        }
    }
}

/// `K=V`, or `K` alone for the value in the environment (skipped when unset).
fn parse_pairs(list: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in list {
        match item.split_once('=') {
            Some(("", _)) => {
                bail!("{what} {item:?}: the name is empty; write KEY=VALUE")
            }
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(item) {
                    out.insert(item.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

fn run_build(engine: &LinuxEngine, req: &BuildRequest, quiet: bool) -> Result<String> {
    let events = printer(quiet);
    let puller = |name: &str| -> Result<(), ImageError> {
        let options = super::pull::pull_options(name, None)
            .map_err(|e| ImageError::Conflict(format!("pulling {name}: {e:#}")))?;
        engine.images().pull(name, &options, &|_| {}).map(drop)
    };
    let builder = Builder {
        store: engine.images(),
        executor: engine,
        events: &events,
        puller: Some(&puller),
    };
    let outcome = builder.build(req)?;
    Ok(outcome.id)
}

/// `wharf image build`.
pub fn image_build(global: &GlobalOptions, args: ImageBuildArgs) -> Result<i32> {
    let engine = global.engine()?;
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let context = cwd.join(&args.context);
    let (dockerfile, inline) = match &args.file {
        Some(f) if f.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the Dockerfile from standard input")?;
            (None, Some(text))
        }
        Some(f) => (Some(cwd.join(f)), None),
        None => (None, None),
    };
    let req = BuildRequest {
        context,
        dockerfile,
        dockerfile_inline: inline,
        tags: args.tags.clone(),
        target: args.target.clone(),
        build_args: parse_pairs(&args.build_args, "--build-arg")?,
        labels: parse_pairs(&args.labels, "--label")?,
        no_cache: args.no_cache,
        pull: args.pull,
        network: args.network.clone(),
        ..Default::default()
    };
    let id = run_build(&engine, &req, args.quiet)?;
    if args.quiet {
        println!("{id}");
    }
    Ok(0)
}

/// Options shared by `wharf build` and `up --build`.
#[derive(Debug, Default, Clone)]
pub struct ServiceBuildOptions {
    pub no_cache: bool,
    pub pull: bool,
    pub build_args: BTreeMap<String, String>,
    pub quiet: bool,
    /// `--progress quiet`: no build output at all.
    pub no_progress: bool,
}

/// The build request of a service with `build:`.
fn service_request(
    project: &wharf_compose::Project,
    service: &wharf_compose::Service,
    opts: &ServiceBuildOptions,
) -> Result<Option<BuildRequest>> {
    let Some(b) = &service.build else {
        return Ok(None);
    };
    let name = &service.name;
    let refuse = |attr: &str| -> Result<()> {
        bail!("service {name:?}: build.{attr} is not supported by wharf yet; remove it to build")
    };
    if !b.secrets.is_empty() {
        refuse("secrets")?;
    }
    if !b.ssh.is_empty() {
        refuse("ssh")?;
    }
    if !b.additional_contexts.is_empty() {
        refuse("additional_contexts")?;
    }
    if b.privileged {
        refuse("privileged")?;
    }
    if !b.extra_hosts.is_empty() {
        eprintln!("WARN[0000] service {name:?}: build.extra_hosts is not applied to RUN steps by wharf yet");
    }
    let image = wharf_orchestrator::service_image(project, service);
    let mut tags = vec![image];
    tags.extend(b.tags.iter().cloned());
    let mut build_args = b.args.clone();
    build_args.extend(opts.build_args.clone());
    Ok(Some(BuildRequest {
        context: b.context.clone(),
        dockerfile: b.dockerfile.as_ref().map(PathBuf::from),
        dockerfile_inline: b.dockerfile_inline.clone(),
        tags,
        target: b.target.clone(),
        build_args,
        labels: b.labels.clone(),
        no_cache: opts.no_cache || b.no_cache,
        pull: opts.pull || b.pull,
        network: b.network.clone(),
        shm_size: b.shm_size,
        cache_from: b.cache_from.clone(),
        name: Some(name.clone()),
    }))
}

/// Build the named services (all with `build:` when empty); with `only_missing`,
/// only those whose image is not in the store yet.
pub fn build_services(
    engine: &LinuxEngine,
    project: &wharf_compose::Project,
    services: &[String],
    opts: &ServiceBuildOptions,
    only_missing: bool,
) -> Result<Vec<String>> {
    for s in services {
        if !project.services.contains_key(s) {
            bail!(
                "no such service: {s} (services: {})",
                project
                    .services
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let mut done = BTreeSet::new();
    let mut ids = Vec::new();
    for (name, service) in &project.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let Some(req) = service_request(project, service, opts)? else {
            continue;
        };
        let image = req.tags[0].clone();
        if !done.insert(image.clone()) {
            continue;
        }
        if only_missing && engine.images().image_id(&image).is_ok() {
            continue;
        }
        let start = Instant::now();
        let id = run_build(engine, &req, opts.quiet || opts.no_progress)
            .with_context(|| format!("building service {name:?}"))?;
        if opts.quiet {
            println!("{id}");
        } else if !opts.no_progress {
            eprintln!(
                " ✔ Service {name}  Built {:>24.1}s",
                start.elapsed().as_secs_f64()
            );
        }
        ids.push(id);
    }
    Ok(ids)
}

/// `wharf build`.
pub fn build(global: &GlobalOptions, args: BuildArgs) -> Result<i32> {
    let project = global.load_project()?;
    let engine = global.engine()?;
    let opts = ServiceBuildOptions {
        no_cache: args.no_cache,
        pull: args.pull,
        build_args: parse_pairs(&args.build_args, "--build-arg")?,
        quiet: args.quiet,
        no_progress: global.progress_mode() == ProgressMode::Quiet,
    };
    build_services(&engine, &project, &args.services, &opts, false)?;
    Ok(0)
}

/// The building step of `up`: the selected services (and their dependencies,
/// unless `no_deps`) that have `build:` and no image yet, or all of them with
/// `always` (`--build`).
pub fn build_for_up(
    engine: &LinuxEngine,
    project: &wharf_compose::Project,
    services: &[String],
    no_deps: bool,
    always: bool,
    no_progress: bool,
) -> Result<()> {
    let selected = wharf_orchestrator::selected_services(project, services, no_deps)?;
    let opts = ServiceBuildOptions {
        no_progress,
        ..Default::default()
    };
    build_services(engine, project, &selected, &opts, !always)?;
    Ok(())
}
