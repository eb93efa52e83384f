//! Fuzz target `unpack`: see `wharf_fuzz::unpack`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::unpack::run(data));
