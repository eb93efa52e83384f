//! Fuzz target `manifest`: see `wharf_fuzz::manifest`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::manifest::run(data));
