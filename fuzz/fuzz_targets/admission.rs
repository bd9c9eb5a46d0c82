#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kerf_fuzz::admission::check(data));
