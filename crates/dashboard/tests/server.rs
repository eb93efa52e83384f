//! The server against the fake engine: metrics, pages, the token, CSRF and
//! Origin checks, and the limits on what one client can make it hold.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wharf_dashboard::Server;
use wharf_engine_api::{ContainerSpec, Resources};
use wharf_testkit::FakeEngine;

fn start(listen: &str, token: Option<&str>) -> (SocketAddr, Arc<FakeEngine>) {
    let engine = Arc::new(FakeEngine::new());
    engine.add_image("busybox:latest");
    let labels = |service: &str| -> BTreeMap<String, String> {
        [
            ("com.docker.compose.project", "shop"),
            ("com.docker.compose.service", service),
            ("com.docker.compose.container-number", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    engine.add_container(
        &ContainerSpec {
            name: "shop-web-1".into(),
            image: "busybox:latest".into(),
            labels: labels("web"),
            resources: Resources {
                memory_bytes: Some(64 << 20),
                ..Default::default()
            },
            ..Default::default()
        },
        true,
    );
    engine.add_container(
        &ContainerSpec {
            name: "shop-db-1".into(),
            image: "busybox:latest".into(),
            labels: labels("db"),
            ..Default::default()
        },
        false,
    );
    let server = Server::bind(
        engine.clone(),
        listen.parse().unwrap(),
        token.map(str::to_string),
    )
    .unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.serve());
    (addr, engine)
}

/// Send raw request bytes, return (status, head, body).
fn send(addr: SocketAddr, raw: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, String) {
    let host = format!("127.0.0.1:{}", addr.port());
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").as_bytes(),
    )
}

fn post(addr: SocketAddr, path: &str, body: &str, extra: &str) -> (u16, String, String) {
    let host = format!("127.0.0.1:{}", addr.port());
    send(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..at + 64].to_string()
}

#[test]
fn metrics_and_pages_on_loopback_need_no_token() {
    let (addr, _) = start("127.0.0.1:0", None);
    let (status, head, body) = get(addr, "/metrics", "");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let limit = body
        .lines()
        .find(|l| {
            l.starts_with("container_spec_memory_limit_bytes{") && l.contains("name=\"shop-web-1\"")
        })
        .unwrap_or_else(|| panic!("no limit line in\n{body}"));
    assert!(limit.ends_with(" 67108864"), "{limit}");
    assert!(
        body.contains("wharf_containers{state=\"exited\"} 1\n")
            || body.contains("wharf_containers{state=\"created\"} 1\n"),
        "{body}"
    );
    let (status, _, page) = get(addr, "/", "");
    assert_eq!(status, 200);
    assert!(
        page.contains("shop-web-1") && page.contains("shop-db-1"),
        "{page}"
    );
    assert!(page.contains(">running<"), "{page}");
    assert_eq!(get(addr, "/containers/nope", "").0, 404);
    let (status, _, page) = get(addr, "/containers/shop-web-1", "");
    assert_eq!(status, 200);
    assert!(page.contains("<pre id=\"inspect\">"), "{page}");
    assert!(
        page.contains("&quot;com.docker.compose.service&quot;: &quot;web&quot;"),
        "{page}"
    );
    let host = format!("127.0.0.1:{}", addr.port());
    let (status, _, body) = send(
        addr,
        format!("HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    );
    assert_eq!((status, body.as_str()), (200, ""));
}

#[test]
fn a_token_guards_everything_and_leaks_nothing() {
    let (addr, _) = start("127.0.0.1:0", Some("tok-123"));
    for path in ["/", "/metrics", "/containers/shop-web-1"] {
        let (status, _, body) = get(addr, path, "");
        assert_eq!(status, 401, "{path}");
        assert!(!body.contains("shop"), "{path} leaked: {body}");
        let (status, _, _) = get(addr, path, "Authorization: Bearer wrong\r\n");
        assert_eq!(status, 401, "{path}");
    }
    let (status, _, body) = get(addr, "/metrics", "Authorization: Bearer tok-123\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("shop-web-1"));
    let (status, _, _) = post(addr, "/login", "token=wrong", "");
    assert_eq!(status, 401);
    let (status, head, _) = post(addr, "/login", "token=tok-123", "");
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: "))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("tok-123"));
    let pair = cookie.split(';').next().unwrap();
    let (status, _, page) = get(addr, "/", &format!("Cookie: {pair}\r\n"));
    assert_eq!(status, 200);
    assert!(page.contains("shop-web-1"));
}

#[test]
fn non_loopback_without_token_is_refused() {
    let engine = Arc::new(FakeEngine::new());
    let err = Server::bind(engine, "0.0.0.0:0".parse().unwrap(), None).unwrap_err();
    assert!(err.to_string().contains("--token-file"), "{err}");
}

#[test]
fn actions_need_csrf_and_same_origin() {
    let (addr, engine) = start("127.0.0.1:0", None);
    let web = engine.container("shop-web-1").unwrap().id;
    let (_, _, page) = get(addr, "/", "");
    let csrf = csrf_of(&page);
    let path = format!("/containers/{web}/restart");
    engine.clear_calls();
    let (status, _, _) = post(addr, &path, "", "");
    assert_eq!(status, 403);
    let (status, _, _) = post(
        addr,
        &path,
        &format!("csrf={csrf}"),
        "Origin: http://evil.example\r\n",
    );
    assert_eq!(status, 403);
    assert!(
        !engine
            .calls()
            .iter()
            .any(|c| c.starts_with("stop") || c.starts_with("start")),
        "{:?}",
        engine.calls()
    );
    let origin = format!("Origin: http://127.0.0.1:{}\r\n", addr.port());
    let (status, head, _) = post(addr, &path, &format!("csrf={csrf}"), &origin);
    assert_eq!(status, 303, "{head}");
    let calls = engine.calls();
    assert!(
        calls.iter().any(|c| c.starts_with("stop_container")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.starts_with("start_container")),
        "{calls:?}"
    );
    let (status, _, _) = post(addr, "/projects/other/stop", &format!("csrf={csrf}"), "");
    assert_eq!(status, 404);
}

#[test]
fn foreign_host_names_and_oversized_requests_are_refused() {
    let (addr, _) = start("127.0.0.1:0", None);
    let (status, _, _) = send(addr, b"GET / HTTP/1.1\r\nHost: rebound.example\r\n\r\n");
    assert_eq!(status, 403);
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(send(addr, big_header.as_bytes()).0, 431);
    let big_body = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n\r\n";
    assert_eq!(send(addr, big_body.as_bytes()).0, 413);
    assert_eq!(send(addr, b"GARBAGE\r\n\r\n").0, 400);
}

#[test]
fn idle_connections_are_bounded_and_released() {
    let (addr, _) = start("127.0.0.1:0", None);
    let idle: Vec<TcpStream> = (0..wharf_dashboard::server::MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // Each idle connection holds its slot until the read timeout, so the
    // next one is turned away at once; the deadline only tells a hang from
    // a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, _) = get(addr, "/metrics", "");
        if status == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never refused a connection beyond the limit"
        );
    }
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(addr, "/metrics", "").0 != 200 {
        assert!(Instant::now() < deadline, "slots were not released");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Counts connections open through the watch; the guard it hands out
/// closes one when dropped.
struct Counted(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn the_connection_watch_sees_each_connection_until_it_closes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let open = Arc::new(AtomicUsize::new(0));
    let counting = Arc::clone(&open);
    let watch: wharf_dashboard::server::ConnectionWatch = Arc::new(move || {
        counting.fetch_add(1, Ordering::SeqCst);
        Box::new(Counted(Arc::clone(&counting)))
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::on_listener(Arc::new(FakeEngine::new()), listener, None)
        .unwrap()
        .with_connection_watch(watch);
    let addr = server.local_addr();
    std::thread::spawn(move || server.serve());

    let held = TcpStream::connect(addr).unwrap();
    let wait_for = |count: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while open.load(Ordering::SeqCst) != count {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(1, "the held connection was not seen");
    let (status, _, _) = get(addr, "/metrics", "");
    assert_eq!(status, 200);
    wait_for(1, "a finished request still counts");
    drop(held);
    wait_for(0, "the closed connection still counts");
}

#[test]
fn a_listener_bound_elsewhere_keeps_the_token_rule() {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let error = Server::on_listener(Arc::new(FakeEngine::new()), listener, None).unwrap_err();
    assert!(error.to_string().contains("--token-file"), "{error}");
}
