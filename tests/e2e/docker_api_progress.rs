//! The Engine API streams a pull's progress as the pull proceeds: the
//! registry (on 127.0.0.1) is reached through a proxy that holds every blob
//! back until the test has read the first progress line from the socket. A
//! reply buffered until the end would never show that line, and the test
//! would time out.

use crate::docker_api::{docker_cli, Docker, Service};
use crate::harness::sandboxed;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use wharf_testkit::registry::{RegistryAuth, TestRegistry};

/// Opens once; every blob request waits for it.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// A TCP proxy to `upstream` on 127.0.0.1 that holds blob requests at `gate`;
/// its address.
fn holding_proxy(upstream: String, gate: Arc<Gate>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, gate) = (upstream.clone(), gate.clone());
            std::thread::spawn(move || relay(client, &upstream, &gate));
        }
    });
    address
}

/// One request: its head read, held when it asks for a blob, sent upstream
/// with `Connection: close` (so the next request comes on a new connection
/// and is looked at too), and the response relayed back.
fn relay(mut client: TcpStream, upstream: &str, gate: &Gate) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        // A TLS handshake (the client tries https first): refused, so it
        // falls back to plain HTTP at once.
        if head == [0x16] {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split_whitespace().nth(1).unwrap_or("");
    if path.contains("/blobs/") {
        gate.wait();
    }
    let mut forwarded: String = text
        .trim_end()
        .lines()
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    forwarded.push_str("Connection: close\r\n\r\n");
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    if server.write_all(forwarded.as_bytes()).is_err() {
        return;
    }
    if let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) {
        std::thread::spawn(move || std::io::copy(&mut client_in, &mut server_out));
    }
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// Read from `stream` until `found` holds for what arrived, or `timeout`.
fn read_until(stream: &mut UnixStream, timeout: Duration, found: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if found(&text) || Instant::now() >= deadline {
            return text;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return text,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return text,
        }
    }
}

#[test]
fn a_pull_streams_its_progress_before_the_blobs_arrive() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_progress::a_pull_streams_its_progress_before_the_blobs_arrive",
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
            let remote = format!("{}/stream/box:v1", registry.host());
            docker.ok(&["tag", "busybox:latest", &remote]);
            docker.ok(&["push", &remote]);
            docker.ok(&["rmi", &remote]);
            docker.ok(&["rmi", "busybox:latest"]);

            let gate = Arc::new(Gate::default());
            let proxy = holding_proxy(registry.host(), gate.clone());
            let mut api = UnixStream::connect(&service.socket).unwrap();
            write!(
                api,
                "POST /v1.47/images/create?fromImage={proxy}/stream/box&tag=v1 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            )
            .unwrap();
            let first = read_until(&mut api, Duration::from_secs(20), |text| {
                text.contains("\"status\":")
            });
            // Released whatever happened, so the pull ends either way.
            gate.open();
            assert!(
                first.starts_with("HTTP/1.1 200"),
                "no progress while the blobs were held back: {first:?}"
            );
            assert!(
                first.contains("Pulling from stream/box"),
                "no progress while the blobs were held back: {first:?}"
            );
            assert!(!first.contains("Downloaded newer image"), "{first}");
            let rest = read_until(&mut api, Duration::from_secs(60), |text| {
                text.contains("Downloaded newer image") || text.contains("\"error\"")
            });
            let whole = first + &rest;
            assert!(whole.contains("Downloaded newer image"), "{whole}");
            let listed = docker.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
            assert!(
                listed.contains(&format!("{proxy}/stream/box:v1")),
                "{listed}"
            );
            drop(registry);
        },
    );
}
