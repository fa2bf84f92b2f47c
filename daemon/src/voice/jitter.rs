//! One playout buffer per sender, in the manner of WebRTC's NetEq.
//!
//! Packets are keyed by the sender's frame clock (`ts`), so a DTX pause (ts
//! jumps, seq does not) is told apart from a loss (seq jumps). Decoded audio
//! goes into a sample FIFO, and playout follows a target delay taken from the
//! arrival-delay distribution (`delay`, ≈ its 95th percentile) by time
//! stretching that FIFO (`stretch`: accelerate above the target, preemptive
//! expand below it) rather than by dropping or inserting whole frames.
//!
//! A missing frame is filled, best first, by a redundant copy that a later
//! packet carried (RED), by the next packet's in-band FEC, or by Opus PLC. In
//! the middle of speech with less buffered than the target, a missing packet
//! is more likely late than lost: the playout waits for it (PLC fills the
//! time, counted as `held`). Whole frames are dropped only far above target.
//! While the sender adds copies, the target grows by as many frames as it
//! adds: a copy arrives that much after its slot would have, and must still
//! find it unplayed.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::codec::Decoder;
use super::delay::DelayEstimator;
use super::frame::{Report, VoiceFrame, FLAG_MUTED, FLAG_PAIR, FLAG_SPEAKING};
use super::stretch;
use super::FRAME;

const FRAME_MS: f64 = 10.0;
const SAMPLES_PER_MS: f64 = FRAME as f64 / FRAME_MS;
/// NetEq's quantile: one packet in twenty may come too late and be
/// concealed, rather than every packet waiting for the slowest.
const QUANTILE: f64 = 0.95;
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
const MAX_TARGET_MS: f64 = 200.0;
const MAX_BUFFERED: usize = 400;
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
const ACCELERATE_SPEECH_MS: f64 = 25.0;
const ACCELERATE_QUIET_MS: f64 = 8.0;
const EXPAND_SPEECH_MS: f64 = 8.0;
const EXPAND_QUIET_MS: f64 = 8.0;
/// While packets go missing the playout aims this far above the target: a
/// frame is decoded up to one frame before it reaches the head of the FIFO,
/// and the copy or FEC that replaces its lost packet must be here by then.
/// On a clean path a packet that misses its decode by a fraction of a frame
/// is waited for instead (`held`), which costs less than the margin would.
const MARGIN_MS: f64 = FRAME_MS;
/// Pops between two stretches, so the smoothed level can see the last one.
const STRETCH_SPACING: u32 = 3;
/// Only this far above target are whole frames dropped (a stalled path that
/// released a backlog at once).
const DRAIN_ABOVE_MS: f64 = 100.0;
/// Played samples kept for preemptive expand, which repeats a period of what
/// was just played (the first half of its 30 ms input).
const HISTORY: usize = stretch::MIN_INPUT / 2;

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Stats {
    pub received: u64,
    /// Frames played from their own packet.
    pub played: u64,
    /// Lost frames we had to invent (PLC).
    pub concealed: u64,
    /// Lost frames rebuilt from the next packet's in-band FEC.
    pub fec_recovered: u64,
    /// Lost frames played from a copy that a later packet carried (RED).
    pub red_recovered: u64,
    /// Time-stretch operations that shortened the buffered audio, and by how much.
    pub accelerated: u64,
    pub accelerated_ms: f64,
    /// Preemptive expands that lengthened it, and by how much.
    pub expanded: u64,
    pub expanded_ms: f64,
    /// Frames of PLC played while waiting for a late packet.
    pub held: u64,
    pub late: u64,
    /// Whole frames dropped far above the target.
    pub drained: u64,
    pub bad: u64,
}

struct Slot {
    seq: u32,
    flags: u8,
    payload: Bytes,
    /// From a later packet's redundancy, not its own.
    copy: bool,
}

