//! Reading data images and label images (`cgkl::io::image`) from good and broken files written
//! at test time, plus the shipped photo `data/camera.png` and its labels.

use std::fs;
use std::path::{Path, PathBuf};

use cgkl::io::image::{
    load_labels, load_luminance, resample_area, resample_labels, GrayImage, LabelImage,
};
use cgkl::CgklError;
use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
use ndarray::{arr2, Array3};

/// A scratch folder under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cgkl_image_io_{}_{}", std::process::id(), name));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn write(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(file);
        fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every error: bad input, one line, names the file.
fn check_error(e: &CgklError, file: &Path) -> String {
    let msg = e.to_string();
    assert!(e.is_input(), "not an input error: {msg}");
    assert!(!msg.contains('\n'), "message is not one line: {msg:?}");
    assert!(
        msg.contains(&file.display().to_string()),
        "message does not name {}: {msg}",
        file.display()
    );
    msg
}

fn lum_err(file: &Path) -> String {
    let e = load_luminance(file).expect_err("must fail");
    check_error(&e, file)
}

fn lab_err(file: &Path, dataset: &str) -> String {
    let e = load_labels(file, dataset).expect_err("must fail");
    check_error(&e, file)
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A minimal uncompressed little-endian one-strip TIFF, single channel.
fn tiff_bytes(width: u32, height: u32, bits: u16, sample_format: u16, data: &[u8]) -> Vec<u8> {
    let entries: [(u16, u16, u32); 10] = [
        (256, 4, width),                // ImageWidth, LONG
        (257, 4, height),               // ImageLength
        (258, 3, bits as u32),          // BitsPerSample, SHORT
        (259, 3, 1),                    // Compression: none
        (262, 3, 1),                    // Photometric: BlackIsZero
        (273, 4, 8 + 2 + 10 * 12 + 4),  // StripOffsets: right after the IFD
        (277, 3, 1),                    // SamplesPerPixel
        (278, 4, height),               // RowsPerStrip
        (279, 4, data.len() as u32),    // StripByteCounts
        (339, 3, sample_format as u32), // SampleFormat: 1 uint, 3 float
    ];
    let mut b = b"II".to_vec();
    b.extend_from_slice(&42u16.to_le_bytes());
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, typ, value) in entries {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&typ.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        if typ == 3 {
            b.extend_from_slice(&(value as u16).to_le_bytes());
            b.extend_from_slice(&[0, 0]);
        } else {
            b.extend_from_slice(&value.to_le_bytes());
        }
    }
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(data);
    b
}

// ---------------------------------------------------------------------------
// good images

#[test]
fn gray8_png() {
    let s = Scratch::new("gray8");
    let p = s.path("g8.png");
    let raw: Vec<u8> = vec![0, 1, 128, 254, 255, 7];
    ImageBuffer::<Luma<u8>, _>::from_raw(3, 2, raw.clone())
        .unwrap()
        .save(&p)
        .unwrap();
    let g = load_luminance(&p).unwrap();
    assert_eq!((g.width, g.height), (3, 2));
    let want: Vec<f64> = raw.iter().map(|&v| v as f64 / 255.0).collect();
    assert_eq!(g.values, want);
}

#[test]
fn gray16_png_keeps_16_bit_precision() {
    let s = Scratch::new("gray16");
    let p = s.path("g16.png");
    let raw: Vec<u16> = vec![0, 1, 257, 1000, 65534, 65535, 12345, 40000];
    ImageBuffer::<Luma<u16>, _>::from_raw(4, 2, raw.clone())
        .unwrap()
        .save(&p)
        .unwrap();
    let g = load_luminance(&p).unwrap();
    assert_eq!((g.width, g.height), (4, 2));
    let want: Vec<f64> = raw.iter().map(|&v| v as f64 / 65535.0).collect();
    assert_eq!(g.values, want);
    assert_ne!(
        g.values[1], 0.0,
        "16-bit value 1 must not collapse to 8 bits"
    );
}

