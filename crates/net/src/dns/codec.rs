//! The few DNS messages the embedded server needs (RFC 1035): reading a query's
//! header and single question (following compression pointers), and building an
//! answer with A and AAAA records or an error code. Everything else is forwarded
//! untouched.

use std::net::{IpAddr, Ipv4Addr};

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Query type ANY.
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Response codes.
pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;

const HEADER_LEN: usize = 12;
/// At most this many compression pointers are followed in one name.
const MAX_POINTERS: usize = 32;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than a header: nothing can be answered.
    NoHeader,
    /// A header, but the rest is malformed: answer FORMERR.
    Malformed(&'static str),
}

/// The parts of a query the server looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// The flags word of the header as received.
    pub flags: u16,
    /// The question name, lower case, without the final dot (`""` for the root).
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The question (name as sent, uncompressed; type; class), copied into answers.
    pub question_wire: Vec<u8>,
}

impl Query {
    /// The opcode (0 = standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// Whether this is a response rather than a query.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
}

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// The id of a message, if it has a header.
pub fn message_id(msg: &[u8]) -> Option<u16> {
    (msg.len() >= HEADER_LEN).then(|| be16(msg, 0)).flatten()
}

/// The labels of the name at `start` as sent (compression pointers followed), and
/// the offset just after the name in its original position (a pointer ends a name
/// in two bytes).
fn read_labels(msg: &[u8], start: usize) -> Result<(Vec<&[u8]>, usize), ParseError> {
    let mut labels = Vec::new();
    let mut at = start;
    let mut end = None;
    let mut pointers = 0;
    let mut total = 0usize;
    loop {
        let len = *msg
            .get(at)
            .ok_or(ParseError::Malformed("name runs past the end"))? as usize;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((labels, end.unwrap_or(at + 1)));
                }
                let label = msg
                    .get(at + 1..at + 1 + len)
                    .ok_or(ParseError::Malformed("label runs past the end"))?;
                total += len + 1;
                if total > 255 {
                    return Err(ParseError::Malformed("name longer than 255 bytes"));
                }
                labels.push(label);
                at += 1 + len;
            }
            0xc0 => {
                let low = *msg
                    .get(at + 1)
                    .ok_or(ParseError::Malformed("pointer runs past the end"))?;
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(ParseError::Malformed("compression pointer loop"));
                }
                if end.is_none() {
                    end = Some(at + 2);
                }
                at = ((len & 0x3f) << 8) | low as usize;
            }
            _ => return Err(ParseError::Malformed("unknown label type")),
        }
    }
}

fn join_labels(labels: &[&[u8]]) -> String {
    labels
        .iter()
        .map(|l| String::from_utf8_lossy(l))
        .collect::<Vec<_>>()
        .join(".")
}

/// Read the name at `start`; returns it (lower case, dot-separated) and the offset just
/// after it in the original position (pointers end a name in two bytes).
pub fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), ParseError> {
    let (labels, end) = read_labels(msg, start)?;
    Ok((join_labels(&labels).to_ascii_lowercase(), end))
}

/// Like [`read_name`], with the name's case as sent (resolvers randomize it and
/// check the echo).
pub fn read_name_as_sent(msg: &[u8], start: usize) -> Result<(String, usize), ParseError> {
    let (labels, end) = read_labels(msg, start)?;
    Ok((join_labels(&labels), end))
}

/// Parse a query: the header and exactly one question.
pub fn parse_query(msg: &[u8]) -> Result<Query, ParseError> {
    if msg.len() < HEADER_LEN {
        return Err(ParseError::NoHeader);
    }
    let id = be16(msg, 0).ok_or(ParseError::NoHeader)?;
    let flags = be16(msg, 2).ok_or(ParseError::NoHeader)?;
    let qdcount = be16(msg, 4).ok_or(ParseError::NoHeader)?;
    if qdcount != 1 {
        return Err(ParseError::Malformed("not exactly one question"));
    }
    let (labels, after) = read_labels(msg, HEADER_LEN)?;
    let qtype = be16(msg, after).ok_or(ParseError::Malformed("question truncated"))?;
    let qclass = be16(msg, after + 2).ok_or(ParseError::Malformed("question truncated"))?;
    // The question goes back uncompressed: a pointer in it points into the query,
    // and would point at other bytes in the answer.
    let mut question_wire = Vec::with_capacity(after + 4 - HEADER_LEN);
    for label in &labels {
        question_wire.push(label.len() as u8);
        question_wire.extend_from_slice(label);
    }
    question_wire.push(0);
    question_wire.extend_from_slice(&msg[after..after + 4]);
    Ok(Query {
        id,
        flags,
        name: join_labels(&labels).to_ascii_lowercase(),
        qtype,
        qclass,
        question_wire,
    })
}

