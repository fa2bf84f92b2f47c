//! What a camera sends (YUYV or MJPEG) turned into the BGRX rows the
//! encoder takes; pure functions on bytes, so they are tested without a
//! camera.

use std::io;

use image::ImageDecoder;

use crate::video::source::Picture;

/// YUYV (4:2:2, BT.601 video range, as webcams send it) to BGRX; `false`
/// for a short frame.
pub(super) fn yuyv_to_bgrx(src: &[u8], width: u32, height: u32, stride: usize, into: &mut Picture) -> bool {
    let (w, h) = (width as usize, height as usize);
    let stride = stride.max(w * 2);
    if h == 0 || src.len() < stride * (h - 1) + w * 2 {
        return false;
    }
    into.resize(width, height);
    for y in 0..h {
        let line = &src[y * stride..y * stride + w * 2];
        let out = &mut into.data[y * into.stride..y * into.stride + w * 4];
        for (yuyv, px) in line.chunks_exact(4).zip(out.chunks_exact_mut(8)) {
            let (u, v) = (i32::from(yuyv[1]) - 128, i32::from(yuyv[3]) - 128);
            for (i, luma) in [yuyv[0], yuyv[2]].into_iter().enumerate() {
                let c = 298 * (i32::from(luma) - 16);
                let clip = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
                px[i * 4..i * 4 + 4].copy_from_slice(&[clip(c + 516 * u), clip(c - 100 * u - 208 * v), clip(c + 409 * v), 255]);
            }
        }
        if w % 2 == 1 && w > 1 {
            // An odd width: the last pixel from the last pair's first luma.
            let last = &out[(w - 1) * 4 - 4..(w - 1) * 4];
            let copy: [u8; 4] = [last[0], last[1], last[2], last[3]];
            out[(w - 1) * 4..].copy_from_slice(&copy);
        }
    }
    true
}

/// The Huffman tables of the JPEG standard (Annex K), which many cameras
/// leave out of their MJPEG frames: bits (codes of each length 1–16), then
/// the symbols of the shorter codes; the 16-bit codes take the remaining
/// symbols in order.
const DC_BITS: [[u8; 16]; 2] = [[0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]];
const AC_BITS: [[u8; 16]; 2] = [[0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d], [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77]];
const AC_SHORT: [&[u8]; 2] = [
    &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91,
        0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82,
    ],
    &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14,
        0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1,
    ],
];

/// A DHT segment with the standard tables.
fn standard_dht() -> Vec<u8> {
    let mut body = Vec::new();
    for t in 0..2u8 {
        body.push(t);
        body.extend_from_slice(&DC_BITS[t as usize]);
        body.extend(0..12u8);
        body.push(0x10 | t);
        body.extend_from_slice(&AC_BITS[t as usize]);
        body.extend_from_slice(AC_SHORT[t as usize]);
        // Every AC symbol: end of block, sixteen zeros, a run of 0–15
        // zeros then a coefficient of 1–10 bits.
        let all = [0x00, 0xf0].into_iter().chain((0..16u8).flat_map(|run| (1..=10u8).map(move |size| run << 4 | size)));
        let mut rest: Vec<u8> = all.filter(|s| !AC_SHORT[t as usize].contains(s)).collect();
        rest.sort_unstable();
        body.extend(rest);
    }
    let mut dht = vec![0xff, 0xc4];
    dht.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    dht.extend(body);
    dht
}

/// Whether a JPEG carries its own Huffman tables (before its first scan).
fn has_dht(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xff {
        match jpeg[i + 1] {
            0xc4 => return true,
            0xda => return false,
            0xff => i += 1,
            _ => i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]])),
        }
    }
    false
}

pub(super) fn mjpeg_to_bgrx(jpeg: &[u8], rgb: &mut Vec<u8>, into: &mut Picture) -> Result<(), image::ImageError> {
    let patched;
    let jpeg = if jpeg.starts_with(&[0xff, 0xd8]) && !has_dht(jpeg) {
        patched = [&jpeg[..2], &standard_dht(), &jpeg[2..]].concat();
        &patched[..]
    } else {
        jpeg
    };
    let decoder = image::codecs::jpeg::JpegDecoder::new(io::Cursor::new(jpeg))?;
    let (w, h) = decoder.dimensions();
    let channels = usize::from(decoder.color_type().bytes_per_pixel());
    rgb.resize(decoder.total_bytes() as usize, 0);
    decoder.read_image(rgb)?;
    into.resize(w, h);
    for (src, px) in rgb.chunks_exact(channels).zip(into.data.chunks_exact_mut(4)) {
        let (r, g, b) = if channels >= 3 { (src[0], src[1], src[2]) } else { (src[0], src[0], src[0]) };
        px.copy_from_slice(&[b, g, r, 255]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_becomes_bgrx() {
        // Two pixel pairs: black and white (grey chroma), then pure red.
        let src = [16, 128, 235, 128, 81, 90, 81, 240];
        let mut p = Picture::new(1, 1);
        assert!(yuyv_to_bgrx(&src, 4, 1, 8, &mut p));
        assert_eq!((p.width, p.height), (4, 1));
        assert_eq!(&p.data[0..4], &[0, 0, 0, 255]);
        assert_eq!(&p.data[4..8], &[255, 255, 255, 255]);
        let red = &p.data[8..12];
        assert!(red[2] > 240 && red[1] < 10 && red[0] < 10, "{red:?}");
        assert!(!yuyv_to_bgrx(&src[..6], 4, 1, 8, &mut p), "a short frame is refused");
    }

    #[test]
    fn mjpeg_without_huffman_tables_decodes() {
        let (w, h) = (64u32, 48u32);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| [(i % w * 4) as u8, (i / w * 5) as u8, 200]).collect();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode(&rgb, w, h, image::ExtendedColorType::Rgb8).unwrap();
        let mut full = Picture::new(1, 1);
        mjpeg_to_bgrx(&jpeg, &mut Vec::new(), &mut full).unwrap();
        assert_eq!((full.width, full.height), (w, h));
        let px = &full.data[(10 * w as usize + 20) * 4..][..4];
        assert!(px[0].abs_diff(200) < 8 && px[1].abs_diff(50) < 8 && px[2].abs_diff(80) < 8, "{px:?}");
        // The same frame as a camera sends it: its DHT segments cut out.
        assert!(has_dht(&jpeg));
        let mut stripped = jpeg[..2].to_vec();
        let mut i = 2;
        while jpeg[i + 1] != 0xda {
            let len = 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
            if jpeg[i + 1] != 0xc4 {
                stripped.extend_from_slice(&jpeg[i..i + len]);
            }
            i += len;
        }
        stripped.extend_from_slice(&jpeg[i..]);
        assert!(!has_dht(&stripped));
        let mut bare = Picture::new(1, 1);
        mjpeg_to_bgrx(&stripped, &mut Vec::new(), &mut bare).unwrap();
        assert_eq!(bare.data, full.data);
        assert!(mjpeg_to_bgrx(&[0xff, 0xd8, 0xff], &mut Vec::new(), &mut bare).is_err());
    }
}
