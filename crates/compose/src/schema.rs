//! The JSON Schema of the Compose file as wharf reads it, generated from the
//! typed model with `schemars` and checked in as `schema/compose.schema.json`.
//!
//! The model holds the canonical long forms; a table keyed by (type, field)
//! widens the fields whose file syntax also has short forms (`ports: ["80"]`,
//! `command: "a b"`, …), adds the keys the loader resolves away (`extends`,
//! `env_file`, `include`, `version`), and every object accepts `x-*` keys.
//! Numbers and booleans also accept strings (they may come from `${VAR}`).

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

fn string_or_list() -> Value {
    json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": ["string", "number"]}}, {"type": "null"}]})
}

fn list_or_dict() -> Value {
    json!({"anyOf": [
        {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"}
    ]})
}

fn size() -> Value {
    json!({"type": ["integer", "string", "null"], "description": "bytes, or a size like 64M, 1g, 512k"})
}

fn short_or(reference: &str, short: Value) -> Value {
    json!({"anyOf": [short, {"$ref": format!("#/$defs/{reference}")}]})
}

fn list_of_short_or(reference: &str, short: Value) -> Value {
    json!({"type": ["array", "null"], "items": short_or(reference, short)})
}

/// (definition, field) → schema for the file's syntax.
fn widened() -> Vec<(&'static str, &'static str, Value)> {
    let string = json!({"type": "string"});
    let env_file_item = json!({"anyOf": [
        {"type": "string"},
        {"type": "object", "properties": {
            "path": {"type": "string"},
            "required": {"type": ["boolean", "string"]},
            "format": {"type": "string"}
        }, "required": ["path"], "additionalProperties": false}
    ]});
    vec![
        (
            "Service",
            "build",
            json!({"anyOf": [{"type": "string"}, {"$ref": "#/$defs/Build"}]}),
        ),
        ("Service", "command", string_or_list()),
        ("Service", "entrypoint", string_or_list()),
        ("Service", "environment", list_or_dict()),
        ("Service", "labels", list_or_dict()),
        ("Service", "annotations", list_or_dict()),
        ("Service", "sysctls", list_or_dict()),
        (
            "Service",
            "ports",
            list_of_short_or("ServicePort", json!({"type": ["string", "number"]})),
        ),
        (
            "Service",
            "volumes",
            list_of_short_or("ServiceVolume", string.clone()),
        ),
        (
            "Service",
            "devices",
            list_of_short_or("DeviceMapping", string.clone()),
        ),
        (
            "Service",
            "secrets",
            list_of_short_or("ServiceFileRef", string.clone()),
        ),
        (
            "Service",
            "configs",
            list_of_short_or("ServiceFileRef", string.clone()),
        ),
        (
            "Service",
            "depends_on",
            json!({"anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"anyOf": [{"$ref": "#/$defs/ServiceDependency"}, {"type": "null"}]}}
            ]}),
        ),
        (
            "Service",
            "networks",
            json!({"anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"anyOf": [{"$ref": "#/$defs/ServiceNetwork"}, {"type": "null"}]}}
            ]}),
        ),
        ("Service", "dns", string_or_list()),
        ("Service", "dns_opt", string_or_list()),
        ("Service", "dns_search", string_or_list()),
        ("Service", "tmpfs", string_or_list()),
        ("Service", "expose", string_or_list()),
        ("Service", "label_file", string_or_list()),
        (
            "Service",
            "extra_hosts",
            json!({"anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}
            ]}),
        ),
        (
            "Service",
            "ulimits",
            json!({"type": "object", "additionalProperties": {"anyOf": [
                {"type": ["integer", "string"]},
                {"type": "object", "properties": {"soft": {"type": ["integer", "string"]}, "hard": {"type": ["integer", "string"]}}, "required": ["soft", "hard"], "additionalProperties": false}
            ]}}),
        ),
        (
            "Service",
            "gpus",
            json!({"anyOf": [{"const": "all"}, {"type": "array", "items": {"$ref": "#/$defs/DeviceRequest"}}]}),
        ),
        (
            "Service",
            "models",
            json!({"anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"anyOf": [{"$ref": "#/$defs/ServiceModel"}, {"type": "null"}]}}
            ]}),
        ),
        ("Service", "mem_limit", size()),
        ("Service", "mem_reservation", size()),
        ("Service", "memswap_limit", size()),
        ("Service", "shm_size", size()),
        (
            "Service",
            "extends",
            json!({"anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"service": {"type": "string"}, "file": {"type": "string"}}, "required": ["service"], "additionalProperties": false}
            ]}),
        ),
        (
            "Service",
            "env_file",
            json!({"anyOf": [env_file_item.clone(), {"type": "array", "items": env_file_item}]}),
        ),
        ("Build", "args", list_or_dict()),
        ("Build", "labels", list_or_dict()),
        ("Build", "additional_contexts", list_or_dict()),
        ("Build", "cache_from", string_or_list()),
        ("Build", "cache_to", string_or_list()),
        ("Build", "tags", string_or_list()),
        ("Build", "platforms", string_or_list()),
        (
            "Build",
            "ssh",
            json!({"anyOf": [string_or_list(), list_or_dict()]}),
        ),
        (
            "Build",
            "secrets",
            list_of_short_or("ServiceFileRef", string.clone()),
        ),
        ("Build", "shm_size", size()),
        (
            "Build",
            "extra_hosts",
            json!({"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]}),
        ),
        ("Build", "context", json!({"type": "string"})),
        ("Healthcheck", "test", string_or_list()),
        ("Resource", "memory", size()),
        ("TmpfsOptions", "size", size()),
        ("ThrottleDevice", "rate", size()),
        ("ServiceHook", "command", string_or_list()),
        ("ServiceHook", "environment", list_or_dict()),
        ("WatchRule", "path", string.clone()),
        ("WatchRule", "ignore", string_or_list()),
        ("Network", "labels", list_or_dict()),
        (
            "Network",
            "external",
            json!({"anyOf": [{"type": ["boolean", "string"]}, {"type": "object", "properties": {"name": {"type": "string"}}}]}),
        ),
        ("Volume", "labels", list_or_dict()),
        (
            "Volume",
            "external",
            json!({"anyOf": [{"type": ["boolean", "string"]}, {"type": "object", "properties": {"name": {"type": "string"}}}]}),
        ),
        ("FileObject", "labels", list_or_dict()),
        ("FileObject", "file", string.clone()),
        (
            "Project",
            "include",
            json!({"type": "array", "items": {"anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {
                    "path": string_or_list(),
                    "project_directory": {"type": "string"},
                    "env_file": string_or_list()
                }, "required": ["path"], "additionalProperties": false}
            ]}}),
        ),
        (
            "Project",
            "version",
            json!({"type": "string", "description": "obsolete, ignored"}),
        ),
        (
            "Project",
            "services",
            json!({"type": "object", "additionalProperties": {"$ref": "#/$defs/Service"}, "patternProperties": {"^x-": {}}}),
        ),
    ]
}

