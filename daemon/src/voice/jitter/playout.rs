//! When to play and how: the target delay, when playout starts and stops,
//! what fills a missing frame (copy, FEC, PLC, or holding for a late packet),
//! and the stretching or draining that keeps the playout on target.

use super::{JitterBuffer, FRAME_MS, SAMPLES_PER_MS};
use crate::voice::frame::FLAG_SPEAKING;
use crate::voice::stretch;
use crate::voice::FRAME;

/// NetEq's quantile: one packet in twenty may come too late and be
/// concealed, rather than every packet waiting for the slowest.
pub(super) const QUANTILE: f64 = 0.95;
/// On a reliable stream (relayed or TCP) nothing is lost, only held back
/// behind a retransmission, and a late frame is a frame of PLC: wait for
/// nearly all of them. Stalls come a few a second there, so the statistics
/// remember ~10 s instead of ~2 (a target that follows each stall makes the
/// playout stretch back and forth).
const RELIABLE_QUANTILE: f64 = 0.99;
const RELIABLE_FORGETTING: f64 = 0.999;
/// Waiting longer than this for late frames costs a conversation more than
/// concealing them. High enough for a relayed call over a lossy link, where
/// voice rides one reliable stream and every lost packet holds back the
/// frames behind it for a retransmission (about one round trip): there the
/// 95th percentile is 100–150 ms, and a cap below it turns those frames into
/// PLC (docs/benchmarks.md).
pub(super) const MAX_TARGET_MS: f64 = 200.0;
/// Frames of a pause that Opus conceals (its comfort noise fades the last
/// sound out); after them the pause is plain silence.
const PAUSE_FADE: u32 = 10;
/// After this many frames with nothing to play, stop and re-buffer.
const IDLE_RESET: u32 = 60;
/// Frames the playout waits (PLC) for a late packet in the middle of speech
/// before giving it up as lost, beyond the copies that could still bring it:
/// the target already covers 95 % of arrivals, so waiting long is rarely
/// rewarded and always paid for in delay.
const HOLD_BEYOND_COPIES: u32 = 2;
/// Dead band around the target, inside which nothing is stretched. Pauses
/// and quiet are where catching up costs nothing (PESQ and ears both align
/// words, not the silence between them), so the band is narrow there; in
/// speech only a real excess (a spike that passed) or deficit (more jitter,
/// more copies) is worth a stretch.
/// A quiet stretch moves by 10 ms and a voiced one by a pitch period (up to
/// 15 ms): the bands are wider than half a step so they do not oscillate.
pub(super) const ACCELERATE_SPEECH_MS: f64 = 25.0;
const ACCELERATE_QUIET_MS: f64 = 8.0;
const EXPAND_SPEECH_MS: f64 = 8.0;
const EXPAND_QUIET_MS: f64 = 8.0;
/// While packets go missing the playout aims this far above the target: a
/// frame is decoded up to one frame before it reaches the head of the FIFO,
/// and the copy or FEC that replaces its lost packet must be here by then.
/// On a clean path a packet that misses its decode by a fraction of a frame
/// is waited for instead (`held`), which costs less than the margin would.
pub(super) const MARGIN_MS: f64 = FRAME_MS;
/// Pops between two stretches, so the smoothed level can see the last one.
const STRETCH_SPACING: u32 = 3;
/// Only this far above target are whole frames dropped (a stalled path that
/// released a backlog at once).
const DRAIN_ABOVE_MS: f64 = 100.0;
/// Played samples kept for preemptive expand, which repeats a period of what
/// was just played (the first half of its 30 ms input).
pub(super) const HISTORY: usize = stretch::MIN_INPUT / 2;

impl JitterBuffer {
    /// The playout delay the arrival statistics call for, in ms beyond the
    /// fastest packets.
    pub fn target_ms(&self) -> f64 {
        // In-band FEC is a copy one frame back: worth waiting for once packets go missing.
        let depth = if self.recent_loss { self.copies.max(1) } else { self.copies };
        (self.delay.target_ms() + f64::from(depth) * FRAME_MS).min(MAX_TARGET_MS)
    }
    /// How much later than the fastest recent path the playout runs, ms,
    /// smoothed (it follows `target_ms` plus one frame).
    pub fn level_ms(&self) -> f64 {
        self.level_ms
    }

    /// Whether the sender's packets come on a reliable stream (see
    /// [`RELIABLE_QUANTILE`]) rather than as datagrams.
    pub fn set_reliable(&mut self, reliable: bool) {
        self.delay.set_quantile(if reliable { RELIABLE_QUANTILE } else { QUANTILE });
        self.delay.set_forgetting(if reliable { RELIABLE_FORGETTING } else { crate::voice::delay::FORGET });
    }

