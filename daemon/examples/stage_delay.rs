//! How much delay each stage of the microphone's processing adds, measured
//! offline on the real processor (`voice::processing`), one stage at a time,
//! with the signals bench/audio.py times through the PulseAudio rig: 2 ms
//! clicks at 3 kHz and 120 ms vowel-like bursts, one every 500 ms, over a
//! quiet room's noise floor (white noise at -70 dBFS).
//!
//! Two figures per stage, against the unprocessed input:
//! - `onset`: the time from each input onset to the output's, by the rule
//!   the rig's bench uses (|x| over 30 % of the peak after a quiet stretch):
//!   what the ear (and the latency bench) times;
//! - `xcorr`: the lag of the best cross-correlation around each event
//!   (±40 ms): the stage's delay as a filter, whatever it does to the level.
//!
//! `cargo run --release -p aperod --example stage_delay` (docs/benchmarks.md).

use apero_control::AudioProcessing;
use aperod::voice::processing::Processor;
use aperod::voice::FRAME;

const RATE: usize = 48_000;
const PERIOD: usize = RATE / 2;
const EVENTS: usize = 40;
/// Events left out at the start: the gain control and the noise estimate
/// settle over the first second or two.
const SKIP: usize = 6;

fn noise(seed: &mut u64) -> f64 {
    // xorshift: a fixed, dependency-free noise source.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn signal(kind: &str) -> Vec<i16> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let floor = 10f64.powf(-70.0 / 20.0) * 32767.0 * 3f64.sqrt();
    let event: Vec<f64> = if kind == "click" {
        (0..RATE / 500).map(|i| 0.5 * (i as f64 / RATE as f64 * 3000.0 * std::f64::consts::TAU).sin()).collect()
    } else {
        // A vowel: 140 Hz and its harmonics under two formants, 2 ms attack.
        let n = RATE * 120 / 1000;
        let mut x: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / RATE as f64;
                let mut v = 0.0;
                for h in 1..30 {
                    let f = h as f64 * 140.0;
                    if f > 7000.0 {
                        break;
                    }
                    let amp = (-((f - 700.0) / 300.0).powi(2)).exp() + 0.6 * (-((f - 1200.0) / 400.0).powi(2)).exp() + 0.05;
                    v += amp * (std::f64::consts::TAU * f * t).sin();
                }
                v * (t / 0.002).min(1.0) * ((0.12 - t) / 0.03).min(1.0)
            })
            .collect();
        let peak = x.iter().fold(0f64, |m, v| m.max(v.abs()));
        x.iter_mut().for_each(|v| *v *= 0.5 / peak);
        x
    };
    let mut out = vec![0i16; PERIOD * EVENTS];
    for (i, s) in out.iter_mut().enumerate() {
        let at = i % PERIOD;
        let e = event.get(at).copied().unwrap_or(0.0) * 32767.0;
        *s = (e + noise(&mut seed) * floor).round().clamp(-32768.0, 32767.0) as i16;
    }
    out
}

fn process(input: &[i16], p: AudioProcessing) -> Vec<i16> {
    let mut proc = Processor::new(p);
    let silence = [0i16; FRAME];
    let mut out = Vec::with_capacity(input.len());
    for chunk in input.chunks_exact(FRAME) {
        let mut frame: [i16; FRAME] = chunk.try_into().unwrap_or([0; FRAME]);
        proc.render(&silence);
        proc.capture(&mut frame, false);
        out.extend_from_slice(&frame);
    }
    out
}

/// First sample over 30 % of the event's peak in each period, or `None`.
fn onsets(x: &[i16]) -> Vec<Option<usize>> {
    x.chunks(PERIOD)
        .enumerate()
        .map(|(k, p)| {
            // Each period's own peak: the gain control changes it over time.
            let peak = p.iter().map(|s| (*s as i32).abs()).max().unwrap_or(0);
            let thr = (peak as f64 * 0.3).max(300.0);
            p.iter().position(|s| (*s as f64).abs() > thr).map(|i| k * PERIOD + i)
        })
        .collect()
}

fn xcorr_lag(a: &[i16], b: &[i16], at: usize, len: usize, max_lag: usize) -> usize {
    let mut best = (0, f64::MIN);
    for lag in 0..=max_lag {
        let end = (at + len).min(a.len());
        let c: f64 = a[at..end].iter().zip(b.iter().skip(at + lag)).map(|(&x, &y)| x as f64 * y as f64).sum();
        if c > best.1 {
            best = (lag, c);
        }
    }
    best.0
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p / 100.0).round() as usize]
}

fn main() {
    let stages: [(&str, AudioProcessing); 5] = [
        ("off", AudioProcessing { echo_cancel: false, noise_suppression: false, gain_control: false }),
        ("echo cancel", AudioProcessing { echo_cancel: true, noise_suppression: false, gain_control: false }),
        ("noise suppression", AudioProcessing { echo_cancel: false, noise_suppression: true, gain_control: false }),
        ("gain control", AudioProcessing { echo_cancel: false, noise_suppression: false, gain_control: true }),
        ("all (the default)", AudioProcessing { echo_cancel: true, noise_suppression: true, gain_control: true }),
    ];
    println!("| signal | stage | onset delay median / p99 ms | heard | xcorr lag median ms | peak out / in |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for kind in ["click", "burst"] {
        let input = signal(kind);
        let on_in = onsets(&input);
        for (name, p) in stages {
            let out = process(&input, p);
            let on_out = onsets(&out);
            let mut delays = Vec::new();
            let mut lags = Vec::new();
            let mut heard = 0;
            for k in SKIP..EVENTS {
                let (Some(i), Some(o)) = (on_in[k], on_out[k]) else { continue };
                heard += 1;
                delays.push((o as f64 - i as f64) * 1000.0 / RATE as f64);
                let len = if kind == "click" { RATE / 100 } else { RATE / 10 };
                lags.push(xcorr_lag(&input, &out, k * PERIOD, len, RATE / 25) as f64 * 1000.0 / RATE as f64);
            }
            let peak = |x: &[i16]| x[SKIP * PERIOD..].iter().map(|s| (*s as i32).abs()).max().unwrap_or(1) as f64;
            println!(
                "| {kind} | {name} | {:.1} / {:.1} | {heard}/{} | {:.1} | {:.2} |",
                pct(&mut delays.clone(), 50.0),
                pct(&mut delays, 99.0),
                EVENTS - SKIP,
                pct(&mut lags, 50.0),
                peak(&out) / peak(&input)
            );
        }
    }
}
