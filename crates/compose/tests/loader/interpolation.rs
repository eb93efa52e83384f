//! Interpolation: the template engine table, and errors with positions.

use super::{error_of, Proj};
use std::collections::BTreeMap;
use wharf_compose::interpolate::{substitute, TemplateError, Unset};

fn run(text: &str) -> (Result<String, TemplateError>, Vec<String>) {
    let env: BTreeMap<&str, &str> = BTreeMap::from([("SET", "value"), ("EMPTY", ""), ("B", "bee")]);
    let lookup = |k: &str| env.get(k).map(|v| v.to_string());
    let mut unset = Unset::default();
    let r = substitute(text, &lookup, &mut unset);
    (r, unset.names)
}

#[test]
fn template_table() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("plain", "plain", &[]),
        ("$SET", "value", &[]),
        ("${SET}", "value", &[]),
        ("a${SET}b", "avalueb", &[]),
        ("$SET.x", "value.x", &[]),
        ("$UNSET", "", &["UNSET"]),
        ("${UNSET}", "", &["UNSET"]),
        ("${UNSET:-dflt}", "dflt", &[]),
        ("${EMPTY:-dflt}", "dflt", &[]),
        ("${EMPTY-dflt}", "", &[]),
        ("${UNSET-dflt}", "dflt", &[]),
        ("${SET:-dflt}", "value", &[]),
        ("${SET:+alt}", "alt", &[]),
        ("${EMPTY:+alt}", "", &[]),
        ("${EMPTY+alt}", "alt", &[]),
        ("${UNSET+alt}", "", &[]),
        ("${SET?err}", "value", &[]),
        ("${EMPTY?err}", "", &[]),
        ("${UNSET:-${B:-c}}", "bee", &[]),
        ("${UNSET:-${NOPE:-c}}", "c", &[]),
        ("${UNSET:-$B-x}", "bee-x", &[]),
        ("${SET:-${NOPE}}", "value", &[]),
        ("${UNSET:-${NOPE}}", "", &["NOPE"]),
        ("${UNSET:-a b:c}", "a b:c", &[]),
        ("$$", "$", &[]),
        ("$$SET", "$SET", &[]),
        ("$((i+1))", "$((i+1))", &[]),
        ("$1 $ $-", "$1 $ $-", &[]),
        ("tail$", "tail$", &[]),
        ("${UNSET:-$$}", "$", &[]),
    ];
    for (input, want, unset) in cases {
        let (got, names) = run(input);
        assert_eq!(got.as_deref(), Ok(*want), "input {input:?}");
        assert_eq!(&names, unset, "unset names for {input:?}");
    }
}

#[test]
fn template_errors() {
    let cases: &[(&str, &str)] = &[
        ("${UNSET:?need it}", "required variable UNSET is missing a value: need it"),
        ("${EMPTY:?}", "required variable EMPTY is missing a value"),
        ("${UNSET?}", "required variable UNSET is missing a value"),
        ("x${", "invalid interpolation syntax at character 2: \"${\" is not closed: write $$ for a literal $"),
        ("${}", "invalid interpolation syntax at character 1: a variable name must follow \"${\": write $$ for a literal $"),
        ("${SET", "invalid interpolation syntax at character 1: \"${SET\" is not closed with \"}\""),
        ("${SET:-x", "invalid interpolation syntax at character 1: \"${SET\" is not closed with \"}\""),
        ("${A B}", "invalid interpolation syntax at character 1: unexpected ' ' after \"${A\": expected }, :-, -, :?, ?, :+ or +"),
        ("ab${UNSET:-${}}", "invalid interpolation syntax at character 12: a variable name must follow \"${\": write $$ for a literal $"),
    ];
    for (input, want) in cases {
        let (got, _) = run(input);
        assert_eq!(
            got.map_err(|e| e.to_string()),
            Err(want.to_string()),
            "input {input:?}"
        );
    }
}

#[test]
fn unset_variable_warns_once() {
    let p = Proj::with(
        "services:\n  a:\n    image: x:${TAG}\n    environment: [G=$GREETING]\n  b:\n    image: y:${TAG}\n",
    );
    let project = p.load().unwrap();
    assert_eq!(project.services["a"].image.as_deref(), Some("x:"));
    assert_eq!(project.services["a"].environment["G"], "");
    assert_eq!(
        project.warnings,
        [
            "The \"TAG\" variable is not set. Defaulting to a blank string.",
            "The \"GREETING\" variable is not set. Defaulting to a blank string.",
        ]
    );
}

#[test]
fn keys_are_not_interpolated_and_values_are_typed_after() {
    let p = Proj::with(
        "services:\n  web:\n    image: x\n    environment:\n      $KEY: v\n    ports:\n      - ${PORT}:80\n    deploy:\n      replicas: ${N}\n",
    )
    .env("PORT", "8080")
    .env("N", "3");
    let project = p.load().unwrap();
    let web = &project.services["web"];
    assert_eq!(web.environment["$KEY"], "v");
    assert_eq!(web.ports[0].published.as_deref(), Some("8080"));
    assert_eq!(web.replicas, 3);
}

#[test]
fn required_variable_error_names_path_and_position() {
    assert_eq!(
        error_of("services:\n  web:\n    image: \"busybox:${TAG:?set TAG to the release}\"\n"),
        "compose.yaml:3:12: services.web.image: required variable TAG is missing a value: set TAG to the release"
    );
}

#[test]
fn invalid_syntax_error_names_path_and_position() {
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    command: [echo, \"cost: 5${\"]\n"),
        "compose.yaml:4:21: services.web.command[1]: invalid interpolation syntax in \"cost: 5${\" at character 8: \"${\" is not closed: write $$ for a literal $"
    );
}

#[test]
fn top_level_name_is_interpolated() {
    let p = Proj::with("name: ${APP:-demo}-stack\nservices:\n  a:\n    image: x\n");
    assert_eq!(p.load().unwrap().name, "demo-stack");
}

#[test]
fn compose_project_name_is_the_project_name() {
    let yaml = "services:\n  web:\n    image: x\n    container_name: ${COMPOSE_PROJECT_NAME}-web\n";
    let name = |p: &wharf_compose::Project| p.services["web"].container_name.clone().unwrap();
    // The directory's name.
    let p = Proj::with(yaml).load().unwrap();
    assert_eq!(name(&p), "myapp-web");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // -p.
    let p = Proj::with(yaml)
        .load_with(|o| o.project_name = Some("Flag".into()))
        .unwrap();
    assert_eq!(name(&p), "flag-web");
    // The top-level name.
    let p = Proj::with(&format!("name: top\n{yaml}")).load().unwrap();
    assert_eq!(name(&p), "top-web");
    // The environment and .env keep their precedence.
    let p = Proj::with(yaml)
        .env("COMPOSE_PROJECT_NAME", "shell")
        .load()
        .unwrap();
    assert_eq!(name(&p), "shell-web");
    let proj = Proj::with(yaml);
    proj.file(".env", "COMPOSE_PROJECT_NAME=dotenv\n");
    assert_eq!(name(&proj.load().unwrap()), "dotenv-web");
    // -p with the variable also set: the project is named by -p, the
    // variable keeps its value.
    let p = Proj::with(yaml)
        .env("COMPOSE_PROJECT_NAME", "shell")
        .load_with(|o| o.project_name = Some("flag".into()))
        .unwrap();
    assert_eq!((p.name.as_str(), name(&p).as_str()), ("flag", "shell-web"));
}