#[test]
fn pgm_binary_and_ascii() {
    let s = Scratch::new("pgm");
    // P5, maxval 255, the format detected from the content despite the extension.
    let mut p5 = b"P5\n# a comment\n3 2\n255\n".to_vec();
    p5.extend_from_slice(&[0, 10, 20, 30, 40, 255]);
    let p = s.write("binary.dat", &p5);
    let g = load_luminance(&p).unwrap();
    assert_eq!((g.width, g.height), (3, 2));
    let want: Vec<f64> = [0u8, 10, 20, 30, 40, 255]
        .iter()
        .map(|&v| v as f64 / 255.0)
        .collect();
    assert_eq!(g.values, want);

    // P2 with maxval 4: values v/4 exactly.
    let p = s.write("ascii.pgm", b"P2\n2 2\n4\n0 1\n3 4\n");
    let g = load_luminance(&p).unwrap();
    assert_eq!(g.values, vec![0.0, 0.25, 0.75, 1.0]);

    // P5 16-bit (big-endian samples), maxval 65535.
    let mut p16 = b"P5 2 1 65535\n".to_vec();
    p16.extend_from_slice(&[0x01, 0x02, 0xff, 0xfe]);
    let p = s.write("p16.pgm", &p16);
    let g = load_luminance(&p).unwrap();
    assert_eq!(g.values, vec![258.0 / 65535.0, 65534.0 / 65535.0]);

    // P2 with maxval 1000 (16-bit path): v/1000 exactly.
    let p = s.write("a1000.pgm", b"P2 3 1 1000 0 1 999");
    let g = load_luminance(&p).unwrap();
    assert_eq!(g.values, vec![0.0, 1.0 / 1000.0, 999.0 / 1000.0]);
}

#[test]
fn rgb_png_uses_rec709_luminance_and_ignores_alpha() {
    let s = Scratch::new("rgb");
    let px: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]];
    let raw: Vec<u8> = px.iter().flatten().copied().collect();
    let p = s.path("rgb.png");
    ImageBuffer::<Rgb<u8>, _>::from_raw(2, 2, raw)
        .unwrap()
        .save(&p)
        .unwrap();
    let g = load_luminance(&p).unwrap();
    let y = |c: [u8; 3]| {
        0.2126 * c[0] as f64 / 255.0 + 0.7152 * c[1] as f64 / 255.0 + 0.0722 * c[2] as f64 / 255.0
    };
    for (k, c) in px.iter().enumerate() {
        assert!(
            (g.values[k] - y(*c)).abs() < 1e-15,
            "pixel {k}: {}",
            g.values[k]
        );
    }
    assert!((g.values[0] - 0.2126).abs() < 1e-15);
    assert!((g.values[1] - 0.7152).abs() < 1e-15);
    assert!((g.values[2] - 0.0722).abs() < 1e-15);

    // RGBA: the alpha channel does not change the luminance.
    let raw: Vec<u8> = px
        .iter()
        .enumerate()
        .flat_map(|(k, c)| [c[0], c[1], c[2], (k * 60) as u8])
        .collect();
    let p = s.path("rgba.png");
    ImageBuffer::<Rgba<u8>, _>::from_raw(2, 2, raw)
        .unwrap()
        .save(&p)
        .unwrap();
    assert_eq!(load_luminance(&p).unwrap().values, g.values);

    // 16-bit RGB.
    let p = s.path("rgb16.png");
    ImageBuffer::<Rgb<u16>, _>::from_raw(1, 1, vec![65535u16, 1000, 3])
        .unwrap()
        .save(&p)
        .unwrap();
    let v = load_luminance(&p).unwrap().values[0];
    let want = 0.2126 + 0.7152 * 1000.0 / 65535.0 + 0.0722 * 3.0 / 65535.0;
    assert!((v - want).abs() < 1e-15);

    // Gray + alpha: alpha ignored.
    let p = s.path("la.png");
    ImageBuffer::<LumaA<u8>, _>::from_raw(2, 1, vec![51u8, 0, 102, 255])
        .unwrap()
        .save(&p)
        .unwrap();
    assert_eq!(load_luminance(&p).unwrap().values, vec![0.2, 0.4]);
}

