//! Fuzz target `dotenv`: see `wharf_fuzz::dotenv`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::dotenv::run(data));
