//! Golden tests of `wharf config`'s output: each folder under `golden/` is a
//! project (copied into a temporary `myapp` directory); `expected.yaml` and
//! `expected.json` were written by docker compose's own `config` (by hand,
//! with `HOME=/home/tester` and no other environment; the project directory
//! replaced by `@ROOT@`). `args` may hold `--profile NAME`. Each case also
//! checks the round trip: the output loads back to the same services and
//! renders the same.

use std::path::Path;
use wharf_compose::render::{render, Format};
use wharf_compose::{load, LoadOptions, Project};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n.starts_with("expected.") || n == "args" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

fn options(root: &Path, args: &str) -> LoadOptions {
    let mut o = LoadOptions {
        cwd: root.to_path_buf(),
        env: [("HOME".to_string(), "/home/tester".to_string())].into(),
        ..LoadOptions::default()
    };
    let words: Vec<&str> = args.split_whitespace().collect();
    for pair in words.chunks(2) {
        if let ["--profile", p] = pair {
            o.profiles.push(p.to_string());
        }
    }
    o
}

fn check_case(case: &str) {
    check(case, true);
}

fn check(case: &str, with_round_trip: bool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/loader/golden")
        .join(case);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("myapp");
    copy_dir(&dir, &root);
    let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    let project = match load(&options(&root, &args)) {
        Ok(p) => p,
        Err(e) => panic!("{case}: {e}"),
    };
    let root_text = root.to_string_lossy().into_owned();
    for (format, file) in [
        (Format::Yaml, "expected.yaml"),
        (Format::Json, "expected.json"),
    ] {
        let got = render(&project, format).replace(&root_text, "@ROOT@");
        let want = std::fs::read_to_string(dir.join(file)).unwrap();
        if got != want {
            let at = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{case}/{file} differs at line {}:\n got: {:?}\nwant: {:?}\n--- whole output ---\n{got}",
                at + 1,
                got.lines().nth(at),
                want.lines().nth(at)
            );
        }
    }
    if with_round_trip {
        round_trip(case, &project, &root);
    }
}

/// The YAML output, loaded again, gives the same services and the same output.
fn round_trip(case: &str, project: &Project, root: &Path) {
    let yaml = render(project, Format::Yaml);
    let out_dir = root.join("roundtrip");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("compose.yaml"), &yaml).unwrap();
    let mut o = options(&out_dir, "");
    o.profiles = project
        .services
        .values()
        .flat_map(|s| s.profiles.clone())
        .collect();
    let again = match load(&o) {
        Ok(p) => p,
        Err(e) => panic!("{case}: the output does not load back: {e}\n{yaml}"),
    };
    assert_eq!(
        again.services, project.services,
        "{case}: services differ after a round trip"
    );
    assert_eq!(
        render(&again, Format::Yaml),
        yaml,
        "{case}: output differs after a round trip"
    );
}

#[test]
fn golden_basics() {
    check_case("basics");
}

#[test]
fn golden_services() {
    check_case("services");
}

#[test]
fn golden_extends_include() {
    check_case("extends_include");
}

#[test]
fn golden_merge() {
    check_case("merge");
}

#[test]
fn golden_resources() {
    check_case("resources");
}

#[test]
fn golden_profiles() {
    // No round trip: the output keeps web's optional dependency on the
    // disabled service `debug`, which it does not define (as docker compose's does).
    check("profiles", false);
}

#[test]
fn golden_project_name() {
    check_case("project_name");
}

#[test]
fn golden_paths() {
    check_case("paths");
}

#[test]
fn golden_devices() {
    check_case("devices");
}

#[test]
fn golden_windows() {
    check_case("windows");
}

#[test]
fn golden_models() {
    check_case("models");
}

#[test]
fn golden_npipe() {
    check_case("npipe");
}

#[test]
fn golden_external_legacy() {
    check_case("external_legacy");
}

#[test]
fn golden_mount_verdicts() {
    check_case("mount_verdicts");
}

#[test]
fn golden_service_networks() {
    check_case("service_networks");
}

/// Short-syntax modes: unknown ones ignored (with a warning), the last of
/// `ro`/`rw` wins, `z` and a propagation mode kept as bind options on any
/// mount type.
#[test]
fn golden_volume_modes() {
    check_case("volume_modes");
}
