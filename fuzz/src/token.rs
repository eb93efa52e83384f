//! A registry's authentication answers: the `WWW-Authenticate` challenge (the first
//! line) and the token service's JSON answer (the rest).

use wharf_image::registry::{parse_challenge, token_from_response};

/// Parse the challenge and the token answer.
pub fn run(data: &[u8]) {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Some(header) = crate::text(header) {
        let _ = parse_challenge(header);
    }
    if let Ok(token) = token_from_response(body) {
        assert!(!token.is_empty(), "an empty token was accepted");
    }
}