/// Also accept strings where numbers or booleans are expected; allow `x-*` keys.
fn loosen(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(t) = o.get_mut("type") {
                let ts: Vec<String> = match t {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect(),
                    _ => Vec::new(),
                };
                if ts
                    .iter()
                    .any(|t| matches!(t.as_str(), "integer" | "number" | "boolean"))
                    && !ts.iter().any(|t| t == "string")
                {
                    let mut all = ts.clone();
                    all.push("string".into());
                    *t = Value::Array(all.into_iter().map(Value::String).collect());
                    o.remove("format");
                    o.remove("minimum");
                    o.remove("maximum");
                }
            }
            if o.contains_key("properties") {
                o.insert("additionalProperties".into(), Value::Bool(false));
                o.insert("patternProperties".into(), json!({"^x-": {}}));
            }
            for (_, child) in o.iter_mut() {
                loosen(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(loosen),
        _ => {}
    }
}

/// The schema, as checked in.
pub fn compose_schema() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let root = generator.into_root_schema_for::<crate::model::Project>();
    let mut v = root.to_value();
    // The root is the Project definition itself: move it to $defs too, to widen it alike.
    let mut defs: Map<String, Value> = v
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut project = v.as_object().cloned().unwrap_or_default();
    project.remove("$defs");
    project.remove("$schema");
    defs.insert("Project".into(), Value::Object(project));
    // Rust's non-optional fields are defaults in the file, not required keys.
    for d in defs.values_mut() {
        if let Some(o) = d.as_object_mut() {
            o.remove("required");
        }
    }
    for (def, field, schema) in widened() {
        if let Some(props) = defs
            .get_mut(def)
            .and_then(|d| d.get_mut("properties"))
            .and_then(Value::as_object_mut)
        {
            props.insert(field.into(), schema);
        }
    }
    let mut root_props = defs
        .remove("Project")
        .and_then(|p| p.get("properties").cloned())
        .unwrap_or_else(|| json!({}));
    if let Some(o) = root_props.as_object_mut() {
        let sorted: Map<String, Value> = std::mem::take(o).into_iter().collect();
        *o = sorted;
    }
    v = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Compose file (wharf)",
        "description": "The Compose file as wharf reads it. Generated from the typed model by `cargo run -p wharf-compose --example schema`; do not edit.",
        "type": "object",
        "properties": root_props,
        "$defs": Value::Object(defs),
    });
    loosen(&mut v);
    v
}

/// The schema as the checked-in file's text (pretty JSON, final newline).
pub fn compose_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&compose_schema()).unwrap_or_default();
    s.push('\n');
    s
}
