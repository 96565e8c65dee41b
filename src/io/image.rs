//! Image input (SPEC §1): data images and class-label images read from files, and their
//! resampling onto the `nx × ny` pixel grid.
//!
//! * [`load_luminance`] reads a PNG, PNM (PBM/PGM/PPM/PAM) or TIFF file, the format being
//!   detected from the file's first bytes (not its extension), into a [`GrayImage`].
//! * [`load_labels`] reads a label image, either a single-channel integer PNG/PNM/TIFF or a 2-D
//!   integer dataset of an HDF5 file, into a [`LabelImage`].
//! * [`resample_area`] and [`resample_labels`] map them onto a grid of another size with exact
//!   area-overlap weights (the image rectangle is stretched onto the grid rectangle).
//!
//! ## Sample values
//! Integer samples are scaled to `[0, 1]` by their format's maximum: `v/255` for 8-bit,
//! `v/65535` for 16-bit samples (16-bit precision is kept). PNM files whose `maxval` `M` is not
//! 255 or 65535 give `v/M` (the decoder rescales them to 8 or 16 bits in f32; the original
//! integer `v` is recovered from that exactly for `M ≤ 64000`, to within one unit above), 1-, 2-
//! and 4-bit grayscale PNGs give `v/(2^d − 1)` exactly.
//! Float samples (not produced by the `image` 0.24 decoders used here, which reject float TIFF)
//! would be kept as they are. Every value must be finite and ≥ 0.
//!
//! ## Colour rule
//! A colour image becomes its luminance `Y = 0.2126 R + 0.7152 G + 0.0722 B` (Rec. 709 weights)
//! computed on the stored, gamma-encoded sample values after scaling to `[0, 1]`; no
//! linearisation is done. An alpha channel is ignored (the colour values are used as stored,
//! not composited over a background). Palette PNGs are expanded to their RGB(A) colours first.
//!
//! ## Limits
//! At most [`MAX_SIDE`] pixels per side and [`MAX_PIXELS`] pixels in all; larger images are
//! rejected from their header, before any pixel is decoded.
//!
//! ## Errors
//! Every failure is a one-line [`CgklError::Io`] (the file cannot be opened or read) or
//! [`CgklError::Data`] (the content is unusable) that names the file, says what is wrong and
//! how to fix it; no input file makes these functions panic.

use std::io::{Cursor, Seek, SeekFrom};
use std::path::Path;

use ::image::codecs::pnm::{PnmDecoder, PnmSubtype};
use ::image::error::ImageError;
use ::image::io::{Limits, Reader};
use ::image::{DynamicImage, ImageFormat};
#[cfg(feature = "hdf5")]
use hdf5::types::TypeDescriptor;

use crate::error::{one_line, CgklError, Result};

/// Largest accepted width or height of an input image, in pixels.
pub const MAX_SIDE: usize = 16384;

/// Largest accepted number of pixels (`width · height`) of an input image: `2^28`.
pub const MAX_PIXELS: usize = 1 << 28;

/// The 8-byte signature at the start of an HDF5 file.
const HDF5_SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

/// The 8-byte signature at the start of a PNG file.
const PNG_SIGNATURE: [u8; 8] = *b"\x89PNG\r\n\x1a\n";

/// A single-channel image, row-major (row = y, index `iy·width + ix`), values as f64.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    /// Number of columns (pixels along x).
    pub width: usize,
    /// Number of rows (pixels along y).
    pub height: usize,
    /// `width · height` values, row-major: pixel `(ix, iy)` is `values[iy·width + ix]`.
    pub values: Vec<f64>,
}

/// An integer label image, row-major (row = y, index `iy·width + ix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelImage {
    /// Number of columns (pixels along x).
    pub width: usize,
    /// Number of rows (pixels along y).
    pub height: usize,
    /// `width · height` labels, row-major: pixel `(ix, iy)` is `labels[iy·width + ix]`.
    pub labels: Vec<u32>,
}

