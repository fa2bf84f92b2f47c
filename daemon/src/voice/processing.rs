//! What is done to the microphone before the encoder: echo cancellation
//! against what our speaker plays, noise suppression and gain control
//! (sonora, a Rust port of WebRTC's audio processing: the AEC3, NS and AGC2
//! that browsers run; docs/audio-processing.md says why), and a speech
//! decision from WebRTC's RNN voice-activity detector, which drives the
//! speaking flag and DTX.
//!
//! Runs on the engine thread, one 10 ms frame at a time. A panic inside the
//! library (young code) costs one frame passed through unprocessed and a
//! fresh processor, never the call.

use std::panic::{catch_unwind, AssertUnwindSafe};

use apero_control::AudioProcessing as Settings;
use sonora::config::{AdaptiveDigital, EchoCanceller, GainController2, NoiseSuppression, NoiseSuppressionLevel};
use sonora::{AudioProcessing, Config, StreamConfig};
use sonora_agc2::vad_wrapper::VoiceActivityDetectorWrapper;

use super::highpass::HighPass;
use super::mix::level_dbfs;
use super::{FRAME, RATE};

/// What the echo canceller has found, for `call status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoStats {
    pub erle_db: Option<f64>,
    pub delay_ms: Option<i32>,
}

pub struct Processor {
    settings: Settings,
    highpass: HighPass,
    /// The echo canceller; `None` when it is off.
    apm: Option<AudioProcessing>,
    /// The noise suppressor, an instance of its own: it runs on every
    /// frame (so its noise estimate is ready), but its output is used only
    /// while there is noise to take out (see [`NoiseSwitch`]).
    ns: Option<AudioProcessing>,
    noise: NoiseSwitch,
    denoised: [i16; FRAME],
    gain: Option<AudioProcessing>,
    cancelled: [i16; FRAME],
    vad: VoiceActivityDetectorWrapper,
    input: [i16; FRAME],
    scratch: [i16; FRAME],
    vad_in: [f32; FRAME],
    /// Panics caught inside the library.
    pub panics: u64,
}

/// Rough time from a frame's render to its echo's capture on a sound card:
/// the playback ring (~30 ms), the device buffers (~20 ms), the room. AEC3
/// finds the real delay itself; this only seeds it.
const DELAY_HINT_MS: i32 = 50;
/// The most the gain control may add. WebRTC's default, 50 dB, lifted what
/// is left of an echo back towards speech level whenever the near end was
/// silent; 30 dB still brings a far, quiet voice at -45 dBFS up to -15.
const MAX_GAIN_DB: f32 = 30.0;

fn mono_apm(config: Config) -> AudioProcessing {
    let mono = StreamConfig::new(RATE, 1);
    AudioProcessing::builder().config(config).capture_config(mono).render_config(mono).build()
}

/// The echo canceller. The high-pass filter is ours (`highpass`): WebRTC's,
/// which AEC3 turns on unless told not to, cost 0.9 PESQ on clean speech.
fn build(s: Settings) -> Option<AudioProcessing> {
    s.echo_cancel.then(|| {
        let config = Config {
            echo_canceller: Some(EchoCanceller { enforce_high_pass_filtering: false, ..EchoCanceller::default() }),
            ..Config::default()
        };
        let mut apm = mono_apm(config);
        let _ = apm.set_stream_delay_ms(DELAY_HINT_MS);
        apm
    })
}

/// The noise suppressor: High (~18 dB), as Chromium asks for: a fan or a
/// street at 10 dB under the voice must fall well below it.
fn build_ns(s: Settings) -> Option<AudioProcessing> {
    s.noise_suppression.then(|| {
        mono_apm(Config {
            noise_suppression: Some(NoiseSuppression { level: NoiseSuppressionLevel::High, ..NoiseSuppression::default() }),
            ..Config::default()
        })
    })
}

/// The gain control, in an instance of its own: its output is held to its
/// input's level while the others' voice plays (see `capture`).
fn build_gain(s: Settings) -> Option<AudioProcessing> {
    s.gain_control.then(|| {
        // From 0 dB, not WebRTC's 15: a voice at a normal level was pushed
        // into the limiter for the first seconds of every call (PESQ 4.45
        // instead of 4.64 on the first phrase); a quiet one is lifted at
        // 6 dB/s all the same.
        let adaptive = AdaptiveDigital { max_gain_db: MAX_GAIN_DB, initial_gain_db: 0.0, ..Default::default() };
        mono_apm(Config {
            gain_controller2: Some(GainController2 { adaptive_digital: Some(adaptive), ..Default::default() }),
            ..Config::default()
        })
    })
}

