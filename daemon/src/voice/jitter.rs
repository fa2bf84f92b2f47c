//! One adaptive jitter buffer per sender.
//!
//! Packets are keyed by the sender's frame clock (`ts`), so a DTX pause (ts
//! jumps, seq does not) is told apart from a loss (seq jumps). The playout
//! delay follows the 0.97 quantile of recently observed delay variation, as
//! WebRTC's NetEq does; a missing frame is rebuilt from the next packet's FEC
//! when that packet is already here, else concealed by Opus PLC; a buffer that
//! has grown past its target drops a frame to catch up.

use std::collections::{BTreeMap, VecDeque};

use super::codec::Decoder;
use super::frame::{VoiceFrame, FLAG_MUTED, FLAG_SPEAKING};
use super::FRAME;

const FRAME_MS: f64 = 10.0;
/// ~3 s of speech: long enough for a stable quantile, short enough to adapt.
const DELAY_WINDOW: usize = 300;
/// Waiting longer than this for late frames costs a conversation more than
/// concealing them (and on a stream transport, a retransmission after a loss
/// would otherwise drag the playout delay up by a round trip).
const MAX_TARGET_FRAMES: u32 = 8;
const MAX_BUFFERED: usize = 400;
/// After this many frames with nothing to play, stop and re-buffer.
const IDLE_RESET: u32 = 60;
/// Longest run of frames the playout waits (stretches) for a late packet in
/// the middle of speech before giving it up as lost.
const MAX_HOLD: u32 = 8;

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Stats {
    pub received: u64,
    pub played: u64,
    /// Frames the sender sent that we had to invent (PLC).
    pub concealed: u64,
    pub fec_recovered: u64,
    pub late: u64,
    /// Frames of concealment inserted while waiting for a late packet: they
    /// raise the playout delay without losing any of the sender's frames.
    pub stretched: u64,
    pub drained: u64,
    pub bad: u64,
}

pub struct JitterBuffer {
    packets: BTreeMap<u32, (u32, u8, Vec<u8>)>,
    decoder: Decoder,
    next_ts: Option<u32>,
    last_seq: Option<u32>,
    last_flags: u8,
    delays: VecDeque<f64>,
    target_frames: u32,
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
    /// The sender's clock when it last went quiet (its DTX marker).
    pause_at: Option<u32>,
    // Loss accounting over one-second windows.
    highest_seq: Option<u32>,
    window_start_seq: Option<u32>,
    window_received: u32,
    window_start_ms: f64,
    pub loss_pct: f64,
    pub stats: Stats,
    pub last_heard_ms: f64,
}

