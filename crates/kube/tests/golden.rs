//! Golden tests: each folder of `tests/golden/` holds a Compose project
//! (`compose.yaml`, and the files it refers to), optionally `options.txt`
//! (`key=value` lines: namespace, controller, storage_class, ingress_host,
//! service_type, volume_size), and the expected output: `expected.yaml`
//! (the manifest stream) and `report.txt` (what was reported).
//! `WHARF_BLESS=1 cargo test -p wharf-kube --test golden` rewrites them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wharf_kube::{Controller, Options, ServiceType};

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn options(dir: &Path) -> Options {
    let mut o = Options::default();
    let Ok(text) = std::fs::read_to_string(dir.join("options.txt")) else {
        return o;
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once('=').expect("key=value");
        let v = v.to_string();
        match k {
            "namespace" => o.namespace = Some(v),
            "controller" if v == "statefulset" => o.controller = Controller::StatefulSet,
            "storage_class" => o.storage_class = Some(v),
            "ingress_host" => o.ingress_host = Some(v),
            "service_type" if v == "nodeport" => o.service_type = ServiceType::NodePort,
            "volume_size" => o.volume_size = v,
            other => panic!("{}: unknown option {other}", dir.display()),
        }
    }
    o
}

fn convert(dir: &Path, env: BTreeMap<String, String>) -> wharf_kube::Conversion {
    let load = wharf_compose::LoadOptions {
        cwd: dir.to_path_buf(),
        env,
        ..Default::default()
    };
    let project = wharf_compose::load(&load).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    wharf_kube::convert(&project, &options(dir))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn check(dir: &Path, file: &str, actual: &str) -> Option<String> {
    let path = dir.join(file);
    if std::env::var_os("WHARF_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{} differs (WHARF_BLESS=1 rewrites it); actual:\n{actual}",
            path.display()
        )
    })
}

#[test]
fn goldens() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for entry in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let dir = entry.expect("entry").path();
        if !dir.join("compose.yaml").exists() {
            continue;
        }
        cases += 1;
        let env = [("DB_PASSWORD".to_string(), "s3cr$t".to_string())].into();
        let conversion = convert(&dir, env);
        failures.extend(check(&dir, "expected.yaml", &conversion.to_stream()));
        failures.extend(check(&dir, "report.txt", &conversion.report.to_text()));
    }
    assert!(cases >= 5, "only {cases} golden cases found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
