//! Values Kubernetes would reject are errors naming the Compose key (or the
//! flag), never manifests that fail at `kubectl apply`.

use wharf_kube::{convert, KubeError, Options};

fn project(yaml: &str) -> wharf_compose::Project {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("compose.yaml"), yaml).expect("write");
    let options = wharf_compose::LoadOptions {
        cwd: dir.path().to_path_buf(),
        project_name: Some("errors".into()),
        ..Default::default()
    };
    wharf_compose::load(&options).expect("loads")
}

fn error(yaml: &str, options: &Options) -> String {
    match convert(&project(yaml), options) {
        Ok(_) => panic!("converted:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_environment_name_kubernetes_rejects_names_its_key() {
    let e = error(
        "services:\n  web:\n    image: nginx\n    environment:\n      \"1 BAD\": x\n",
        &Options::default(),
    );
    assert!(e.starts_with("services.web.environment.1 BAD:"), "{e}");
}

#[test]
fn a_request_above_its_limit_names_the_reservation() {
    let e = error(
        "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        limits: {memory: 64M}\n        reservations: {memory: 128M}\n",
        &Options::default(),
    );
    assert!(
        e.starts_with("services.web.deploy.resources.reservations.memory:"),
        "{e}"
    );
}

#[test]
fn two_services_with_one_kubernetes_name_are_refused() {
    let e = error(
        "services:\n  my_app:\n    image: a\n  my-app:\n    image: b\n",
        &Options::default(),
    );
    assert!(e.contains("\"my-app\""), "{e}");
}

#[test]
fn an_unset_secret_variable_names_the_secret() {
    let e = error(
        "services:\n  web:\n    image: nginx\n    secrets: [token]\nsecrets:\n  token:\n    environment: NOT_SET_ANYWHERE\n",
        &Options::default(),
    );
    assert!(e.starts_with("secrets.token.environment:"), "{e}");
}

#[test]
fn bad_flags_name_the_flag() {
    let p = project("services:\n  web:\n    image: nginx\n");
    let bad = [
        Options {
            namespace: Some("Shop_1".into()),
            ..Default::default()
        },
        Options {
            storage_class: Some("Fast SSD".into()),
            ..Default::default()
        },
        Options {
            ingress_host: Some("shop.example.com:8080".into()),
            ..Default::default()
        },
        Options {
            volume_size: "lots".into(),
            ..Default::default()
        },
    ];
    for (options, flag) in bad.iter().zip([
        "--namespace",
        "--storage-class",
        "--ingress-host",
        "--volume-size",
    ]) {
        match convert(&p, options) {
            Err(KubeError::Option { option, .. }) => assert_eq!(option, flag),
            other => panic!("{flag}: {other:?}"),
        }
    }
}

#[test]
fn long_names_are_cut_with_a_hash_and_reported() {
    let long = "a_very_long_service_name_that_goes_on_and_on_well_past_sixty_three_characters";
    let p = project(&format!("services:\n  {long}:\n    image: nginx\n"));
    let c = convert(&p, &Options::default()).expect("converts");
    let deployment = c
        .manifests
        .iter()
        .find(|m| m.kind == "Deployment")
        .expect("deployment");
    assert_eq!(deployment.name.len(), 63);
    assert!(c
        .report
        .findings
        .iter()
        .any(|f| f.path == format!("services.{long}") && f.message.contains(&deployment.name)));
}

#[test]
fn an_expose_range_too_long_for_a_service_names_its_entry() {
    let e = error(
        "services:\n  web:\n    image: nginx\n    expose: [\"80\", \"1000-2000\"]\n",
        &Options::default(),
    );
    assert!(e.starts_with("services.web.expose[1]:"), "{e}");
}

#[test]
fn a_mount_target_that_is_not_an_absolute_path_is_reported_not_mounted() {
    let p = project(
        "services:\n  web:\n    image: nginx\n    volumes: ['./site:rel', 'data:/etc/app']\nvolumes:\n  data:\n",
    );
    let c = convert(&p, &Options::default()).expect("converts");
    assert!(c
        .report
        .findings
        .iter()
        .any(|f| f.path == "services.web.volumes[0].target"
            && f.message.contains("not an absolute Linux path")));
    let deployment = c
        .manifests
        .iter()
        .find(|m| m.kind == "Deployment")
        .expect("deployment");
    let text = serde_json::to_string(&deployment.value).unwrap();
    assert!(!text.contains("\"rel\""), "{text}");
    assert!(text.contains("/etc/app"), "{text}");
}