    /// The next 10 ms of this sender, or `false` when it has nothing to play.
    pub fn pop(&mut self, now_ms: f64, out: &mut [i16; FRAME]) -> bool {
        if self.next_ts.is_none() {
            let Some(&first) = self.packets.keys().next() else { return false };
            let waited = now_ms - self.first_arrival.unwrap_or(now_ms);
            if waited + FRAME_MS < self.target_ms() && self.span_ms() < self.target_ms() + FRAME_MS {
                return false;
            }
            self.next_ts = Some(first);
            self.fifo.clear();
            self.level_ms = self.target_ms() + self.margin_ms();
        }
        while self.fifo.len() < FRAME {
            if !self.decode_next(now_ms) {
                self.next_ts = None;
                self.first_arrival = None;
                self.fifo.clear();
                out.fill(0);
                return false;
            }
        }
        self.follow_target(now_ms);
        for (o, s) in out.iter_mut().zip(self.fifo.drain(..FRAME)) {
            *o = s;
        }
        self.history.extend(out.iter().copied());
        let extra = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..extra);
        self.drain_far();
        true
    }

    /// Decodes the frame whose turn it is into the FIFO: from its packet or a
    /// copy, else FEC or PLC (or PLC while holding for a late packet).
    /// `false` when the sender has been quiet long enough to stop playing.
    fn decode_next(&mut self, now_ms: f64) -> bool {
        let Some(next) = self.next_ts else { return false };
        let mut frame = [0i16; FRAME];
        if let Some(slot) = self.packets.remove(&next) {
            self.next_ts = Some(next.wrapping_add(1));
            self.idle = 0;
            self.held = 0;
            self.in_speech = slot.flags & FLAG_SPEAKING != 0;
            if self.pause_at.is_some_and(|p| next >= p) {
                self.pause_at = None;
            }
            self.last_seq = Some(slot.seq);
            if slot.copy {
                self.stats.red_recovered += 1;
            } else {
                self.stats.played += 1;
            }
            if !self.decoder.decode(&slot.payload, &mut frame) {
                self.stats.bad += 1;
                self.decoder.conceal(&mut frame);
            }
            self.fifo.extend(frame);
            return true;
        }
        self.idle += 1;
        let following = self.packets.iter().next().map(|(&ts, s)| (ts, s.seq, s.payload.clone()));
        // Missing by sequence number (late or lost), not a DTX pause.
        let missing = match (&following, self.last_seq) {
            (Some((_, seq, _)), Some(last)) => seq.wrapping_sub(last) > 1,
            _ => self.pause_at.is_none_or(|p| next < p),
        };
        // How late this frame's packet already is, beyond the fastest path.
        let lateness = self.behind_fastest(now_ms).unwrap_or(0.0);
        if self.in_speech && missing && self.held < HOLD_BEYOND_COPIES + u32::from(self.copies) && lateness < self.target_ms() {
            // In the middle of speech, and the packet (or a copy of it) is
            // not yet later than the delay statistics allow for: it is more
            // likely late than lost. Wait for it (PLC fills the time) instead
            // of skipping its slot.
            self.held += 1;
            self.decoder.conceal(&mut frame);
            self.stats.held += 1;
            self.fifo.extend(frame);
            return true;
        }
        self.next_ts = Some(next.wrapping_add(1));
        if !missing && self.idle > PAUSE_FADE {
            // A pause (DTX) whose concealment has faded out: its silence
            // costs no decoding (a silent participant sends a comfort-noise
            // update every 400 ms, and there are many of them in a big call).
            self.unexplained = self.unexplained.saturating_add(u32::from(following.is_none()));
            if self.idle > IDLE_RESET && self.packets.is_empty() {
                return false;
            }
            // Delay added by playing a late packet after the last pause:
            // silence is where it costs nothing to skip a frame of it.
            let next_free = self.packets.keys().next().is_none_or(|&t| t > next.wrapping_add(1));
            if self.owed > 0 && next_free {
                self.owed -= 1;
                self.next_ts = Some(next.wrapping_add(2));
                self.stats.caught_up += 1;
            }
            self.fifo.extend([0i16; FRAME]);
            return true;
        }
        // A seq gap before the next packet means packets were lost; no gap
        // means the sender paused (DTX).
        let lost = match (&following, self.last_seq) {
            (Some((_, seq, _)), Some(last)) => seq.wrapping_sub(last) > 1,
            _ => false,
        };
        if following.is_none() {
            self.unexplained = self.unexplained.saturating_add(1);
        }
        match following {
            Some((ts, _, p)) if lost && ts == next.wrapping_add(1) && self.decoder.decode_fec(&p, &mut frame) => {
                self.stats.fec_recovered += 1;
            }
            _ => {
                self.decoder.conceal(&mut frame);
                if lost {
                    self.stats.concealed += 1;
                }
            }
        }
        if self.idle > IDLE_RESET && self.packets.is_empty() {
            return false;
        }
        self.fifo.extend(frame);
        true
    }

    /// Accelerates or expands the FIFO when the playout is off target.
    ///
    /// The playout's delay is measured against the fastest recent path: the
    /// next frame to decode would have arrived by that path
    /// `now - fastest transit - its ts` ago. The target is how much later than
    /// that a packet may be and still be played (the 95th percentile, plus
    /// the age of the oldest copy, or one frame for FEC once packets go
    /// missing). Measuring against the path rather than the newest packet in
    /// the buffer keeps a burst of lost packets from looking like an emptying
    /// buffer.
    fn follow_target(&mut self, now_ms: f64) {
        let Some(level) = self.behind_fastest(now_ms) else { return };
        // Where the head of the FIFO plays, not the next frame to decode: it
        // moves smoothly (by 10 ms of clock and 10 ms of audio each pop, and
        // by exactly what a stretch adds or removes).
        let level = level + self.fifo.len() as f64 / SAMPLES_PER_MS;
        self.level_ms += (level - self.level_ms) / 8.0;
        self.since_stretch = self.since_stretch.saturating_add(1);
        if self.since_stretch < STRETCH_SPACING {
            return;
        }
        let excess = self.level_ms - self.target_ms() - self.margin_ms();
        let (accelerate_above, expand_below) =
            if self.quiet_ahead() { (ACCELERATE_QUIET_MS, EXPAND_QUIET_MS) } else { (ACCELERATE_SPEECH_MS, EXPAND_SPEECH_MS) };
        // With no packet ahead the sender is paused (DTX) or packets are
        // lost: the level says nothing about the path then.
        if self.span_ms() == 0.0 {
            return;
        }
        if excess > accelerate_above {
            while self.fifo.len() < stretch::MIN_INPUT && self.next_present() {
                self.decode_next(now_ms);
            }
            if self.fifo.len() < stretch::MIN_INPUT {
                return;
            }
            self.scratch.clear();
            self.scratch.extend(self.fifo.drain(..stretch::MIN_INPUT));
            let removed = stretch::accelerate(&self.scratch, &mut self.stretch_out);
            for &s in self.stretch_out.iter().rev() {
                self.fifo.push_front(s);
            }
            if removed > 0 {
                self.since_stretch = 0;
                let ms = removed as f64 / SAMPLES_PER_MS;
                self.level_ms -= ms;
                self.stats.accelerated += 1;
                self.stats.accelerated_ms += ms;
            }
        } else if excess < -expand_below && self.history.len() == HISTORY {
            while self.fifo.len() < HISTORY && self.next_present() {
                self.decode_next(now_ms);
            }
            if self.fifo.len() < HISTORY {
                return;
            }
            self.scratch.clear();
            self.scratch.extend(self.history.iter().copied());
            self.scratch.extend(self.fifo.drain(..HISTORY));
            let added = stretch::expand(&self.scratch, &mut self.stretch_out);
            // The first half is what was played already: only the rest is new.
            for &s in self.stretch_out[HISTORY..].iter().rev() {
                self.fifo.push_front(s);
            }
            if added > 0 {
                self.since_stretch = 0;
                let ms = added as f64 / SAMPLES_PER_MS;
                self.level_ms += ms;
                self.stats.expanded += 1;
                self.stats.expanded_ms += ms;
            }
        }
    }

    /// How far behind the fastest recent path the next frame to decode is,
    /// ms: a packet (or a copy) that much later than the fastest is here in
    /// time for it.
    fn behind_fastest(&self, now_ms: f64) -> Option<f64> {
        let (next, fastest) = (self.next_ts?, self.delay.fastest_transit_ms()?);
        Some((now_ms - fastest - f64::from(next) * FRAME_MS).clamp(-1000.0, 1000.0))
    }

    fn margin_ms(&self) -> f64 {
        if self.recent_loss || self.copies > 0 {
            MARGIN_MS
        } else {
            0.0
        }
    }

    /// Whether what plays next is quiet (a pause, or background): the
    /// cheapest place to stretch.
    fn quiet_ahead(&self) -> bool {
        let n = self.fifo.len().min(FRAME);
        if n == 0 {
            return !self.in_speech;
        }
        let energy: i64 = self.fifo.iter().take(n).map(|&s| i64::from(s) * i64::from(s)).sum();
        energy < stretch::QUIET_RMS * stretch::QUIET_RMS * n as i64
    }

    /// Drops one frame when far more is buffered than the target.
    fn drain_far(&mut self) {
        let Some(next) = self.next_ts else { return };
        if self.span_ms() > self.target_ms() + DRAIN_ABOVE_MS {
            if let Some(slot) = self.packets.remove(&next) {
                self.last_seq = Some(slot.seq);
            }
            self.next_ts = Some(next + 1);
            self.stats.drained += 1;
        }
    }
}