pub struct JitterBuffer {
    packets: BTreeMap<u32, Slot>,
    decoder: Decoder,
    delay: DelayEstimator,
    /// Decoded, not yet played.
    fifo: VecDeque<i16>,
    /// The last samples played, oldest first.
    history: VecDeque<i16>,
    scratch: Vec<i16>,
    stretch_out: Vec<i16>,
    /// Buffered audio (FIFO plus packets ahead), ms, smoothed over pops.
    level_ms: f64,
    /// Pops since the last stretch.
    since_stretch: u32,
    next_ts: Option<u32>,
    last_seq: Option<u32>,
    last_flags: u8,
    idle: u32,
    jitter_ms: f64,
    last_transit: Option<f64>,
    first_arrival: Option<f64>,
    /// Highest sequence number of an audio packet received.
    highest_audio_seq: Option<u32>,
    /// Frames played with nothing in the buffer, not yet known to be loss or pause.
    unexplained: u32,
    /// Whether the last frame played was speech (so an empty buffer is a late packet, not a pause).
    in_speech: bool,
    held: u32,
    /// How far back the oldest copy in the sender's packets is, in frames: a
    /// copy arrives that much after its slot, so the playout must be at
    /// least that much further behind.
    copies: u8,
    /// The sender's clock when it last went quiet (its DTX marker).
    pause_at: Option<u32>,
    // Loss accounting over one-second windows.
    highest_seq: Option<u32>,
    window_start_seq: Option<u32>,
    window_received: u32,
    window_runs: u32,
    window_run_lost: u32,
    window_start_ms: f64,
    pub loss_pct: f64,
    /// When a packet last went missing, and whether that was in the last
    /// ten seconds (updated once a second).
    last_gap_ms: Option<f64>,
    recent_loss: bool,
    /// Mean length of a run of lost packets (1.0: losses come alone).
    pub burst: f64,
    pub stats: Stats,
    pub last_heard_ms: f64,
}

impl JitterBuffer {
    pub fn new(decoder: Decoder) -> JitterBuffer {
        JitterBuffer {
            packets: BTreeMap::new(),
            decoder,
            delay: DelayEstimator::new(QUANTILE, 0.0, MAX_TARGET_MS),
            fifo: VecDeque::with_capacity(4 * stretch::MIN_INPUT),
            history: VecDeque::with_capacity(HISTORY + FRAME),
            scratch: Vec::with_capacity(2 * stretch::MIN_INPUT),
            stretch_out: Vec::with_capacity(2 * stretch::MIN_INPUT),
            level_ms: 0.0,
            since_stretch: 0,
            next_ts: None,
            last_seq: None,
            last_flags: 0,
            idle: 0,
            jitter_ms: 0.0,
            last_transit: None,
            first_arrival: None,
            highest_audio_seq: None,
            unexplained: 0,
            in_speech: false,
            held: 0,
            copies: 0,
            pause_at: None,
            highest_seq: None,
            window_start_seq: None,
            window_received: 0,
            window_runs: 0,
            window_run_lost: 0,
            window_start_ms: 0.0,
            loss_pct: 0.0,
            last_gap_ms: None,
            recent_loss: false,
            burst: 1.0,
            stats: Stats::default(),
            last_heard_ms: 0.0,
        }
    }