// ---------------------------------------------------------------------------
// errors

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Walks the PNG chunk list before decoding: png 0.17 panics on a PLTE chunk whose length is not
/// a multiple of 3 (image-rs/image-png#694), so such a file is refused here as corrupt.
fn check_png_chunks(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut at = 8usize;
    while at + 8 <= bytes.len() {
        let len =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let kind = &bytes[at + 4..at + 8];
        if kind == b"PLTE" && (len == 0 || !len.is_multiple_of(3) || len > 3 * 256) {
            return Err(data_error(
                path,
                format!(
                    "corrupt PNG: its palette (PLTE chunk) has {len} bytes, not 3 per colour \
                     (at most 256 colours); re-save the image"
                ),
            ));
        }
        if kind == b"IEND" {
            break;
        }
        at = at.saturating_add(12).saturating_add(len);
    }
    Ok(())
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> CgklError {
    CgklError::Io {
        path: shown(path),
        msg: format!(
            "cannot {what}: {}; check the path and the file permissions",
            one_line(e)
        ),
    }
}

fn data_error(path: &Path, msg: impl std::fmt::Display) -> CgklError {
    CgklError::Data(format!("{}: {}", shown(path), one_line(msg)))
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Pnm => "PNM (PBM/PGM/PPM/PAM)",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Ico => "ICO",
        ImageFormat::Hdr => "Radiance HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Farbfeld => "farbfeld",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        _ => "this",
    }
}

/// Turns a decoder error into a one-line, file-naming error with a fix.
fn decode_error(path: &Path, format: ImageFormat, e: ImageError) -> CgklError {
    let name = format_name(format);
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => data_error(
            path,
            format!(
                "the {name} file ends too early ({}): it is truncated; copy or export it again",
                one_line(&io)
            ),
        ),
        ImageError::IoError(io) => io_error(path, "read the image file", &io),
        ImageError::Decoding(d) => data_error(
            path,
            format!(
                "cannot decode the {name} image ({}): the file is corrupt or truncated; \
                 copy or export it again",
                one_line(d)
            ),
        ),
        ImageError::Unsupported(u) => data_error(
            path,
            format!(
                "unsupported {name} variant ({}); save the image as an 8- or 16-bit \
                 unsigned-integer grayscale PNG (float data: rescale to 0…65535 first)",
                one_line(u)
            ),
        ),
        ImageError::Limits(l) => data_error(
            path,
            format!(
                "the image is too large to decode ({}); at most {MAX_SIDE} pixels per side and \
                 2^28 pixels in all are accepted: downscale it",
                one_line(l)
            ),
        ),
        other => data_error(
            path,
            format!(
                "cannot decode the {name} image ({}); copy or export it again as an 8- or \
                 16-bit grayscale PNG",
                one_line(other)
            ),
        ),
    }
}

