//! Tests of the server's answers, forwarding and serving loop, on loopback only.

use super::codec::{self, build_query, read_a_answers, TYPE_A, TYPE_AAAA};
use super::*;

fn table() -> Table {
    let mut names = BTreeMap::new();
    names.insert("web".to_string(), vec![Ipv4Addr::new(172, 18, 0, 2)]);
    names.insert(
        "worker".to_string(),
        vec![
            Ipv4Addr::new(172, 18, 0, 3),
            Ipv4Addr::new(172, 18, 0, 4),
            Ipv4Addr::new(172, 18, 0, 5),
        ],
    );
    Table {
        names,
        upstreams: vec![],
        alive: BTreeMap::new(),
        ..Table::default()
    }
}

fn aaaa_reply(action: Action) -> (u8, Vec<IpAddr>) {
    match action {
        Action::Reply(bytes) => codec::read_answers(&bytes).unwrap(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn aaaa_questions_get_the_ipv6_addresses_of_dual_stack_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = table();
    let web6: Ipv6Addr = "fd00:db8:1::2".parse().unwrap();
    t.names_v6.insert("web".to_string(), vec![web6]);
    let (rcode, records) = aaaa_reply(answer(&t, &build_query(7, "web", TYPE_AAAA), || 0));
    assert_eq!((rcode, records), (codec::NOERROR, vec![IpAddr::V6(web6)]));
    // A stays IPv4 only; ANY carries both.
    assert_eq!(
        aaaa_reply(answer(&t, &build_query(7, "web", TYPE_A), || 0)).1,
        vec![IpAddr::V4(Ipv4Addr::new(172, 18, 0, 2))]
    );
    assert_eq!(
        aaaa_reply(answer(&t, &build_query(7, "web", codec::TYPE_ANY), || 0)).1,
        vec![IpAddr::V4(Ipv4Addr::new(172, 18, 0, 2)), IpAddr::V6(web6)]
    );
    // An IPv4-only name: AAAA is an empty NOERROR answer, as before.
    assert_eq!(
        aaaa_reply(answer(&t, &build_query(7, "worker", TYPE_AAAA), || 0)),
        (codec::NOERROR, vec![])
    );
    // A stopped container's IPv6 address is not answered either.
    t.alive_v6.insert(web6, dir.path().join("running-web"));
    assert_eq!(
        aaaa_reply(answer(&t, &build_query(7, "web", TYPE_AAAA), || 0)).1,
        Vec::<IpAddr>::new()
    );
}

#[test]
fn tables_written_before_ipv6_still_load() {
    let old = r#"{"names":{"web":["172.18.0.2"]},"upstreams":[]}"#;
    let table: Table = serde_json::from_str(old).unwrap();
    assert!(table.names_v6.is_empty() && table.alive_v6.is_empty());
    let v4_only = serde_json::to_string(&table).unwrap();
    assert!(!v4_only.contains("names_v6"), "{v4_only}");
}

#[test]
fn addresses_of_stopped_containers_are_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    let running = dir.path().join("running-a");
    std::fs::write(&running, "").unwrap();
    let mut t = table();
    t.alive
        .insert(Ipv4Addr::new(172, 18, 0, 3), running.clone());
    t.alive
        .insert(Ipv4Addr::new(172, 18, 0, 4), dir.path().join("running-b"));
    t.alive
        .insert(Ipv4Addr::new(172, 18, 0, 2), dir.path().join("running-c"));
    // Only the replicas whose marker exists.
    assert_eq!(
        reply(answer(&t, &build_query(1, "worker", TYPE_A), || 0)).1,
        vec![Ipv4Addr::new(172, 18, 0, 3), Ipv4Addr::new(172, 18, 0, 5)]
    );
    // A name with no running container is not ours: it is forwarded.
    assert_eq!(
        answer(&t, &build_query(1, "web", TYPE_A), || 0),
        Action::Forward
    );
    std::fs::remove_file(&running).unwrap();
    assert_eq!(
        reply(answer(&t, &build_query(1, "worker", TYPE_A), || 0)).1,
        vec![Ipv4Addr::new(172, 18, 0, 5)]
    );
}

fn reply(action: Action) -> (u8, Vec<Ipv4Addr>) {
    match action {
        Action::Reply(bytes) => read_a_answers(&bytes).unwrap(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn own_names_are_answered_case_insensitively() {
    let t = table();
    assert_eq!(
        reply(answer(&t, &build_query(1, "WEB.", TYPE_A), || 0)),
        (codec::NOERROR, vec![Ipv4Addr::new(172, 18, 0, 2)])
    );
}

#[test]
fn replicas_rotate_round_robin() {
    let t = table();
    let first = |turn| reply(answer(&t, &build_query(1, "worker", TYPE_A), || turn)).1[0];
    assert_eq!(first(0), Ipv4Addr::new(172, 18, 0, 3));
    assert_eq!(first(1), Ipv4Addr::new(172, 18, 0, 4));
    assert_eq!(first(2), Ipv4Addr::new(172, 18, 0, 5));
    assert_eq!(first(3), Ipv4Addr::new(172, 18, 0, 3));
    assert_eq!(
        reply(answer(&t, &build_query(1, "worker", TYPE_A), || 1))
            .1
            .len(),
        3
    );
}

#[test]
fn aaaa_of_own_names_is_empty_noerror_and_others_are_forwarded() {
    let t = table();
    assert_eq!(
        reply(answer(&t, &build_query(1, "web", TYPE_AAAA), || 0)),
        (codec::NOERROR, vec![])
    );
    assert_eq!(
        answer(&t, &build_query(1, "example.org", TYPE_A), || 0),
        Action::Forward
    );
    assert_eq!(answer(&t, &[1, 2, 3], || 0), Action::Drop);
    let mut bad = build_query(9, "web", TYPE_A);
    bad.truncate(14);
    assert_eq!(reply(answer(&t, &bad, || 0)).0, codec::FORMERR);
}

#[test]
fn table_json_round_trips() {
    let t = Table {
        upstreams: vec!["10.0.0.2".parse().unwrap()],
        ..table()
    };
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(serde_json::from_str::<Table>(&json).unwrap(), t);
    assert_eq!(
        serde_json::from_str::<Table>("{}").unwrap(),
        Table::default()
    );
}

/// A UDP socket and a TCP listener on one free loopback port, as a DNS server
/// needs. Other programs on the host hold ports too: the TCP port is taken first
/// from the kernel's free ones, and the pair is tried again on another port when
/// that number is taken for UDP.
fn loopback_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        match UdpSocket::bind(tcp.local_addr().unwrap()) {
            Ok(udp) => return (udp, tcp),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("binding UDP on loopback: {e}"),
        }
    }
    panic!("no loopback port was free for both UDP and TCP in 100 tries");
}

#[test]
fn loopback_pair_shares_one_port() {
    let (udp, tcp) = loopback_pair();
    assert_eq!(udp.local_addr().unwrap(), tcp.local_addr().unwrap());
}

/// A fake upstream on 127.0.0.1 answering every A query with 10.9.8.7.
fn fake_upstream() -> (SocketAddr, TcpListener) {
    let (udp, tcp) = loopback_pair();
    let addr = udp.local_addr().unwrap();
    let answer = |msg: &[u8]| {
        let q = codec::parse_query(msg).unwrap();
        codec::build_response(&q, codec::NOERROR, &[Ipv4Addr::new(10, 9, 8, 7)], 5)
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(&answer(&buf[..n]), peer);
        }
    });
    let listener = tcp.try_clone().unwrap();
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = listener.accept() {
            if let Ok(msg) = read_framed(&mut s) {
                let _ = write_framed(&mut s, &answer(&msg));
            }
        }
    });
    (addr, tcp)
}

