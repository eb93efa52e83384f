//! The checked-in JSON Schema is the one the model generates, and it accepts
//! the golden projects.

use std::path::Path;

#[test]
fn checked_in_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/compose.schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == wharf_compose::schema::compose_schema_text(),
        "schema/compose.schema.json is stale: run `cargo run -p wharf-compose --example schema` and commit the result"
    );
}

#[test]
fn schema_describes_short_and_long_forms() {
    let s = wharf_compose::schema::compose_schema();
    let service = &s["$defs"]["Service"]["properties"];
    for key in [
        "image",
        "build",
        "ports",
        "volumes",
        "environment",
        "deploy",
        "develop",
        "post_start",
        "extends",
        "env_file",
    ] {
        assert!(service.get(key).is_some(), "Service.{key} missing");
    }
    assert!(service.get("limits").is_none(), "derived fields stay out");
    assert!(s["properties"].get("services").is_some());
    assert!(s["properties"].get("include").is_some());
    assert_eq!(
        s["$defs"]["VolumeKind"]["enum"],
        serde_json::json!(["bind", "volume", "tmpfs", "npipe"])
    );
    assert!(s["$defs"]["Service"].get("required").is_none());
}
