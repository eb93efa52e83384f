//! `extends` (same file, other file, chains, cycles) and `include`
//! (paths, project directory, env files, conflicts, cycles).

use super::{error_of, Proj};

#[test]
fn extends_same_file_merges_like_an_override() {
    let p = Proj::with(
        "services:\n  base:\n    image: b\n    environment: [A=1, B=2]\n    ports: [\"80\"]\n    command: base\n  web:\n    extends: base\n    environment: {B: \"3\"}\n    ports: [\"81\"]\n    command: own\n  deeper:\n    extends: {service: web}\n    image: d\n",
    );
    let project = p.load().unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("b"));
    assert_eq!(web.environment["A"], "1");
    assert_eq!(web.environment["B"], "3");
    assert_eq!(
        web.ports.iter().map(|p| p.target).collect::<Vec<_>>(),
        [80, 81]
    );
    assert_eq!(web.command, Some(vec!["own".to_string()]));
    let deeper = &project.services["deeper"];
    assert_eq!(deeper.image.as_deref(), Some("d"));
    assert_eq!(deeper.environment["B"], "3");
}

#[test]
fn extends_other_file_resolves_its_paths_there() {
    let p = Proj::with(
        "services:\n  web:\n    extends:\n      file: lib/common.yaml\n      service: app\n    volumes: [\"./mine:/mine\"]\n",
    );
    p.file(
        "lib/common.yaml",
        "services:\n  app:\n    build: ./ctx\n    volumes: [\"./data:/data\"]\n    env_file: [app.env]\n",
    );
    p.file("lib/app.env", "FROM_FILE=yes\n");
    let project = p.load().unwrap();
    let web = &project.services["web"];
    let lib = p.path("lib");
    assert_eq!(web.build.as_ref().unwrap().context, lib.join("ctx"));
    let sources: Vec<String> = web
        .volumes
        .iter()
        .filter_map(|v| v.source.clone())
        .collect();
    assert_eq!(
        sources,
        [super::abs(&lib.join("data")), super::abs(&p.path("mine"))]
    );
    assert_eq!(web.environment["FROM_FILE"], "yes");
}

#[test]
fn extends_errors() {
    assert_eq!(
        error_of(
            "services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: x\n    extends: a\n"
        ),
        "compose.yaml:4:5: services.a.extends: extends cycle: a -> b -> a"
    );
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    extends: nope\n"),
        "compose.yaml:4:14: services.a.extends.service: service \"nope\" is not defined in this file (services: a)"
    );
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    extends: {service: b, fiel: x}\n  b:\n    image: x\n"),
        "compose.yaml:4:27: services.a.extends: unknown key \"fiel\": did you mean \"file\"?"
    );
    let msg = error_of("services:\n  a:\n    extends: {file: missing.yaml, service: b}\n");
    assert!(
        msg.starts_with("compose.yaml:3:21: services.a.extends.file: cannot read missing.yaml:"),
        "{msg}"
    );
}

#[test]
fn include_adds_a_project_with_its_own_directory_and_env() {
    let p = Proj::with(
        "include:\n  - path: db/compose.yaml\n    env_file: db/db.env\nservices:\n  web:\n    image: web\n    depends_on: [db]\n",
    );
    p.file(
        "db/compose.yaml",
        "services:\n  db:\n    image: postgres:${PG:-15}\n    volumes: [\"./init:/docker-entrypoint-initdb.d\", \"data:/var/lib/postgresql/data\"]\nvolumes:\n  data:\n",
    );
    p.file("db/db.env", "PG=16\n");
    let project = p.load().unwrap();
    let db = &project.services["db"];
    assert_eq!(db.image.as_deref(), Some("postgres:16"));
    assert_eq!(
        db.volumes[0].source.as_deref(),
        Some(super::abs(&p.path("db/init")).as_str())
    );
    assert_eq!(project.volumes["data"].name, "myapp_data");
}

#[test]
fn include_brings_its_models() {
    let p = Proj::with(
        "include: [ai/compose.yaml]\nservices:\n  web:\n    image: web\n    models: [llm]\n",
    );
    p.file(
        "ai/compose.yaml",
        "services:\n  runner:\n    image: r\n    models: [llm]\nmodels:\n  llm:\n    model: ai/smollm2\n",
    );
    let project = p.load().unwrap();
    assert_eq!(project.models["llm"].model, "ai/smollm2");
    let p = Proj::with("include: [ai/compose.yaml]\nservices:\n  web:\n    image: web\nmodels:\n  llm:\n    model: ai/other\n");
    p.file(
        "ai/compose.yaml",
        "services:\n  runner:\n    image: r\nmodels:\n  llm:\n    model: ai/smollm2\n",
    );
    let e = p.load().unwrap_err().to_string();
    assert!(
        e.contains("model \"llm\" is also defined, differently"),
        "{e}"
    );
}

#[test]
fn include_errors() {
    let p = Proj::with("include: [other.yaml]\nservices:\n  web:\n    image: a\n");
    p.file("other.yaml", "services:\n  web:\n    image: b\n");
    let msg = p.load().unwrap_err().to_string();
    assert!(
        msg.starts_with("compose.yaml:3:3: services.web: service \"web\" is also defined, differently, by the file included at other.yaml:2:3"),
        "{msg}"
    );
    let p = Proj::with("include: [other.yaml]\nservices:\n  web:\n    image: a\n");
    p.file(
        "other.yaml",
        "include: [compose.yaml]\nservices:\n  x:\n    image: b\n",
    );
    let msg = p.load().unwrap_err().to_string();
    assert!(msg.contains("include cycle: "), "{msg}");
    assert_eq!(
        error_of("include:\n  - pth: x.yaml\n"),
        "compose.yaml:2:5: include[0]: unknown key \"pth\": did you mean \"path\"?"
    );
}
