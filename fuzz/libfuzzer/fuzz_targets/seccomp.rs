//! Fuzz target `seccomp`: see `wharf_fuzz::seccomp`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::seccomp::run(data));
