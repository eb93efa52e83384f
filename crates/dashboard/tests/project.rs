//! The project page: the Compose file found through the containers'
//! labels, an edit that does not load refused with nothing changed, and
//! one that loads written and handed to the deployer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wharf_dashboard::project::Deployer;
use wharf_dashboard::Server;
use wharf_engine_api::ContainerSpec;
use wharf_testkit::FakeEngine;

const FILE: &str = "services:\n  web:\n    image: busybox\n";

fn request(addr: SocketAddr, raw: String) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, out)
}

fn form_escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn edit_is_loaded_before_it_replaces_the_file_and_is_deployed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, FILE).unwrap();
    let engine = Arc::new(FakeEngine::new());
    let labels = [
        ("com.docker.compose.project", "shop".to_string()),
        ("com.docker.compose.service", "web".to_string()),
        (
            "com.docker.compose.project.working_dir",
            dir.path().display().to_string(),
        ),
        (
            "com.docker.compose.project.config_files",
            file.display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    engine.add_container(
        &ContainerSpec {
            name: "shop-web-1".into(),
            image: "busybox".into(),
            labels,
            ..Default::default()
        },
        true,
    );
    let deployed: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let seen = Arc::clone(&deployed);
    let deploy: Deployer = Box::new(move |project, _reporter| {
        seen.lock()
            .unwrap()
            .push(project.services.keys().cloned().collect());
        Ok(())
    });
    let server = Server::bind(engine, "127.0.0.1:0".parse().unwrap(), None)
        .unwrap()
        .with_deployer(deploy);
    let addr = server.local_addr();
    std::thread::spawn(move || server.serve());
    let host = format!("127.0.0.1:{}", addr.port());

    let (status, page) = request(
        addr,
        format!("GET /projects/shop HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<textarea name=\"compose\""), "{page}");
    assert!(page.contains("image: busybox"), "{page}");
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..at + 64].to_string();
    assert_eq!(
        request(
            addr,
            format!("GET /projects/nope HTTP/1.1\r\nHost: {host}\r\n\r\n")
        )
        .0,
        404
    );

    let post = |text: &str| {
        let body = format!("csrf={csrf}&compose={}", form_escape(text));
        request(
            addr,
            format!(
                "POST /projects/shop/deploy HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let (status, page) = post("services:\n  web:\n    image: [unclosed\n");
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("nothing was changed"), "{page}");
    assert!(page.contains("compose.yaml:4:1"), "{page}");
    assert!(!page.contains("wharf-edit"), "{page}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), FILE);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a draft was left"
    );
    assert!(deployed.lock().unwrap().is_empty());

    let edited = "services:\n  web:\n    image: busybox\n  worker:\n    image: busybox\n";
    let (status, page) = post(&edited.replace('\n', "\r\n"));
    assert_eq!(status, 200, "{page}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
    assert_eq!(
        *deployed.lock().unwrap(),
        vec![vec!["web".to_string(), "worker".to_string()]]
    );
}

#[test]
fn preview_shows_what_up_would_do_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, FILE).unwrap();
    let engine = Arc::new(FakeEngine::new());
    engine.add_image("busybox");
    let labels = [
        ("com.docker.compose.project", "shop".to_string()),
        ("com.docker.compose.service", "web".to_string()),
        ("com.docker.compose.container-number", "1".to_string()),
        (
            "com.docker.compose.project.working_dir",
            dir.path().display().to_string(),
        ),
        (
            "com.docker.compose.project.config_files",
            file.display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    engine.add_container(
        &ContainerSpec {
            name: "shop-web-1".into(),
            image: "busybox".into(),
            labels,
            ..Default::default()
        },
        true,
    );
    let deploy: Deployer = Box::new(|_, _| panic!("a preview must not deploy"));
    let server = Server::bind(engine, "127.0.0.1:0".parse().unwrap(), None)
        .unwrap()
        .with_deployer(deploy);
    let addr = server.local_addr();
    std::thread::spawn(move || server.serve());
    let host = format!("127.0.0.1:{}", addr.port());
    let (_, page) = request(
        addr,
        format!("GET /projects/shop HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    );
    assert!(
        page.contains("action=\"/projects/shop/preview\""),
        "the editor previews first: {page}"
    );
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..at + 64].to_string();
    let post = |text: &str| {
        let body = format!("csrf={csrf}&compose={}", form_escape(text));
        request(
            addr,
            format!(
                "POST /projects/shop/preview HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };

    let edited = "services:\n  web:\n    image: busybox\n  worker:\n    image: busybox\n";
    let (status, page) = post(edited);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Container shop-worker-1  Create"), "{page}");
    assert!(
        page.contains("<span class=\"running\">+   worker:</span>"),
        "{page}"
    );
    assert!(
        page.contains("action=\"/projects/shop/deploy\""),
        "the preview offers the deploy: {page}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), FILE);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a draft was left"
    );

    let (status, page) = post("services:\n  web:\n    image: [unclosed\n");
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("compose.yaml:4:1"), "{page}");
    assert!(!page.contains("action=\"/projects/shop/deploy\""), "{page}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
