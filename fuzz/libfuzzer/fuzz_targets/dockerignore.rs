//! Fuzz target `dockerignore`: see `wharf_fuzz::dockerignore`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::dockerignore::run(data));
