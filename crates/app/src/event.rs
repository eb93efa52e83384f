//! What the core tells a front while it works: resource progress from the
//! orchestrator, image pulls and builds, removals and warnings. A front
//! renders them (progress blocks, plain lines, JSON, an API stream); the
//! core never prints.

use std::time::Duration;
use wharf_image::build::BuildEvent;

/// One thing that happened during an operation.
#[derive(Debug, Clone)]
pub enum Event {
    /// A network, container or volume changed (converge, `down`, `--wait`).
    Resource(wharf_orchestrator::Event),
    /// The pull of one image; `services` names the services that use it.
    Pull {
        services: String,
        status: PullStatus,
    },
    /// The push of one image (`push`).
    Push { image: String, status: PushStatus },
    /// A step of an image build.
    Build(BuildEvent),
    /// A service's image was built.
    Built {
        service: String,
        id: String,
        elapsed: Duration,
    },
    /// An image being removed (`down --rmi`).
    Image { image: String, status: ImageStatus },
    /// A container operation that is not a plan step (`kill`, `pause`).
    Container {
        name: String,
        status: ContainerStatus,
    },
    /// A copy into or out of one container (`cp`); `label` says what is
    /// copied where, as docker compose shows it.
    Copy { label: String, status: CopyStatus },
    /// What a watch of `develop.watch` rules did.
    Watch(crate::watch::WatchEvent),
    /// Something the user should know that does not stop the operation.
    Warning(String),
}

/// Where the pull of one image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullStatus {
    /// Not pulled: the policy says so, or the image is present
    /// (docker compose's `Skipped - Image is already present locally`).
    Skipped(&'static str),
    Pulling,
    Pulled,
    /// The pull failed but that is allowed (the service can be built, or
    /// failures are ignored): the error, to show as a warning.
    Ignored(String),
    /// The pull failed: the error.
    Failed(String),
}

/// Where a signal or pause of one container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerStatus {
    Killing,
    Killed,
    Paused,
    Unpaused,
    Failed,
}

/// Where the copy of one container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyStatus {
    Copying,
    Copied,
    Failed,
}

/// Where the push of one image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStatus {
    Pushing,
    Pushed,
    /// The push failed but failures are ignored: the error, as a warning.
    Ignored(String),
    /// The push failed: the error.
    Failed(String),
}

/// Where the removal of one image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageStatus {
    Removing,
    Removed,
    Failed(String),
}

/// Receives the events of an operation; called from several threads.
pub trait Reporter: Sync {
    fn report(&self, event: Event);
}

impl<F: Fn(Event) + Sync> Reporter for F {
    fn report(&self, event: Event) {
        self(event)
    }
}