    pub fn speaking(&self) -> bool {
        self.last_flags & FLAG_SPEAKING != 0
    }
    pub fn muted(&self) -> bool {
        self.last_flags & FLAG_MUTED != 0
    }
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ms
    }
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
        self.delay.set_forgetting(if reliable { RELIABLE_FORGETTING } else { super::delay::FORGET });
    }

    /// What we tell the sender about its packets.
    pub fn report(&self) -> Report {
        Report {
            loss_permille: (self.loss_pct * 10.0).round().clamp(0.0, 1000.0) as u16,
            burst_x10: (self.burst * 10.0).round().clamp(10.0, 255.0) as u8,
            delay_ms: self.target_ms().round().clamp(0.0, f64::from(u16::MAX)) as u16,
        }
    }

    pub fn push(&mut self, f: VoiceFrame, now_ms: f64) {
        self.last_heard_ms = now_ms;
        self.last_flags = f.flags;
        // In a 20 ms packet the first entry is the frame before the primary,
        // as new as the primary: the rest are copies.
        let paired = f.flags & FLAG_PAIR != 0 && !f.payload.is_empty() && !f.redundant.is_empty();
        let (pair, copies) = if paired { f.redundant.split_at(1) } else { (&[][..], &f.redundant[..]) };
        // The copies first: they are the older frames, and a copy whose slot
        // is still ahead of the playout fills it where the primary was lost.
        for r in copies {
            let seq = f.seq.wrapping_sub(u32::from(r.seq_back));
            self.insert_copy(f.ts.wrapping_sub(u32::from(r.back)), seq, f.flags, r.payload.clone());
        }
        if f.payload.is_empty() {
            // Keep-alive: presence and flags, and where a pause began.
            if self.pause_at.is_none_or(|p| f.ts > p) {
                self.pause_at = Some(f.ts);
            }
            return;
        }
        self.copies = copies.iter().map(|r| r.back).max().unwrap_or(0);
        for r in pair {
            let (ts, seq) = (f.ts.wrapping_sub(u32::from(r.back)), f.seq.wrapping_sub(u32::from(r.seq_back)));
            if r.back != 0 && !r.payload.is_empty() {
                self.fresh(ts, seq, f.flags, r.payload.clone(), now_ms, false);
            }
        }
        self.fresh(f.ts, f.seq, f.flags, f.payload, now_ms, true);
    }

    /// A frame heard for the first time; `packet`: the packet's own
    /// (primary) frame, whose arrival is the packet's for the jitter figure.
    fn fresh(&mut self, ts: u32, seq: u32, flags: u8, payload: Bytes, now_ms: f64, packet: bool) {
        self.count_seq(seq, now_ms);
        self.stats.received += 1;
        self.delay.arrival(f64::from(ts) * FRAME_MS, now_ms);
        if packet {
            // Delay variation (RFC 3550's jitter), for `call status`.
            let transit = now_ms - f64::from(ts) * FRAME_MS;
            if let Some(prev) = self.last_transit {
                self.jitter_ms += ((transit - prev).abs() - self.jitter_ms) / 16.0;
            }
            self.last_transit = Some(transit);
        }

        // Frames whose turn passed while the buffer was empty looked like a
        // pause; a sequence gap up to this packet (or this packet itself being
        // late) shows they were lost and concealed.
        let late = self.next_ts.is_some_and(|n| ts < n);
        if self.highest_audio_seq.is_none_or(|h| seq > h) {
            if let Some(h) = self.highest_audio_seq {
                let missing = seq - h - 1 + u32::from(late);
                self.stats.concealed += u64::from(missing.min(self.unexplained));
            }
            self.unexplained = 0;
            self.highest_audio_seq = Some(seq);
        }
        if let Some(next) = self.next_ts {
            if late {
                // Its slot was already filled (copy, FEC or PLC, counted then).
                self.stats.late += 1;
                return;
            }
            if ts - next > 1000 {
                // Ten seconds ahead of playout: a broken or hostile sender.
                self.stats.bad += 1;
                return;
            }
        }
        if self.packets.len() >= MAX_BUFFERED {
            self.stats.bad += 1;
            return;
        }
        self.first_arrival.get_or_insert(now_ms);
        self.packets.insert(ts, Slot { seq, flags, payload, copy: false });
    }

    fn insert_copy(&mut self, ts: u32, seq: u32, flags: u8, payload: Bytes) {
        if payload.is_empty() || self.packets.contains_key(&ts) || self.packets.len() >= MAX_BUFFERED {
            return;
        }
        match self.next_ts {
            // Played already (or concealed): too late to help.
            Some(next) if ts < next || ts - next > 1000 => return,
            // Not playing yet: an older frame would only start playout earlier.
            None => return,
            _ => {}
        }
        self.packets.insert(ts, Slot { seq, flags, payload, copy: true });
    }

    fn count_seq(&mut self, seq: u32, now_ms: f64) {
        match self.highest_seq {
            Some(h) if seq <= h => {}
            h => {
                if let Some(h) = h {
                    if seq - h > 1 {
                        // A run of lost packets (or reordered ones, counted alike).
                        self.last_gap_ms = Some(now_ms);
                        self.recent_loss = true;
                        self.window_runs += 1;
                        self.window_run_lost += (seq - h - 1).min(50);
                    }
                }
                self.highest_seq = Some(seq);
            }
        }
        let start = *self.window_start_seq.get_or_insert(seq);
        if seq >= start {
            self.window_received += 1;
        }
        if now_ms - self.window_start_ms >= 1000.0 {
            if let Some(h) = self.highest_seq {
                let expected = h.saturating_sub(start) + 1;
                if expected >= 5 {
                    let lost = expected.saturating_sub(self.window_received) as f64;
                    let pct = 100.0 * lost / expected as f64;
                    self.loss_pct = 0.5 * self.loss_pct + 0.5 * pct.clamp(0.0, 100.0);
                }
                self.window_start_seq = Some(h + 1);
            }
            if self.window_runs > 0 {
                let mean = f64::from(self.window_run_lost) / f64::from(self.window_runs);
                self.burst = 0.5 * self.burst + 0.5 * mean.max(1.0);
            } else if self.loss_pct < 0.5 {
                self.burst = 0.5 * self.burst + 0.5;
            }
            self.recent_loss = self.last_gap_ms.is_some_and(|at| now_ms - at < 10_000.0);
            self.window_received = 0;
            self.window_runs = 0;
            self.window_run_lost = 0;
            self.window_start_ms = now_ms;
        }
    }

    /// Audio buffered ahead of what plays next, in packets, ms.
    fn span_ms(&self) -> f64 {
        match (self.next_ts, self.packets.keys().next_back()) {
            (Some(next), Some(&last)) if last >= next => f64::from(last - next + 1) * FRAME_MS,
            (None, Some(&last)) => self.packets.keys().next().map_or(0.0, |&first| f64::from(last - first + 1) * FRAME_MS),
            _ => 0.0,
        }
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

    fn next_present(&self) -> bool {
        self.next_ts.is_some_and(|n| self.packets.contains_key(&n))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::codec::Encoder;
    use crate::voice::frame::Redundant;
    use crate::voice::redundancy::Packetizer;

    /// A voiced, speech-like signal: harmonics of a slowly gliding pitch.
    fn voiced(i: usize) -> [i16; FRAME] {
        let mut f = [0i16; FRAME];
        for (k, s) in f.iter_mut().enumerate() {
            let t = (i * FRAME + k) as f64 / 48_000.0;
            let pitch = 140.0 + 20.0 * (t * 0.7).sin();
            let phase = std::f64::consts::TAU * pitch * t;
            *s = ((phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin()) * 6000.0) as i16;
        }
        f
    }

    /// `n` frames of speech packetized as the engine does, each packet with
    /// up to `copies` copies of the previous ones; `paired`: 20 ms packets.
    fn speech(n: u32, copies: u8, paired: bool) -> Vec<VoiceFrame> {
        let mut enc = Encoder::new(0).unwrap();
        let mut p = Packetizer::default();
        (0..n)
            .filter_map(|i| {
                let payload = Bytes::copy_from_slice(enc.encode(&voiced(i as usize)).unwrap().unwrap());
                p.audio(i, i, FLAG_SPEAKING, payload, copies, paired)
            })
            .collect()
    }

    /// `n` packets of speech, one frame each.
    fn packets(n: u32, copies: u8) -> Vec<VoiceFrame> {
        speech(n, copies, false)
    }

    /// The same speech in 20 ms packets (two frames each), as a big call sends it.
    fn paired_packets(n: u32, copies: u8) -> Vec<VoiceFrame> {
        speech(n, copies, true)
    }

    /// Delivers `(arrival ms, packet)` in arrival order and pops every 10 ms
    /// (at +5 ms), like the engine does; returns the buffer.
    fn play(mut arrivals: Vec<(f64, VoiceFrame)>, until_ms: f64) -> JitterBuffer {
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut it = arrivals.into_iter().peekable();
        let mut out = [0; FRAME];
        let mut t = 0.0;
        while t < until_ms {
            while it.peek().is_some_and(|(at, _)| *at <= t) {
                let (at, p) = it.next().unwrap();
                jb.push(p, at);
            }
            jb.pop(t + 5.0, &mut out);
            t += 10.0;
        }
        jb
    }

    fn on_time(ps: Vec<VoiceFrame>, lost: impl Fn(u32) -> bool) -> Vec<(f64, VoiceFrame)> {
        ps.into_iter().filter(|p| !lost(p.seq)).map(|p| (p.ts as f64 * 10.0 + 40.0, p)).collect()
    }

    #[test]
    fn steady_stream_plays_everything() {
        let jb = play(on_time(packets(300, 0), |_| false), 3500.0);
        assert!(jb.stats.played >= 295, "{:?}", jb.stats);
        assert_eq!(jb.stats.concealed + jb.stats.fec_recovered + jb.stats.red_recovered, 0, "{:?}", jb.stats);
        assert_eq!(jb.stats.drained, 0);
        // Nothing to catch up on a steady path: the buffer stays small.
        assert!(jb.level_ms() <= 30.0, "level {}", jb.level_ms());
    }

    #[test]
    fn without_redundancy_a_lost_packet_is_rebuilt_from_fec() {
        // 1 % of loss for the first report (the playout then waits one frame
        // more, for the FEC in the next packet), then 10 %.
        let lost = |s: u32| s == 55 || (s % 10 == 5 && s > 210 && s < 380);
        let jb = play(on_time(packets(400, 0), lost), 4500.0);
        let n = (0..400).filter(|&s| lost(s)).count() as u64;
        assert_eq!(jb.stats.fec_recovered + jb.stats.concealed, n, "{:?}", jb.stats);
        assert!(jb.stats.fec_recovered >= n - 1, "{:?}", jb.stats);
        assert_eq!(jb.stats.red_recovered, 0);
    }

    #[test]
    fn paired_frames_play_whole_and_are_not_taken_for_loss() {
        let ps = paired_packets(300, 0);
        assert_eq!(ps.len(), 150);
        assert!(ps.iter().all(|p| p.flags & FLAG_PAIR != 0 && p.redundant.len() == 1));
        let jb = play(on_time(ps, |_| false), 3500.0);
        assert!(jb.stats.played >= 295, "{:?}", jb.stats);
        assert_eq!(jb.stats.concealed + jb.stats.fec_recovered + jb.stats.red_recovered, 0, "{:?}", jb.stats);
        assert_eq!(jb.loss_pct, 0.0);
        // The first frame of each pair waits 10 ms for the second: no more.
        assert!(jb.target_ms() <= 30.0, "target {}", jb.target_ms());
    }

    /// 20 ms packets with a copy of the packet before: a packet lost alone
    /// comes back whole (both its frames) from the next one.
    #[test]
    fn a_lost_pair_comes_back_from_the_next_packet() {
        // Packets are named by their primary's seq (odd numbers).
        let lost = |s: u32| [101u32, 161, 221, 281, 341].contains(&s);
        let jb = play(on_time(paired_packets(500, 1), lost), 5500.0);
        assert_eq!(jb.stats.red_recovered, 10, "{:?}", jb.stats);
        assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, 0, "{:?}", jb.stats);
        // Two frames lost in a row, once a second: what the sender is told.
        assert!(jb.report().burst() >= 1.5, "{:?}", jb.report());
    }

    /// Random independent loss (every 7th-ish packet, seeded), one copy:
    /// every lost frame comes back whole from the copy in the next packet.
    #[test]
    fn random_loss_with_one_copy_is_fully_recovered() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut lost_set = std::collections::HashSet::new();
        for s in 50..450u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // ~6 % loss, never two in a row (that is the burst test's job).
            if x % 100 < 6 && !lost_set.contains(&(s - 1)) {
                lost_set.insert(s);
            }
        }
        let jb = play(on_time(packets(500, 1), |s| lost_set.contains(&s)), 5500.0);
        let n = lost_set.len() as u64;
        assert!(n > 15);
        assert_eq!(jb.stats.red_recovered, n, "{:?}", jb.stats);
        assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, 0, "{:?}", jb.stats);
    }

    /// Bursts of 1 to 4 with two copies (1 and 3 back): bursts up to three
    /// come back whole from the copies; of a burst of four the oldest frame
    /// is older than any copy, and concealed.
    #[test]
    fn bursts_of_one_to_four_with_two_copies() {
        let bursts = [(100u32, 1u32), (150, 2), (200, 3), (250, 4), (300, 1), (350, 3), (400, 2), (450, 4)];
        let lost = |s: u32| bursts.iter().any(|&(at, len)| s >= at && s < at + len);
        let jb = play(on_time(packets(550, 2), lost), 6000.0);
        let red: u64 = bursts.iter().map(|&(_, len)| u64::from(len.min(3))).sum();
        let fours = bursts.iter().filter(|&&(_, len)| len >= 4).count() as u64;
        assert_eq!(jb.stats.red_recovered, red, "{:?}", jb.stats);
        assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, fours, "{:?}", jb.stats);
    }

    /// A burst of five: the copies reach three deep, two frames are concealed.
    #[test]
    fn a_burst_of_five_loses_two_frames() {
        let lost = |s: u32| (200..205).contains(&s);
        let jb = play(on_time(packets(400, 2), lost), 4500.0);
        assert_eq!(jb.stats.red_recovered, 3, "{:?}", jb.stats);
        assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, 2, "{:?}", jb.stats);
    }

    /// Reordering by up to 30 ms with no loss: the target grows to cover it
    /// and (almost) every packet is played from itself, none dropped whole.
    #[test]
    fn reordering_raises_the_target_and_nothing_is_lost() {
        let mut x = 7u64;
        let arrivals: Vec<(f64, VoiceFrame)> = packets(600, 0)
            .into_iter()
            .map(|p| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let extra = (x >> 33) as f64 / (1u64 << 31) as f64 * 30.0;
                (p.ts as f64 * 10.0 + 40.0 + extra, p)
            })
            .collect();
        let jb = play(arrivals, 6500.0);
        assert!(jb.target_ms() >= 20.0, "target {}", jb.target_ms());
        assert!(jb.stats.played >= 570, "{:?}", jb.stats);
        assert!(jb.stats.late <= 30, "{:?}", jb.stats);
        assert_eq!(jb.stats.drained, 0, "{:?}", jb.stats);
        assert!(jb.stats.expanded > 0, "the delay grew by stretching: {:?}", jb.stats);
    }

    /// A path that was jittery and then calms down: the buffer is brought
    /// back by accelerating, not by dropping frames.
    #[test]
    fn calmer_path_is_followed_by_accelerating() {
        let arrivals: Vec<(f64, VoiceFrame)> = packets(1200, 0)
            .into_iter()
            .map(|p| {
                // 60 ms spikes on every 5th packet for 4 s, then a steady path.
                let extra = if p.ts < 400 && p.ts % 5 == 0 { 60.0 } else { 0.0 };
                (p.ts as f64 * 10.0 + 40.0 + extra, p)
            })
            .collect();
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        let mut it = {
            let mut a = arrivals;
            a.sort_by(|x, y| x.0.total_cmp(&y.0));
            a.into_iter().peekable()
        };
        let mut out = [0; FRAME];
        let (mut high, mut t) = (0.0f64, 0.0);
        while t < 12_500.0 {
            while it.peek().is_some_and(|(at, _)| *at <= t) {
                let (at, p) = it.next().unwrap();
                jb.push(p, at);
            }
            jb.pop(t + 5.0, &mut out);
            if (3500.0..4000.0).contains(&t) {
                high = high.max(jb.level_ms());
            }
            t += 10.0;
        }
        assert!(high >= 40.0, "the spikes raised the level: {high}");
        let excess = jb.level_ms() - jb.target_ms() - MARGIN_MS;
        assert!(excess <= ACCELERATE_SPEECH_MS + 5.0, "level {} target {} after calm", jb.level_ms(), jb.target_ms());
        assert!(jb.stats.accelerated > 0 && jb.stats.accelerated_ms >= 20.0, "{:?}", jb.stats);
        assert_eq!(jb.stats.drained, 0, "{:?}", jb.stats);
    }

    #[test]
    fn reports_say_how_bursty_the_loss_is() {
        // 5 % loss in bursts of 3 for 5 s.
        let lost = |s: u32| s % 60 < 3;
        let jb = play(on_time(packets(500, 0), lost), 5200.0);
        let r = jb.report();
        assert!((3.0..8.0).contains(&r.loss_pct()), "{r:?}");
        assert!(r.burst() >= 2.5, "{r:?}");
        let lost = |s: u32| s % 20 == 3;
        let r = play(on_time(packets(500, 0), lost), 5200.0).report();
        assert!(r.burst() < 1.3, "{r:?}");
    }

    /// A Gilbert-model path like delaylink's (`--delay 40 --jitter 10
    /// --loss 5 --burst 3`), printed: `cargo test --release -p aperod --lib
    /// simulate_bursty_path -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn simulate_bursty_path() {
        let mut x = 99u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let (loss, burst) = (0.05, 3.0);
        let leave = 1.0 / burst;
        let enter = loss * leave / (1.0 - loss);
        let mut bad = false;
        let mut last_due = 0.0f64;
        let mut arrivals = Vec::new();
        for p in packets(3000, 2) {
            bad = if bad { rnd() >= leave } else { rnd() < enter };
            let due = (p.ts as f64 * 10.0 + 40.0 + rnd() * 10.0).max(last_due);
            last_due = due;
            if !bad {
                arrivals.push((due, p));
            }
        }
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        let mut it = arrivals.into_iter().peekable();
        let mut out = [0; FRAME];
        let mut t = 0.0;
        while t < 30_500.0 {
            while it.peek().is_some_and(|(at, _)| *at <= t) {
                let (at, p) = it.next().unwrap();
                jb.push(p, at);
            }
            jb.pop(t + 5.0, &mut out);
            if (t as u64).is_multiple_of(2000) {
                eprintln!("t={t} level={:.1} target={:.1} {:?}", jb.level_ms(), jb.target_ms(), jb.stats);
            }
            t += 10.0;
        }
    }

    #[test]
    fn hostile_timestamps_are_bounded() {
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        let mut out = [0; FRAME];
        let p = packets(1, 0).remove(0);
        jb.push(p.clone(), 0.0);
        jb.pop(100.0, &mut out);
        for i in 0..2000u32 {
            let copies = vec![Redundant { back: 200, seq_back: 1, payload: p.payload.clone() }];
            jb.push(VoiceFrame { ts: 5000 + i, seq: i, redundant: copies, ..p.clone() }, 1.0);
        }
        assert!(jb.packets.len() <= MAX_BUFFERED);
        assert!(jb.stats.bad > 0);
        for _ in 0..100 {
            jb.pop(200.0, &mut out);
        }
    }
}