#[test]
fn tiff_16_bit_and_float() {
    let s = Scratch::new("tiff");
    // 16-bit gray TIFF written by the image crate.
    let p = s.path("g16.tif");
    let raw: Vec<u16> = vec![0, 3, 30000, 65535];
    ImageBuffer::<Luma<u16>, _>::from_raw(2, 2, raw.clone())
        .unwrap()
        .save(&p)
        .unwrap();
    let g = load_luminance(&p).unwrap();
    let want: Vec<f64> = raw.iter().map(|&v| v as f64 / 65535.0).collect();
    assert_eq!(g.values, want);

    // The hand-made TIFF writer is valid: as unsigned 16-bit it decodes.
    let data: Vec<u8> = [7u16, 65535].iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = s.write("hand16.tiff", &tiff_bytes(2, 1, 16, 1, &data));
    let g = load_luminance(&p).unwrap();
    assert_eq!(g.values, vec![7.0 / 65535.0, 1.0]);

    // 32-bit float TIFF with a NaN: image 0.24 does not decode float TIFF at all, so the file
    // is rejected (as unsupported) before the NaN could be seen.
    let data: Vec<u8> = [0.5f32, f32::NAN]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = s.write("float.tif", &tiff_bytes(2, 1, 32, 3, &data));
    let msg = lum_err(&p);
    assert!(msg.contains("TIFF"), "{msg}");
    assert!(msg.contains("unsupported"), "{msg}");
}

// ---------------------------------------------------------------------------
// good labels

#[test]
fn labels_from_png_pgm_and_hdf5() {
    let s = Scratch::new("labels_ok");
    let raw: Vec<u8> = vec![0, 1, 2, 2, 1, 0];
    let p = s.path("l8.png");
    ImageBuffer::<Luma<u8>, _>::from_raw(3, 2, raw.clone())
        .unwrap()
        .save(&p)
        .unwrap();
    let l = load_labels(&p, "ignored").unwrap();
    assert_eq!((l.width, l.height), (3, 2));
    assert_eq!(l.labels, vec![0, 1, 2, 2, 1, 0]);

    let p = s.path("l16.png");
    ImageBuffer::<Luma<u16>, _>::from_raw(2, 1, vec![300u16, 65535])
        .unwrap()
        .save(&p)
        .unwrap();
    assert_eq!(load_labels(&p, "").unwrap().labels, vec![300, 65535]);

    // P2 with a small maxval: the stored integers, not the decoder's 8-bit stretch.
    let p = s.write("l.pgm", b"P2\n3 2\n5\n0 1 2\n3 4 5\n");
    assert_eq!(load_labels(&p, "").unwrap().labels, vec![0, 1, 2, 3, 4, 5]);

    // HDF5, any integer type; detected by signature even with another extension.
    let p = s.path("labels.bin");
    {
        let f = hdf5::File::create(&p).unwrap();
        f.new_dataset_builder()
            .with_data(&arr2(&[[0u8, 1, 1], [2, 2, 0]]))
            .create("lab")
            .unwrap();
        f.new_dataset_builder()
            .with_data(&arr2(&[[4_000_000_000u64, 0]]))
            .create("big")
            .unwrap();
        let g = f.create_group("grp").unwrap();
        g.new_dataset_builder()
            .with_data(&arr2(&[[3i16], [1]]))
            .create("inner")
            .unwrap();
    }
    let l = load_labels(&p, "lab").unwrap();
    assert_eq!((l.width, l.height), (3, 2));
    assert_eq!(l.labels, vec![0, 1, 1, 2, 2, 0]);
    assert_eq!(
        load_labels(&p, "big").unwrap().labels,
        vec![4_000_000_000, 0]
    );
    let l = load_labels(&p, "grp/inner").unwrap();
    assert_eq!((l.width, l.height, l.labels), (1, 2, vec![3, 1]));
}

// ---------------------------------------------------------------------------
// the shipped data

