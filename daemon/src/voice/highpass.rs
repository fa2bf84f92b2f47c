//! The microphone's high-pass filter: a 2nd-order Butterworth at 80 Hz, run
//! before the echo canceller (which needs rumble and DC out of its way).
//!
//! Ours, not WebRTC's: sonora's filter (full band) cost 0.25 PESQ-WB on a
//! clean phrase and its split-band one, which AEC3 turns on by default,
//! 0.9; this one costs 0.05 (bench/voice_offline.py, docs/benchmarks.md).

use super::FRAME;

#[derive(Debug, Clone)]
pub struct HighPass {
    b: [f64; 3],
    a: [f64; 2],
    x: [f64; 2],
    y: [f64; 2],
}

/// Where speech starts to matter: a man's voice goes down to ~85 Hz.
const CUTOFF_HZ: f64 = 80.0;

impl HighPass {
    pub fn new(rate: u32) -> HighPass {
        // The audio EQ cookbook's high-pass, Q = 1/√2 (Butterworth).
        let w0 = std::f64::consts::TAU * CUTOFF_HZ / f64::from(rate);
        let alpha = w0.sin() / std::f64::consts::SQRT_2;
        let cos = w0.cos();
        let a0 = 1.0 + alpha;
        HighPass {
            b: [(1.0 + cos) / 2.0 / a0, -(1.0 + cos) / a0, (1.0 + cos) / 2.0 / a0],
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
            x: [0.0; 2],
            y: [0.0; 2],
        }
    }

    pub fn process(&mut self, frame: &mut [i16; FRAME]) {
        for s in frame.iter_mut() {
            let x = f64::from(*s);
            let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1] - self.a[0] * self.y[0] - self.a[1] * self.y[1];
            self.x = [x, self.x[0]];
            self.y = [y, self.y[0]];
            *s = y.round().clamp(-32768.0, 32767.0) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone_gain(hz: f64) -> f64 {
        let mut f = HighPass::new(48_000);
        let (mut inp, mut out) = (0.0, 0.0);
        for i in 0..100 {
            let mut frame = [0i16; FRAME];
            for (k, s) in frame.iter_mut().enumerate() {
                let t = (i * FRAME + k) as f64 / 48_000.0;
                *s = (10_000.0 * (std::f64::consts::TAU * hz * t).sin()) as i16;
            }
            let came = frame;
            f.process(&mut frame);
            if i >= 50 {
                inp += came.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
                out += frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            }
        }
        10.0 * (out / inp).log10()
    }

    #[test]
    fn rumble_goes_and_the_voice_stays() {
        assert!(tone_gain(20.0) < -20.0, "20 Hz: {:.1} dB", tone_gain(20.0));
        assert!((tone_gain(80.0) + 3.0).abs() < 0.5, "80 Hz: {:.1} dB", tone_gain(80.0));
        assert!(tone_gain(300.0).abs() < 0.3, "300 Hz: {:.1} dB", tone_gain(300.0));
        assert!(tone_gain(3000.0).abs() < 0.1, "3 kHz: {:.1} dB", tone_gain(3000.0));
    }
}
