//! Thumbnails of the images offered in rooms, so that a window shows a
//! picture and not a file name: made here (no network call, no service)
//! when we offer an image or finish downloading one, kept as PNG files
//! beside the database, named after the file's hash.
//!
//! The image comes from anyone in the room: its decoder is bounded (sides,
//! memory, file size) and fuzzed (`fuzz/fuzz_targets/thumbnail.rs`); a
//! picture that fails to decode is just a file without a thumbnail.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageFormat, ImageReader, Limits};

/// The thumbnail's longer side, pixels: sharp at 200 % in a chat column.
pub const MAX_SIDE: u32 = 320;
/// Larger images are not thumbnailed (decoding them costs seconds and
/// hundreds of megabytes).
const MAX_SOURCE_BYTES: u64 = 64 * 1024 * 1024;
const MAX_PIXELS_SIDE: u32 = 16_384;
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error("not an image this build reads ({0})")]
    Format(String),
    #[error("the image is too large to thumbnail")]
    TooLarge,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where the thumbnail of file `id` is kept.
pub fn path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.png"))
}

/// The PNG bytes of a thumbnail of the image in `bytes`.
pub fn from_bytes(bytes: &[u8]) -> Result<Vec<u8>, ThumbError> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    if !matches!(reader.format(), Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP)) {
        return Err(ThumbError::Format(format!("{:?}", reader.format())));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PIXELS_SIDE);
    limits.max_image_height = Some(MAX_PIXELS_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => ThumbError::TooLarge,
        other => ThumbError::Format(other.to_string()),
    })?;
    let thumb = if img.width() > MAX_SIDE || img.height() > MAX_SIDE { img.thumbnail(MAX_SIDE, MAX_SIDE) } else { img };
    let mut out = Vec::new();
    thumb.to_rgba8().write_to(&mut Cursor::new(&mut out), ImageFormat::Png).map_err(|e| ThumbError::Format(e.to_string()))?;
    Ok(out)
}

/// Makes the thumbnail of the image at `src` into `dest` (written whole
/// or not at all). Blocking: run it off the async threads.
pub fn make(src: &Path, dest: &Path) -> Result<(), ThumbError> {
    if std::fs::metadata(src)?.len() > MAX_SOURCE_BYTES {
        return Err(ThumbError::TooLarge);
    }
    let png = from_bytes(&std::fs::read(src)?)?;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = dest.with_extension("png.tmp");
    std::fs::write(&tmp, png)?;
    std::fs::rename(&tmp, dest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn a_large_picture_shrinks_to_320_keeping_its_shape() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dest) = (dir.path().join("photo.png"), path(dir.path(), "abc"));
        std::fs::write(&src, png(1280, 720)).unwrap();
        make(&src, &dest).unwrap();
        let t = image::open(&dest).unwrap();
        assert_eq!((t.width(), t.height()), (320, 180));
    }

    #[test]
    fn what_is_no_picture_gets_an_error_not_a_thumbnail() {
        assert!(matches!(from_bytes(b"not an image at all"), Err(ThumbError::Format(_))));
        let mut cut = png(64, 64);
        cut.truncate(cut.len() / 2);
        assert!(from_bytes(&cut).is_err());
        // A header that claims a picture of 100 000 px a side.
        let mut huge = png(1, 1);
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(from_bytes(&huge).is_err());
    }
}