/// Encode `name` (dot-separated) as DNS labels, without compression.
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    out.push(0);
    out
}

/// A standard query for `name` and `qtype` (used by tests and forwarding checks).
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&encode_name(name));
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// An authoritative answer to `query` with `rcode` and one A record per address
/// (the owner name is a pointer to the question).
pub fn build_response(query: &Query, rcode: u8, addresses: &[Ipv4Addr], ttl: u32) -> Vec<u8> {
    let records: Vec<IpAddr> = addresses.iter().copied().map(IpAddr::V4).collect();
    build_response_records(query, rcode, &records, ttl)
}

/// Like [`build_response`], with an A record per IPv4 and an AAAA record per IPv6
/// address.
pub fn build_response_records(query: &Query, rcode: u8, addresses: &[IpAddr], ttl: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + query.question_wire.len() + 16 * addresses.len());
    out.extend_from_slice(&query.id.to_be_bytes());
    // QR, the query's opcode and RD, AA, RA, rcode.
    let flags = 0x8000 | (query.flags & 0x7800) | 0x0400 | (query.flags & 0x0100) | 0x0080;
    out.extend_from_slice(&(flags | (rcode as u16 & 0xf)).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query.question_wire);
    for address in addresses {
        let (rtype, data) = match address {
            IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
            IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
        };
        out.extend_from_slice(&[0xc0, HEADER_LEN as u8]);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// An error answer for a message of which only the header could be read.
pub fn build_header_error(msg: &[u8], rcode: u8) -> Option<Vec<u8>> {
    let id = message_id(msg)?;
    let flags = be16(msg, 2)?;
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&id.to_be_bytes());
    let flags = 0x8000 | (flags & 0x7900) | 0x0080 | (rcode as u16 & 0xf);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    Some(out)
}

