//! Video compression: VP9 (or VP8) through libvpx, chosen by measurement
//! (docs/video.md). The C layer (`vpx_shim.c`) keeps libvpx's structs out
//! of Rust; this file gives the rest of the daemon a safe `Encoder` and
//! `Decoder`.

use std::ffi::{c_char, c_int, CStr};

use super::source::Picture;
pub use super::source::Rgba;

#[repr(C)]
struct RawEnc {
    _private: [u8; 0],
}
#[repr(C)]
struct RawDec {
    _private: [u8; 0],
}

extern "C" {
    fn apv_enc_new(
        codec: c_int,
        w: c_int,
        h: c_int,
        kbps: c_int,
        min_q: c_int,
        max_q: c_int,
        screen: c_int,
        speed: c_int,
        threads: c_int,
        err: *mut c_char,
        errlen: c_int,
    ) -> *mut RawEnc;
    fn apv_enc_set_kbps(e: *mut RawEnc, kbps: c_int);
    fn apv_enc_set_max_q(e: *mut RawEnc, max_q: c_int);
    fn apv_enc_encode(
        e: *mut RawEnc,
        bgrx: *const u8,
        stride: c_int,
        pts_ms: i64,
        duration_ms: c_int,
        flags: c_int,
        len: *mut usize,
        key: *mut c_int,
        err: *mut c_char,
        errlen: c_int,
    ) -> *const u8;
    fn apv_enc_free(e: *mut RawEnc);
    fn apv_dec_new(codec: c_int, threads: c_int, err: *mut c_char, errlen: c_int) -> *mut RawDec;
    fn apv_dec_decode(d: *mut RawDec, data: *const u8, len: usize, w: *mut c_int, h: *mut c_int, err: *mut c_char, errlen: c_int) -> c_int;
    fn apv_dec_rgba(d: *mut RawDec, dst: *mut u8, stride: c_int);
    fn apv_dec_i420(d: *mut RawDec, y: *mut u8, u: *mut u8, v: *mut u8);
    #[allow(clippy::too_many_arguments)]
    fn apv_i420_to_rgba(
        py: *const u8,
        sy: c_int,
        pu: *const u8,
        su: c_int,
        pv: *const u8,
        sv: c_int,
        w: c_int,
        h: c_int,
        dst: *mut u8,
        stride: c_int,
    );
    fn apv_dec_free(d: *mut RawDec);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    Vp8,
    Vp9,
}

impl Codec {
    fn number(self) -> c_int {
        match self {
            Codec::Vp8 => 8,
            Codec::Vp9 => 9,
        }
    }

    pub fn from_byte(b: u8) -> Option<Codec> {
        match b {
            8 => Some(Codec::Vp8),
            9 => Some(Codec::Vp9),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        self.number() as u8
    }
}

#[derive(Debug, thiserror::Error)]
#[error("video codec: {0}")]
pub struct CodecError(pub String);

/// How an encoder is set up.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub codec: Codec,
    pub kbps: u32,
    /// libvpx quantizer bounds (0–63): a low maximum keeps text sharp.
    pub min_q: u32,
    pub max_q: u32,
    /// The ceiling while the picture moves, so that scrolling keeps to the
    /// rate; the frames after it stops go back to `max_q` and sharpen it.
    pub moving_max_q: u32,
    /// Screen-content tools (palette, intra block copy, no noise model).
    pub screen: bool,
    /// libvpx's cpu-used: higher is faster and blurrier.
    pub speed: i32,
    pub threads: u32,
}

impl Settings {
    /// Slides and windows: sharp text, the rate capped for a moving screen.
    pub fn screen() -> Settings {
        Settings { codec: Codec::Vp9, kbps: 1200, min_q: 4, max_q: 24, moving_max_q: 48, screen: true, speed: 9, threads: 2 }
    }

    /// A 640×360 camera.
    pub fn camera() -> Settings {
        Settings { codec: Codec::Vp8, kbps: 500, min_q: 4, max_q: 56, moving_max_q: 56, screen: false, speed: 10, threads: 1 }
    }
}

const ERR_LEN: usize = 256;

fn message(buf: &[c_char; ERR_LEN]) -> String {
    // SAFETY: the shim writes a NUL-terminated string with snprintf into a
    // buffer of ERR_LEN, or leaves it zeroed (an empty string).
    #[allow(unsafe_code)]
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().into_owned()
}

