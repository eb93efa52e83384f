//! Fuzz target `token`: see `wharf_fuzz::token`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::token::run(data));
