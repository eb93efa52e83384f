//! File discovery, override files, project directory and project name.

use super::Proj;
use std::path::PathBuf;
use wharf_compose::{discover::normalize_project_name, load_with_stdin, LoadOptions};

const SVC: &str = "services:\n  a:\n    image: x\n";

#[test]
fn discovers_in_preference_order_with_override() {
    let p = Proj::new();
    p.file("docker-compose.yml", "services:\n  old:\n    image: x\n");
    p.file("compose.yml", "services:\n  a:\n    image: base\n");
    p.file(
        "compose.override.yaml",
        "services:\n  a:\n    image: over\n",
    );
    let project = p.load().unwrap();
    assert_eq!(
        project.config_files,
        vec![p.path("compose.yml"), p.path("compose.override.yaml")]
    );
    assert_eq!(project.services["a"].image.as_deref(), Some("over"));
    assert!(!project.services.contains_key("old"));
    assert!(project.warnings[0].starts_with("Found multiple config files with supported names: "));
}

#[test]
fn discovers_in_parent_directories() {
    let p = Proj::with(SVC);
    p.file("sub/deeper/keep", "");
    let project = p.load_with(|o| o.cwd = p.path("sub/deeper")).unwrap();
    assert_eq!(project.config_files, vec![p.path("compose.yaml")]);
    assert_eq!(project.working_dir, p.root);
    assert_eq!(project.name, "myapp");
}

#[test]
fn no_file_found() {
    let p = Proj::new();
    let err = p.load().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "no configuration file provided: not found (looked for compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml in {} and its parents)",
            p.root.display()
        )
    );
}

#[test]
fn explicit_files_skip_overrides_and_merge_in_order() {
    let p = Proj::with("services:\n  a:\n    image: base\n");
    p.file(
        "compose.override.yaml",
        "services:\n  a:\n    image: ignored\n",
    );
    p.file("prod.yaml", "services:\n  a:\n    image: prod\n");
    let project = p
        .load_with(|o| o.files = vec!["compose.yaml".into(), "prod.yaml".into()])
        .unwrap();
    assert_eq!(project.services["a"].image.as_deref(), Some("prod"));
    assert_eq!(project.config_files.len(), 2);
}

#[test]
fn compose_file_variable() {
    let p = Proj::new();
    p.file("one.yaml", "services:\n  a:\n    image: one\n");
    p.file("two.yaml", "services:\n  a:\n    image: two\n");
    let p = p.env("COMPOSE_FILE", "one.yaml:two.yaml");
    let project = p.load().unwrap();
    assert_eq!(project.services["a"].image.as_deref(), Some("two"));
}

#[test]
fn missing_explicit_file() {
    let p = Proj::new();
    let err = p
        .load_with(|o| o.files = vec!["nope.yaml".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("nope.yaml: cannot read the file: "),
        "{err}"
    );
}

#[test]
fn stdin_file_uses_cwd_as_project_directory() {
    let p = Proj::new();
    let opts = LoadOptions {
        files: vec![PathBuf::from("-")],
        ..p.options()
    };
    let project = load_with_stdin(&opts, &mut SVC.as_bytes()).unwrap();
    assert_eq!(project.working_dir, p.root);
    assert_eq!(project.config_files, vec![PathBuf::from("-")]);
    let err = load_with_stdin(&opts, &mut "services: [".as_bytes()).unwrap_err();
    assert!(err.to_string().starts_with("<stdin>:2:1: "), "{err}");
}

#[test]
fn project_directory_option_finds_dotenv_there() {
    let p = Proj::with("services:\n  a:\n    image: ${IMG}\n");
    p.file("elsewhere/.env", "IMG=from-elsewhere\n");
    let project = p
        .load_with(|o| o.project_directory = Some("elsewhere".into()))
        .unwrap();
    assert_eq!(project.working_dir, p.path("elsewhere"));
    assert_eq!(project.name, "elsewhere");
    assert_eq!(
        project.services["a"].image.as_deref(),
        Some("from-elsewhere")
    );
}

#[test]
fn project_name_precedence() {
    let p = Proj::with("name: FromFile\nservices:\n  a:\n    image: x\n");
    assert_eq!(p.load().unwrap().name, "fromfile");
    let p = p.env("COMPOSE_PROJECT_NAME", "From_Env");
    assert_eq!(p.load().unwrap().name, "from_env");
    let project = p
        .load_with(|o| o.project_name = Some("Cli.Name".into()))
        .unwrap();
    assert_eq!(project.name, "cliname");
    assert_eq!(project.networks["default"].name, "cliname_default");
}

#[test]
fn project_name_from_dotenv() {
    let p = Proj::with(SVC);
    p.file(".env", "COMPOSE_PROJECT_NAME=dotenvname\n");
    assert_eq!(p.load().unwrap().name, "dotenvname");
}

#[test]
fn invalid_explicit_project_name() {
    let p = Proj::with(SVC);
    for bad in ["_x", "!!!", ""] {
        let err = p
            .load_with(|o| o.project_name = Some(bad.into()))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("invalid project name {bad:?} (from -p): must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number")
        );
    }
}

#[test]
fn normalization() {
    assert_eq!(normalize_project_name("My App.v2"), "myappv2");
    assert_eq!(normalize_project_name("a_b-c"), "a_b-c");
    let p = Proj::new();
    p.file("Weird Dir!/compose.yaml", SVC);
    let project = p.load_with(|o| o.cwd = p.path("Weird Dir!")).unwrap();
    assert_eq!(project.name, "weirddir");
}