/// One compressed frame.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub data: Vec<u8>,
    pub key: bool,
}

pub struct Encoder {
    raw: *mut RawEnc,
    pub width: u32,
    pub height: u32,
    pub settings: Settings,
    max_q_now: u32,
}

// SAFETY: a libvpx encoder context may move between threads; it is only
// ever used through `&mut self`, from one thread at a time.
#[allow(unsafe_code)]
unsafe impl Send for Encoder {}

impl Encoder {
    /// An encoder for `width`×`height` pictures (rounded down to even sizes,
    /// as 4:2:0 needs).
    pub fn new(width: u32, height: u32, settings: Settings) -> Result<Encoder, CodecError> {
        let (w, h) = (width & !1, height & !1);
        if w < 16 || h < 16 || w > 8192 || h > 8192 {
            return Err(CodecError(format!("cannot encode a {width}×{height} picture")));
        }
        let mut err = [0 as c_char; ERR_LEN];
        let s = settings;
        // SAFETY: plain values in, and a buffer of ERR_LEN for the message.
        #[allow(unsafe_code)]
        let raw = unsafe {
            apv_enc_new(
                s.codec.number(),
                w as c_int,
                h as c_int,
                s.kbps as c_int,
                s.min_q as c_int,
                s.max_q as c_int,
                s.screen as c_int,
                s.speed,
                s.threads as c_int,
                err.as_mut_ptr(),
                ERR_LEN as c_int,
            )
        };
        if raw.is_null() {
            return Err(CodecError(message(&err)));
        }
        Ok(Encoder { raw, width: w, height: h, settings, max_q_now: settings.max_q })
    }

    pub fn set_kbps(&mut self, kbps: u32) {
        if kbps != self.settings.kbps {
            self.settings.kbps = kbps;
            // SAFETY: `raw` is a live encoder (freed only in Drop).
            #[allow(unsafe_code)]
            unsafe {
                apv_enc_set_kbps(self.raw, kbps as c_int)
            };
        }
    }

    /// The quantizer's ceiling from now on (0–63): low keeps text sharp,
    /// high lets the rate control keep to its target while things move.
    pub fn set_max_q(&mut self, max_q: u32) {
        if max_q != self.max_q_now {
            self.max_q_now = max_q;
            // SAFETY: `raw` is a live encoder (freed only in Drop).
            #[allow(unsafe_code)]
            unsafe {
                apv_enc_set_max_q(self.raw, max_q as c_int)
            };
        }
    }

    /// Compresses `p`, which must be at least this encoder's size.
    /// `droppable`: no later frame refers to this one.
    pub fn encode(
        &mut self,
        p: &Picture,
        pts_ms: i64,
        duration_ms: u32,
        key: bool,
        droppable: bool,
    ) -> Result<Option<Encoded>, CodecError> {
        if p.width < self.width || p.height < self.height || p.data.len() < p.stride * p.height as usize {
            return Err(CodecError(format!("a {}×{} picture for a {}×{} encoder", p.width, p.height, self.width, self.height)));
        }
        let flags = key as c_int | (droppable as c_int) << 1;
        let (mut len, mut is_key) = (0usize, 0 as c_int);
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: `p.data` holds `stride * height` bytes of at least this
        // encoder's size (checked above); the shim reads only that. The
        // returned buffer stays valid until the next call on this encoder,
        // and is copied out before that.
        #[allow(unsafe_code)]
        let out = unsafe {
            let ptr = apv_enc_encode(
                self.raw,
                p.data.as_ptr(),
                p.stride as c_int,
                pts_ms,
                duration_ms as c_int,
                flags,
                &mut len,
                &mut is_key,
                err.as_mut_ptr(),
                ERR_LEN as c_int,
            );
            if ptr.is_null() {
                return Err(CodecError(message(&err)));
            }
            std::slice::from_raw_parts(ptr, len).to_vec()
        };
        Ok((!out.is_empty()).then_some(Encoded { data: out, key: is_key != 0 }))
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: `raw` came from apv_enc_new and is freed once, here.
        #[allow(unsafe_code)]
        unsafe {
            apv_enc_free(self.raw)
        };
    }
}

