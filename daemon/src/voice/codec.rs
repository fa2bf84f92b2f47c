//! Opus in VOIP mode, 10 ms frames, in-band FEC and DTX on; bitrate and FEC
//! strength set by the `redundancy` policy from what our peers report.

use opus::{Application, Bandwidth, Bitrate, Channels};

use super::redundancy::{Policy, Protection};
use super::{FRAME, RATE};

pub use super::MAX_PACKET;
/// Fullband speech at 64 kbit/s (8 kB/s per peer while talking, nothing in
/// pauses). Through the bench's 40 ± 10 ms link with the default processing,
/// five runs each: 48 kbit/s scored PESQ-WB 3.99 in the median on clean
/// speech, 64 kbit/s 4.18 (and 4.12 at 5 % loss, against 3.61–3.88), where
/// Chromium scores 3.99 (docs/benchmarks.md). A third more upload while
/// talking; a big call's forwarders are what keep that bounded.
const DEFAULT_BPS: i32 = 64_000;

pub struct Encoder {
    inner: opus::Encoder,
    buf: Vec<u8>,
    applied: Option<Protection>,
    base_bps: i32,
}

impl Encoder {
    /// `kbps`: the bitrate on a clean path (`voice_kbps` in the config, a
    /// measurement knob; 0 for the default), clamped to 8..=128.
    pub fn new(kbps: u32) -> Result<Encoder, opus::Error> {
        let mut inner = opus::Encoder::new(RATE, Channels::Mono, Application::Voip)?;
        inner.set_inband_fec(true)?;
        inner.set_dtx(true)?;
        inner.set_max_bandwidth(Bandwidth::Fullband)?;
        let base_bps = if kbps == 0 { DEFAULT_BPS } else { kbps.clamp(8, 128) as i32 * 1000 };
        let mut e = Encoder { inner, buf: vec![0; MAX_PACKET], applied: None, base_bps };
        e.protect(Policy::new(base_bps).current())?;
        Ok(e)
    }

    pub fn base_bps(&self) -> i32 {
        self.base_bps
    }

    /// Applies the bitrate and FEC strength of `p` (a no-op when unchanged).
    pub fn protect(&mut self, p: Protection) -> Result<(), opus::Error> {
        if self.applied == Some(p) {
            return Ok(());
        }
        self.applied = Some(p);
        self.inner.set_packet_loss_perc(i32::from(p.fec_loss_pct))?;
        self.inner.set_bitrate(Bitrate::Bits(p.bitrate_bps))
    }

    /// `None` while DTX says there is nothing worth sending.
    pub fn encode(&mut self, frame: &[i16]) -> Result<Option<&[u8]>, opus::Error> {
        let n = self.inner.encode(frame, &mut self.buf)?;
        // Packets of 1–2 bytes are DTX "no change" markers: not sent.
        Ok(if n <= 2 { None } else { Some(&self.buf[..n]) })
    }
}

pub struct Decoder {
    inner: opus::Decoder,
}

impl Decoder {
    pub fn new() -> Result<Decoder, opus::Error> {
        Ok(Decoder { inner: opus::Decoder::new(RATE, Channels::Mono)? })
    }

    pub fn decode(&mut self, packet: &[u8], out: &mut [i16; FRAME]) -> bool {
        matches!(self.inner.decode(packet, out, false), Ok(n) if n == FRAME)
    }

    /// Recovers the frame before `next_packet` from its in-band FEC.
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [i16; FRAME]) -> bool {
        matches!(self.inner.decode(next_packet, out, true), Ok(n) if n == FRAME)
    }

    /// Packet loss concealment.
    pub fn conceal(&mut self, out: &mut [i16; FRAME]) {
        if !matches!(self.inner.decode(&[], out, false), Ok(n) if n == FRAME) {
            out.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(i: usize) -> [i16; FRAME] {
        let mut f = [0i16; FRAME];
        for (k, s) in f.iter_mut().enumerate() {
            let t = (i * FRAME + k) as f32 / RATE as f32;
            *s = ((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16;
        }
        f
    }

    #[test]
    fn speechlike_signal_survives_and_silence_is_suppressed() {
        let mut enc = Encoder::new(0).unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut out = [0i16; FRAME];
        let mut energy = 0f64;
        for i in 0..50 {
            let p = enc.encode(&tone(i)).unwrap().expect("a tone is sent").to_vec();
            assert!(dec.decode(&p, &mut out));
            if i > 10 {
                energy += out.iter().map(|&s| (s as f64).powi(2)).sum::<f64>();
            }
        }
        assert!(energy / (39.0 * FRAME as f64) > 1e6, "decoded tone has energy");
        let silent = (0..200).filter(|_| enc.encode(&[0i16; FRAME]).unwrap().is_none()).count();
        assert!(silent > 150, "DTX suppresses most silent frames ({silent}/200)");
        dec.conceal(&mut out);
    }
}
