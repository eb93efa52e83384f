//! Writes `schema/compose.schema.json` (the JSON Schema of the Compose file
//! as wharf reads it) from the typed model:
//! `cargo run -p wharf-compose --example schema`.

fn main() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/compose.schema.json");
    if let Err(e) = std::fs::write(&path, wharf_compose::schema::compose_schema_text()) {
        eprintln!("error: writing {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
