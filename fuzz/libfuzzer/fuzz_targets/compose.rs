//! Fuzz target `compose`: see `wharf_fuzz::compose`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::compose::run(data));