fn check_size(path: &Path, width: usize, height: usize, what: &str) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(data_error(
            path,
            format!("the {what} has no pixels ({width} × {height}); use an image of at least 1 × 1 pixel"),
        ));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width.saturating_mul(height) > MAX_PIXELS {
        return Err(data_error(
            path,
            format!(
                "the {what} is {width} × {height} pixels, more than the {MAX_SIDE} per side or \
                 2^28 in all that are accepted; downscale it"
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// decoding

/// A decoded raster image with what is needed to recover its original integer samples.
struct Decoded {
    img: DynamicImage,
    format: ImageFormat,
    /// Largest value of the stored integer samples (`M`): the decoder stretched them to 255
    /// (8-bit buffers) or 65535 (16-bit buffers); `v = round(v' · M / T)` undoes it exactly.
    sample_max: u32,
    /// True for PBM bitmaps (1 bit, black = 1 in the file, decoded as black = 0).
    bitmap: bool,
}

/// Reads `path` whole (a regular file or standard input, see [`super::input::read_input`]),
/// refusing empty ones; returns a reader over the bytes and their first 32.
fn open_file(path: &Path) -> Result<(Cursor<Vec<u8>>, Vec<u8>)> {
    let bytes = super::input::read_input(path, "image")?;
    if bytes.is_empty() {
        return Err(data_error(
            path,
            "the file is empty (0 bytes); copy or export the image again",
        ));
    }
    let head = bytes[..bytes.len().min(32)].to_vec();
    Ok((Cursor::new(bytes), head))
}

/// Decodes a PNG, PNM or TIFF file (format from the content) within the size limits.
fn decode_raster(
    path: &Path,
    mut reader: Cursor<Vec<u8>>,
    head: &[u8],
    what: &str,
) -> Result<Decoded> {
    let rewind = |r: &mut Cursor<Vec<u8>>| {
        r.seek(SeekFrom::Start(0))
            .map_err(|e| io_error(path, "read the file", &e))
    };
    let format = Reader::new(&mut reader)
        .with_guessed_format()
        .map_err(|e| io_error(path, "read the file", &e))?
        .format();
    let format = match format {
        Some(f @ (ImageFormat::Png | ImageFormat::Pnm | ImageFormat::Tiff)) => f,
        Some(other) => {
            return Err(data_error(
                path,
                format!(
                    "{} images are not supported (only PNG, PNM and TIFF are); convert it to an \
                     8- or 16-bit grayscale PNG",
                    format_name(other)
                ),
            ))
        }
        None => return Err(data_error(
            path,
            "unknown file format: its first bytes are not those of a PNG, PNM (PBM/PGM/PPM/PAM) \
                 or TIFF image; convert it to an 8- or 16-bit grayscale PNG",
        )),
    };

    if format == ImageFormat::Png {
        check_png_chunks(path, reader.get_ref())?;
    }

    // Header only: dimensions, checked before any pixel is decoded.
    rewind(&mut reader)?;
    let (w, h) = Reader::with_format(&mut reader, format)
        .into_dimensions()
        .map_err(|e| decode_error(path, format, e))?;
    check_size(path, w as usize, h as usize, what)?;

    // Original sample range where the decoder rescales.
    let mut sample_max = 0;
    let mut bitmap = false;
    if format == ImageFormat::Pnm {
        rewind(&mut reader)?;
        let (_, header) = PnmDecoder::new(&mut reader)
            .map_err(|e| decode_error(path, format, e))?
            .into_inner();
        sample_max = header.maximal_sample();
        bitmap = matches!(header.subtype(), PnmSubtype::Bitmap(_));
    } else if format == ImageFormat::Png && head.len() >= 26 && head[..8] == PNG_SIGNATURE {
        // IHDR is the first chunk: bit depth at byte 24, colour type at byte 25 (0 = gray).
        let (depth, colour) = (head[24], head[25]);
        if colour == 0 && matches!(depth, 1 | 2 | 4) {
            sample_max = (1u32 << depth) - 1;
        }
    }

    rewind(&mut reader)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE as u32);
    limits.max_image_height = Some(MAX_SIDE as u32);
    // Up to 16 bytes per pixel (RGBA f32) for the largest accepted image.
    limits.max_alloc = Some((MAX_PIXELS as u64) * 16);
    let mut r = Reader::with_format(&mut reader, format);
    r.limits(limits);
    let img = r.decode().map_err(|e| decode_error(path, format, e))?;
    if img.width() != w || img.height() != h {
        return Err(data_error(
            path,
            format!(
                "the header says {w} × {h} pixels but {} × {} were decoded; the file is corrupt: \
                 export it again",
                img.width(),
                img.height()
            ),
        ));
    }
    Ok(Decoded {
        img,
        format,
        sample_max,
        bitmap,
    })
}

/// Largest 16-bit PNM `maxval` for which [`unstretch`] recovers every stored integer exactly
/// (the decoder rescales in f32; above this bound it may be off by one unit).
const PNM_EXACT_MAX16: u32 = 64000;

/// Recovers the stored integer sample from the decoder's value `v'` stretched to `full`
/// (255 or 65535): `v = round(v' · M / full)`, exact for `M < 255` and for
/// `255 < M ≤` [`PNM_EXACT_MAX16`] (the stretch factor `full/M` then exceeds 1 by more than the
/// decoder's f32 round-off).
fn unstretch(v: u32, full: u32, max: u32) -> u32 {
    if max == full || max == 0 {
        v
    } else {
        ((f64::from(v) * f64::from(max)) / f64::from(full)).round() as u32
    }
}

/// Rec. 709 luminance weights of R, G, B.
const REC709: [f64; 3] = [0.2126, 0.7152, 0.0722];

/// Luminance of each pixel of an interleaved buffer with `ch` channels (1–4; ≥ 3 means colour,
/// 2 and 4 carry alpha last, which is ignored), given each sample's value in `[0, 1]`.
fn luminance<T: Copy>(raw: &[T], ch: usize, value: impl Fn(T) -> f64) -> Vec<f64> {
    raw.chunks_exact(ch)
        .map(|px| {
            if ch >= 3 {
                REC709[0] * value(px[0]) + REC709[1] * value(px[1]) + REC709[2] * value(px[2])
            } else {
                value(px[0])
            }
        })
        .collect()
}

/// Reads an image file as luminance values (see the module documentation for the scaling and
/// the colour rule `Y = 0.2126 R + 0.7152 G + 0.0722 B`).
///
/// PNG, PNM (PBM/PGM/PPM/PAM) and TIFF with 8- or 16-bit integer samples are accepted; the
/// format is detected from the content. Integer samples `v` become `v/M` with `M` the format's
/// maximum (255, 65535, or the PNM `maxval`).
///
/// # Errors
/// [`CgklError::Io`] if the file cannot be opened or read (with the OS reason);
/// [`CgklError::Data`] for an empty file, an unknown or unsupported format, a truncated or
/// corrupt file, zero width or height, more than [`MAX_SIDE`] pixels per side or
/// [`MAX_PIXELS`] in all, or a non-finite or negative value (naming the pixel `(ix, iy)`).
/// Every message is one line and names the file.
pub fn load_luminance(path: &Path) -> Result<GrayImage> {
    let (reader, head) = open_file(path)?;
    let d = decode_raster(path, reader, &head, "image")?;
    let (width, height) = (d.img.width() as usize, d.img.height() as usize);
    let m8 = if d.sample_max > 0 && d.sample_max < 255 {
        d.sample_max
    } else {
        255
    };
    let m16 = if d.sample_max > 255 && d.sample_max < 65535 {
        d.sample_max
    } else {
        65535
    };
    let v8 = |v: u8| f64::from(unstretch(u32::from(v), 255, m8)) / f64::from(m8);
    let v16 = |v: u16| f64::from(unstretch(u32::from(v), 65535, m16)) / f64::from(m16);
    let vf = |v: f32| f64::from(v);
    let values = match &d.img {
        DynamicImage::ImageLuma8(b) => luminance(b.as_raw(), 1, v8),
        DynamicImage::ImageLumaA8(b) => luminance(b.as_raw(), 2, v8),
        DynamicImage::ImageRgb8(b) => luminance(b.as_raw(), 3, v8),
        DynamicImage::ImageRgba8(b) => luminance(b.as_raw(), 4, v8),
        DynamicImage::ImageLuma16(b) => luminance(b.as_raw(), 1, v16),
        DynamicImage::ImageLumaA16(b) => luminance(b.as_raw(), 2, v16),
        DynamicImage::ImageRgb16(b) => luminance(b.as_raw(), 3, v16),
        DynamicImage::ImageRgba16(b) => luminance(b.as_raw(), 4, v16),
        DynamicImage::ImageRgb32F(b) => luminance(b.as_raw(), 3, vf),
        DynamicImage::ImageRgba32F(b) => luminance(b.as_raw(), 4, vf),
        other => {
            return Err(data_error(
                path,
                format!(
                    "the {} decoder returned an unsupported pixel type {:?}; save the image as an \
                     8- or 16-bit grayscale PNG",
                    format_name(d.format),
                    other.color()
                ),
            ))
        }
    };
    if values.len() != width * height {
        return Err(data_error(
            path,
            "the decoded pixel buffer does not match the image size; the file is corrupt: export it again",
        ));
    }
    if let Some(k) = values.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(data_error(
            path,
            format!(
                "pixel (ix, iy) = ({}, {}) has the value {}, but image values must be finite and \
                 ≥ 0; fix or clip the image",
                k % width,
                k / width,
                values[k]
            ),
        ));
    }
    Ok(GrayImage {
        width,
        height,
        values,
    })
}

// ---------------------------------------------------------------------------
// labels

fn colour_name(img: &DynamicImage) -> String {
    match img {
        DynamicImage::ImageLuma8(_) => "gray8".into(),
        DynamicImage::ImageLumaA8(_) => "gray+alpha 8-bit (LumaA8)".into(),
        DynamicImage::ImageRgb8(_) => "RGB8".into(),
        DynamicImage::ImageRgba8(_) => "RGBA8".into(),
        DynamicImage::ImageLuma16(_) => "gray16".into(),
        DynamicImage::ImageLumaA16(_) => "gray+alpha 16-bit (LumaA16)".into(),
        DynamicImage::ImageRgb16(_) => "RGB16".into(),
        DynamicImage::ImageRgba16(_) => "RGBA16".into(),
        DynamicImage::ImageRgb32F(_) => "RGB32F".into(),
        DynamicImage::ImageRgba32F(_) => "RGBA32F".into(),
        other => format!("{:?}", other.color()),
    }
}

fn is_hdf5(path: &Path, head: &[u8]) -> bool {
    if head.len() >= 8 && head[..8] == HDF5_SIGNATURE {
        return true;
    }
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.eq_ignore_ascii_case("h5") || e.eq_ignore_ascii_case("hdf5"))
        .unwrap_or(false)
}

/// Reads a label image: the labels of a single-channel integer PNG/PNM/TIFF (8- or 16-bit
/// grayscale; the values are the labels), or the 2-D integer dataset `dataset` of an HDF5 file
/// (shape `[height, width]`, row = y; any integer type).
///
/// HDF5 is recognised by its 8-byte signature `\x89HDF\r\n\x1a\n` at offset 0 or by the
/// extension `.h5`/`.hdf5`; `dataset` is ignored for image files. 1-, 2- and 4-bit grayscale
/// PNGs and PGMs with any `maxval` give their stored integers. Whether the labels are
/// `0…m−1` without gaps is not checked here (see [`crate::partition::Partition::from_labels`]).
///
/// # Errors
/// As [`load_luminance`] for unreadable, empty, unknown, corrupt, empty-sized or oversized
/// files; [`CgklError::Data`] for a colour, alpha or PBM image, a non-integer HDF5 dataset, a
/// missing dataset (naming the top-level datasets present), a dataset that is not 2-D (with its
/// shape), or a label below 0 or above `u32::MAX` (naming the pixel `(ix, iy)`).
pub fn load_labels(path: &Path, dataset: &str) -> Result<LabelImage> {
    let (reader, head) = open_file(path)?;
    if is_hdf5(path, &head) {
        drop(reader);
        if super::input::is_stdin(path) {
            return Err(data_error(
                path,
                "an HDF5 label file cannot come on standard input (HDF5 reads files by seeking); save it to a file and give its path",
            ));
        }
        #[cfg(feature = "hdf5")]
        return load_labels_h5(path, dataset);
        #[cfg(not(feature = "hdf5"))]
        return Err(data_error(
            path,
            format!(
                "an HDF5 label file (dataset `{dataset}`) needs cgkl's `hdf5` feature; rebuild with the default features or give a PNG"
            ),
        ));
    }
    let d = decode_raster(path, reader, &head, "label image")?;
    let (width, height) = (d.img.width() as usize, d.img.height() as usize);
    if d.bitmap {
        return Err(data_error(
            path,
            "a PBM bitmap cannot be a label image (its bits are stored inverted); save the labels \
             as an 8- or 16-bit grayscale PNG",
        ));
    }
    let labels: Vec<u32> = match &d.img {
        DynamicImage::ImageLuma8(b) => {
            let m = if d.sample_max > 0 && d.sample_max < 255 {
                d.sample_max
            } else {
                255
            };
            b.as_raw()
                .iter()
                .map(|&v| unstretch(u32::from(v), 255, m))
                .collect()
        }
        DynamicImage::ImageLuma16(b) => {
            let m = if d.sample_max > 255 && d.sample_max < 65535 {
                d.sample_max
            } else {
                65535
            };
            if m > PNM_EXACT_MAX16 && m < 65535 {
                return Err(data_error(
                    path,
                    format!(
                        "PGM label image with maxval {m}: the decoder's rescaling cannot be undone \
                         exactly above maxval {PNM_EXACT_MAX16}; save the labels as a 16-bit \
                         grayscale PNG (or a PGM with maxval 65535)"
                    ),
                ));
            }
            b.as_raw()
                .iter()
                .map(|&v| unstretch(u32::from(v), 65535, m))
                .collect()
        }
        other => {
            return Err(data_error(
                path,
                format!(
                    "label image must be single-channel integer (grayscale), got {}: save it as \
                     an 8- or 16-bit grayscale PNG",
                    colour_name(other)
                ),
            ))
        }
    };
    if labels.len() != width * height {
        return Err(data_error(
            path,
            "the decoded pixel buffer does not match the image size; the file is corrupt: export it again",
        ));
    }
    Ok(LabelImage {
        width,
        height,
        labels,
    })
}

/// The names of the top-level datasets of an HDF5 file, for error messages.
#[cfg(feature = "hdf5")]
fn top_level_datasets(file: &hdf5::File) -> String {
    let names: Vec<String> = file
        .member_names()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| file.dataset(n).is_ok())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(feature = "hdf5")]
