//! Every manifest the converter writes passes `kubernetes-validate --strict`
//! for Kubernetes 1.30 (the PyPI package, installed by
//! `scripts/install-deps.sh`): the golden outputs and the converted
//! `examples/*` projects. Without the tool this fails when `CI` is set and is
//! skipped, saying why, otherwise. Object names and label values are checked
//! here too, since the schemas do not check them.

use std::path::{Path, PathBuf};
use std::process::Command;

const KUBERNETES_VERSION: &str = "1.30.0";

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("examples dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("compose.yaml").exists())
        .collect();
    dirs.sort();
    dirs
}

fn goldens() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("golden dir")
        .map(|e| e.expect("entry").path().join("expected.yaml"))
        .filter(|p| p.exists())
        .collect();
    files.sort();
    files
}

fn convert(dir: &Path) -> wharf_kube::Conversion {
    let load = wharf_compose::LoadOptions {
        cwd: dir.to_path_buf(),
        ..Default::default()
    };
    let project = wharf_compose::load(&load).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    wharf_kube::convert(&project, &wharf_kube::Options::default())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn tool_available() -> bool {
    Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn names_and_label_values_are_valid() {
    for dir in examples() {
        for m in convert(&dir).manifests {
            assert_eq!(
                wharf_kube::names::dns_label(&m.name, 63),
                m.name,
                "{}: {} name",
                dir.display(),
                m.kind
            );
            for (k, v) in m.value["metadata"]["labels"].as_object().expect("labels") {
                let v = v.as_str().expect("string label");
                assert!(wharf_kube::names::is_label_value(v), "{k}={v}");
            }
        }
    }
}

#[test]
fn every_output_passes_kubernetes_validate() {
    if !tool_available() {
        let why = "kubernetes-validate is not installed (scripts/install-deps.sh installs it)";
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files = goldens();
    assert!(files.len() >= 5, "golden outputs missing: {files:?}");
    for dir in examples() {
        let name = dir.file_name().expect("name").to_string_lossy().to_string();
        let path = tmp.path().join(format!("example-{name}.yaml"));
        std::fs::write(&path, convert(&dir).to_stream()).expect("write");
        files.push(path);
    }
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .args(&files)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    assert!(
        !text.contains("ERROR") && !text.contains("WARN"),
        "kubernetes-validate reported:\n{text}"
    );
}