/// A decoded picture as the decoder gives it (4:2:0, planes packed): a
/// viewer keeps this, and makes RGBA only when someone looks (the window,
/// a snapshot), which saves a conversion per frame.
#[derive(Debug, Clone, Default)]
pub struct Yuv {
    pub width: u32,
    pub height: u32,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Yuv {
    fn chroma_width(&self) -> usize {
        (self.width as usize).div_ceil(2)
    }

    pub fn to_rgba(&self) -> Rgba {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut data = vec![0u8; w * h * 4];
        let cw = self.chroma_width();
        if self.y.len() < w * h || self.u.len() < cw * h.div_ceil(2) || self.v.len() < cw * h.div_ceil(2) {
            return Rgba { width: self.width, height: self.height, data };
        }
        // SAFETY: the planes hold w×h and cw×ch bytes (checked above), the
        // output w×h×4; the C function reads and writes only within those.
        #[allow(unsafe_code)]
        unsafe {
            apv_i420_to_rgba(
                self.y.as_ptr(),
                w as c_int,
                self.u.as_ptr(),
                cw as c_int,
                self.v.as_ptr(),
                cw as c_int,
                w as c_int,
                h as c_int,
                data.as_mut_ptr(),
                (w * 4) as c_int,
            )
        };
        Rgba { width: self.width, height: self.height, data }
    }
}

pub struct Decoder {
    raw: *mut RawDec,
    pub codec: Codec,
}

// SAFETY: as for Encoder: used through `&mut self` from one thread at a time.
#[allow(unsafe_code)]
unsafe impl Send for Decoder {}

impl Decoder {
    pub fn new(codec: Codec, threads: u32) -> Result<Decoder, CodecError> {
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: plain values in, and a buffer of ERR_LEN for the message.
        #[allow(unsafe_code)]
        let raw = unsafe { apv_dec_new(codec.number(), threads as c_int, err.as_mut_ptr(), ERR_LEN as c_int) };
        if raw.is_null() {
            return Err(CodecError(message(&err)));
        }
        Ok(Decoder { raw, codec })
    }

    /// Decodes one frame into `into` as planes; `Ok(false)` when the frame
    /// gave no picture. An error means the stream is broken until the next keyframe.
    pub fn decode_yuv(&mut self, data: &[u8], into: &mut Yuv) -> Result<bool, CodecError> {
        let Some((w, h)) = self.decode_raw(data)? else { return Ok(false) };
        into.width = w;
        into.height = h;
        let (cw, ch) = ((w as usize).div_ceil(2), (h as usize).div_ceil(2));
        into.y.resize(w as usize * h as usize, 0);
        into.u.resize(cw * ch, 0);
        into.v.resize(cw * ch, 0);
        // SAFETY: the decoder holds a w×h picture (just returned); the
        // planes were sized for it, packed, as the C function writes them.
        #[allow(unsafe_code)]
        unsafe {
            apv_dec_i420(self.raw, into.y.as_mut_ptr(), into.u.as_mut_ptr(), into.v.as_mut_ptr())
        };
        Ok(true)
    }

    /// Decodes one frame into `into` (reusing its buffer); `Ok(false)` when
    /// the frame gave no picture. An error means the stream is broken until
    /// the next keyframe.
    pub fn decode(&mut self, data: &[u8], into: &mut Rgba) -> Result<bool, CodecError> {
        let Some((w, h)) = self.decode_raw(data)? else { return Ok(false) };
        into.width = w;
        into.height = h;
        into.data.resize(w as usize * h as usize * 4, 0);
        // SAFETY: the decoder holds a picture of w×h (just returned); `into`
        // has exactly w*h*4 bytes, written row by row at stride w*4.
        #[allow(unsafe_code)]
        unsafe {
            apv_dec_rgba(self.raw, into.data.as_mut_ptr(), (w * 4) as c_int)
        };
        Ok(true)
    }

