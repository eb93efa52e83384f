//! The embedded DNS server's packet path: a datagram (or a TCP message) from a
//! container goes through `answer`, as the server loop sends it, and through the
//! SERVFAIL path of forwarding. Every reply must be a well-formed response to
//! that query: same id, QR set, the question echoed as asked, and only the
//! table's addresses for the asked name.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use wharf_net::dns::{answer, codec, forward_udp, Action, Table};

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let v4 = |last| Ipv4Addr::new(172, 18, 0, last);
        let mut names = BTreeMap::new();
        names.insert("web".to_string(), vec![v4(2)]);
        names.insert("worker".to_string(), vec![v4(3), v4(4), v4(5)]);
        names.insert("db.example".to_string(), vec![v4(6)]);
        let mut names_v6 = BTreeMap::new();
        names_v6.insert(
            "web".to_string(),
            vec![Ipv6Addr::new(0xfd00, 0xdb8, 1, 0, 0, 0, 0, 2)],
        );
        Table {
            names,
            names_v6,
            ..Table::default()
        }
    })
}

/// The question of a message: its name (case kept), type and class.
fn question(msg: &[u8]) -> Option<(String, u16, u16)> {
    let (name, after) = codec::read_name_as_sent(msg, 12).ok()?;
    let qtype = u16::from_be_bytes([*msg.get(after)?, *msg.get(after + 1)?]);
    let qclass = u16::from_be_bytes([*msg.get(after + 2)?, *msg.get(after + 3)?]);
    Some((name, qtype, qclass))
}

fn check_reply(query: &[u8], reply: &[u8]) {
    assert_eq!(
        codec::message_id(reply),
        codec::message_id(query),
        "the reply does not carry the query's id"
    );
    assert!(reply[2] & 0x80 != 0, "the reply is not marked a response");
    let (_, records) = codec::read_answers(reply)
        .unwrap_or_else(|e| panic!("our own reply does not parse: {e:?} in {reply:02x?}"));
    if let Ok(parsed) = codec::parse_query(query) {
        assert_eq!(
            question(reply),
            question(query),
            "the reply's question is not the query's"
        );
        let t = table();
        for record in &records {
            let known = match record {
                IpAddr::V4(a) => t.names.get(&parsed.name).is_some_and(|v| v.contains(a)),
                IpAddr::V6(a) => t.names_v6.get(&parsed.name).is_some_and(|v| v.contains(a)),
            };
            assert!(known, "{record} answered for {:?}", parsed.name);
        }
    } else {
        assert!(records.is_empty(), "records in an error reply");
    }
}

/// Answer `data` from a fixed table; check the reply, then the SERVFAIL one.
pub fn run(data: &[u8]) {
    let turn = data.len();
    match answer(table(), data, || turn) {
        Action::Reply(reply) => check_reply(data, &reply),
        Action::Forward => {
            let query = codec::parse_query(data).expect("only parsed queries are forwarded");
            assert!(
                query.qclass != codec::CLASS_IN || !table().names.contains_key(&query.name),
                "a name of the table was forwarded: {:?}",
                query.name
            );
            // No upstream: the container gets SERVFAIL for its query.
            let reply = forward_udp(data, &[]).expect("a query has an id");
            check_reply(data, &reply);
        }
        Action::Drop => {}
    }
    // What a client reads back (and what forwarding relays) must not panic either.
    let _ = codec::read_answers(data);
}
