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
use sonora::config::{EchoCanceller, GainController2, HighPassFilter, NoiseSuppression, NoiseSuppressionLevel};
use sonora::{AudioProcessing, Config, StreamConfig};
use sonora_agc2::vad_wrapper::VoiceActivityDetectorWrapper;

use super::{FRAME, RATE};

/// What the echo canceller has found, for `call status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoStats {
    pub erle_db: Option<f64>,
    pub delay_ms: Option<i32>,
}

pub struct Processor {
    settings: Settings,
    /// `None` with every stage off: frames pass untouched.
    apm: Option<AudioProcessing>,
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

fn build(s: Settings) -> Option<AudioProcessing> {
    if !s.any() {
        return None;
    }
    let config = Config {
        // The echo canceller wants the high-pass filter; with it off, the
        // filter still takes out rumble and DC before noise suppression.
        high_pass_filter: Some(HighPassFilter::default()),
        echo_canceller: s.echo_cancel.then(EchoCanceller::default),
        // High (~18 dB), as Chromium asks for: a fan or a street at 10 dB
        // under the voice must fall well below it.
        noise_suppression: s
            .noise_suppression
            .then(|| NoiseSuppression { level: NoiseSuppressionLevel::High, ..NoiseSuppression::default() }),
        gain_controller2: s.gain_control.then(|| GainController2 { adaptive_digital: Some(Default::default()), ..Default::default() }),
        ..Config::default()
    };
    let mono = StreamConfig::new(RATE, 1);
    let mut apm = AudioProcessing::builder().config(config).capture_config(mono).render_config(mono).build();
    let _ = apm.set_stream_delay_ms(DELAY_HINT_MS);
    Some(apm)
}

impl Processor {
    pub fn new(settings: Settings) -> Processor {
        Processor {
            settings,
            apm: build(settings),
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
        }
    }

    /// Whether the speech decision comes from the RNN (any processing on)
    /// rather than from the level alone.
    pub fn decides_speech(&self) -> bool {
        self.apm.is_some()
    }

    /// The far end: a frame as it goes to our speaker, in the order played.
    pub fn render(&mut self, played: &[i16; FRAME]) {
        let Some(apm) = self.apm.as_mut() else { return };
        if !self.settings.echo_cancel {
            return;
        }
        let scratch = &mut self.scratch;
        if catch_unwind(AssertUnwindSafe(|| apm.process_render_i16(played, scratch))).is_err() {
            self.panicked("render");
        }
    }

    /// Processes a microphone frame in place; returns the probability that
    /// it holds speech (0 with processing off: the caller decides by level).
    pub fn capture(&mut self, frame: &mut [i16; FRAME]) -> f32 {
        let Some(apm) = self.apm.as_mut() else { return 0.0 };
        self.input = *frame;
        let input = &self.input;
        let done = catch_unwind(AssertUnwindSafe(|| {
            // "Must be set before each capture frame when echo cancellation is on."
            let _ = apm.set_stream_delay_ms(DELAY_HINT_MS);
            apm.process_capture_i16(input, frame)
        }));
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                *frame = self.input;
                tracing::debug!("audio processing refused a frame: {e:?}");
            }
            Err(_) => {
                *frame = self.input;
                self.panicked("capture");
            }
        }
        // WebRTC feeds its VAD floats on the int16 scale.
        for (v, &s) in self.vad_in.iter_mut().zip(frame.iter()) {
            *v = s as f32;
        }
        let vad = &mut self.vad;
        let vad_in = &self.vad_in;
        catch_unwind(AssertUnwindSafe(|| vad.analyze(vad_in))).unwrap_or(0.0)
    }

    pub fn echo(&self) -> EchoStats {
        match (&self.apm, self.settings.echo_cancel) {
            (Some(apm), true) => {
                let s = apm.statistics();
                EchoStats { erle_db: s.echo_return_loss_enhancement.filter(|v| v.is_finite()), delay_ms: s.delay_ms }
            }
            _ => EchoStats::default(),
        }
    }

    fn panicked(&mut self, what: &str) {
        self.panics += 1;
        tracing::error!("audio processing panicked in {what} ({} so far); starting it afresh", self.panics);
        self.apm = build(self.settings);
        self.vad = VoiceActivityDetectorWrapper::new(sonora_simd::detect_backend(), RATE as i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::mix::level_dbfs;

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
            p.capture(&mut mic);
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

    /// Off means off: the frame is not touched.
    #[test]
    fn everything_off_passes_frames_through() {
        let mut p = Processor::new(Settings::OFF);
        let mut f = voice(3, 0.5);
        let before = f;
        p.render(&before);
        assert_eq!(p.capture(&mut f), 0.0);
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
            let prob = p.capture(&mut f);
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
}
