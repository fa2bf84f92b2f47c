//! Summing several speakers into one frame.

use super::FRAME;

pub struct Mixer {
    acc: [i32; FRAME],
}

impl Default for Mixer {
    fn default() -> Self {
        Mixer { acc: [0; FRAME] }
    }
}

impl Mixer {
    pub fn clear(&mut self) {
        self.acc = [0; FRAME];
    }

    pub fn add(&mut self, frame: &[i16; FRAME]) {
        for (a, &s) in self.acc.iter_mut().zip(frame.iter()) {
            *a += s as i32;
        }
    }

    /// Hard clipping: two people talking at once rarely reach full scale.
    pub fn finish(&self, out: &mut [i16; FRAME]) {
        for (o, &a) in out.iter_mut().zip(self.acc.iter()) {
            *o = a.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
        }
    }
}

/// Root mean square level in dBFS.
pub fn level_dbfs(frame: &[i16]) -> f32 {
    let sum: f64 = frame.iter().map(|&s| (s as f64) * (s as f64)).sum();
    let rms = (sum / frame.len().max(1) as f64).sqrt() / 32768.0;
    20.0 * (rms.max(1e-9) as f32).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_sums_and_clips() {
        let mut m = Mixer::default();
        m.add(&[20_000; FRAME]);
        m.add(&[20_000; FRAME]);
        let mut out = [0; FRAME];
        m.finish(&mut out);
        assert_eq!(out[0], i16::MAX);
        m.clear();
        m.add(&[100; FRAME]);
        m.add(&[-30; FRAME]);
        m.finish(&mut out);
        assert_eq!(out[7], 70);
        assert!(level_dbfs(&[0; FRAME]) < -100.0);
    }
}
