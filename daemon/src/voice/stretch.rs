//! Time stretching of decoded PCM, in the manner of NetEq's accelerate and
//! preemptive expand: find the pitch period at the middle of the input and
//! cross-fade one period onto its neighbour, so that a whole period is
//! removed (or repeated) without a discontinuity. Following the target delay
//! this way is far less audible than dropping or inserting whole frames.
//!
//! Both functions leave the input's start and end untouched (only its middle
//! 30 ms may change, and the first and last samples never do), so `out`
//! splices back into the caller's sample FIFO with no seam. The output length is `input.len() - removed` or
//! `input.len() + added`, which is rarely a whole number of frames: cutting
//! the result back into 10 ms frames is the caller's FIFO's job.
//!
//! Self-contained (no `crate::` imports) so it can be tested on its own with
//! `rustc --edition 2021 --test -O stretch.rs`.

const RATE: usize = 48_000;
/// 10 ms: what quiet input is stretched by when it has no clear period, so
/// that background noise is shortened a frame at a time.
const FRAME: usize = RATE / 100;
/// Pitch search range: 2.5 ms (400 Hz) to 15 ms (67 Hz) covers children's
/// voices down to the deepest male ones.
pub const MIN_PERIOD: usize = RATE / 400;
pub const MAX_PERIOD: usize = RATE * 15 / 1000;
/// Shortest input that is stretched: a longest period either side of the
/// middle. Three 10 ms frames are exactly this.
pub const MIN_INPUT: usize = 2 * MAX_PERIOD;
/// Two periods less alike than this sound rough when cross-faded (NetEq draws
/// the line at 0.9 too).
const MIN_CORRELATION: f64 = 0.9;
/// RMS (≈ −47 dBFS) below which the input counts as background: a cross-fade
/// of dissimilar noise is inaudible there, and pauses are where catching up
/// costs nothing.
pub const QUIET_RMS: i64 = 150;
/// The coarse search runs at 12 kHz: four times fewer lags and four times
/// shorter products, enough to find the peak that the full rate refines.
const DECIMATION: usize = 4;
/// The samples the search looks at: a longest period either side of the middle.
const REGION: usize = 2 * MAX_PERIOD;
const COARSE: usize = REGION / DECIMATION;

/// Shortens `input` by one pitch period (or a multiple of it) taken from its
/// middle, cross-fading across the cut.
///
/// `out` is cleared first, then receives the result: `input.len() - removed`
/// samples, with the return value `removed`. It is 0 (and `out` a copy of
/// `input`) when the input is shorter than [`MIN_INPUT`] or is loud and not
/// periodic enough to cut unnoticed (noise, fricatives, onsets). Quiet input is
/// always shortened: by its period if it has one, else by 10 ms.
///
/// Hand in at least 30 ms (1440 samples); more is fine but only the middle
/// 30 ms is searched, so the cut is at most 15 ms whatever the length.
pub fn accelerate(input: &[i16], out: &mut Vec<i16>) -> usize {
    out.clear();
    let mid = input.len() / 2;
    let parts = stretch_length(input).and_then(|n| {
        let start = mid.checked_sub(n)?;
        Some((n, input.get(..start)?, input.get(start..mid)?, input.get(mid..mid + n)?, input.get(mid + n..)?))
    });
    let Some((n, head, before, after, tail)) = parts else {
        out.extend_from_slice(input);
        return 0;
    };
    out.reserve(input.len() - n);
    out.extend_from_slice(head);
    // `before` fades into `after`, which is the same point one period later.
    cross_fade(before, after, out);
    out.extend_from_slice(tail);
    n
}