fn load_labels_h5(path: &Path, dataset: &str) -> Result<LabelImage> {
    let file = super::open_h5(
        path,
        "give an HDF5 file or an 8- or 16-bit grayscale PNG of the labels",
    )?;
    let ds = file.dataset(dataset).map_err(|_| {
        data_error(
            path,
            format!(
                "no dataset `{dataset}` in this HDF5 file (top-level datasets: {}); name the label \
                 dataset correctly",
                top_level_datasets(&file)
            ),
        )
    })?;
    let desc = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| {
        data_error(
            path,
            format!(
                "dataset `{dataset}` has a type this reader does not know ({}); store the \
                     labels as an integer dataset",
                one_line(e)
            ),
        )
    })?;
    if !matches!(
        desc,
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)
    ) {
        return Err(data_error(
            path,
            format!(
                "dataset `{dataset}` is {desc}, but the labels must be an integer dataset; store \
                 them as integers (e.g. uint8, int32)"
            ),
        ));
    }
    let shape = ds.shape();
    if shape.len() != 2 {
        return Err(data_error(
            path,
            format!(
                "dataset `{dataset}` has shape {shape:?}, but a label image must be 2-D \
                 [height, width] (row = y); store one 2-D array"
            ),
        ));
    }
    let (height, width) = (shape[0], shape[1]);
    check_size(path, width, height, "label dataset")?;
    let raw = ds.read_raw::<i64>().map_err(|e| {
        data_error(
            path,
            format!(
                "cannot read dataset `{dataset}` ({}); the file may be corrupt or use an \
                 unavailable compression filter",
                one_line(e)
            ),
        )
    })?;
    if raw.len() != width * height {
        return Err(data_error(
            path,
            format!(
                "dataset `{dataset}` returned {} values for shape {shape:?}; the file is corrupt",
                raw.len()
            ),
        ));
    }
    if let Some(k) = raw.iter().position(|&v| v < 0 || v > i64::from(u32::MAX)) {
        return Err(data_error(
            path,
            format!(
                "dataset `{dataset}`: pixel (ix, iy) = ({}, {}) has the label {}, but labels must \
                 be between 0 and {}; relabel to 0…m−1",
                k % width,
                k / width,
                raw[k],
                u32::MAX
            ),
        ));
    }
    Ok(LabelImage {
        width,
        height,
        labels: raw.into_iter().map(|v| v as u32).collect(),
    })
}

