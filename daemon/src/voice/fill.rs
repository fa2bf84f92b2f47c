//! How full the engine keeps a sound card's playback ring: at least the
//! largest chunk the card pulls at once, plus a spare frame after each
//! underrun, given back once the card has gone a while without one.
//!
//! Every frame in the ring is 10 ms more mouth-to-ear: a fixed 30 ms here
//! was a third of the delay through PulseAudio. A spare held for 10 s after
//! each underrun put two of ten calls on the rig over 60 ms (a busy machine
//! starves the speaker once or twice a call), so the spare is given back
//! after 2 s, and that time doubles (up to 32 s) when the card starves
//! again soon after a give-back: a card that needs it keeps it.

use std::time::{Duration, Instant};

use super::backend::Signals;
use super::FRAME;

const MAX_EXTRA: usize = 4;
/// How long a spare frame is kept after an underrun, at first.
const HOLD_MIN: Duration = Duration::from_secs(2);
const HOLD_MAX: Duration = Duration::from_secs(32);
/// An underrun this soon after a spare was given back means the card
/// needed it: the next one is held twice as long.
const REGRET: Duration = Duration::from_secs(10);
/// The largest pull is remembered this long (cards vary their chunks).
const PULL_MEMORY: Duration = Duration::from_secs(5);
/// The stream's first moments: PulseAudio fills its own buffer with one
/// large request while the ring still holds a frame at most, which showed
/// as an underrun and a 20 ms pull on every call (and so 10 ms more delay
/// for the next seconds). What happens then says nothing of the device's
/// steady needs: it is served, not remembered.
pub(super) const WARMUP: Duration = Duration::from_millis(500);

pub(super) struct Fill {
    pull: usize,
    pull_at: Instant,
    extra: usize,
    underruns: u64,
    underrun_at: Instant,
    hold: Duration,
    gave_back_at: Option<Instant>,
    pub(super) started: Instant,
}

impl Fill {
    pub(super) fn new() -> Fill {
        let now = Instant::now();
        // No spare frame until the device shows it needs one: a spare held
        // from the start kept the first 10 s of every call 10 ms later
        // (docs/benchmarks.md), and an underrun adds it back at once.
        Fill { pull: FRAME, pull_at: now, extra: 0, underruns: 0, underrun_at: now, hold: HOLD_MIN, gave_back_at: None, started: now }
    }

    /// The samples to keep queued, after taking in what the device did.
    pub(super) fn target(&mut self, signals: &Signals) -> usize {
        self.target_at(signals, Instant::now())
    }

    fn target_at(&mut self, signals: &Signals, now: Instant) -> usize {
        let pull = signals.take_pull();
        if now.duration_since(self.started) < WARMUP {
            self.underruns = signals.underruns();
            return pull.max(self.pull).div_ceil(FRAME) * FRAME;
        }
        if pull > 0 && (pull >= self.pull || now.duration_since(self.pull_at) > PULL_MEMORY) {
            self.pull = pull;
            self.pull_at = now;
        }
        let underruns = signals.underruns();
        if underruns > self.underruns {
            self.underruns = underruns;
            self.underrun_at = now;
            self.extra = (self.extra + 1).min(MAX_EXTRA);
            if self.gave_back_at.is_some_and(|at| now.duration_since(at) < REGRET) {
                self.hold = (self.hold * 2).min(HOLD_MAX);
            }
        } else if self.extra > 0 && now.duration_since(self.underrun_at) > self.hold {
            self.underrun_at = now;
            self.extra -= 1;
            self.gave_back_at = Some(now);
        }
        self.pull.div_ceil(FRAME) * FRAME + self.extra * FRAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streams_start_is_served_but_not_remembered() {
        let signals = Signals::default();
        let mut fill = Fill::new();
        // PulseAudio's first request fills its own buffer, and the ring
        // cannot have it yet.
        signals.pulled(2 * FRAME);
        signals.underrun();
        assert_eq!(fill.target(&signals), 2 * FRAME, "the start's large request is served");
        assert_eq!(fill.target(&signals), FRAME);
        fill.started -= WARMUP;
        assert_eq!(fill.target(&signals), FRAME, "and not remembered: no spare frame, no 20 ms pull");
        signals.underrun();
        assert_eq!(fill.target(&signals), 2 * FRAME, "a later underrun adds a spare frame at once");
        signals.pulled(2 * FRAME);
        assert_eq!(fill.target(&signals), 3 * FRAME, "a later large pull is remembered");
    }

    #[test]
    fn a_spare_frame_is_given_back_soon_unless_the_card_needs_it() {
        let signals = Signals::default();
        let mut fill = Fill::new();
        let t0 = fill.started + WARMUP;
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        assert_eq!(fill.target_at(&signals, at(0.0)), FRAME);
        signals.underrun();
        assert_eq!(fill.target_at(&signals, at(1.0)), 2 * FRAME, "an underrun adds a spare");
        assert_eq!(fill.target_at(&signals, at(2.5)), 2 * FRAME, "kept for 2 s");
        assert_eq!(fill.target_at(&signals, at(3.5)), FRAME, "then given back");
        // Starved again soon after: the card needed it, kept twice as long.
        signals.underrun();
        assert_eq!(fill.target_at(&signals, at(5.0)), 2 * FRAME);
        assert_eq!(fill.target_at(&signals, at(8.5)), 2 * FRAME, "held 4 s now");
        assert_eq!(fill.target_at(&signals, at(9.5)), FRAME);
        // Long after the last give-back, an underrun is held the same 4 s, not longer.
        signals.underrun();
        assert_eq!(fill.target_at(&signals, at(30.0)), 2 * FRAME);
        assert_eq!(fill.target_at(&signals, at(33.0)), 2 * FRAME);
        assert_eq!(fill.target_at(&signals, at(34.5)), FRAME);
    }
}
