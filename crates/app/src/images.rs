//! The image work the core needs and the engine trait does not cover —
//! is an image local, pull it, build it, remove it — behind
//! [`ImageSource`], so the core runs against the fake engine with an
//! in-memory source in tests. [`LocalImages`] is the real one: wharf-image's
//! store, registry client and builder, wired through the Linux engine.

use crate::event::{Event, Reporter};
use crate::registry::RegistrySettings;
use crate::{error_chain, AppError};
use wharf_engine::LinuxEngine;
use wharf_engine_api::EngineError;
use wharf_image::build::{inputs_digest, BuildRequest, Builder, INPUTS_LABEL};
use wharf_image::ImageError;

/// Local images, registries and the builder, as the core uses them.
pub trait ImageSource: Sync {
    /// Whether `reference` (a name or an id) is in the local store.
    fn exists(&self, reference: &str) -> bool;
    /// Pull `reference` (for `platform`, `os/arch[/variant]`) into the store.
    fn pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        reporter: &dyn Reporter,
    ) -> Result<(), ImageError>;
    /// Push the local image `reference` to its registry.
    fn push(&self, reference: &str, reporter: &dyn Reporter) -> Result<(), AppError>;
    /// Build `request`; its steps are reported as [`Event::Build`]. Returns
    /// the image id.
    fn build(&self, request: &BuildRequest, reporter: &dyn Reporter) -> Result<String, AppError>;
    /// The digest of `request`'s inputs (Dockerfile, context, args), recorded
    /// in the image as [`INPUTS_LABEL`]; `None` when it cannot be computed.
    fn inputs_digest(&self, request: &BuildRequest) -> Option<String>;
    /// The inputs digest recorded in the local image `reference`, if any.
    fn recorded_inputs(&self, reference: &str) -> Option<String>;
    /// Remove the local image `reference` (refused while a container uses it).
    fn remove(&self, reference: &str) -> Result<(), EngineError>;
    /// Remove dangling images no container uses.
    fn prune_dangling(&self) -> Result<(), AppError>;
}

/// [`ImageSource`] of the Linux engine.
pub struct LocalImages<'a> {
    engine: &'a LinuxEngine,
    registry: RegistrySettings,
}

impl<'a> LocalImages<'a> {
    /// Images of `engine`, pulled and pushed with the front's `registry`
    /// settings.
    pub fn new(engine: &'a LinuxEngine, registry: RegistrySettings) -> Self {
        LocalImages { engine, registry }
    }
}

impl std::fmt::Debug for LocalImages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalImages").finish_non_exhaustive()
    }
}

impl ImageSource for LocalImages<'_> {
    fn exists(&self, reference: &str) -> bool {
        self.engine.images().image_id(reference).is_ok()
    }

    fn pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        _reporter: &dyn Reporter,
    ) -> Result<(), ImageError> {
        let options = self.registry.pull_options(reference, platform)?;
        self.engine
            .images()
            .pull(reference, &options, &|_| {})
            .map(drop)
    }

    fn push(&self, reference: &str, _reporter: &dyn Reporter) -> Result<(), AppError> {
        let options = self.registry.push_options(reference)?;
        self.engine
            .images()
            .push(reference, &options, &|_| {})
            .map(drop)
            .map_err(|e| AppError::Store(Box::new(e)))
    }

    fn build(&self, request: &BuildRequest, reporter: &dyn Reporter) -> Result<String, AppError> {
        let events = |event| reporter.report(Event::Build(event));
        let puller = |name: &str| -> Result<(), ImageError> {
            self.pull(name, None, reporter)
                .map_err(|e| ImageError::Conflict(format!("pulling {name}: {}", error_chain(&e))))
        };
        let cache_mounts = self.engine.build_cache_mounts();
        let builder = Builder {
            store: self.engine.images(),
            executor: self.engine,
            events: &events,
            puller: Some(&puller),
            cache_mount_root: &cache_mounts,
        };
        Ok(builder.build(request)?.id)
    }

    fn inputs_digest(&self, request: &BuildRequest) -> Option<String> {
        inputs_digest(request, self.engine.images().root()).ok()
    }

    fn recorded_inputs(&self, reference: &str) -> Option<String> {
        let details = self.engine.images().inspect(reference).ok()?;
        details
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|labels| labels.get(INPUTS_LABEL))
            .cloned()
    }

    fn remove(&self, reference: &str) -> Result<(), EngineError> {
        self.engine.remove_image(reference, false).map(drop)
    }

    fn prune_dangling(&self) -> Result<(), AppError> {
        self.engine
            .prune_images(false)
            .map(drop)
            .map_err(|e| AppError::engine("pruning dangling images", e))
    }
}