// ---------------------------------------------------------------------------
// resampling

/// Exact 1-D overlaps of `n_in` equal input cells with `n_out` equal output cells on the
/// same interval, in integer units of `1/(n_in·n_out)` of the interval: for each output cell
/// `o` (spanning `[o·n_in, (o+1)·n_in)` in these units) the list of `(i, overlap)` with input
/// cell `i` (spanning `[i·n_out, (i+1)·n_out)`) and `overlap > 0`; the overlaps of one output
/// cell sum to `n_in`.
fn overlaps(n_in: usize, n_out: usize) -> Vec<Vec<(usize, u128)>> {
    let (a, b) = (n_in as u128, n_out as u128);
    (0..n_out)
        .map(|o| {
            let (lo, hi) = (o as u128 * a, (o as u128 + 1) * a);
            let first = (lo / b) as usize;
            let last = (hi.div_ceil(b) as usize).min(n_in);
            (first..last)
                .filter_map(|i| {
                    let (ilo, ihi) = (i as u128 * b, (i as u128 + 1) * b);
                    let ov = hi.min(ihi).saturating_sub(lo.max(ilo));
                    (ov > 0).then_some((i, ov))
                })
                .collect()
        })
        .collect()
}

/// Averaging weights `w(o, i) = overlap(o, i) / |output cell|` (they sum to 1 for each `o`).
fn weights(n_in: usize, n_out: usize) -> Vec<Vec<(usize, f64)>> {
    let len = n_in as f64;
    overlaps(n_in, n_out)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(i, ov)| (i, ov as f64 / len))
                .collect()
        })
        .collect()
}

