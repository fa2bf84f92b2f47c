//! The packet store: frames received, keyed by the sender's clock (a copy
//! that a later packet carried goes in the slot of the frame it copies), and
//! the loss accounting over them that the sender is told about.

use bytes::Bytes;

use super::{JitterBuffer, FRAME_MS};
use crate::voice::frame::{VoiceFrame, FLAG_PAIR};

pub(super) const MAX_BUFFERED: usize = 400;
/// How late the first packet after a pause may be and still be played
/// (later, the sender's clock and ours disagree: start afresh instead).
const MAX_RESUME_LATE_MS: f64 = 200.0;
/// At most this many frames of such delay are remembered to take back.
const MAX_OWED: u32 = 20;

pub(super) struct Slot {
    pub(super) seq: u32,
    pub(super) flags: u8,
    pub(super) payload: Bytes,
    /// From a later packet's redundancy, not its own.
    pub(super) copy: bool,
}

impl JitterBuffer {
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
        let mut late = self.next_ts.is_some_and(|n| ts < n);
        if late && self.resumes_pause(ts, seq) {
            // The first packet after a pause, a little later than the
            // playout's clock, which went on through the silence: play it
            // now rather than drop the start of a word (or all of a short
            // sound). Only silence is behind it, and the delay this adds is
            // taken back in the next silence (`owed`).
            if let Some(n) = self.next_ts {
                self.owed = (self.owed + (n - ts)).min(MAX_OWED);
            }
            self.next_ts = Some(ts);
            self.stats.resumed_late += 1;
            late = false;
        }
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

    /// Whether a packet that missed its turn is the sender's next one after
    /// a pause (no sequence number skipped, nothing else buffered, the
    /// playout filling silence), and recent enough to play late.
    fn resumes_pause(&self, ts: u32, seq: u32) -> bool {
        let (Some(next), Some(last)) = (self.next_ts, self.last_seq) else { return false };
        self.idle > 0
            && self.packets.is_empty()
            && seq == last.wrapping_add(1)
            && (self.pause_at.is_some_and(|p| p <= ts) || !self.in_speech)
            && f64::from(next - ts) * FRAME_MS <= MAX_RESUME_LATE_MS
    }

    /// Audio buffered ahead of what plays next, in packets, ms.
    pub(super) fn span_ms(&self) -> f64 {
        match (self.next_ts, self.packets.keys().next_back()) {
            (Some(next), Some(&last)) if last >= next => f64::from(last - next + 1) * FRAME_MS,
            (None, Some(&last)) => self.packets.keys().next().map_or(0.0, |&first| f64::from(last - first + 1) * FRAME_MS),
            _ => 0.0,
        }
    }

    pub(super) fn next_present(&self) -> bool {
        self.next_ts.is_some_and(|n| self.packets.contains_key(&n))
    }
}
