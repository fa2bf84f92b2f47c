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

mod playout;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use super::codec::Decoder;
use super::delay::DelayEstimator;
use super::frame::{Report, FLAG_MUTED, FLAG_SPEAKING};
use super::stretch;
use super::FRAME;
use playout::{HISTORY, MAX_TARGET_MS, QUANTILE};
use store::Slot;

const FRAME_MS: f64 = 10.0;
const SAMPLES_PER_MS: f64 = FRAME as f64 / FRAME_MS;

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
    /// Packets after a pause that came after their turn and were played late
    /// instead of being dropped.
    pub resumed_late: u64,
    /// Frames of silence skipped to take that delay back.
    pub caught_up: u64,
    /// Whole frames dropped far above the target.
    pub drained: u64,
    pub bad: u64,
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
    /// Frames a packet after a pause was played later than its turn
    /// (`resumed_late`): delay to take back in the next silence.
    owed: u32,
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
            owed: 0,
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

    /// What we tell the sender about its packets.
    pub fn report(&self) -> Report {
        Report {
            loss_permille: (self.loss_pct * 10.0).round().clamp(0.0, 1000.0) as u16,
            burst_x10: (self.burst * 10.0).round().clamp(10.0, 255.0) as u8,
            delay_ms: self.target_ms().round().clamp(0.0, f64::from(u16::MAX)) as u16,
        }
    }
}
