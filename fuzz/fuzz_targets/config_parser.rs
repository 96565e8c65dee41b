//! Fuzz target: TOML config + `--set` overrides → parse → validate → generator.
//! Input format and size limits: see `harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::config_parser(data);
});
