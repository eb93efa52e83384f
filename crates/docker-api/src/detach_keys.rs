//! Docker's detach keys: the key sequence that, typed on a TTY attach or
//! exec, ends the client's stream while the container or command runs on.
//! The syntax is docker's: a comma list of single characters and
//! `ctrl-@`, `ctrl-a` … `ctrl-z`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`,
//! `ctrl-_`, and `DEL`; the default is `ctrl-p,ctrl-q`.

/// ctrl-p, ctrl-q.
pub const DEFAULT: [u8; 2] = [0x10, 0x11];

/// The bytes of `keys` (docker's syntax); the key docker would not know is
/// the error.
pub fn parse(keys: &str) -> Result<Vec<u8>, String> {
    keys.split(',').map(parse_key).collect()
}

fn parse_key(key: &str) -> Result<u8, String> {
    if let [byte] = key.as_bytes() {
        return Ok(*byte);
    }
    if key == "DEL" {
        return Ok(0x7f);
    }
    match key.strip_prefix("ctrl-").map(str::as_bytes) {
        Some([letter @ b'a'..=b'z']) => Ok(letter - b'a' + 1),
        Some([b'@']) => Ok(0),
        Some([symbol @ (b'[' | b'\\' | b']' | b'^' | b'_')]) => Ok(symbol - b'@'),
        _ => Err(key.to_string()),
    }
}

/// The detach keys of a request's `value` (none given: the default), or
/// docker's 400 with `message` (its "Invalid detach keys (%s) provided").
pub fn from_request(
    value: Option<&str>,
    message: impl Fn(&str) -> String,
) -> Result<Vec<u8>, crate::error::ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT.to_vec()),
        Some(value) => {
            parse(value).map_err(|_| crate::error::ApiError::bad_request(message(value)))
        }
    }
}

/// Watches a client's input for the sequence: the bytes to pass on, with
/// the keys of a partial match held back until the next byte tells.
#[derive(Debug)]
pub struct Scanner {
    keys: Vec<u8>,
    matched: usize,
}

/// What a chunk of input comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Scanned {
    /// Pass these bytes on.
    Input(Vec<u8>),
    /// The sequence was typed: pass these bytes (typed before it) on, then
    /// end the stream.
    Detach(Vec<u8>),
}

impl Scanner {
    pub fn new(keys: Vec<u8>) -> Scanner {
        Scanner { keys, matched: 0 }
    }

    pub fn scan(&mut self, chunk: &[u8]) -> Scanned {
        let mut passed = Vec::with_capacity(chunk.len());
        for &byte in chunk {
            if self.keys.get(self.matched) == Some(&byte) {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scanned::Detach(passed);
                }
                continue;
            }
            passed.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if self.keys.first() == Some(&byte) {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scanned::Detach(passed);
                }
            } else {
                passed.push(byte);
            }
        }
        Scanned::Input(passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_key_names_are_read() {
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-a,ctrl-z").unwrap(), [1, 26]);
        assert_eq!(
            parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse("a,Z,DEL").unwrap(), [b'a', b'Z', 0x7f]);
    }

    #[test]
    fn an_unknown_key_is_named() {
        assert_eq!(parse("ctrl-1").unwrap_err(), "ctrl-1");
        assert_eq!(parse("ctrl-P").unwrap_err(), "ctrl-P");
        assert_eq!(parse("ctrl-p,,a").unwrap_err(), "");
        assert_eq!(parse("ab").unwrap_err(), "ab");
    }

    #[test]
    fn a_bad_value_is_dockers_400() {
        let error = from_request(Some("ctrl-1"), |v| {
            format!("Invalid detach keys ({v}) provided")
        })
        .unwrap_err();
        assert_eq!(error.status(), hyper::StatusCode::BAD_REQUEST);
        assert!(
            error
                .to_string()
                .contains("Invalid detach keys (ctrl-1) provided"),
            "{error}"
        );
        assert_eq!(from_request(None, |v| v.to_string()).unwrap(), DEFAULT);
    }

    #[test]
    fn the_sequence_detaches_and_is_not_passed_on() {
        let mut scanner = Scanner::new(DEFAULT.to_vec());
        assert_eq!(scanner.scan(b"ls\r"), Scanned::Input(b"ls\r".to_vec()));
        assert_eq!(scanner.scan(b"x\x10"), Scanned::Input(b"x".to_vec()));
        assert_eq!(scanner.scan(b"\x11"), Scanned::Detach(Vec::new()));
    }

    #[test]
    fn a_partial_match_is_passed_on_once_broken() {
        let mut scanner = Scanner::new(DEFAULT.to_vec());
        assert_eq!(scanner.scan(b"\x10"), Scanned::Input(Vec::new()));
        assert_eq!(scanner.scan(b"a"), Scanned::Input(b"\x10a".to_vec()));
        assert_eq!(
            scanner.scan(b"\x10\x10\x11"),
            Scanned::Detach(b"\x10".to_vec())
        );
    }

    #[test]
    fn a_single_key_detaches_at_once() {
        let mut scanner = Scanner::new(parse("ctrl-x").unwrap());
        assert_eq!(scanner.scan(b"ab\x18cd"), Scanned::Detach(b"ab".to_vec()));
    }
}
