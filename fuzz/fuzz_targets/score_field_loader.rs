//! Fuzz target: the input is a score-field HDF5 file → `ScoreField::load(path, 4, 3)` →
//! `log_q_at` at, between and beyond the times. Checks: see `loaders.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod loaders;

fuzz_target!(|data: &[u8]| {
    let _ = loaders::score_field_loader(data);
});
