//! A soft two-note chime (E6 then C6, fading) mixed into what we hear: the
//! breakout's one-minute warning.

use super::RATE;

/// Half a second per note.
pub const SAMPLES: usize = RATE as usize;

/// Sample `i` of the chime.
pub fn sample(i: usize) -> i16 {
    let half = SAMPLES / 2;
    let (f, k) = if i < half { (1318.5, i) } else { (1046.5, i - half) };
    let t = k as f32 / RATE as f32;
    // 15 ms attack, then an exponential fade: a bell, not a beep.
    let env = (t / 0.015).min(1.0) * (-t * 6.0).exp();
    (f32::sin(2.0 * std::f32::consts::PI * f * t) * env * 6000.0) as i16
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_chime_is_audible_and_never_clips() {
        let peak = (0..super::SAMPLES).map(|i| super::sample(i).unsigned_abs()).max().unwrap();
        assert!((3000..=6000).contains(&peak), "{peak}");
    }
}
