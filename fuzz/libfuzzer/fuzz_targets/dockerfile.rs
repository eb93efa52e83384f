//! Fuzz target `dockerfile`: see `wharf_fuzz::dockerfile`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::dockerfile::run(data));