/// Lengthens `input` by one pitch period (or a multiple of it) at its middle:
/// the period before the middle is played again, cross-faded in.
///
/// The mirror image of [`accelerate`], with the same acceptance rule: `out` is
/// cleared, then receives `input.len() + added` samples, and the return value
/// is `added` (0 with `out` a copy of `input` when stretching would be heard).
/// As there, hand in at least 30 ms; at most 15 ms is added.
///
/// The first half of `input` is never changed (`out[..input.len() / 2]` is a
/// copy of it), so it may be audio already played: with the last 15 ms played
/// kept as history, expanding needs only 15 ms of unplayed audio, and
/// `out[input.len() / 2..]` replaces that.
pub fn expand(input: &[i16], out: &mut Vec<i16>) -> usize {
    out.clear();
    let mid = input.len() / 2;
    let parts = stretch_length(input).and_then(|n| {
        let start = mid.checked_sub(n)?;
        Some((n, input.get(..mid)?, input.get(start..mid)?, input.get(mid..mid + n)?, input.get(mid..)?))
    });
    let Some((n, head, before, after, tail)) = parts else {
        out.extend_from_slice(input);
        return 0;
    };
    out.reserve(input.len() + n);
    out.extend_from_slice(head);
    // Continues from the middle, then fades back a period so the middle plays twice.
    cross_fade(after, before, out);
    out.extend_from_slice(tail);
    n
}

/// Linear cross-fade from `from` to `to` (equal lengths). Linear rather than
/// equal-power because only similar (correlated) periods or quiet noise are
/// ever faded, and for similar signals linear keeps the amplitude constant.
/// The first sample is `from`'s and the last `to`'s exactly, so the fade
/// joins its neighbours (and the input's ends stay exact even when the head
/// or tail around it is empty).
fn cross_fade(from: &[i16], to: &[i16], out: &mut Vec<i16>) {
    let steps = (from.len() as i64 - 1).max(1);
    for (k, (&a, &b)) in (0..).zip(from.iter().zip(to)) {
        // A convex combination of two i16 rounded to nearest stays in range.
        let mixed = (i64::from(a) * (steps - k) + i64::from(b) * k + steps / 2).div_euclid(steps);
        out.push(mixed as i16);
    }
}

/// How many samples to cut or repeat at the middle of `input`: the best pitch
/// period when the two periods around the middle are alike, 10 ms for quiet
/// input without one, else `None`.
fn stretch_length(input: &[i16]) -> Option<usize> {
    if input.len() < MIN_INPUT {
        return None;
    }
    let mid = input.len() / 2;
    let region = input.get(mid.checked_sub(MAX_PERIOD)?..mid + MAX_PERIOD)?;
    let mut energy = [0i64; REGION + 1];
    prefix_energy(region, &mut energy);
    let quiet = energy[REGION] < QUIET_RMS * QUIET_RMS * REGION as i64;
    match best_period(region, &energy) {
        Some((period, score)) if score >= MIN_CORRELATION => Some(period),
        _ if quiet => Some(FRAME),
        _ => None,
    }
}

/// `energy[i]` = sum of squares of `x[..i]`, so any window's energy is one
/// subtraction.
fn prefix_energy<T: Copy + Into<i64>>(x: &[T], energy: &mut [i64]) {
    let mut sum = 0i64;
    for (e, &s) in energy.iter_mut().skip(1).zip(x) {
        let s: i64 = s.into();
        sum += s * s;
        *e = sum;
    }
}

/// Normalized cross-correlation of the `lag` samples before `mid` with the
/// `lag` samples from `mid`: the two periods a cut or repeat would join.
/// Negative correlation counts as none (those periods would cancel).
fn similarity<T: Copy + Into<i64>>(x: &[T], energy: &[i64], mid: usize, lag: usize) -> f64 {
    let Some(start) = mid.checked_sub(lag) else { return 0.0 };
    let (Some(a), Some(b)) = (x.get(start..mid), x.get(mid..mid + lag)) else { return 0.0 };
    let (Some(&e0), Some(&e1), Some(&e2)) = (energy.get(start), energy.get(mid), energy.get(mid + lag)) else { return 0.0 };
    let dot: i64 = a.iter().zip(b).map(|(&p, &q)| p.into() * q.into()).sum();
    let (ea, eb) = ((e1 - e0) as f64, (e2 - e1) as f64);
    if dot <= 0 || ea <= 0.0 || eb <= 0.0 {
        return 0.0;
    }
    dot as f64 / (ea * eb).sqrt()
}

