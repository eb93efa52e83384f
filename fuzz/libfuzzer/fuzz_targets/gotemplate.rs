//! Fuzz target `gotemplate`: see `wharf_fuzz::gotemplate`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::gotemplate::run(data));