impl Processor {
    pub fn new(settings: Settings) -> Processor {
        Processor {
            settings,
            highpass: HighPass::new(RATE),
            apm: build(settings),
            ns: build_ns(settings),
            noise: NoiseSwitch::default(),
            denoised: [0; FRAME],
            gain: build_gain(settings),
            cancelled: [0; FRAME],
            vad: VoiceActivityDetectorWrapper::new(sonora_simd::detect_backend(), RATE as i32),
            input: [0; FRAME],
            scratch: [0; FRAME],
            vad_in: [0.0; FRAME],
            panics: 0,
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// A change of settings rebuilds the processor: the echo canceller
    /// re-converges within a second or two.
    pub fn apply(&mut self, settings: Settings) {
        if settings != self.settings {
            self.settings = settings;
            self.apm = build(settings);
            self.ns = build_ns(settings);
            self.noise = NoiseSwitch::default();
            self.gain = build_gain(settings);
        }
    }

    /// Whether the speech decision comes from the RNN (any processing on)
    /// rather than from the level alone.
    pub fn decides_speech(&self) -> bool {
        self.settings.any()
    }

    /// The far end: a frame as it goes to our speaker, in the order played.
    pub fn render(&mut self, played: &[i16; FRAME]) {
        // Only the echo canceller takes the far end.
        let Some(apm) = self.apm.as_mut() else { return };
        let scratch = &mut self.scratch;
        if catch_unwind(AssertUnwindSafe(|| apm.process_render_i16(played, scratch))).is_err() {
            self.panicked("render");
        }
    }

    /// Processes a microphone frame in place; returns the probability that
    /// it holds speech (0 with processing off: the caller decides by level).
    /// `far_active`: the others' voice is being played (and may be in this
    /// frame as an echo).
    pub fn capture(&mut self, frame: &mut [i16; FRAME], far_active: bool) -> f32 {
        if !self.settings.any() {
            return 0.0;
        }
        self.highpass.process(frame);
        self.input = *frame;
        if let Some(apm) = self.apm.as_mut() {
            let input = &self.input;
            let done = catch_unwind(AssertUnwindSafe(|| {
                // "Must be set before each capture frame when echo cancellation is on."
                let _ = apm.set_stream_delay_ms(DELAY_HINT_MS);
                apm.process_capture_i16(input, frame)
            }));
            if !self.succeeded(done) {
                *frame = self.input;
            }
        }
        if let Some(ns) = self.ns.as_mut() {
            let cancelled = *frame;
            let denoised = &mut self.denoised;
            let done = catch_unwind(AssertUnwindSafe(|| ns.process_capture_i16(&cancelled, denoised)));
            let ok = self.succeeded(done);
            if self.noise.update(level_dbfs(&cancelled)) && ok {
                *frame = self.denoised;
            }
        }
        if let Some(gain) = self.gain.as_mut() {
            self.cancelled = *frame;
            let cancelled = &self.cancelled;
            let done = catch_unwind(AssertUnwindSafe(|| gain.process_capture_i16(cancelled, frame)));
            if !self.succeeded(done) {
                *frame = self.cancelled;
            }
            // The gain control cannot tell the remains of an echo from a
            // quiet voice, and lifted them (by up to its maximum) whenever
            // we were silent while the others talked: the talker heard
            // herself come back. While they are heard, it may not add gain.
            if far_active {
                no_louder_than(frame, &self.cancelled);
            }
        }
        for (v, &s) in self.vad_in.iter_mut().zip(frame.iter()) {
            *v = s as f32;
        }
        let vad = &mut self.vad;
        let vad_in = &self.vad_in;
        catch_unwind(AssertUnwindSafe(|| vad.analyze(vad_in))).unwrap_or(0.0)
    }

    /// After a call into the library: false if it failed (the caller then
    /// passes on what went in, and the speech decision still runs on it).
    fn succeeded(&mut self, done: std::thread::Result<Result<(), sonora::Error>>) -> bool {
        match done {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::debug!("audio processing refused a frame: {e:?}");
                false
            }
            Err(_) => {
                self.panicked("capture");
                false
            }
        }
    }

    pub fn echo(&self) -> EchoStats {
        match &self.apm {
            Some(apm) => {
                let s = apm.statistics();
                EchoStats { erle_db: s.echo_return_loss_enhancement.filter(|v| v.is_finite()), delay_ms: s.delay_ms }
            }
            None => EchoStats::default(),
        }
    }

    fn panicked(&mut self, what: &str) {
        self.panics += 1;
        tracing::error!("audio processing panicked in {what} ({} so far); starting it afresh", self.panics);
        self.apm = build(self.settings);
        self.ns = build_ns(self.settings);
        self.gain = build_gain(self.settings);
        self.vad = VoiceActivityDetectorWrapper::new(sonora_simd::detect_backend(), RATE as i32);
    }
}

/// When the noise suppressor's output is used: WebRTC's suppressor costs
/// 0.35 PESQ-WB on clean speech in steady state and 1.1 in its first
/// seconds, whatever its level (Low cost as much as High); a quiet room
/// has nothing for it to take out. So its output is used only while the
/// floor of what the microphone hears between words is over a level where
/// noise is heard; below, the (echo-cancelled) microphone goes on as is.
/// It switches only between words (the last frame was not speech): its
/// output runs 7 ms behind its input, and a switch repeats or skips those
/// 7 ms, which in a pause are noise, not a syllable.
///
/// (The speech probability is not used: see `PAUSE_ABOVE_FLOOR_DB`.)
#[derive(Debug, Clone)]
struct NoiseSwitch {
    active: bool,
    /// The last frames' levels, dBFS: their minimum is the floor, the level
    /// between words (a voice pauses within [`FLOOR_FRAMES`]).
    levels: std::collections::VecDeque<f32>,
    /// Frames in a row that were a pause.
    quiet: u32,
}

/// Noise over this (dBFS) turns the suppressor on; it goes off again
/// under `NOISE_OFF_DBFS`. A laptop's own microphone in a quiet room sits
/// at -60 to -70; a fan, a street or a café are well above -50.
const NOISE_ON_DBFS: f32 = -56.0;
const NOISE_OFF_DBFS: f32 = -62.0;
/// The floor is the quietest frame of the last 1.5 s; nothing switches
/// before that much was heard. But half a second of steady sound (noise
/// alone: within `STEADY_DB` for `STEADY_FRAMES`) switches it on at once:
/// a noise that starts (a fan, a call that starts in a café) is cleaned
/// from then on, not once the quiet before it has left the window.
const FLOOR_FRAMES: usize = 150;
const STEADY_FRAMES: usize = 50;
const STEADY_DB: f32 = 8.0;
/// A frame within this of the floor is a pause (the speech detector is no
/// help here: it calls steady pink noise speech half the time); a switch
/// waits for `SWITCH_AFTER` such frames in a row (50 ms: a pause, not a
/// dip inside a word).
const PAUSE_ABOVE_FLOOR_DB: f32 = 6.0;
const SWITCH_AFTER: u32 = 5;

impl Default for NoiseSwitch {
    fn default() -> Self {
        NoiseSwitch { active: false, levels: std::collections::VecDeque::with_capacity(FLOOR_FRAMES), quiet: 0 }
    }
}

impl NoiseSwitch {
    /// Takes a frame's level (before suppression); whether to use the
    /// suppressor's output.
    fn update(&mut self, level: f32) -> bool {
        if self.levels.len() == FLOOR_FRAMES {
            self.levels.pop_front();
        }
        self.levels.push_back(level);
        let floor = self.levels.iter().copied().fold(f32::INFINITY, f32::min);
        self.quiet = if level < floor + PAUSE_ABOVE_FLOOR_DB { self.quiet + 1 } else { 0 };
        let steady = || {
            let recent = self.levels.iter().rev().take(STEADY_FRAMES);
            let (lo, hi) = recent.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &l| (lo.min(l), hi.max(l)));
            self.levels.len() >= STEADY_FRAMES && hi - lo < STEADY_DB && lo > NOISE_ON_DBFS
        };
        if !self.active && steady() {
            self.active = true;
            tracing::debug!(floor, "noise suppression on: steady noise");
        }
        if self.quiet >= SWITCH_AFTER && self.levels.len() == FLOOR_FRAMES {
            if !self.active && floor > NOISE_ON_DBFS {
                self.active = true;
                tracing::debug!(floor, "noise suppression on: there is noise to take out");
            } else if self.active && floor < NOISE_OFF_DBFS {
                self.active = false;
                tracing::debug!(floor, "noise suppression off: a quiet room");
            }
        }
        self.active
    }
}