/// Area-averages `img` onto an `nx × ny` grid covering the same rectangle (the image is
/// stretched if the aspect ratios differ); row-major result, index `iy·nx + ix`.
///
/// Each grid cell `C` gets `(1/|C|) ∫_C f`, with `f` the piecewise-constant image: the
/// weights are the exact overlap areas, separable as `w_x(ix, jx) · w_y(iy, jy)` with
/// `w(o, i) = |cell o ∩ pixel i| / |cell o|` along each axis. This works for down- and
/// up-sampling and non-integer ratios, and keeps the mean up to round-off:
/// `Σ out · |cell| = Σ in · |pixel|`. Equal sizes return a bit-for-bit copy; an axis whose
/// size does not change is copied exactly.
///
/// # Panics
/// If `img.values.len() != img.width · img.height`, or if the image is empty while
/// `nx · ny > 0`.
pub fn resample_area(img: &GrayImage, nx: usize, ny: usize) -> Vec<f64> {
    assert_eq!(
        img.values.len(),
        img.width * img.height,
        "GrayImage: values.len() must be width·height"
    );
    if nx == img.width && ny == img.height {
        return img.values.clone();
    }
    if nx == 0 || ny == 0 {
        return Vec::new();
    }
    assert!(
        img.width > 0 && img.height > 0,
        "resample_area: cannot resample an empty image onto a non-empty grid"
    );
    let (w, h) = (img.width, img.height);
    // Along x: h rows of nx values.
    let wx = weights(w, nx);
    let mut tmp = vec![0.0; h * nx];
    for (row_in, row_out) in img.values.chunks_exact(w).zip(tmp.chunks_exact_mut(nx)) {
        for (out, ws) in row_out.iter_mut().zip(&wx) {
            *out = ws.iter().map(|&(i, wt)| wt * row_in[i]).sum();
        }
    }
    // Along y.
    let wy = weights(h, ny);
    let mut out = vec![0.0; ny * nx];
    for (row_out, ws) in out.chunks_exact_mut(nx).zip(&wy) {
        for &(j, wt) in ws {
            let row_in = &tmp[j * nx..(j + 1) * nx];
            for (o, &v) in row_out.iter_mut().zip(row_in) {
                *o += wt * v;
            }
        }
    }
    out
}

