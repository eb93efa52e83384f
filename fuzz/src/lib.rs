//! Fuzz entry points: one module per parser of untrusted input, each with a
//! `run(&[u8])` that feeds the bytes through the parser the way the product does
//! and panics only when a property the product relies on is broken (a reply
//! that is not one, a file written outside a layer). The libFuzzer targets in
//! `libfuzzer/` call these functions, and `tests/corpora.rs` replays every
//! checked-in corpus file through them on stable Rust.
//!
//! Not for production use: nothing in the product depends on this crate.

pub mod compose;
pub mod dns;
pub mod dockerfile;
pub mod dockerignore;
pub mod dotenv;
pub mod gotemplate;
pub mod manifest;
pub mod seccomp;
pub mod token;
pub mod unpack;

/// The input as text, when it is UTF-8 (the parsers below take `&str`; their
/// callers read files and reject other bytes before).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
