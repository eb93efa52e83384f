//! `wharf convert kubernetes`: the project as `config` resolves it, written
//! as Kubernetes manifests (one file per object into a directory, or one
//! `---`-separated stream on standard output), with every Compose key the
//! conversion changed or dropped reported on standard error.

use crate::context::GlobalOptions;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write as _;
use std::path::PathBuf;
use wharf_kube::{options, Controller, Options, ServiceType};

#[derive(Subcommand, Debug)]
pub enum ConvertCommand {
    /// Convert the project to Kubernetes manifests
    ///
    /// Every Compose key is converted or reported on standard error by its
    /// path, one line each (or as JSON with --report json).
    Kubernetes(KubernetesArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ControllerArg {
    Deployment,
    Statefulset,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ServiceTypeArg {
    Loadbalancer,
    Nodeport,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct KubernetesArgs {
    /// Directory to write one file per object into, or `-` for one YAML stream on stdout
    #[arg(short, long, default_value = "kubernetes")]
    pub output: String,
    /// Namespace of every object (default: none, the one kubectl uses)
    #[arg(long)]
    pub namespace: Option<String>,
    /// Workload of a service that mounts a named volume
    #[arg(long, value_enum, default_value = "deployment")]
    pub controller: ControllerArg,
    /// StorageClass of the volume claims (default: the cluster's default class)
    #[arg(long)]
    pub storage_class: Option<String>,
    /// Size each volume claim requests
    #[arg(long, default_value = options::DEFAULT_VOLUME_SIZE)]
    pub volume_size: String,
    /// Route published HTTP ports through an Ingress for this host
    #[arg(long)]
    pub ingress_host: Option<String>,
    /// Service type of the other published ports
    #[arg(long, value_enum, default_value = "loadbalancer")]
    pub service_type: ServiceTypeArg,
    /// Image of the init containers that wait for a dependency's Service
    #[arg(long, default_value = options::DEFAULT_WAIT_IMAGE)]
    pub wait_image: String,
    /// Image of the init containers that wait for a Job (runs `kubectl wait`)
    #[arg(long, default_value = options::DEFAULT_KUBECTL_IMAGE)]
    pub kubectl_image: String,
    /// Format of what is reported on stderr
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
}

/// Removes the manifests an earlier conversion wrote into `dir` that this one
/// does not write again (a service removed since); other files stay.
fn remove_stale(dir: &std::path::Path, conversion: &wharf_kube::Conversion) -> Result<()> {
    let keep: std::collections::BTreeSet<String> =
        conversion.manifests.iter().map(|m| m.file_name()).collect();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.ends_with(".yaml") || keep.contains(&name) {
            continue;
        }
        let ours = std::fs::read_to_string(entry.path())
            .is_ok_and(|text| text.contains("\n    app.kubernetes.io/managed-by: wharf\n"));
        if ours {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing the stale {}", entry.path().display()))?;
            eprintln!(
                "removed {} (no longer in the project)",
                entry.path().display()
            );
        }
    }
    Ok(())
}

pub fn convert(global: &GlobalOptions, command: ConvertCommand) -> Result<i32> {
    let ConvertCommand::Kubernetes(args) = command;
    let project = global.load_project()?;
    let options = Options {
        namespace: args.namespace,
        controller: match args.controller {
            ControllerArg::Deployment => Controller::Deployment,
            ControllerArg::Statefulset => Controller::StatefulSet,
        },
        storage_class: args.storage_class,
        ingress_host: args.ingress_host,
        service_type: match args.service_type {
            ServiceTypeArg::Loadbalancer => ServiceType::LoadBalancer,
            ServiceTypeArg::Nodeport => ServiceType::NodePort,
        },
        wait_image: args.wait_image,
        kubectl_image: args.kubectl_image,
        volume_size: args.volume_size,
    };
    let conversion = wharf_kube::convert(&project, &options)?;
    if args.output == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(conversion.to_stream().as_bytes())
            .and_then(|()| out.flush())
            .context("writing to standard output")?;
    } else {
        let dir = PathBuf::from(&args.output);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        remove_stale(&dir, &conversion)?;
        for manifest in &conversion.manifests {
            let path = dir.join(manifest.file_name());
            std::fs::write(&path, manifest.to_yaml())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        eprintln!(
            "wrote {} manifests to {}",
            conversion.manifests.len(),
            dir.display()
        );
    }
    match args.report {
        ReportFormat::Text => eprint!("{}", conversion.report.to_text()),
        ReportFormat::Json => eprintln!("{}", conversion.report.to_json()),
    }
    Ok(0)
}
