//! Replays every checked-in fuzz input through the entry function its libFuzzer
//! target calls: the minimized corpus (`corpus/<target>/`) and the inputs that
//! once broke a parser (`regressions/<target>/`, named after the bug). Runs on
//! stable Rust in `cargo test --workspace`, so a parser change that panics on a
//! known input fails CI without a fuzzer.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            files.push(entry.expect("read a corpus directory").path());
        }
    }
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no corpus for the {target} target");
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} panics", file.display());
    }
}

#[test]
fn compose() {
    replay("compose", wharf_fuzz::compose::run);
}

#[test]
fn dns() {
    replay("dns", wharf_fuzz::dns::run);
}

#[test]
fn dockerfile() {
    replay("dockerfile", wharf_fuzz::dockerfile::run);
}

#[test]
fn dockerignore() {
    replay("dockerignore", wharf_fuzz::dockerignore::run);
}

#[test]
fn dotenv() {
    replay("dotenv", wharf_fuzz::dotenv::run);
}

#[test]
fn gotemplate() {
    replay("gotemplate", wharf_fuzz::gotemplate::run);
}

#[test]
fn manifest() {
    replay("manifest", wharf_fuzz::manifest::run);
}

#[test]
fn seccomp() {
    replay("seccomp", wharf_fuzz::seccomp::run);
}

#[test]
fn token() {
    replay("token", wharf_fuzz::token::run);
}

#[test]
fn unpack() {
    replay("unpack", wharf_fuzz::unpack::run);
}