#[test]
fn forwarding_relays_the_upstream_answer_over_udp_and_tcp() {
    let (upstream, _keep) = fake_upstream();
    let query = build_query(77, "example.org", TYPE_A);
    let via_udp = forward_udp(&query, &[upstream]).unwrap();
    assert_eq!(codec::message_id(&via_udp), Some(77));
    assert_eq!(
        read_a_answers(&via_udp).unwrap(),
        (codec::NOERROR, vec![Ipv4Addr::new(10, 9, 8, 7)])
    );
    let via_tcp = forward_tcp(&query, &[upstream]).unwrap();
    assert_eq!(
        read_a_answers(&via_tcp).unwrap().1,
        [Ipv4Addr::new(10, 9, 8, 7)]
    );
}

#[test]
fn forwarding_without_upstreams_is_servfail() {
    let query = build_query(5, "example.org", TYPE_A);
    let reply = forward_udp(&query, &[]).unwrap();
    assert_eq!(read_a_answers(&reply).unwrap().0, codec::SERVFAIL);
}

#[test]
fn server_answers_own_names_forwards_others_and_rereads_its_table() {
    let (upstream, _keep) = fake_upstream();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dns.json");
    let mut t = table();
    t.upstreams = vec![upstream.ip()];
    std::fs::write(&path, serde_json::to_vec(&t).unwrap()).unwrap();
    let (udp, tcp) = loopback_pair();
    let local = udp.local_addr().unwrap();
    let (stop_r, stop_w) = nix::unistd::pipe().unwrap();
    let server_path = path.clone();
    let port = upstream.port();
    let server = std::thread::spawn(move || serve(udp, tcp, &server_path, port, stop_r));

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let ask = |name: &str| {
        client
            .send_to(&build_query(3, name, TYPE_A), local)
            .unwrap();
        let mut buf = [0u8; 512];
        let n = client.recv(&mut buf).unwrap();
        read_a_answers(&buf[..n]).unwrap()
    };
    assert_eq!(ask("web").1, [Ipv4Addr::new(172, 18, 0, 2)]);
    assert_eq!(ask("example.org").1, [Ipv4Addr::new(10, 9, 8, 7)]);

    // A new table (another size) is picked up on the next query.
    t.names
        .insert("db".to_string(), vec![Ipv4Addr::new(172, 18, 0, 9)]);
    std::fs::write(&path, serde_json::to_vec(&t).unwrap()).unwrap();
    assert_eq!(ask("db").1, [Ipv4Addr::new(172, 18, 0, 9)]);

    // TCP, own name.
    let mut stream = TcpStream::connect(local).unwrap();
    write_framed(&mut stream, &build_query(4, "worker", TYPE_A)).unwrap();
    let reply = read_framed(&mut stream).unwrap();
    assert_eq!(read_a_answers(&reply).unwrap().1.len(), 3);

    drop(stop_w);
    server.join().unwrap();
}

#[test]
fn a_flood_of_forwarded_queries_cannot_grow_the_monitor_without_bound() {
    let server = Arc::new(Server {
        table: TableFile::new(PathBuf::from("/nonexistent/dns.json")),
        turn: AtomicUsize::new(0),
        upstream_port: 53,
        in_flight: AtomicUsize::new(0),
    });
    let places: Vec<InFlight> = (0..MAX_IN_FLIGHT)
        .map(|_| server.try_start().expect("a free place"))
        .collect();
    assert!(server.try_start().is_none(), "one thread too many");
    drop(places);
    assert_eq!(server.in_flight.load(Ordering::Acquire), 0);
    assert!(server.try_start().is_some());
}
