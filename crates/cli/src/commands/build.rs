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
use wharf_engine::LinuxEngine;
use wharf_image::build::{
    inputs_digest, BuildEvent, BuildRequest, Builder, SecretValue, INPUTS_LABEL,
};
use wharf_image::ImageError;

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
    /// Secret to expose to the build (id=ID,src=FILE or id=ID,env=VAR)
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
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
    /// Secret to expose to the build (id=ID,src=FILE or id=ID,env=VAR)
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// Images in the local store to take cached layers from
    #[arg(long = "cache-from", value_name = "IMAGE")]
    pub cache_from: Vec<String>,
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

/// `--secret id=ID,src=FILE` (or `source=`), `id=ID,env=VAR`, or `id=ID` alone
/// for the environment variable named ID, as docker build takes them.
fn parse_secrets(specs: &[String]) -> Result<BTreeMap<String, SecretValue>> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let mut id = None;
        let mut file = None;
        let mut env = None;
        for field in spec.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => file = Some(PathBuf::from(v)),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", "file" | "env")) => {}
                _ => bail!(
                    "--secret {spec:?}: unknown field {field:?}; write id=ID,src=FILE or id=ID,env=VAR"
                ),
            }
        }
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            bail!("--secret {spec:?}: give the secret's id: id=ID,src=FILE");
        };
        let value = match (file, env) {
            (Some(path), _) => std::fs::read(&path).with_context(|| {
                format!("--secret {spec:?}: cannot read {}", path.display())
            })?,
            (None, Some(var)) => std::env::var(&var)
                .with_context(|| {
                    format!("--secret {spec:?}: the environment variable {var} is not set")
                })?
                .into_bytes(),
            (None, None) => std::env::var(&id)
                .with_context(|| {
                    format!("--secret {spec:?}: give src=FILE or env=VAR (no variable {id} is set either)")
                })?
                .into_bytes(),
        };
        out.insert(id, SecretValue(value));
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
    let cache_mounts = engine.build_cache_mounts();
    let builder = Builder {
        store: engine.images(),
        executor: engine,
        events: &events,
        puller: Some(&puller),
        cache_mount_root: &cache_mounts,
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
        cache_from: args.cache_from.clone(),
        secrets: parse_secrets(&args.secrets)?,
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
    /// `--secret`s, over the service's `build.secrets`.
    pub secrets: BTreeMap<String, SecretValue>,
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
        secrets: BTreeMap::new(),
    }))
}

/// The secrets of a service's build: its `build.secrets` (the id a Dockerfile
/// names is `target`, else the secret's name), then the `--secret`s.
fn service_secrets(
    project: &wharf_compose::Project,
    service: &wharf_compose::Service,
    opts: &ServiceBuildOptions,
) -> Result<BTreeMap<String, SecretValue>> {
    let mut out = BTreeMap::new();
    for reference in service.build.iter().flat_map(|b| &b.secrets) {
        let value = wharf_orchestrator::secret_value(project, &reference.source)
            .map_err(|e| anyhow::anyhow!("service {:?}: build.secrets: {e}", service.name))?;
        let id = reference
            .target
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| reference.source.clone());
        out.insert(id, SecretValue(value));
    }
    out.extend(opts.secrets.clone());
    Ok(out)
}

/// Warn, as `up` builds nothing for it, when the build inputs of a service's
/// image changed since it was built (docker compose does not rebuild by itself
/// either). Images without the label (pulled, or built before wharf recorded it)
/// are not judged.
fn warn_if_inputs_changed(engine: &LinuxEngine, name: &str, req: &BuildRequest, recorded: &str) {
    match inputs_digest(req, engine.images().root()) {
        Ok(now) if now != recorded => eprintln!(
            "WARN[0000] service {name}: build context changed since the image was built: run `wharf up --build` to rebuild"
        ),
        _ => {}
    }
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
        let Some(mut req) = service_request(project, service, opts)? else {
            continue;
        };
        let image = req.tags[0].clone();
        if !done.insert(image.clone()) {
            continue;
        }
        if only_missing {
            if let Ok(details) = engine.images().inspect(&image) {
                let labels = details
                    .config
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.as_ref());
                if let Some(recorded) = labels.and_then(|l| l.get(INPUTS_LABEL)) {
                    warn_if_inputs_changed(engine, name, &req, recorded);
                }
                continue;
            }
        }
        if let Ok(digest) = inputs_digest(&req, engine.images().root()) {
            req.labels.insert(INPUTS_LABEL.to_string(), digest);
        }
        req.secrets = service_secrets(project, service, opts)?;
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
        secrets: parse_secrets(&args.secrets)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_files_and_variables() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from a file").unwrap();
        let specs = [
            format!("id=a,src={}", file.display()),
            format!("type=file,id=b,source={}", file.display()),
            "id=c,env=PATH".to_string(),
        ];
        let secrets = parse_secrets(&specs).unwrap();
        assert_eq!(secrets["a"].0, b"from a file");
        assert_eq!(secrets["b"].0, b"from a file");
        assert_eq!(secrets["c"].0, std::env::var("PATH").unwrap().into_bytes());
        for (spec, want) in [
            ("src=/x", "give the secret's id"),
            ("id=x,colour=red", "unknown field \"colour=red\""),
            ("id=x,src=/no/such/file", "cannot read /no/such/file"),
            (
                "id=x,env=WHARF_TEST_SURELY_UNSET",
                "WHARF_TEST_SURELY_UNSET is not set",
            ),
        ] {
            let e = format!("{:#}", parse_secrets(&[spec.to_string()]).unwrap_err());
            assert!(e.contains(want), "{spec}: {e}");
        }
    }
}