/// The answer's rcode and its A records (for tests and clients).
pub fn read_a_answers(msg: &[u8]) -> Result<(u8, Vec<Ipv4Addr>), ParseError> {
    let (rcode, records) = read_answers(msg)?;
    let v4 = records
        .into_iter()
        .filter_map(|a| match a {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .collect();
    Ok((rcode, v4))
}

/// The answer's rcode and its A and AAAA records, in answer order.
pub fn read_answers(msg: &[u8]) -> Result<(u8, Vec<IpAddr>), ParseError> {
    if msg.len() < HEADER_LEN {
        return Err(ParseError::NoHeader);
    }
    let flags = be16(msg, 2).ok_or(ParseError::NoHeader)?;
    let qdcount = be16(msg, 4).ok_or(ParseError::NoHeader)?;
    let ancount = be16(msg, 6).ok_or(ParseError::NoHeader)?;
    let mut at = HEADER_LEN;
    for _ in 0..qdcount {
        at = read_name(msg, at)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..ancount {
        at = read_name(msg, at)?.1;
        let rtype = be16(msg, at).ok_or(ParseError::Malformed("record truncated"))?;
        let rdlen = be16(msg, at + 8).ok_or(ParseError::Malformed("record truncated"))? as usize;
        let data = msg
            .get(at + 10..at + 10 + rdlen)
            .ok_or(ParseError::Malformed("record data truncated"))?;
        if rtype == TYPE_A && rdlen == 4 {
            out.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            )));
        } else if rtype == TYPE_AAAA && rdlen == 16 {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(data);
            out.push(IpAddr::from(octets));
        }
        at += 10 + rdlen;
    }
    Ok(((flags & 0xf) as u8, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips_and_names_are_lower_case() {
        let msg = build_query(0x1234, "Web.Example.", TYPE_A);
        let q = parse_query(&msg).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.name, "web.example");
        assert_eq!((q.qtype, q.qclass), (TYPE_A, CLASS_IN));
        assert_eq!(q.opcode(), 0);
        assert!(!q.is_response());
        assert_eq!(q.question_wire.len(), msg.len() - 12);
    }

    #[test]
    fn response_carries_a_records_behind_a_pointer() {
        let q = parse_query(&build_query(7, "worker", TYPE_A)).unwrap();
        let addrs = [Ipv4Addr::new(172, 18, 0, 2), Ipv4Addr::new(172, 18, 0, 3)];
        let resp = build_response(&q, NOERROR, &addrs, 600);
        assert_eq!(&resp[..2], &[0, 7]);
        assert_eq!(resp[2] & 0x80, 0x80, "QR set");
        assert_eq!(resp[2] & 0x04, 0x04, "AA set");
        assert_eq!(resp[2] & 0x01, 0x01, "RD copied");
        assert_eq!(read_a_answers(&resp).unwrap(), (NOERROR, addrs.to_vec()));
        let empty = build_response(&q, NXDOMAIN, &[], 600);
        assert_eq!(read_a_answers(&empty).unwrap(), (NXDOMAIN, vec![]));
    }

    #[test]
    fn compression_pointers_are_followed() {
        // Header, then "example" at 12, then a question "web" + pointer to 12.
        let mut msg = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let example_at = msg.len();
        msg.extend_from_slice(&encode_name("example"));
        let (name, end) = read_name(&msg, example_at).unwrap();
        assert_eq!((name.as_str(), end), ("example", msg.len()));
        let web_at = msg.len();
        msg.extend_from_slice(&[3, b'w', b'e', b'b', 0xc0, example_at as u8]);
        let (name, end) = read_name(&msg, web_at).unwrap();
        assert_eq!(name, "web.example");
        assert_eq!(end, msg.len());
    }

    #[test]
    fn pointer_loops_and_truncation_are_rejected() {
        let mut msg = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&[0xc0, 12]);
        assert_eq!(
            read_name(&msg, 12),
            Err(ParseError::Malformed("compression pointer loop"))
        );
        assert_eq!(parse_query(&[0; 5]), Err(ParseError::NoHeader));
        let mut short = build_query(1, "a.b", TYPE_A);
        short.truncate(short.len() - 3);
        assert!(matches!(parse_query(&short), Err(ParseError::Malformed(_))));
        let two = {
            let mut m = build_query(1, "a", TYPE_A);
            m[5] = 2;
            m
        };
        assert!(matches!(parse_query(&two), Err(ParseError::Malformed(_))));
    }

    #[test]
    fn compressed_question_is_echoed_uncompressed_with_its_case() {
        // "Web" + a pointer to "Example" after the question: the pointer's target
        // in the answer would be the answer's own records.
        let mut msg = vec![0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        msg.extend_from_slice(&[3, b'W', b'e', b'b', 0xc0, 22, 0, 1, 0, 1]);
        msg.extend_from_slice(&encode_name("Example"));
        let q = parse_query(&msg).unwrap();
        assert_eq!(q.name, "web.example");
        let resp = build_response(&q, NOERROR, &[Ipv4Addr::new(10, 0, 0, 1)], 600);
        assert_eq!(
            read_name_as_sent(&resp, HEADER_LEN).unwrap().0,
            "Web.Example"
        );
        assert_eq!(
            read_a_answers(&resp).unwrap(),
            (NOERROR, vec![Ipv4Addr::new(10, 0, 0, 1)])
        );
    }

    #[test]
    fn header_errors_keep_the_id() {
        let mut msg = build_query(0xbeef, "x", TYPE_A);
        msg[5] = 0;
        let resp = build_header_error(&msg, FORMERR).unwrap();
        assert_eq!(&resp[..2], &[0xbe, 0xef]);
        assert_eq!(resp[3] & 0xf, FORMERR);
        assert!(build_header_error(&[1, 2], FORMERR).is_none());
    }
}
