//! `docker create` (and the create half of `docker run`): the body checked
//! (refused options, the name docker allows and that is free, mounts and
//! ports), the default network made when needed, the container created.

use super::body::{CreateBody, DEFAULT_NETWORK};
use crate::AppError;
use wharf_engine_api::{ContainerSpec, Engine};

/// A created container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    pub name: String,
    /// docker's warnings for limits the host cannot take and the engine
    /// discarded (`WARNING: …` on docker's standard error).
    pub warnings: Vec<String>,
}

/// Whether docker accepts `name`: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// The spec `body` makes, with its name (given or generated): nothing is
/// created yet.
pub fn spec(engine: &dyn Engine, body: &CreateBody) -> Result<ContainerSpec, AppError> {
    if body.host_config.auto_remove && !body.host_config.restart_policy.is_no() {
        return Err(AppError::Refused(
            "conflicting options: cannot specify both --restart and --rm: a container removed when it exits cannot be restarted; drop one of them".into(),
        ));
    }
    let refused = body.unsupported_fields();
    if !refused.is_empty() {
        return Err(AppError::Unsupported {
            flags: refused.iter().map(|f| f.to_string()).collect(),
            reason: "put the containers on a user network (`wharf network create NET`, \
                     `--network NET`), where they reach each other by name, and publish ports one by one with -p"
                .into(),
        });
    }
    let existing = engine
        .list_containers(&[])
        .map_err(|e| AppError::engine("listing containers", e))?;
    let name = match &body.name {
        Some(name) => {
            let name = name.strip_prefix('/').unwrap_or(name);
            if !valid_name(name) {
                return Err(AppError::InvalidName(name.to_string()));
            }
            if let Some(other) = existing.iter().find(|c| c.name == name) {
                return Err(AppError::NameInUse {
                    name: name.to_string(),
                    id: other.id.clone(),
                });
            }
            name.to_string()
        }
        None => super::names::generate(|n| existing.iter().any(|c| c.name == n)),
    };
    Ok(body.to_spec(&name))
}

/// Create the container `body` describes; it is not started.
/// Limits the host cannot take are discarded first, with docker's warnings.
pub fn create(engine: &dyn Engine, body: &CreateBody) -> Result<Created, AppError> {
    let mut spec = spec(engine, body)?;
    let warnings = super::discard_unsupported_limits(engine, &mut spec.resources);
    if spec.networks.iter().any(|n| n.network == DEFAULT_NETWORK) {
        super::bridge::ensure(engine)?;
    }
    let context = || format!("creating container {}", spec.name);
    engine
        .validate_mounts(&spec)
        .map_err(|e| AppError::engine(context(), e))?;
    engine
        .check_ports(&spec)
        .map_err(|e| AppError::engine(context(), e))?;
    let id = engine
        .create_container(&spec)
        .map_err(|e| AppError::engine(context(), e))?;
    Ok(Created {
        id,
        warnings,
        name: spec.name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_testkit::FakeEngine;

    fn body(name: Option<&str>) -> CreateBody {
        let mut body = CreateBody {
            name: name.map(String::from),
            ..Default::default()
        };
        body.config.image = "busybox".into();
        body
    }

    #[test]
    fn names_follow_docker_rules() {
        assert!(valid_name("con01"));
        assert!(valid_name("a.b-c_d"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("x"));
    }

    #[test]
    fn a_taken_name_gets_dockers_conflict_message() {
        let engine = FakeEngine::new();
        engine.add_image("busybox");
        let first = create(&engine, &body(Some("con01"))).unwrap();
        let err = create(&engine, &body(Some("con01"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Conflict. The container name \"/con01\" is already in use by container \"{}\". \
                 You have to remove (or rename) that container to be able to reuse that name.",
                first.id
            )
        );
    }

    #[test]
    fn the_default_network_is_made_once() {
        let engine = FakeEngine::new();
        engine.add_image("busybox");
        create(&engine, &body(Some("a1"))).unwrap();
        let generated = create(&engine, &body(None)).unwrap();
        assert!(generated.name.contains('_'), "{}", generated.name);
        let networks = engine.list_networks(&[]).unwrap();
        assert_eq!(
            networks.iter().filter(|n| n.name == "bridge").count(),
            1,
            "{networks:?}"
        );
    }

    #[test]
    fn a_weight_the_host_cannot_take_is_warned_about_and_not_stored() {
        let engine = FakeEngine::new();
        engine.add_image("busybox");
        engine.set_block_io_weight_supported(false);
        let mut b = body(Some("weighted"));
        b.host_config.resources.blkio_weight = Some(300);
        let created = create(&engine, &b).unwrap();
        assert_eq!(
            created.warnings,
            ["Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."]
        );
        assert_eq!(
            engine.spec("weighted").unwrap().resources.blkio_weight,
            None
        );
    }

    #[test]
    fn links_are_refused_before_anything_is_made() {
        let engine = FakeEngine::new();
        let mut b = body(Some("web"));
        b.host_config.links = vec!["db".into()];
        let err = create(&engine, &b).unwrap_err();
        assert!(err.to_string().starts_with("--link not supported"), "{err}");
        assert!(engine.list_containers(&[]).unwrap().is_empty());
        assert!(engine.list_networks(&[]).unwrap().is_empty());
    }
}
