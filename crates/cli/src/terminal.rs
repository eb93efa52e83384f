//! The caller's terminal for `run` and `attach`: raw mode while a container
//! owns the terminal, and docker's detach keys.

use anyhow::{bail, Result};

pub use wharf_engine::RawMode;

/// Docker's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// A detach sequence and how much of it the input has matched so far.
#[derive(Debug, PartialEq, Eq)]
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    /// Docker's syntax: comma-separated keys, each a single character or
    /// `ctrl-X` with X one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`. An empty
    /// text disables detaching.
    pub fn parse(text: &str) -> Result<DetachKeys> {
        let mut keys = Vec::new();
        if !text.is_empty() {
            for key in text.split(',') {
                keys.push(parse_key(key).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--detach-keys {text:?}: {key:?} is not a key: write a single character or ctrl-X with X one of a-z, @, [, \\, ], ^, _ (like ctrl-p,ctrl-q)"
                    )
                })?);
            }
        }
        if keys.len() > 32 {
            bail!("--detach-keys {text:?}: at most 32 keys");
        }
        Ok(DetachKeys { keys, matched: 0 })
    }

    /// Pass `input` through into `out`, holding back a partial match of the
    /// sequence (released when the next byte does not continue it); true
    /// once the whole sequence was typed (what follows it is dropped).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &byte in input {
            if self.keys.is_empty() {
                out.push(byte);
                continue;
            }
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return true;
                }
            } else {
                out.push(byte);
            }
        }
        false
    }
}

fn parse_key(key: &str) -> Option<u8> {
    let lower = key.to_ascii_lowercase();
    if let Some(name) = lower.strip_prefix("ctrl-") {
        return match name.as_bytes() {
            [c @ b'a'..=b'z'] => Some(c - b'a' + 1),
            [b'@'] => Some(0),
            [b'['] => Some(27),
            [b'\\'] => Some(28),
            [b']'] => Some(29),
            [b'^'] => Some(30),
            [b'_'] => Some(31),
            _ => None,
        };
    }
    match key.as_bytes() {
        [c] => Some(*c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker_writes_them() {
        assert_eq!(
            DetachKeys::parse(DEFAULT_DETACH_KEYS).unwrap().keys,
            [0x10, 0x11]
        );
        assert_eq!(
            DetachKeys::parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,x,CTRL-A")
                .unwrap()
                .keys,
            [0, 27, 28, 29, 30, 31, b'x', 1]
        );
        assert!(DetachKeys::parse("").unwrap().keys.is_empty());
        for bad in ["ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q"] {
            let err = DetachKeys::parse(bad).unwrap_err().to_string();
            assert!(err.contains("--detach-keys"), "{err}");
        }
    }

    #[test]
    fn detach_keys_hold_a_partial_match_and_release_it_on_a_mismatch() {
        let mut keys = DetachKeys::parse(DEFAULT_DETACH_KEYS).unwrap();
        let mut out = Vec::new();
        assert!(!keys.feed(b"ls\x10", &mut out));
        assert_eq!(out, b"ls");
        assert!(!keys.feed(b"a\x10\x10", &mut out));
        assert_eq!(out, b"ls\x10a\x10");
        assert!(keys.feed(b"\x11ignored", &mut out));
        assert_eq!(out, b"ls\x10a\x10");
        let mut none = DetachKeys::parse("").unwrap();
        let mut out = Vec::new();
        assert!(!none.feed(b"\x10\x11", &mut out));
        assert_eq!(out, b"\x10\x11");
        let mut one = DetachKeys::parse("ctrl-a").unwrap();
        assert!(one.feed(b"x\x01", &mut out));
    }
}
