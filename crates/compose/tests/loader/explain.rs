//! Variable provenance for `wharf config --explain`: where each value came
//! from and what each reference in the files gave.

use super::Proj;
use wharf_compose::interpolate::Resolution;
use wharf_compose::{load_detailed, VariableOrigin};

#[test]
fn shell_env_file_and_defaults_are_told_apart() {
    let p = Proj::with(
        "services:\n  a:\n    image: app:${TAG:-latest}\n    environment:\n      PORT: ${PORT}\n      MODE: ${MODE:-dev}\n      HOME_DIR: $HOME\n",
    )
    .env("PORT", "9000");
    p.file(".env", "# settings\nPORT=8080\nMODE=\nTAG=1.2\n");
    let loaded = load_detailed(&p.options(), &mut std::io::empty()).unwrap();
    let v = &loaded.variables;

    let port = &v["PORT"];
    assert_eq!(port.value.as_deref(), Some("9000"));
    assert_eq!(port.origin, Some(VariableOrigin::Shell));
    assert_eq!(port.overridden.len(), 1);
    assert_eq!(port.overridden[0].0.to_string(), ".env:2");
    assert_eq!(port.uses[0].path, "services.a.environment.PORT");
    assert_eq!(port.uses[0].location.to_string(), "compose.yaml:5:13");

    let tag = &v["TAG"];
    match &tag.origin {
        Some(VariableOrigin::EnvFile(at)) => assert_eq!(at.to_string(), ".env:4"),
        other => panic!("{other:?}"),
    }
    assert_eq!(tag.uses[0].resolution, Resolution::Value("1.2".into()));

    // Set but empty: `:-` uses the default.
    assert_eq!(
        v["MODE"].uses[0].resolution,
        Resolution::Default("dev".into())
    );
    assert_eq!(v["HOME"].origin, Some(VariableOrigin::Shell));
    assert_eq!(loaded.project.services["a"].environment["MODE"], "dev");
}

#[test]
fn unset_variables_are_blank_and_listed() {
    let p = Proj::with("services:\n  a:\n    image: app\n    command: echo ${NOPE}\n");
    let loaded = load_detailed(&p.options(), &mut std::io::empty()).unwrap();
    let nope = &loaded.variables["NOPE"];
    assert_eq!(nope.value, None);
    assert_eq!(nope.uses[0].resolution, Resolution::Blank);
    assert_eq!(
        loaded.project.warnings,
        ["The \"NOPE\" variable is not set. Defaulting to a blank string."]
    );
}