/// Maps a label image onto an `nx × ny` grid covering the same rectangle: each grid cell takes
/// the label covering the largest area of the cell (area-weighted majority over the overlapping
/// label pixels, with the exact overlap areas of [`resample_area`], computed in integers so that
/// ties are exact); ties go to the smallest label. Equal sizes return a copy.
///
/// # Panics
/// If `lab.labels.len() != lab.width · lab.height`, or if the image is empty while
/// `nx · ny > 0`.
pub fn resample_labels(lab: &LabelImage, nx: usize, ny: usize) -> Vec<u32> {
    assert_eq!(
        lab.labels.len(),
        lab.width * lab.height,
        "LabelImage: labels.len() must be width·height"
    );
    if nx == lab.width && ny == lab.height {
        return lab.labels.clone();
    }
    if nx == 0 || ny == 0 {
        return Vec::new();
    }
    assert!(
        lab.width > 0 && lab.height > 0,
        "resample_labels: cannot resample an empty label image onto a non-empty grid"
    );
    let ox = overlaps(lab.width, nx);
    let oy = overlaps(lab.height, ny);
    let mut out = Vec::with_capacity(nx * ny);
    let mut acc: Vec<(u32, u128)> = Vec::new();
    for ys in &oy {
        for xs in &ox {
            acc.clear();
            for &(j, a) in ys {
                let row = &lab.labels[j * lab.width..(j + 1) * lab.width];
                for &(i, b) in xs {
                    let l = row[i];
                    let area = a * b;
                    match acc.iter_mut().find(|(k, _)| *k == l) {
                        Some((_, s)) => *s += area,
                        None => acc.push((l, area)),
                    }
                }
            }
            let best = acc
                .iter()
                .copied()
                .reduce(|best, c| {
                    if c.1 > best.1 || (c.1 == best.1 && c.0 < best.0) {
                        c
                    } else {
                        best
                    }
                })
                .map(|(l, _)| l)
                .unwrap_or(0);
            out.push(best);
        }
    }
    out
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    fn gray(width: usize, height: usize, values: Vec<f64>) -> GrayImage {
        GrayImage {
            width,
            height,
            values,
        }
    }

    #[test]
    fn overlaps_sum_to_output_cell_length() {
        for (a, b) in [(1, 1), (3, 2), (2, 3), (7, 5), (512, 64), (5, 17)] {
            for row in overlaps(a, b) {
                assert_eq!(row.iter().map(|r| r.1).sum::<u128>(), a as u128);
            }
        }
    }

    #[test]
    fn two_by_two_to_one_averages() {
        let img = gray(2, 2, vec![1.0, 2.0, 3.0, 6.0]);
        assert_eq!(resample_area(&img, 1, 1), vec![3.0]);
    }

    #[test]
    fn three_to_two_non_integer_ratio() {
        // Output cell 0 covers input 0 fully and half of input 1 (weights 2/3, 1/3).
        let img = gray(3, 1, vec![3.0, 6.0, 9.0]);
        let out = resample_area(&img, 2, 1);
        assert_relative_eq!(out[0], (2.0 * 3.0 + 6.0) / 3.0, epsilon = 1e-14);
        assert_relative_eq!(out[1], (6.0 + 2.0 * 9.0) / 3.0, epsilon = 1e-14);
        // Same along y.
        let img = gray(1, 3, vec![3.0, 6.0, 9.0]);
        let out = resample_area(&img, 1, 2);
        assert_relative_eq!(out[0], 4.0, epsilon = 1e-14);
        assert_relative_eq!(out[1], 8.0, epsilon = 1e-14);
    }

    #[test]
    fn upsampling_gives_constant_blocks() {
        let img = gray(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        let out = resample_area(&img, 4, 4);
        #[rustfmt::skip]
        let want = vec![
            1.0, 1.0, 2.0, 2.0,
            1.0, 1.0, 2.0, 2.0,
            3.0, 3.0, 4.0, 4.0,
            3.0, 3.0, 4.0, 4.0,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn equal_size_is_bitwise_identity() {
        let vals: Vec<f64> = (0..12).map(|k| (k as f64).sin() / 3.0).collect();
        let img = gray(4, 3, vals.clone());
        assert_eq!(resample_area(&img, 4, 3), vals);
        // One axis unchanged: copied exactly along it.
        let out = resample_area(&img, 4, 1);
        for ix in 0..4 {
            let m = (vals[ix] + vals[4 + ix] + vals[8 + ix]) / 3.0;
            assert_relative_eq!(out[ix], m, epsilon = 1e-15);
        }
    }

    #[test]
    fn stretching_changes_aspect() {
        // 2×1 onto 1×2: each output cell sees both input pixels equally.
        let img = gray(2, 1, vec![0.0, 1.0]);
        assert_eq!(resample_area(&img, 1, 2), vec![0.5, 0.5]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn mean_is_preserved(
            w in 1usize..20, h in 1usize..20, nx in 1usize..25, ny in 1usize..25, seed in any::<u64>()
        ) {
            let mut s = seed | 1;
            let vals: Vec<f64> = (0..w * h).map(|_| {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64
            }).collect();
            let img = gray(w, h, vals.clone());
            let out = resample_area(&img, nx, ny);
            prop_assert_eq!(out.len(), nx * ny);
            let mean_in = vals.iter().sum::<f64>() / (w * h) as f64;
            let mean_out = out.iter().sum::<f64>() / (nx * ny) as f64;
            prop_assert!((mean_in - mean_out).abs() <= 1e-14, "{} vs {}", mean_in, mean_out);
            let (lo, hi) = vals.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            prop_assert!(out.iter().all(|&v| v >= lo - 1e-15 && v <= hi + 1e-15));
        }
    }

    fn labels(width: usize, height: usize, labels: Vec<u32>) -> LabelImage {
        LabelImage {
            width,
            height,
            labels,
        }
    }

    #[test]
    fn labels_majority() {
        // 3×3 onto 1×1: label 2 covers 5 of 9 pixels.
        let lab = labels(3, 3, vec![2, 0, 2, 1, 2, 1, 2, 0, 2]);
        assert_eq!(resample_labels(&lab, 1, 1), vec![2]);
        // 3 → 2 along x: cell 0 = pixel 0 + half of pixel 1 → label of pixel 0.
        let lab = labels(3, 1, vec![5, 7, 7]);
        assert_eq!(resample_labels(&lab, 2, 1), vec![5, 7]);
        // Upsampling copies blocks.
        let lab = labels(2, 1, vec![3, 1]);
        assert_eq!(resample_labels(&lab, 4, 2), vec![3, 3, 1, 1, 3, 3, 1, 1]);
    }

    #[test]
    fn labels_tie_goes_to_smallest() {
        let lab = labels(2, 2, vec![4, 1, 1, 4]);
        assert_eq!(resample_labels(&lab, 1, 1), vec![1]);
        let lab = labels(2, 1, vec![9, 3]);
        assert_eq!(resample_labels(&lab, 1, 1), vec![3]);
        // 3 → 2 with the middle pixel split: cell 0 has 2/3 of label 6 and 1/3 of label 2.
        let lab = labels(3, 1, vec![6, 2, 6]);
        assert_eq!(resample_labels(&lab, 2, 1), vec![6, 6]);
        // Exact tie from a non-integer ratio: 4 → 3, cell 1 is half of pixel 1 and half of 2.
        let lab = labels(4, 1, vec![0, 8, 5, 0]);
        assert_eq!(resample_labels(&lab, 3, 1), vec![0, 5, 0]);
    }

    #[test]
    fn labels_equal_size_is_identity() {
        let lab = labels(3, 2, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(resample_labels(&lab, 3, 2), lab.labels);
    }

    #[test]
    fn unstretch_inverts_the_decoder_scaling() {
        for max in [1u32, 2, 3, 5, 17, 100, 254] {
            for v in 0..=max {
                let stretched = ((v as f32) * (255.0 / max as f32)).round() as u32;
                assert_eq!(unstretch(stretched, 255, max), v);
            }
        }
        for max in [256u32, 1000, 4095, 33333, PNM_EXACT_MAX16] {
            for v in 0..=max {
                let stretched = ((v as f32) * (65535.0 / max as f32)).round() as u32;
                assert_eq!(unstretch(stretched, 65535, max), v);
            }
        }
    }
}