    /// Decodes `data`; the size of the picture it gave, if any.
    fn decode_raw(&mut self, data: &[u8]) -> Result<Option<(u32, u32)>, CodecError> {
        if data.is_empty() {
            return Err(CodecError("an empty frame".into()));
        }
        let (mut w, mut h) = (0 as c_int, 0 as c_int);
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: `data` is a live slice of `len` bytes; libvpx reads only
        // that (it is built to take untrusted input, and fuzzed upstream).
        #[allow(unsafe_code)]
        let got = unsafe { apv_dec_decode(self.raw, data.as_ptr(), data.len(), &mut w, &mut h, err.as_mut_ptr(), ERR_LEN as c_int) };
        match got {
            1 => {}
            0 => return Ok(None),
            _ => return Err(CodecError(message(&err))),
        }
        let (w, h) = (w.max(0) as u32, h.max(0) as u32);
        if w == 0 || h == 0 || w > 16384 || h > 16384 {
            return Err(CodecError(format!("a decoded picture of {w}×{h}")));
        }
        Ok(Some((w, h)))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: `raw` came from apv_dec_new and is freed once, here.
        #[allow(unsafe_code)]
        unsafe {
            apv_dec_free(self.raw)
        };
    }
}

/// PSNR (dB) of the luma of two same-sized pictures, BGRX `a` against RGBA
/// `b`: how the benchmarks and tests judge sharpness.
pub fn psnr(a: &Picture, b: &Rgba) -> f64 {
    let (w, h) = (a.width.min(b.width) as usize, a.height.min(b.height) as usize);
    let mut se = 0f64;
    for y in 0..h {
        for x in 0..w {
            let pa = &a.data[y * a.stride + x * 4..];
            let pb = &b.data[(y * b.width as usize + x) * 4..];
            let la = 0.299 * pa[2] as f64 + 0.587 * pa[1] as f64 + 0.114 * pa[0] as f64;
            let lb = 0.299 * pb[0] as f64 + 0.587 * pb[1] as f64 + 0.114 * pb[2] as f64;
            se += (la - lb) * (la - lb);
        }
    }
    let mse = se / (w * h).max(1) as f64;
    if mse < 1e-10 {
        return 99.0;
    }
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::source::pattern::{read_counter, Pattern};
    use crate::video::source::Kind;

    #[test]
    fn a_picture_comes_back_sharp_through_each_codec() {
        for codec in [Codec::Vp8, Codec::Vp9] {
            let pat = Pattern::new(320, 180, 15, Kind::Screen);
            let mut enc = Encoder::new(320, 180, Settings { codec, ..Settings::screen() }).unwrap();
            let mut dec = Decoder::new(codec, 1).unwrap();
            let mut pic = Picture::new(1, 1);
            let mut out = Rgba::default();
            for n in 0..10u64 {
                pat.draw(n, &mut pic);
                let f = enc.encode(&pic, n as i64 * 66, 66, n == 0, false).unwrap().unwrap();
                assert_eq!(f.key, n == 0, "{codec:?} frame {n}");
                assert!(dec.decode(&f.data, &mut out).unwrap());
                assert_eq!((out.width, out.height), (320, 180));
                assert_eq!(read_counter(&out.data, out.width as usize * 4), Some(n), "{codec:?}");
            }
            let db = psnr(&pic, &out);
            assert!(db > 30.0, "{codec:?}: {db:.1} dB");
        }
    }

    #[test]
    fn planes_kept_make_the_same_picture_as_a_direct_decode() {
        let pat = Pattern::new(322, 182, 15, Kind::Screen);
        let mut enc = Encoder::new(322, 182, Settings::screen()).unwrap();
        let mut pic = Picture::new(1, 1);
        pat.draw(5, &mut pic);
        let f = enc.encode(&pic, 0, 66, true, false).unwrap().unwrap();
        let (mut a, mut b) = (Decoder::new(Codec::Vp9, 1).unwrap(), Decoder::new(Codec::Vp9, 1).unwrap());
        let (mut rgba, mut yuv) = (Rgba::default(), Yuv::default());
        assert!(a.decode(&f.data, &mut rgba).unwrap());
        assert!(b.decode_yuv(&f.data, &mut yuv).unwrap());
        let via = yuv.to_rgba();
        assert_eq!((via.width, via.height, via.data.len()), (rgba.width, rgba.height, rgba.data.len()));
        assert!(via.data == rgba.data);
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut dec = Decoder::new(Codec::Vp9, 1).unwrap();
        let mut out = Rgba::default();
        for junk in [&[0u8; 1][..], &[0xff; 64], &[0x82, 0x49, 0x83, 0x42, 0x00, 0x01, 0xff, 0xff, 0, 0]] {
            let _ = dec.decode(junk, &mut out);
        }
        assert!(dec.decode(&[], &mut out).is_err());
    }
}
