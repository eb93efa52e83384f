//! Conformance details of docker compose's loader that are not golden
//! cases: what it refuses among devices, build keys, pull policies and models.

use super::error_of;

#[test]
fn device_count_and_ids_are_exclusive() {
    let e = error_of(
        "services:\n  a:\n    image: x\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - capabilities: [gpu]\n              count: 1\n              device_ids: [\"0\"]\n",
    );
    assert_eq!(
        e,
        "compose.yaml:10:27: services.a.deploy.resources.reservations.devices[0].device_ids: count and device_ids cannot be set together: keep one of them"
    );
}

#[test]
fn a_device_reservation_needs_capabilities() {
    let e = error_of(
        "services:\n  a:\n    image: x\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n",
    );
    assert_eq!(
        e,
        "compose.yaml:8:15: services.a.deploy.resources.reservations.devices[0]: capabilities is required: name what the devices are for, like [gpu]"
    );
}

#[test]
fn unknown_build_keys_are_refused() {
    let e = error_of("services:\n  a:\n    build:\n      context: .\n      no_cache_filter: [x]\n");
    assert!(
        e.starts_with("compose.yaml:5:7: services.a.build: unknown key \"no_cache_filter\""),
        "{e}"
    );
}

#[test]
fn build_ssh_is_a_list_or_a_mapping() {
    let e = error_of("services:\n  a:\n    build:\n      context: .\n      ssh: default\n");
    assert!(
        e.starts_with("compose.yaml:5:12: services.a.build.ssh:"),
        "{e}"
    );
}

#[test]
fn tmpfs_size_is_a_size() {
    let e = error_of(
        "services:\n  a:\n    image: x\n    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs:\n          size: \"abc\"\n",
    );
    assert!(
        e.starts_with("compose.yaml:8:17: services.a.volumes[0].tmpfs.size: invalid size \"abc\""),
        "{e}"
    );
}

#[test]
fn pull_policy_every_takes_the_schemas_units() {
    for ok in [
        "every_2d",
        "every_1w",
        "every_12h",
        "every_1h30m",
        "every_10s",
    ] {
        super::load_yaml(&format!(
            "services:\n  a:\n    image: x\n    pull_policy: {ok}\n"
        ));
    }
    for bad in ["every_", "every_2", "every_d", "every_500ms", "every_2x"] {
        let e = error_of(&format!(
            "services:\n  a:\n    image: x\n    pull_policy: {bad}\n"
        ));
        assert!(e.contains("invalid pull policy"), "{bad}: {e}");
    }
}

#[test]
fn a_service_using_an_undefined_model_is_refused() {
    let e = error_of("services:\n  a:\n    image: x\n    models: [llm]\n");
    assert_eq!(
        e,
        "compose.yaml:4:14: services.a.models: model \"llm\" is not defined in the top-level models: add it there"
    );
    let e = error_of("models:\n  llm: {}\nservices:\n  a:\n    image: x\n");
    assert_eq!(
        e,
        "compose.yaml:2:8: models.llm: model is required: the model to run, like ai/smollm2"
    );
}

#[test]
fn models_are_read_in_both_forms() {
    let p = super::load_yaml(
        "models:\n  llm:\n    model: ai/smollm2\n    context_size: 4096\n  embed:\n    model: ai/mxbai\nservices:\n  a:\n    image: x\n    models: [llm]\n  b:\n    image: x\n    models:\n      embed:\n        endpoint_var: EMBED_URL\n",
    );
    assert_eq!(
        p.services["a"].models,
        [("llm".to_string(), wharf_compose::ServiceModel::default())].into()
    );
    assert_eq!(
        p.services["b"].models["embed"].endpoint_var.as_deref(),
        Some("EMBED_URL")
    );
}

/// `llm: {}` prints as `{}` and a bare `llm` as null, as docker compose
/// prints a service's models (a pointer to an empty struct or none).
#[test]
fn an_empty_model_mapping_prints_as_a_mapping() {
    let p = super::load_yaml(
        "models:\n  llm:\n    model: ai/smollm2\nservices:\n  a:\n    image: x\n    models: [llm]\n  b:\n    image: x\n    models:\n      llm: {}\n",
    );
    let json = wharf_compose::render::render(&p, wharf_compose::render::Format::Json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["services"]["a"]["models"]["llm"], serde_json::Value::Null);
    assert_eq!(v["services"]["b"]["models"]["llm"], serde_json::json!({}));
}
