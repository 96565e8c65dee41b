//! Fuzz target: the input is an image file → `load_luminance` and `load_labels(…, "labels")`
//! → `resample_area` / `resample_labels` onto 7 × 5. Checks: see `loaders.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod loaders;

fuzz_target!(|data: &[u8]| {
    let _ = loaders::image_loader(data);
});