/// Number of 4-connected components of the cells carrying `label`.
fn components(lab: &LabelImage, label: u32) -> usize {
    let (w, h) = (lab.width, lab.height);
    let mut seen = vec![false; w * h];
    let mut count = 0;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || lab.labels[start] != label {
            continue;
        }
        count += 1;
        seen[start] = true;
        stack.push(start);
        while let Some(k) = stack.pop() {
            let (x, y) = (k % w, k / w);
            let mut nb = Vec::with_capacity(4);
            if x > 0 {
                nb.push(k - 1);
            }
            if x + 1 < w {
                nb.push(k + 1);
            }
            if y > 0 {
                nb.push(k - w);
            }
            if y + 1 < h {
                nb.push(k + w);
            }
            for n in nb {
                if !seen[n] && lab.labels[n] == label {
                    seen[n] = true;
                    stack.push(n);
                }
            }
        }
    }
    count
}

#[test]
fn shipped_photo_and_labels() {
    let photo = data_dir().join("camera.png");
    let labels = data_dir().join("camera_labels.png");
    for f in [&photo, &labels] {
        let len = fs::metadata(f).unwrap().len();
        assert!(len < 300 * 1024, "{} is {len} bytes", f.display());
    }
    let g = load_luminance(&photo).unwrap();
    assert_eq!((g.width, g.height), (512, 512));
    assert!(g.values.iter().all(|v| (0.0..=1.0).contains(v)));
    let mean = g.values.iter().sum::<f64>() / g.values.len() as f64;
    assert!(mean > 0.2 && mean < 0.8, "mean {mean}");

    let l = load_labels(&labels, "").unwrap();
    assert_eq!((l.width, l.height), (g.width, g.height));
    let m = *l.labels.iter().max().unwrap() as usize + 1;
    assert!((4..=8).contains(&m), "m = {m}");
    let mut count = vec![0usize; m];
    for &k in &l.labels {
        count[k as usize] += 1;
    }
    assert!(count.iter().all(|&c| c > 0), "unused label: {count:?}");
    let split: Vec<u32> = (0..m as u32).filter(|&j| components(&l, j) > 1).collect();
    assert!(!split.is_empty(), "every label region is connected");
    // The horizon band (label 1) lies left and right of the man.
    assert!(split.contains(&1), "split labels: {split:?}");

    // The labels make a valid partition, also after resampling to a coarser grid.
    let grid = cgkl::grid::Grid::new(512, 512).unwrap();
    cgkl::partition::Partition::from_labels(grid, l.labels.clone()).unwrap();
    // data/real_image.toml runs on 128 × 128: every region must survive the majority vote.
    let coarse = resample_labels(&l, 128, 128);
    assert_eq!(coarse.len(), 128 * 128);
    let grid = cgkl::grid::Grid::new(128, 128).unwrap();
    let p = cgkl::partition::Partition::from_labels(grid, coarse).unwrap();
    assert_eq!(p.m(), m);
    let small = resample_area(&g, 128, 96);
    let mean_small = small.iter().sum::<f64>() / small.len() as f64;
    assert!((mean - mean_small).abs() < 1e-12);
}

// ---------------------------------------------------------------------------
// broken files

#[test]
fn missing_empty_and_folder() {
    let s = Scratch::new("missing");
    let p = s.path("nope.png");
    let msg = lum_err(&p);
    assert!(msg.contains("No such file"), "{msg}");
    assert!(matches!(load_luminance(&p), Err(CgklError::Io { .. })));
    lab_err(&p, "labels");

    let p = s.write("empty.png", b"");
    let msg = lum_err(&p);
    assert!(msg.contains("empty"), "{msg}");
    let msg = lab_err(&p, "labels");
    assert!(msg.contains("empty"), "{msg}");

    let msg = lum_err(&s.0);
    assert!(msg.contains("folder"), "{msg}");
}

