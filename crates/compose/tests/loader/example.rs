//! The reference project of the first slice, every field checked.

use super::Proj;
use std::collections::BTreeMap;
use wharf_compose::*;

const EXAMPLE: &str = r#"services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
    ports: ["127.0.0.1:18080:8080"]
    volumes: ["./site:/www:ro"]
    depends_on: [worker]
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 64M, pids: 64}
  worker:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo tick $$i; sleep 1 & wait; done"]
    environment:
      GREETING: ${GREETING:-hello}
"#;

#[test]
fn reference_project_loads_with_every_field() {
    let p = Proj::with(EXAMPLE);
    let project = p.load().unwrap();

    assert_eq!(project.name, "myapp");
    assert_eq!(project.working_dir, p.root);
    assert_eq!(project.config_files, vec![p.path("compose.yaml")]);
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    assert_eq!(
        project.services.keys().collect::<Vec<_>>(),
        ["web", "worker"]
    );

    let default_net = BTreeMap::from([("default".to_string(), ServiceNetwork::default())]);
    let web = &project.services["web"];
    let expected_web = Service {
        name: "web".into(),
        image: Some("busybox:latest".into()),
        command: Some(
            ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
                .map(String::from)
                .to_vec(),
        ),
        ports: vec![ServicePort {
            target: 8080,
            published: Some("18080".into()),
            host_ip: Some("127.0.0.1".into()),
            protocol: "tcp".into(),
            mode: Some("ingress".into()),
            name: None,
            app_protocol: None,
        }],
        volumes: vec![ServiceVolume {
            kind: VolumeKind::Bind,
            source: Some(super::abs(&p.path("site"))),
            target: "/www".into(),
            read_only: true,
            consistency: None,
            bind: Some(BindOptions {
                create_host_path: true,
                ..BindOptions::default()
            }),
            volume: None,
            tmpfs: None,
        }],
        depends_on: BTreeMap::from([(
            "worker".to_string(),
            ServiceDependency {
                condition: DependencyCondition::ServiceStarted,
                required: true,
                restart: false,
            },
        )]),
        networks: default_net.clone(),
        limits: ResourceLimits {
            memory_bytes: Some(64 * 1024 * 1024),
            nano_cpus: Some(500_000_000),
            pids: Some(64),
        },
        deploy: Some(Deploy {
            resources: Resources {
                limits: Some(Resource {
                    cpus: Some(0.5),
                    memory: Some(64 * 1024 * 1024),
                    pids: Some(64),
                    ..Resource::default()
                }),
                reservations: None,
            },
            ..Deploy::default()
        }),
        replicas: 1,
        ..Service::default()
    };
    assert_eq!(web, &expected_web);

    let worker = &project.services["worker"];
    let expected_worker = Service {
        name: "worker".into(),
        image: Some("busybox:latest".into()),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo tick $i; sleep 1 & wait; done"
                .into(),
        ]),
        environment: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
        networks: default_net,
        replicas: 1,
        ..Service::default()
    };
    assert_eq!(worker, &expected_worker);

    assert_eq!(
        project.networks,
        BTreeMap::from([(
            "default".to_string(),
            Network {
                name: "myapp_default".into(),
                ..Network::default()
            }
        )])
    );
    assert!(project.volumes.is_empty());
    assert_eq!(project.start_order(), ["worker", "web"]);
    assert_eq!(project.dependents_of("worker"), ["web"]);
    assert!(project.dependents_of("web").is_empty());
}

#[test]
fn reference_project_takes_greeting_from_the_shell() {
    let p = Proj::with(EXAMPLE).env("GREETING", "bonjour");
    let project = p.load().unwrap();
    assert_eq!(
        project.services["worker"].environment["GREETING"],
        "bonjour"
    );
}
