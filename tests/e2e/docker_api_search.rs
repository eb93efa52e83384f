//! `docker search` through the Engine API: the test registry's catalog on
//! 127.0.0.1 read by the core's search, answered in docker's fields, with
//! `--limit` and `--filter` as docker reads them.

use crate::docker_api::{docker_cli, Docker, Service};
use crate::harness::sandboxed;
use wharf_testkit::registry::{RegistryAuth, TestRegistry};

#[test]
fn docker_search_reads_the_registry_catalog_through_the_socket() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_search::docker_search_reads_the_registry_catalog_through_the_socket",
        |s| {
            let Some(registry) = TestRegistry::start(RegistryAuth::Open) else {
                return;
            };
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let docker = Docker {
                cli,
                service: &service,
                dir: s.work.path(),
            };
            let host = registry.host();
            for repo in ["find/alpha", "find/beta", "other/gamma"] {
                let remote = format!("{host}/{repo}:v1");
                docker.ok(&["tag", "busybox:latest", &remote]);
                docker.ok(&["push", &remote]);
            }
            let names = docker.ok(&["search", "--format", "{{.Name}}", &format!("{host}/find")]);
            let mut names: Vec<&str> = names.lines().collect();
            names.sort();
            assert_eq!(
                names,
                [format!("{host}/find/alpha"), format!("{host}/find/beta")]
            );
            let table = docker.ok(&["search", &format!("{host}/gamma")]);
            assert!(table.starts_with("NAME"), "{table}");
            assert!(table.contains(&format!("{host}/other/gamma")), "{table}");
            let one = docker.ok(&[
                "search",
                "--limit",
                "1",
                "--format",
                "{{.Name}}",
                &format!("{host}/find"),
            ]);
            assert_eq!(one.lines().count(), 1, "{one}");
            // The catalog has no stars and no official images.
            let starred = docker.ok(&[
                "search",
                "--filter",
                "stars=3",
                "--format",
                "{{.Name}}",
                &format!("{host}/find"),
            ]);
            assert!(starred.trim().is_empty(), "{starred}");
            let official = docker.ok(&[
                "search",
                "--filter",
                "is-official=true",
                "--format",
                "{{.Name}}",
                &format!("{host}/find"),
            ]);
            assert!(official.trim().is_empty(), "{official}");
            let bad = docker.run(&["search", "--filter", "colour=red", &format!("{host}/find")]);
            assert!(!bad.status.success());
            let err = String::from_utf8_lossy(&bad.stderr);
            assert!(err.contains("colour=red"), "{err}");
            drop(registry);
        },
    );
}
