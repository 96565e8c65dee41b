//! Fuzz target: a config that parses must serialise with `to_toml()` and parse back equal.
//! Input format: see `harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::config_roundtrip(data);
});