#[test]
fn truncated_garbage_and_unsupported() {
    let s = Scratch::new("broken");
    // A real PNG with enough content that half of it cuts into the pixel data.
    let full = s.path("full.png");
    let raw: Vec<u16> = (0..64 * 64)
        .map(|k| ((k * 2654435761u64 as usize) >> 7) as u16)
        .collect();
    ImageBuffer::<Luma<u16>, _>::from_raw(64, 64, raw)
        .unwrap()
        .save(&full)
        .unwrap();
    let bytes = fs::read(&full).unwrap();
    let p = s.write("half.png", &bytes[..bytes.len() / 2]);
    let msg = lum_err(&p);
    assert!(msg.contains("PNG"), "{msg}");
    lab_err(&p, "");
    // Cut inside the header as well.
    let p = s.write("head.png", &bytes[..20]);
    lum_err(&p);

    let p = s.write(
        "garbage.png",
        b"this is not an image at all, just text with a .png name",
    );
    let msg = lum_err(&p);
    assert!(msg.contains("unknown file format"), "{msg}");

    // A JPEG signature: recognised, but not a supported format.
    let p = s.write(
        "photo.png",
        &[0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F'],
    );
    let msg = lum_err(&p);
    assert!(msg.contains("JPEG"), "{msg}");

    // Zero width, and too large (from the header alone).
    let p = s.write("zero.pgm", b"P5 0 3 255\n");
    lum_err(&p);
    let p = s.write("wide.pgm", b"P5 20000 1 255\n");
    let msg = lum_err(&p);
    assert!(msg.contains("downscale"), "{msg}");
    let p = s.write("many.pgm", b"P5 16000 16800 255\n");
    let msg = lum_err(&p);
    assert!(msg.contains("downscale"), "{msg}");
    let p = s.write("short.pgm", b"P5 4 4 255\n\x01\x02");
    lum_err(&p);
}

#[test]
fn wrong_label_images() {
    let s = Scratch::new("bad_labels");
    let p = s.path("rgb.png");
    ImageBuffer::<Rgb<u8>, _>::from_raw(1, 1, vec![1u8, 2, 3])
        .unwrap()
        .save(&p)
        .unwrap();
    let msg = lab_err(&p, "labels");
    assert!(
        msg.contains("label image must be single-channel integer (grayscale), got RGB8"),
        "{msg}"
    );
    let p = s.path("la.png");
    ImageBuffer::<LumaA<u8>, _>::from_raw(1, 1, vec![1u8, 255])
        .unwrap()
        .save(&p)
        .unwrap();
    lab_err(&p, "labels");
    let p = s.write("bits.pbm", b"P1 2 1 0 1");
    let msg = lab_err(&p, "labels");
    assert!(msg.contains("PBM"), "{msg}");

    let p = s.path("bad.h5");
    {
        let f = hdf5::File::create(&p).unwrap();
        f.new_dataset_builder()
            .with_data(&arr2(&[[0.0f64, 1.0], [1.0, 0.0]]))
            .create("float")
            .unwrap();
        f.new_dataset_builder()
            .with_data(&arr2(&[[0i32, 1], [-1, 0]]))
            .create("negative")
            .unwrap();
        f.new_dataset_builder()
            .with_data(&Array3::<u8>::zeros((2, 3, 4)))
            .create("cube")
            .unwrap();
    }
    let msg = lab_err(&p, "float");
    assert!(msg.contains("must be an integer dataset"), "{msg}");
    let msg = lab_err(&p, "negative");
    assert!(msg.contains("(0, 1)") && msg.contains("-1"), "{msg}");
    let msg = lab_err(&p, "labels");
    assert!(
        msg.contains("labels") && msg.contains("cube") && msg.contains("float"),
        "{msg}"
    );
    let msg = lab_err(&p, "cube");
    assert!(msg.contains("[2, 3, 4]"), "{msg}");

    // .h5 extension but not HDF5 inside.
    let p = s.write("fake.h5", b"not hdf5");
    lab_err(&p, "labels");
}

#[test]
fn resampling_public_api() {
    let g = GrayImage {
        width: 2,
        height: 2,
        values: vec![1.0, 2.0, 3.0, 6.0],
    };
    assert_eq!(resample_area(&g, 1, 1), vec![3.0]);
    assert_eq!(resample_area(&g, 2, 2), g.values);
    let l = LabelImage {
        width: 2,
        height: 2,
        labels: vec![3, 1, 1, 3],
    };
    assert_eq!(resample_labels(&l, 1, 1), vec![1]);
}
