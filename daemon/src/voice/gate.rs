//! The speech decision: which microphone frames are speech (the speaking
//! flag, for 300 ms after the last), and which are sent. With processing on,
//! a frame is speech when WebRTC's RNN detector says so; what it calls no
//! speech (room noise, what is left of an echo) is encoded but not sent
//! (DTX), and one keep-alive a second goes out instead (the engine's).
//! With every stage off, a level over -45 dBFS is speech and every frame
//! is sent (Opus' own DTX decides).
//!
//! A gate clips what it lets through late or stops early, and the ear and
//! PESQ both hear it: the first consonant of a word, the tail of a vowel.
//! So it opens on a sudden rise before the RNN has made up its mind, and
//! stays open a while after the last speech frame.

/// With processing off, speech above this level (dBFS) counts as speaking.
const VAD_DBFS: f32 = -45.0;
/// With it on, the RNN's probability above this.
const VAD_PROB: f32 = 0.5;
/// While the others' voice plays, a frame must be surer speech to be sent:
/// what is left of their echo while the canceller (re)converges sounds
/// like speech too, only less so than a voice at the microphone.
const VAD_PROB_FAR: f32 = 0.9;
/// A frame this far over the floor (and over the minimum) is sent even
/// before the speech decision says so.
const ONSET_ABOVE_FLOOR_DB: f32 = 25.0;
const ONSET_MIN_DBFS: f32 = -55.0;
/// How fast the floor follows a rising level, dB per frame (20 dB/s): fast
/// enough to learn a new room's noise within a second or two.
const FLOOR_RISE_DB: f32 = 0.2;
/// Frames the speaking flag (and sending) lasts after the last speech frame.
pub const HANGOVER: u32 = 30;

/// What the gate made of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Within the hangover of speech: the speaking flag.
    pub speech: bool,
    /// Whether the frame goes out.
    pub send: bool,
}

#[derive(Debug, Clone)]
pub struct Gate {
    hang: u32,
    /// The level of what is left between words (after noise suppression), dBFS.
    floor: f32,
}

impl Default for Gate {
    fn default() -> Self {
        Gate { hang: 0, floor: f32::NAN }
    }
}

impl Gate {
    /// `level`: the frame's level, dBFS, as it will be encoded. `prob`: the
    /// RNN's speech probability, `None` with processing off. `far`: the
    /// others' voice is being played (a rise may be their echo).
    pub fn decide(&mut self, level: f32, prob: Option<f32>, far: bool) -> Decision {
        let voiced = match prob {
            Some(p) => p > if far { VAD_PROB_FAR } else { VAD_PROB },
            None => level > VAD_DBFS,
        };
        self.hang = if voiced { HANGOVER } else { self.hang.saturating_sub(1) };
        // The RNN needs a frame or two to call an onset speech, and those
        // first 10-20 ms of a word are what the ear times it by. Not while
        // the others are heard: then a rise may be what is left of their echo.
        let onset = !far && level > ONSET_MIN_DBFS && level > self.floor + ONSET_ABOVE_FLOOR_DB;
        self.floor = if level < self.floor || self.floor.is_nan() { level } else { self.floor + FLOOR_RISE_DB };
        let speech = self.hang > 0;
        Decision { speech, send: prob.is_none() || speech || onset }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_opens_the_gate_and_it_stays_open_for_the_hangover() {
        let mut g = Gate::default();
        for _ in 0..50 {
            assert!(!g.decide(-80.0, Some(0.0), false).send);
        }
        assert!(g.decide(-20.0, Some(0.9), false).send);
        for i in 0..HANGOVER - 1 {
            assert!(g.decide(-80.0, Some(0.0), false).send, "frame {i} of the hangover");
        }
        assert!(!g.decide(-80.0, Some(0.0), false).send);
    }

    #[test]
    fn a_sudden_rise_is_sent_before_the_detector_decides_but_not_while_the_others_play() {
        let mut g = Gate::default();
        for _ in 0..50 {
            g.decide(-80.0, Some(0.0), false);
        }
        assert!(!g.decide(-30.0, Some(0.1), true).send, "maybe their echo");
        let mut g = Gate::default();
        for _ in 0..50 {
            g.decide(-80.0, Some(0.0), false);
        }
        let d = g.decide(-30.0, Some(0.1), false);
        assert!(d.send && !d.speech);
    }

    #[test]
    fn without_processing_everything_is_sent_and_the_level_decides_speech() {
        let mut g = Gate::default();
        assert_eq!(g.decide(-80.0, None, false), Decision { speech: false, send: true });
        assert_eq!(g.decide(-30.0, None, false), Decision { speech: true, send: true });
    }
}