impl JitterBuffer {
    pub fn new(decoder: Decoder) -> JitterBuffer {
        JitterBuffer {
            packets: BTreeMap::new(),
            decoder,
            next_ts: None,
            last_seq: None,
            last_flags: 0,
            delays: VecDeque::with_capacity(DELAY_WINDOW),
            target_frames: 2,
            idle: 0,
            jitter_ms: 0.0,
            last_transit: None,
            first_arrival: None,
            highest_audio_seq: None,
            unexplained: 0,
            in_speech: false,
            held: 0,
            pause_at: None,
            highest_seq: None,
            window_start_seq: None,
            window_received: 0,
            window_start_ms: 0.0,
            loss_pct: 0.0,
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
    /// Current playout delay from the buffer, in ms.
    pub fn target_ms(&self) -> f64 {
        self.target_frames as f64 * FRAME_MS
    }

    pub fn push(&mut self, f: VoiceFrame, now_ms: f64) {
        self.last_heard_ms = now_ms;
        self.last_flags = f.flags;
        self.count_seq(f.seq, now_ms);
        if f.payload.is_empty() {
            // Keep-alive: presence and flags, and where a pause began.
            if self.pause_at.is_none_or(|p| f.ts > p) {
                self.pause_at = Some(f.ts);
            }
            return;
        }
        self.stats.received += 1;
        // Delay variation: transit time up to a constant clock offset.
        let transit = now_ms - f.ts as f64 * FRAME_MS;
        if let Some(prev) = self.last_transit {
            self.jitter_ms += ((transit - prev).abs() - self.jitter_ms) / 16.0;
        }
        self.last_transit = Some(transit);
        if self.delays.len() == DELAY_WINDOW {
            self.delays.pop_front();
        }
        self.delays.push_back(transit);
        self.retarget();

        // Frames whose turn passed while the buffer was empty looked like a
        // pause; a sequence gap up to this packet (or this packet itself being
        // late) shows they were lost and concealed.
        let late = self.next_ts.is_some_and(|n| f.ts < n);
        if self.highest_audio_seq.is_none_or(|h| f.seq > h) {
            if let Some(h) = self.highest_audio_seq {
                let missing = f.seq - h - 1 + u32::from(late);
                self.stats.concealed += u64::from(missing.min(self.unexplained));
            }
            self.unexplained = 0;
            self.highest_audio_seq = Some(f.seq);
        }
        if let Some(next) = self.next_ts {
            if late {
                // Its slot was already filled (FEC or PLC, counted then).
                self.stats.late += 1;
                return;
            }
            if f.ts - next > 1000 {
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
        self.packets.insert(f.ts, (f.seq, f.flags, f.payload));
    }

    fn count_seq(&mut self, seq: u32, now_ms: f64) {
        if self.highest_seq.is_none_or(|h| seq > h) {
            self.highest_seq = Some(seq);
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
            self.window_received = 0;
            self.window_start_ms = now_ms;
        }
    }

    fn retarget(&mut self) {
        if self.delays.len() < 10 {
            return;
        }
        let mut sorted: Vec<f64> = self.delays.iter().copied().collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let base = sorted[0];
        let q97 = sorted[((sorted.len() - 1) as f64 * 0.97) as usize] - base;
        self.target_frames = ((q97 / FRAME_MS).ceil() as u32 + 1).clamp(1, MAX_TARGET_FRAMES);
    }

    /// The next 10 ms of this sender, or `false` when it has nothing to play.
    pub fn pop(&mut self, now_ms: f64, out: &mut [i16; FRAME]) -> bool {
        let next = match self.next_ts {
            Some(n) => n,
            None => {
                let Some((&first, _)) = self.packets.iter().next() else { return false };
                let waited = now_ms - self.first_arrival.unwrap_or(now_ms);
                let span = self.packets.keys().next_back().map(|&l| l - first + 1).unwrap_or(0);
                if waited + FRAME_MS < self.target_ms() && span < self.target_frames {
                    return false;
                }
                first
            }
        };
        self.next_ts = Some(next.wrapping_add(1));
        if let Some((seq, flags, payload)) = self.packets.remove(&next) {
            self.idle = 0;
            self.held = 0;
            self.in_speech = flags & FLAG_SPEAKING != 0;
            if self.pause_at.is_some_and(|p| next >= p) {
                self.pause_at = None;
            }
            self.last_seq = Some(seq);
            self.stats.played += 1;
            if !self.decoder.decode(&payload, out) {
                self.stats.bad += 1;
                self.decoder.conceal(out);
            }
        } else {
            self.idle += 1;
            let following = self.packets.iter().next().map(|(&ts, (seq, _, p))| (ts, *seq, p.clone()));
            let level = self.packets.keys().next_back().map_or(0, |&l| l.wrapping_sub(next));
            // Missing by sequence number (late or lost), not a DTX pause.
            let missing = match (&following, self.last_seq) {
                (Some((_, seq, _)), Some(last)) => seq.wrapping_sub(last) > 1,
                _ => self.pause_at.is_none_or(|p| next < p),
            };
            if self.in_speech && missing && self.held < MAX_HOLD && level < self.target_frames {
                // In the middle of speech, with less buffered than the delay
                // jitter calls for: the packet is more likely late than lost.
                // Wait for it (PLC fills the time) instead of skipping its
                // slot, which raises the playout delay towards the target.
                self.held += 1;
                self.next_ts = Some(next);
                self.decoder.conceal(out);
                self.stats.stretched += 1;
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
                Some((ts, _, p)) if lost && ts == next.wrapping_add(1) && self.decoder.decode_fec(&p, out) => {
                    self.stats.fec_recovered += 1;
                }
                _ => {
                    self.decoder.conceal(out);
                    if lost {
                        self.stats.concealed += 1;
                    }
                }
            }
            if self.idle > IDLE_RESET && self.packets.is_empty() {
                self.next_ts = None;
                self.first_arrival = None;
                out.fill(0);
                return false;
            }
        }
        self.drain();
        true
    }

    /// Drops one frame when the buffer holds well over its target.
    fn drain(&mut self) {
        let (Some(next), Some((&last, _))) = (self.next_ts, self.packets.iter().next_back()) else { return };
        if last >= next && last - next + 1 > self.target_frames + 3 {
            if let Some((seq, _, _)) = self.packets.remove(&next) {
                self.last_seq = Some(seq);
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

    fn packets(n: u32) -> Vec<VoiceFrame> {
        let mut enc = Encoder::new(0).unwrap();
        (0..n)
            .map(|i| {
                let mut f = [0i16; FRAME];
                for (k, s) in f.iter_mut().enumerate() {
                    *s = (((i as usize * FRAME + k) as f32 / 48.0).sin() * 9000.0) as i16;
                }
                let payload = enc.encode(&f).unwrap().unwrap().to_vec();
                VoiceFrame { flags: FLAG_SPEAKING, seq: i, ts: i, loss: 0, payload }
            })
            .collect()
    }

    #[test]
    fn steady_stream_plays_everything() {
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        let mut out = [0; FRAME];
        let mut played = 0;
        for (i, p) in packets(200).into_iter().enumerate() {
            let now = i as f64 * 10.0;
            jb.push(p, now);
            if jb.pop(now + 5.0, &mut out) {
                played += 1;
            }
        }
        assert!(played >= 195, "played {played}");
        assert_eq!(jb.stats.concealed, 0);
    }

    #[test]
    fn a_lost_packet_is_rebuilt_from_fec_or_concealed() {
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        let mut out = [0; FRAME];
        for (i, p) in packets(100).into_iter().enumerate() {
            let now = i as f64 * 10.0;
            if i % 10 != 5 {
                jb.push(p, now);
            }
            jb.pop(now - 15.0, &mut out);
        }
        assert!(jb.stats.fec_recovered + jb.stats.concealed >= 8, "{:?}", jb.stats);
    }

    #[test]
    fn jitter_raises_the_target_and_reordering_is_absorbed() {
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        let mut out = [0; FRAME];
        let mut ps = packets(300);
        // Every 4th packet 35 ms late, so it arrives after later ones.
        let mut arrivals: Vec<(f64, VoiceFrame)> =
            ps.drain(..).enumerate().map(|(i, p)| (i as f64 * 10.0 + if i % 4 == 0 { 35.0 } else { 0.0 }, p)).collect();
        arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut t = 0.0;
        let mut it = arrivals.into_iter().peekable();
        while t < 3200.0 {
            while it.peek().is_some_and(|(at, _)| *at <= t) {
                let (at, p) = it.next().unwrap();
                jb.push(p, at);
            }
            jb.pop(t, &mut out);
            t += 10.0;
        }
        assert!(jb.target_frames >= 4, "target {}", jb.target_frames);
        // Once the playout delay has grown, late packets are played, not concealed.
        assert!(jb.stats.concealed + jb.stats.fec_recovered <= 6, "{:?}", jb.stats);
        assert!(jb.stats.played >= 290, "{:?}", jb.stats);
    }

    #[test]
    fn hostile_timestamps_are_bounded() {
        let mut jb = JitterBuffer::new(Decoder::new().unwrap());
        let mut out = [0; FRAME];
        let p = packets(1).remove(0);
        jb.push(p.clone(), 0.0);
        jb.pop(100.0, &mut out);
        for i in 0..2000u32 {
            jb.push(VoiceFrame { ts: 5000 + i, seq: i, ..p.clone() }, 1.0);
        }
        assert!(jb.packets.len() <= MAX_BUFFERED);
        assert!(jb.stats.bad > 0);
    }
}