/// The period (in samples) whose two neighbouring copies around the middle of
/// `region` are most alike, with that similarity. Searched at 12 kHz first;
/// the two best coarse peaks (a period and, often, its multiple or an octave
/// error) are then refined at the full rate.
fn best_period(region: &[i16], energy: &[i64]) -> Option<(usize, f64)> {
    // Block sums: a crude low-pass, but pitch lives well below 6 kHz.
    let mut coarse = [0i32; COARSE];
    for (c, block) in coarse.iter_mut().zip(region.chunks_exact(DECIMATION)) {
        *c = block.iter().map(|&s| i32::from(s)).sum();
    }
    let mut coarse_energy = [0i64; COARSE + 1];
    prefix_energy(&coarse, &mut coarse_energy);

    let lags = MIN_PERIOD / DECIMATION..=MAX_PERIOD / DECIMATION;
    let mut scores = [0f64; MAX_PERIOD / DECIMATION + 1];
    for lag in lags.clone() {
        if let Some(s) = scores.get_mut(lag) {
            *s = similarity(&coarse, &coarse_energy, COARSE / 2, lag);
        }
    }
    let pick = |skip: Option<usize>| {
        lags.clone().filter(|&l| skip.is_none_or(|s| l.abs_diff(s) > 2)).max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
    };
    let first = pick(None)?;
    let second = pick(Some(first));

    let mut best: Option<(usize, f64)> = None;
    for c in [Some(first), second].into_iter().flatten() {
        if scores[c] <= 0.0 {
            continue;
        }
        let centre = c * DECIMATION;
        let lo = centre.saturating_sub(DECIMATION).max(MIN_PERIOD);
        let hi = (centre + DECIMATION).min(MAX_PERIOD);
        for lag in lo..=hi {
            let s = similarity(region, energy, MAX_PERIOD, lag);
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((lag, s));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 3 * FRAME;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// Uniform in [-1, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn tone(freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n).map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / RATE as f64).sin()).round() as i16).collect()
    }

    /// Harmonics 1..=12 of 150 Hz (period 320) falling off like a glottal
    /// source, under a 4 Hz syllable-rate envelope.
    fn voiced(n: usize, offset: usize) -> Vec<i16> {
        (offset..offset + n)
            .map(|i| {
                let t = i as f64 / RATE as f64;
                let env = 0.75 + 0.25 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
                let sum: f64 = (1..=12).map(|k| (2.0 * std::f64::consts::PI * 150.0 * k as f64 * t + k as f64).sin() / k as f64).sum();
                (3000.0 * env * sum).round() as i16
            })
            .collect()
    }

    fn noise(rng: &mut XorShift, amp: f64, n: usize) -> Vec<i16> {
        (0..n).map(|_| (amp * rng.unit()).round() as i16).collect()
    }

    fn max_delta(x: &[i16]) -> i32 {
        x.windows(2).map(|w| (i32::from(w[1]) - i32::from(w[0])).abs()).max().unwrap_or(0)
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn accelerate_cuts_whole_periods_of_a_tone_without_a_click() {
        let input = tone(200.0, 10_000.0, N);
        let mut out = Vec::new();
        let removed = accelerate(&input, &mut out);
        assert!(removed > 0 && removed.is_multiple_of(240), "removed {removed}");
        assert_eq!(out.len(), N - removed);
        assert_still_the_tone(&input, &out);
    }

    /// Cutting or repeating whole periods of a 200 Hz tone leaves the same
    /// tone, only shorter or longer: no click, the same level.
    fn assert_still_the_tone(input: &[i16], out: &[i16]) {
        let reference = tone(200.0, 10_000.0, out.len());
        let worst = out.iter().zip(&reference).map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs()).max().unwrap();
        assert!(worst <= 2, "deviates from the tone by {worst}");
        assert!(max_delta(out) <= max_delta(input) + 2);
        assert!((rms(out) / rms(input) - 1.0).abs() < 0.02);
    }

    #[test]
    fn expand_repeats_whole_periods_of_a_tone_without_a_click() {
        let input = tone(200.0, 10_000.0, N);
        let mut out = Vec::new();
        let added = expand(&input, &mut out);
        assert!(added > 0 && added.is_multiple_of(240), "added {added}");
        assert_eq!(out.len(), N + added);
        assert_still_the_tone(&input, &out);
    }

    #[test]
    fn the_extremes_of_the_pitch_range_are_found() {
        let mut out = Vec::new();
        // 400 Hz: period 120, the shortest searched.
        let removed = accelerate(&tone(400.0, 8000.0, N), &mut out);
        assert!(removed > 0 && removed.is_multiple_of(120), "removed {removed}");
        // 66.67 Hz: period 720, the longest; nothing shorter fits.
        let removed = accelerate(&tone(200.0 / 3.0, 8000.0, N), &mut out);
        assert_eq!(removed, 720);
    }

    #[test]
    fn voiced_speech_is_stretched_by_its_pitch_period() {
        let mut out = Vec::new();
        for offset in [0, 2000, 5000, 9000] {
            let input = voiced(N, offset);
            let removed = accelerate(&input, &mut out);
            assert!(removed == 320 || removed == 640, "offset {offset}: removed {removed}");
            assert_eq!(out.len(), N - removed);
            assert!(max_delta(&out) as f64 <= max_delta(&input) as f64 * 1.1, "click at offset {offset}");
            assert!((rms(&out) / rms(&input) - 1.0).abs() < 0.05);

            let added = expand(&input, &mut out);
            assert!(added == 320 || added == 640, "offset {offset}: added {added}");
            assert_eq!(out.len(), N + added);
            assert!(max_delta(&out) as f64 <= max_delta(&input) as f64 * 1.1, "click at offset {offset}");
            assert!((rms(&out) / rms(&input) - 1.0).abs() < 0.05);
        }
    }

    #[test]
    fn voiced_speech_over_background_noise_is_still_stretched() {
        let mut rng = XorShift(3);
        let clean = voiced(N, 700);
        // About 20 dB below the voice.
        let hiss = noise(&mut rng, 0.1 * 3.0f64.sqrt() * rms(&clean), N);
        let input: Vec<i16> = clean.iter().zip(&hiss).map(|(&a, &b)| a.saturating_add(b)).collect();
        let mut out = Vec::new();
        let removed = accelerate(&input, &mut out);
        assert!(removed == 320 || removed == 640, "removed {removed}");
    }

    #[test]
    fn an_onset_is_not_stretched() {
        // Silence then a loud vowel: no period repeats across the middle.
        let mut input = voiced(N, 0);
        input[..N / 2].iter_mut().for_each(|s| *s = 0);
        let mut out = Vec::new();
        assert_eq!(accelerate(&input, &mut out), 0);
        assert_eq!(expand(&input, &mut out), 0);
    }

    #[test]
    fn the_ends_of_the_input_are_untouched() {
        let input = voiced(N, 123);
        let mut out = Vec::new();
        let removed = accelerate(&input, &mut out);
        assert!(removed > 0);
        let (mid, n) = (N / 2, removed);
        assert_eq!(out[..mid - n], input[..mid - n]);
        assert_eq!(out[mid..], input[mid + n..]);
        let added = expand(&input, &mut out);
        assert!(added > 0);
        assert_eq!(out[..mid], input[..mid]);
        assert_eq!(out[mid + added..], input[mid..]);
    }

    #[test]
    fn loud_noise_is_left_alone() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut out = Vec::new();
        for _ in 0..50 {
            let input = noise(&mut rng, 6000.0, N);
            assert_eq!(accelerate(&input, &mut out), 0);
            assert_eq!(out, input);
            assert_eq!(expand(&input, &mut out), 0);
            assert_eq!(out, input);
        }
    }

    #[test]
    fn silence_and_quiet_noise_are_stretched_by_a_frame() {
        let mut rng = XorShift(42);
        let mut out = Vec::new();
        for input in [vec![0i16; N], noise(&mut rng, 100.0, N), vec![-3i16; N + 1]] {
            let removed = accelerate(&input, &mut out);
            assert!((MIN_PERIOD..=MAX_PERIOD).contains(&removed), "removed {removed}");
            assert_eq!(out.len(), input.len() - removed);
            let added = expand(&input, &mut out);
            assert!((MIN_PERIOD..=MAX_PERIOD).contains(&added), "added {added}");
            assert_eq!(out.len(), input.len() + added);
        }
        // Uncorrelated quiet noise has no period, so it gets the fixed cut.
        assert_eq!(accelerate(&noise(&mut rng, 100.0, N), &mut out), FRAME);
        // The cross-fade of noise into noise stays as quiet as the noise.
        let input = noise(&mut rng, 200.0, N);
        accelerate(&input, &mut out);
        assert!(out.iter().all(|s| s.abs() <= 200));
    }

    #[test]
    fn short_or_empty_input_is_copied() {
        let mut out = vec![7i16; 9];
        for n in [0, 1, 2, MIN_PERIOD, MIN_INPUT - 1] {
            let input = tone(200.0, 10_000.0, n);
            assert_eq!(accelerate(&input, &mut out), 0);
            assert_eq!(out, input);
            assert_eq!(expand(&input, &mut out), 0);
            assert_eq!(out, input);
        }
    }

    #[test]
    fn longer_inputs_are_stretched_in_the_middle() {
        let mut out = Vec::new();
        for n in [N + 1, 2000, 4801] {
            let input = tone(200.0, 10_000.0, n);
            let removed = accelerate(&input, &mut out);
            assert!(removed > 0 && removed.is_multiple_of(240));
            assert_eq!(out.len(), n - removed);
            assert!(max_delta(&out) <= max_delta(&input) + 2);
        }
    }

    #[test]
    fn random_inputs_never_panic_and_lengths_add_up() {
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        let mut out = Vec::new();
        for round in 0..3000 {
            let n = match rng.below(4) {
                0 => rng.below(MIN_INPUT as u64) as usize,
                1 => MIN_INPUT,
                _ => MIN_INPUT + rng.below(3000) as usize,
            };
            let input: Vec<i16> = match round % 6 {
                0 => {
                    let amp = rng.below(40_000) as f64;
                    noise(&mut rng, amp, n)
                }
                1 => tone(50.0 + rng.below(1000) as f64, rng.below(33_000) as f64, n),
                // Full-scale square waves: the largest products and sums.
                2 => {
                    let half = 1 + rng.below(800) as usize;
                    (0..n).map(|i| if (i / half).is_multiple_of(2) { i16::MAX } else { i16::MIN }).collect()
                }
                3 => (0..n).map(|_| if rng.below(2) == 0 { i16::MIN } else { i16::MAX }).collect(),
                4 => {
                    let mut x = voiced(n, rng.below(100_000) as usize);
                    let start = rng.below(n as u64 + 1) as usize;
                    x[start..].iter_mut().for_each(|s| *s = 0);
                    x
                }
                _ => vec![i16::MIN; n],
            };
            let removed = accelerate(&input, &mut out);
            assert_eq!(out.len() + removed, input.len());
            assert!(removed == 0 || (MIN_PERIOD..=MAX_PERIOD).contains(&removed));
            if removed == 0 {
                assert_eq!(out, input);
            } else {
                assert_eq!(out.first(), input.first());
                assert_eq!(out.last(), input.last());
            }
            let added = expand(&input, &mut out);
            assert_eq!(out.len(), input.len() + added);
            assert!(added == 0 || (MIN_PERIOD..=MAX_PERIOD).contains(&added));
            assert_eq!(added, removed, "the same rule decides both");
        }
    }

    /// `rustc --edition 2021 --test -O stretch.rs -o /tmp/stretch-test && /tmp/stretch-test --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        let mut rng = XorShift(7);
        let inputs = [voiced(N, 0), noise(&mut rng, 6000.0, N), vec![0; N], tone(200.0, 10_000.0, N)];
        let mut out = Vec::with_capacity(2 * N);
        for (name, input) in ["voiced", "loud noise", "silence", "tone"].iter().zip(&inputs) {
            let runs = 20_000;
            let start = std::time::Instant::now();
            let mut total = 0;
            for _ in 0..runs {
                total += accelerate(std::hint::black_box(input), &mut out);
            }
            let us = start.elapsed().as_secs_f64() * 1e6 / runs as f64;
            println!("accelerate {name}: {us:.1} µs per 1440-sample call (removed {})", total / runs);
        }
    }
}
