//! The events and system pages over a stand-in for the engine's event log
//! and disk usage, the volumes and networks pages over the fake engine, and
//! pruning only through a POST with the CSRF token.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wharf_dashboard::host::{EventLine, HostViews, UsageRow};
use wharf_dashboard::Server;
use wharf_engine_api::{Engine, Mount, MountKind, NetworkAttachment, VolumeEngine};
use wharf_testkit::FakeEngine;

struct Host {
    prunes: Arc<AtomicUsize>,
}

impl HostViews for Host {
    fn events(&self, project: &str, limit: usize) -> Result<Vec<EventLine>, String> {
        assert_eq!(project, "shop");
        Ok(["create", "start", "die"]
            .iter()
            .enumerate()
            .take(limit)
            .map(|(i, action)| EventLine {
                time_ns: (1_796_654_862 + i as i64) * 1_000_000_000,
                action: action.to_string(),
                service: "web".into(),
                name: "shop-web-1".into(),
            })
            .collect())
    }

    fn disk_usage(&self) -> Result<Vec<UsageRow>, String> {
        Ok(vec![UsageRow {
            kind: "Images".into(),
            total: 3,
            active: 1,
            size: 64 << 20,
            reclaimable: 32 << 20,
        }])
    }

    fn prune_images(&self) -> Result<(), String> {
        self.prunes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn send(addr: SocketAddr, raw: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
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

#[test]
fn events_newest_first_disk_usage_and_prune() {
    let prunes = Arc::new(AtomicUsize::new(0));
    let server = Server::bind(
        Arc::new(FakeEngine::new()),
        "127.0.0.1:0".parse().unwrap(),
        None,
    )
    .unwrap()
    .with_host_views(Box::new(Host {
        prunes: Arc::clone(&prunes),
    }));
    let addr = server.local_addr();
    std::thread::spawn(move || server.serve());
    let get = |path: &str| {
        send(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        )
    };

    let (status, page) = get("/projects/shop/events");
    assert_eq!(status, 200, "{page}");
    let (die, create) = (page.find(">die<").unwrap(), page.find(">create<").unwrap());
    assert!(die < create, "newest first: {page}");
    assert!(page.contains("2026-12-07 14:47:42"), "{page}");

    let (status, page) = get("/system");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<td>Images</td><td>3</td><td>1</td><td>64.0MiB</td><td>32.0MiB</td>"),
        "{page}"
    );
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &page[at..at + 64];

    let post = |body: &str| {
        send(
            addr,
            &format!(
                "POST /system/prune HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    assert_eq!(post("").0, 403);
    assert_eq!(prunes.load(Ordering::SeqCst), 0);
    assert_eq!(post(&format!("csrf={csrf}")).0, 303);
    assert_eq!(prunes.load(Ordering::SeqCst), 1);
}

#[test]
fn volumes_and_networks_pages_prune_what_no_container_uses() {
    let engine = Arc::new(FakeEngine::new());
    engine.add_volume("shop_data", &[]);
    engine.add_volume("kept_named", &[]);
    for name in ["0123anon", "4567used"] {
        engine
            .create_volume(&wharf_engine_api::VolumeSpec {
                name: name.into(),
                labels: [("com.docker.volume.anonymous".to_string(), String::new())]
                    .into_iter()
                    .collect(),
                ..Default::default()
            })
            .unwrap();
    }
    engine.add_network("shop_default", &[]);
    engine.add_network("unused_net", &[]);
    engine.add_image("busybox");
    engine.add_container(
        &wharf_engine_api::ContainerSpec {
            name: "shop-web-1".into(),
            image: "busybox".into(),
            mounts: vec![
                Mount::new(MountKind::Volume, "shop_data", "/data"),
                Mount::new(MountKind::Volume, "4567used", "/cache"),
            ],
            networks: vec![NetworkAttachment {
                network: "shop_default".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
        true,
    );
    let server = Server::bind(
        Arc::clone(&engine) as Arc<dyn Engine>,
        "127.0.0.1:0".parse().unwrap(),
        None,
    )
    .unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.serve());
    let get = |path: &str| {
        send(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        )
    };
    let post = |path: &str, body: &str| {
        send(
            addr,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };

    let (status, page) = get("/volumes");
    assert_eq!(status, 200, "{page}");
    for name in ["shop_data", "kept_named", "0123anon", "4567used"] {
        assert!(
            page.contains(&format!("data-name=\"{name}\"")),
            "{name}: {page}"
        );
    }
    assert!(page.contains("shop-web-1"), "the user of a volume: {page}");
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..at + 64].to_string();

    let (status, _) = post("/volumes/prune", "");
    assert_eq!(status, 403, "a prune without the CSRF token");
    assert_eq!(engine.volumes().len(), 4);

    let (status, page) = post("/volumes/prune", &format!("csrf={csrf}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Deleted Volumes:\n0123anon\n"), "{page}");
    let left: Vec<String> = engine.volumes().into_iter().map(|v| v.name).collect();
    assert_eq!(left, ["4567used", "kept_named", "shop_data"]);

    let (status, page) = post("/volumes/prune", &format!("csrf={csrf}&all=1"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Deleted Volumes:\nkept_named\n"), "{page}");
    let left: Vec<String> = engine.volumes().into_iter().map(|v| v.name).collect();
    assert_eq!(left, ["4567used", "shop_data"], "volumes in use stay");

    let (status, page) = get("/networks");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-name=\"unused_net\""), "{page}");
    let (status, page) = post("/networks/prune", &format!("csrf={csrf}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Deleted Networks:\nunused_net\n"), "{page}");
    let networks: Vec<String> = engine
        .list_networks(&[])
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(
        networks.contains(&"shop_default".to_string()),
        "{networks:?}"
    );
    assert!(
        !networks.contains(&"unused_net".to_string()),
        "{networks:?}"
    );
}
