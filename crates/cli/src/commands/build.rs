//! `wharf build` (the services with `build:`, built by the application core)
//! and `wharf image build` (one image from a Dockerfile): their flags. Progress
//! is docker's plain build output on stderr (`render::events`): `#3 [web 2/5]
//! RUN …`, the step's output, `CACHED`, `DONE 0.4s`.

use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use wharf_app::build::BuildOptions;
use wharf_app::{ImageSource, LocalImages};
use wharf_image::build::{BuildRequest, SecretValue};

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
    let mut view = View::new(global);
    view.build_silent = args.quiet;
    let id = LocalImages::new(&engine, global.registry()?).build(&req, &view)?;
    if args.quiet {
        println!("{id}");
    }
    Ok(0)
}

/// `wharf build`.
pub fn build(global: &GlobalOptions, args: BuildArgs) -> Result<i32> {
    let project = global.load_project()?;
    let engine = global.engine()?;
    let options = BuildOptions {
        no_cache: args.no_cache,
        pull: args.pull,
        build_args: parse_pairs(&args.build_args, "--build-arg")?,
        secrets: parse_secrets(&args.secrets)?,
    };
    let mut view = View::new(global);
    view.build_silent |= args.quiet;
    view.build_ids = args.quiet;
    let images = LocalImages::new(&engine, global.registry()?);
    wharf_app::build::build_services(&images, &project, &args.services, &options, false, &view)?;
    Ok(0)
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
