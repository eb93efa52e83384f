//! The conversion's options (the command's flags) and their checks.

use crate::error::KubeError;
use crate::names;

/// The workload of a service that mounts a named volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Controller {
    #[default]
    Deployment,
    StatefulSet,
}

/// The Service type of published ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceType {
    #[default]
    LoadBalancer,
    NodePort,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::NodePort => "NodePort",
        }
    }
}

/// The image of the init containers that wait for a Service.
pub const DEFAULT_WAIT_IMAGE: &str = "busybox:1.36";
/// The image of the init containers that wait for a Job (it runs `kubectl wait`).
pub const DEFAULT_KUBECTL_IMAGE: &str = "bitnami/kubectl:1.30";
/// The size requested by each PersistentVolumeClaim.
pub const DEFAULT_VOLUME_SIZE: &str = "1Gi";

#[derive(Debug, Clone)]
pub struct Options {
    /// `metadata.namespace` of every object; none: the namespace `kubectl` uses.
    pub namespace: Option<String>,
    pub controller: Controller,
    pub storage_class: Option<String>,
    /// HTTP ports become an Ingress for this host.
    pub ingress_host: Option<String>,
    pub service_type: ServiceType,
    pub wait_image: String,
    pub kubectl_image: String,
    pub volume_size: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: None,
            controller: Controller::Deployment,
            storage_class: None,
            ingress_host: None,
            service_type: ServiceType::LoadBalancer,
            wait_image: DEFAULT_WAIT_IMAGE.into(),
            kubectl_image: DEFAULT_KUBECTL_IMAGE.into(),
            volume_size: DEFAULT_VOLUME_SIZE.into(),
        }
    }
}

/// Whether `s` is a DNS-1123 subdomain (dot-separated labels, at most 253).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

impl Options {
    pub fn validate(&self) -> Result<(), KubeError> {
        if let Some(ns) = &self.namespace {
            if names::dns_label(ns, names::MAX_LABEL) != *ns {
                return Err(KubeError::Option {
                    option: "--namespace",
                    message: format!("{ns:?} is not a DNS label (lowercase letters, digits and `-`, at most 63, starting with a letter)"),
                });
            }
        }
        if let Some(class) = &self.storage_class {
            if !is_dns_subdomain(class) {
                return Err(KubeError::Option {
                    option: "--storage-class",
                    message: format!(
                        "{class:?} is not a valid StorageClass name (a DNS subdomain)"
                    ),
                });
            }
        }
        if let Some(host) = &self.ingress_host {
            let wildcard = host.strip_prefix("*.").unwrap_or(host);
            if !is_dns_subdomain(wildcard) {
                return Err(KubeError::Option {
                    option: "--ingress-host",
                    message: format!("{host:?} is not a host name (lowercase DNS name, no port)"),
                });
            }
        }
        let size_ok = self
            .volume_size
            .strip_suffix(['i'])
            .and_then(|s| s.strip_suffix(['K', 'M', 'G', 'T', 'P']))
            .unwrap_or(&self.volume_size);
        if size_ok.is_empty() || !size_ok.chars().all(|c| c.is_ascii_digit()) {
            return Err(KubeError::Option {
                option: "--volume-size",
                message: format!("{:?} is not a size like 1Gi or 500Mi", self.volume_size),
            });
        }
        Ok(())
    }
}
