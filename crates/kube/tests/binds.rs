//! Bind mounts whose data would not fit a ConfigMap (1 MiB) are reported by
//! their YAML path and dropped, never written as an object the API server
//! would refuse.

use wharf_kube::{convert, Options};

fn report_of(files: &[(&str, usize)], volume: &str) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, size) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, vec![b'x'; *size]).expect("write");
    }
    let yaml = format!("services:\n  web:\n    image: busybox\n    volumes: [\"{volume}\"]\n");
    std::fs::write(dir.path().join("compose.yaml"), yaml).expect("write");
    let options = wharf_compose::LoadOptions {
        cwd: dir.path().to_path_buf(),
        project_name: Some("binds".into()),
        ..Default::default()
    };
    let project = wharf_compose::load(&options).expect("loads");
    let conversion = convert(&project, &Options::default()).expect("converts");
    let kinds = conversion
        .manifests
        .iter()
        .map(|m| m.kind.clone())
        .collect();
    (conversion.report.to_text(), kinds)
}

#[test]
fn a_directory_larger_than_a_config_map_is_reported_and_dropped() {
    let (report, kinds) = report_of(
        &[("site/a.bin", 600 * 1024), ("site/b.bin", 600 * 1024)],
        "./site:/www:ro",
    );
    assert!(
        report.contains("services.web.volumes[0]: bind mount of ./site: its files hold 1228800 bytes, more than the 1 MiB a ConfigMap holds, so no ConfigMap carries it"),
        "{report}"
    );
    assert!(!kinds.contains(&"ConfigMap".to_string()), "{kinds:?}");
}

#[test]
fn a_file_larger_than_a_config_map_is_reported_and_dropped() {
    let (report, kinds) = report_of(&[("big.txt", (1 << 20) + 1)], "./big.txt:/big.txt:ro");
    assert!(
        report.contains("services.web.volumes[0]: bind mount of ./big.txt: is larger than 1 MiB"),
        "{report}"
    );
    assert!(!kinds.contains(&"ConfigMap".to_string()), "{kinds:?}");
}

#[test]
fn a_directory_of_exactly_one_mebibyte_is_carried() {
    let (report, kinds) = report_of(
        &[("site/a.bin", 512 * 1024), ("site/b.bin", 512 * 1024)],
        "./site:/www:ro",
    );
    assert!(
        report.contains("carried as ConfigMap dir-site with its 2 files"),
        "{report}"
    );
    assert_eq!(kinds.iter().filter(|k| *k == "ConfigMap").count(), 1);
}
