//! docker's default network: `bridge`, on the host bridge `wharf0` (docker's
//! is `docker0`), with a subnet from the engine's IPAM (which avoids the
//! host's routes). Made the first time a container needs it; labelled so
//! that the engine gives its containers no name resolution, as docker's.

use crate::AppError;
use wharf_engine_api::{labels, Engine, EngineError, NetworkSpec};

/// The host interface of the default network.
pub const BRIDGE_INTERFACE: &str = "wharf0";

/// Create the default network unless it exists.
pub fn ensure(engine: &dyn Engine) -> Result<(), AppError> {
    let exists = |engine: &dyn Engine| -> Result<bool, AppError> {
        Ok(engine
            .list_networks(&[])
            .map_err(|e| AppError::engine("listing networks", e))?
            .iter()
            .any(|n| n.name == super::body::DEFAULT_NETWORK))
    };
    if exists(engine)? {
        return Ok(());
    }
    let spec = NetworkSpec {
        name: super::body::DEFAULT_NETWORK.into(),
        bridge_name: Some(BRIDGE_INTERFACE.into()),
        labels: [(labels::DEFAULT_BRIDGE.to_string(), "true".to_string())].into(),
        ..Default::default()
    };
    match engine.create_network(&spec) {
        Ok(_) => Ok(()),
        // Another command made it at the same moment.
        Err(EngineError::Conflict { .. }) => Ok(()),
        Err(e) if exists(engine)? => {
            let _ = e;
            Ok(())
        }
        Err(e) => Err(AppError::engine(
            "creating the default network \"bridge\"",
            e,
        )),
    }
}
