//! `wharf container inspect` and `wharf inspect`: docker's JSON documents of
//! containers, and of any object by name (container, image, volume,
//! network, tried in docker's order, or as `--type` says).

use crate::context::GlobalOptions;
use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value;
use wharf_engine::LinuxEngine;
use wharf_engine_api::{Engine, VolumeEngine};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output: json (Go templates are not available yet)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Return JSON for specified type (container, image, volume, network)
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// The inspect document of a container.
pub fn container_document(engine: &LinuxEngine, name: &str) -> Result<Value> {
    let info = engine.inspect_container(name)?;
    let details = engine.container_details(&info.id)?;
    Ok(wharf_app::docker::inspect::container(&info, &details))
}

/// The document of the object `name` of `kind` (any kind when `None`).
fn document(engine: &LinuxEngine, kind: Option<&str>, name: &str) -> Result<Value> {
    let want = |k: &str| kind.is_none_or(|w| w == k);
    if want("container") {
        if let Ok(doc) = container_document(engine, name) {
            return Ok(doc);
        }
    }
    if want("image") {
        if let Ok(details) = engine.images().inspect(name) {
            return Ok(super::super::image::inspect_json(&details));
        }
    }
    if want("volume") {
        if let Ok(volume) = engine.inspect_volume(name) {
            return Ok(super::super::volume::inspect_json(&volume));
        }
    }
    if want("network") {
        let networks = engine.list_networks(&[])?;
        if let Some(network) = super::super::network::find(&networks, name) {
            return Ok(super::super::network::inspect_json(
                network,
                &engine.list_containers(&[])?,
            ));
        }
    }
    bail!("No such object: {name}")
}

/// Print the documents as a JSON array; every name that is not found is
/// reported and makes the exit code 1, as docker.
pub fn inspect(global: &GlobalOptions, args: InspectArgs, container_only: bool) -> Result<i32> {
    if let Some(text) = args.format.as_deref() {
        // A bad template is refused before anything is looked up.
        crate::render::format::inspect("--format", Some(text), &[])?;
    }
    let kind = if container_only {
        Some("container")
    } else {
        match args.kind.as_deref() {
            None => None,
            Some(k @ ("container" | "image" | "volume" | "network")) => Some(k),
            Some(other) => bail!("--type {other:?}: use container, image, volume or network"),
        }
    };
    let engine = global.engine()?;
    let mut found = Vec::new();
    let mut failed = Vec::new();
    for name in &args.names {
        match document(&engine, kind, name) {
            Ok(doc) => found.push(doc),
            Err(_) if container_only => failed.push(format!("No such container: {name}")),
            Err(e) => failed.push(e.to_string()),
        }
    }
    print!(
        "{}",
        crate::render::format::inspect("--format", args.format.as_deref(), &found)?
    );
    if failed.is_empty() {
        Ok(0)
    } else {
        bail!(failed.join("\n"))
    }
}