/// Scales `frame` down to the level of `input` if it came out louder.
///
/// While the others' voice plays, what the microphone hears may be mostly
/// their echo; the gain control cannot tell, and after it has lifted a
/// well-cancelled echo's remains for seconds, a moment when the canceller
/// loses track (a device hiccup moves the echo) sends their voice back
/// louder than with no processing at all. Held to the microphone's level
/// then, the worst case is what an untreated echo would be.
fn no_louder_than(frame: &mut [i16; FRAME], input: &[i16; FRAME]) {
    let (out, inp) = (level_dbfs(frame), level_dbfs(input));
    if out > inp {
        let g = 10f32.powf((inp - out) / 20.0);
        for s in frame.iter_mut() {
            *s = (*s as f32 * g) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A speech-like signal: a few harmonics of a gliding pitch, with
    /// syllables (on 160 ms, off 60 ms) and a pause every second.
    pub(super) fn voice(i: usize, seed: f32) -> [i16; FRAME] {
        let mut f = [0i16; FRAME];
        let on = (i % 22) < 16 && (i % 100) < 80;
        if !on {
            return f;
        }
        for (k, s) in f.iter_mut().enumerate() {
            let t = (i * FRAME + k) as f32 / RATE as f32;
            let pitch = 120.0 + 40.0 * (t * 1.3 + seed).sin();
            let mut v = 0.0;
            for h in 1..8 {
                v += (t * pitch * h as f32 * std::f32::consts::TAU).sin() / h as f32;
            }
            *s = (v * 4000.0) as i16;
        }
        f
    }

    fn rms_db(frames: &[[i16; FRAME]]) -> f32 {
        let all: Vec<i16> = frames.iter().flatten().copied().collect();
        level_dbfs(&all)
    }

    /// The far end's voice comes back through a "room" (40 ms, -6 dB) into a
    /// silent near end: once converged, what we would send is at least 25 dB
    /// under the echo that came in.
    #[test]
    fn echo_of_the_far_end_is_cancelled() {
        let mut p = Processor::new(Settings::default());
        let delay = 4; // frames of 10 ms
        let mut played: Vec<[i16; FRAME]> = Vec::new();
        let (mut echo_in, mut echo_out) = (Vec::new(), Vec::new());
        for i in 0..1000 {
            let far = voice(i, 0.0);
            p.render(&far);
            played.push(far);
            let mut mic = [0i16; FRAME];
            if i >= delay {
                for (m, &s) in mic.iter_mut().zip(played[i - delay].iter()) {
                    *m = s / 2;
                }
            }
            let came = mic;
            p.capture(&mut mic, true);
            if i >= 500 {
                echo_in.push(came);
                echo_out.push(mic);
            }
        }
        let erle = rms_db(&echo_in) - rms_db(&echo_out);
        eprintln!("echo in {:.1} dBFS, out {:.1} dBFS: {erle:.1} dB removed, stats {:?}", rms_db(&echo_in), rms_db(&echo_out), p.echo());
        assert!(erle >= 25.0, "only {erle:.1} dB of echo removed");
        assert_eq!(p.panics, 0);
    }

    /// The suppressor's output is used where there is noise, from the
    /// first pause, and not in a quiet room, whatever is said.
    #[test]
    fn noise_switches_the_suppressor_on_only_in_pauses_and_only_with_noise() {
        let mut quiet = NoiseSwitch::default();
        let mut noisy = NoiseSwitch::default();
        for i in 0..1000 {
            // Words of 400 ms at -20 dBFS, pauses of 200 ms.
            let talking = i % 60 < 40;
            let quiet_on = quiet.update(if talking { -20.0 } else { -75.0 });
            assert!(!quiet_on, "frame {i}: on in a quiet room");
            let noisy_on = noisy.update(if talking { -18.0 } else { -35.0 });
            if i >= 200 {
                assert!(noisy_on, "frame {i}: off with noise at -35 dBFS");
            }
        }
        // Noise alone from the start, or after a silence: on after half a second.
        let mut lead_in = NoiseSwitch::default();
        let on_at = (0..200).position(|i| lead_in.update(-35.0 + (i % 3) as f32));
        assert_eq!(on_at, Some(STEADY_FRAMES - 1), "steady noise switches it on at once");
        let mut after_silence = NoiseSwitch::default();
        let on_at = (0..400).position(|i| after_silence.update(if i < 250 { -100.0 } else { -35.0 + (i % 3) as f32 }));
        assert_eq!(on_at, Some(250 + STEADY_FRAMES - 1), "a noise that starts is cleaned within half a second");
        // A noise that goes away turns it off at the next pause.
        for _ in 0..400 {
            noisy.update(-80.0);
        }
        assert!(!noisy.active);
    }

    /// Off means off: the frame is not touched.
    #[test]
    fn everything_off_passes_frames_through() {
        let mut p = Processor::new(Settings::OFF);
        let mut f = voice(3, 0.5);
        let before = f;
        p.render(&before);
        assert_eq!(p.capture(&mut f, false), 0.0);
        assert_eq!(f, before);
        assert!(!p.decides_speech());
    }

    /// Steady noise at 10 dB under the voice loses at least 10 dB during
    /// the voice's pauses, and the voice itself stays.
    #[test]
    fn steady_noise_is_suppressed() {
        let mut p = Processor::new(Settings { echo_cancel: false, noise_suppression: true, gain_control: false });
        let mut rng = 0x2545F491u32;
        let mut noise = || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            (rng as i32 >> 16) as f32 / 32768.0
        };
        let (mut noise_in, mut noise_out, mut voice_out) = (Vec::new(), Vec::new(), Vec::new());
        let mut speech_probs = (0.0f32, 0u32, 0.0f32, 0u32);
        for i in 0..800 {
            let v = voice(i, 1.0);
            let mut f = [0i16; FRAME];
            for (o, &s) in f.iter_mut().zip(v.iter()) {
                *o = (s as f32 + noise() * 1300.0) as i16;
            }
            let came = f;
            let prob = p.capture(&mut f, false);
            let talking = v.iter().any(|&s| s != 0);
            // Pauses are judged from their 5th frame on: the band split
            // delays the output a little, so a pause starts with the tail
            // of the voice.
            let deep_pause = (i % 100) >= 85;
            if i >= 300 {
                if talking {
                    voice_out.push(f);
                    speech_probs.0 += prob;
                    speech_probs.1 += 1;
                } else if deep_pause {
                    noise_in.push(came);
                    noise_out.push(f);
                    speech_probs.2 += prob;
                    speech_probs.3 += 1;
                }
            }
        }
        let removed = rms_db(&noise_in) - rms_db(&noise_out);
        eprintln!(
            "noise {:.1} -> {:.1} dBFS ({removed:.1} dB), voice out {:.1} dBFS; mean speech probability {:.2} talking, {:.2} in pauses",
            rms_db(&noise_in),
            rms_db(&noise_out),
            rms_db(&voice_out),
            speech_probs.0 / speech_probs.1 as f32,
            speech_probs.2 / speech_probs.3 as f32
        );
        assert!(removed >= 10.0, "noise only {removed:.1} dB down");
        assert!(rms_db(&voice_out) > rms_db(&noise_out) + 15.0, "the voice went with the noise");
    }

    /// A quiet voice is lifted by the gain control, but not while the
    /// others are heard: then it may be the remains of their echo.
    #[test]
    fn no_gain_while_the_far_end_plays() {
        let only_gain = Settings { echo_cancel: false, noise_suppression: false, gain_control: true };
        let quiet = |i: usize| {
            let mut f = voice(i, 0.3);
            for s in f.iter_mut() {
                *s /= 40;
            }
            f
        };
        let run = |far_active: bool| {
            let mut p = Processor::new(only_gain);
            let (mut ins, mut outs) = (Vec::new(), Vec::new());
            // It starts from 0 dB (see `build_gain`) and lifts at 6 dB/s
            // once it has heard enough speech: judged from the 8th second.
            for i in 0..1200 {
                let mut f = quiet(i);
                let came = f;
                p.capture(&mut f, far_active);
                if i >= 800 {
                    ins.push(came);
                    outs.push(f);
                }
            }
            rms_db(&outs) - rms_db(&ins)
        };
        let (lifted, held) = (run(false), run(true));
        eprintln!("gain {lifted:.1} dB alone, {held:.1} dB while the far end plays");
        assert!(lifted > 3.0, "the gain control did not lift a quiet voice ({lifted:.1} dB)");
        assert!(held <= 0.1, "gain was added while the far end played ({held:.1} dB)");
    }
}
