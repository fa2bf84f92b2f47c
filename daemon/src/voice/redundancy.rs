//! How much protection our packets carry, from what the receivers report,
//! and the sender's memory of its last packets for the RED-style copies.
//!
//! Opus in-band FEC (LBRR) rebuilds one lost frame, at lower quality, from
//! the next packet. A copy of an earlier packet rebuilds that frame at full
//! quality, and since each copy carries its own LBRR, it brings the frame
//! before it too. One copy (of the previous packet) covers a lost packet
//! whole and a pair through the copy's FEC. Against bursts the two copies are
//! of the packets 1 and 3 back: the first packet after a burst of four
//! brings frames 4 and 2 of it whole and, through their FEC, frames 3 and 1
//! (copies 1 and 2 back would reach only three deep). The copies cost
//! bandwidth, so the primary's bitrate comes down to keep the total at 5 %
//! loss within twice the clean rate (docs/benchmarks.md), and the receiver
//! waits as many frames more as the oldest copy is old (`jitter`).

use std::collections::VecDeque;

use bytes::Bytes;

use super::frame::{Redundant, Report, VoiceFrame, FLAG_PAIR};

/// What the encoder and the packetizer should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// Copies of earlier packets in each packet (0..=2).
    pub copies: u8,
    /// Opus bitrate of the primary.
    pub bitrate_bps: i32,
    /// Loss the encoder's in-band FEC is tuned for, percent.
    pub fec_loss_pct: u8,
}

/// Loss (percent) from which one copy rides along.
const ONE_COPY_LOSS: f64 = 1.0;
/// Loss (percent) from which two ride along whatever the bursts.
const TWO_COPIES_LOSS: f64 = 8.0;
/// Mean burst (packets) from which two ride along: a second lost packet in a
/// row is then common, and one copy plus FEC would leave a frame to PLC.
const TWO_COPIES_BURST: f64 = 1.6;
/// Reports that must ask for less before protection comes down: losses come
/// and go on Wi-Fi, and flapping would cost more than it saves.
const HOLD_REPORTS: u32 = 8;

fn wanted(report: &Report, base_bps: i32) -> Protection {
    let (loss, burst) = (report.loss_pct(), report.burst());
    let copies = if loss >= TWO_COPIES_LOSS || (loss >= ONE_COPY_LOSS && burst >= TWO_COPIES_BURST) {
        2
    } else if loss >= ONE_COPY_LOSS {
        1
    } else {
        0
    };
    // Total payload ≈ (1 + copies) × primary: 1 × 48, 2 × 44 = 88, 3 × 32 = 96 kbit/s
    // (with our headers about 59, 101 and 111 kbit/s: within 2× clean).
    let bitrate_bps = match copies {
        0 => base_bps,
        1 => base_bps * 11 / 12,
        _ => base_bps * 2 / 3,
    };
    // FEC is tuned for the loss left over once the copies have done their
    // part, but never below 3 %, so the first lost packet is covered even
    // before anyone reports loss.
    let residual = match copies {
        0 => loss,
        _ => loss / 2.0,
    };
    Protection { copies, bitrate_bps, fec_loss_pct: residual.round().clamp(3.0, 30.0) as u8 }
}

/// The sender's choice, over the reports of every participant (the packet is
/// encoded once for all of them, so the worst path decides).
pub struct Policy {
    base_bps: i32,
    current: Protection,
    calmer: u32,
}

impl Policy {
    pub fn new(base_bps: i32) -> Policy {
        Policy { base_bps, current: wanted(&Report::default(), base_bps), calmer: 0 }
    }

    pub fn current(&self) -> Protection {
        self.current
    }

    /// Folds in the latest report of each participant; more protection
    /// applies at once, less only after [`HOLD_REPORTS`] calmer rounds.
    pub fn update<'a>(&mut self, reports: impl IntoIterator<Item = &'a Report>) -> Protection {
        let want = reports
            .into_iter()
            .map(|r| wanted(r, self.base_bps))
            .max_by_key(|p| (p.copies, p.fec_loss_pct))
            .unwrap_or_else(|| wanted(&Report::default(), self.base_bps));
        if (want.copies, want.fec_loss_pct) >= (self.current.copies, self.current.fec_loss_pct) {
            self.current = want;
            self.calmer = 0;
        } else {
            self.calmer += 1;
            if self.calmer >= HOLD_REPORTS {
                self.current = want;
                self.calmer = 0;
            }
        }
        self.current
    }
}

/// Copies older than this many frames are not worth sending: by the time
/// they arrive the receiver has played (concealed) that slot.
const MAX_BACK: u32 = 6;
/// Which earlier packets the copies are of, by how many packets back.
const ONE_COPY: &[usize] = &[1];
const TWO_COPIES: &[usize] = &[1, 3];
/// In 20 ms packets, the copy is of the previous packet (its two frames):
/// what it misses of a longer burst, their FEC partly brings back.
const PAIR_COPIES: &[usize] = &[1, 2];
/// The oldest packet a copy is taken from.
const DEPTH: usize = 3;

/// The sender's last packets with audio, newest first.
#[derive(Default)]
pub struct History {
    sent: VecDeque<(u32, u32, Bytes)>,
}

impl History {
    /// The copies to put in the packet at (`ts`, `seq`), newest first;
    /// `paired`: the packet carries two frames (the one before `ts` is in
    /// it, not yet in the history), and any copies are of the packet before.
    pub fn copies(&self, ts: u32, seq: u32, n: u8, paired: bool) -> Vec<Redundant> {
        let which = match (n, paired) {
            (0, _) => &[][..],
            (_, true) => PAIR_COPIES,
            (1, false) => ONE_COPY,
            _ => TWO_COPIES,
        };
        which
            .iter()
            .filter_map(|&k| self.sent.get(k - 1))
            .filter_map(|(at, at_seq, payload)| {
                let back = ts.wrapping_sub(*at);
                let seq_back = seq.wrapping_sub(*at_seq);
                ((1..=MAX_BACK).contains(&back) && seq_back <= MAX_BACK).then(|| Redundant {
                    back: back as u8,
                    seq_back: seq_back as u8,
                    payload: payload.clone(),
                })
            })
            .collect()
    }

    pub fn push(&mut self, ts: u32, seq: u32, payload: Bytes) {
        if self.sent.len() == DEPTH {
            self.sent.pop_back();
        }
        self.sent.push_front((ts, seq, payload));
    }
}

/// Turns encoded frames into packets: copies from the history and, in a
/// big call, two frames per packet (`frame::FLAG_PAIR`).
#[derive(Default)]
pub struct Packetizer {
    history: History,
    /// A frame waiting to travel with the next one: (ts, seq, flags, payload).
    held: Option<(u32, u32, u8, Bytes)>,
}

impl Packetizer {
    /// A frame with audio; `paired`: two frames per packet now. Returns the
    /// packet to send, or `None` while the frame waits for its pair.
    pub fn audio(&mut self, ts: u32, seq: u32, flags: u8, payload: Bytes, copies: u8, paired: bool) -> Option<VoiceFrame> {
        match self.held.take() {
            None if paired => {
                self.held = Some((ts, seq, flags, payload));
                None
            }
            None => {
                let redundant = self.history.copies(ts, seq, copies, false);
                self.history.push(ts, seq, payload.clone());
                Some(VoiceFrame { flags, seq, ts, payload, redundant })
            }
            Some((h_ts, h_seq, _, h_payload)) => {
                let mut redundant = vec![Redundant {
                    back: ts.wrapping_sub(h_ts).min(255) as u8,
                    seq_back: seq.wrapping_sub(h_seq).min(255) as u8,
                    payload: h_payload.clone(),
                }];
                redundant.extend(self.history.copies(ts, seq, copies, true));
                self.history.push(h_ts, h_seq, h_payload);
                self.history.push(ts, seq, payload.clone());
                Some(VoiceFrame { flags: flags | FLAG_PAIR, seq, ts, payload, redundant })
            }
        }
    }

    /// The frame waiting for its pair, alone: when audio stops (a pause, or
    /// mute) it must not wait for a next frame that is not coming.
    pub fn flush(&mut self, copies: u8) -> Option<VoiceFrame> {
        let (ts, seq, flags, payload) = self.held.take()?;
        let redundant = self.history.copies(ts, seq, copies, false);
        self.history.push(ts, seq, payload.clone());
        Some(VoiceFrame { flags, seq, ts, payload, redundant })
    }

    /// A packet without audio (`seq`: the last audio packet's); after a talk
    /// spurt (`after_audio`) it carries copies of the spurt's last frames.
    pub fn keepalive(&self, ts: u32, seq: u32, flags: u8, copies: u8, after_audio: bool) -> VoiceFrame {
        let redundant = if after_audio { self.history.copies(ts, seq, copies, false) } else { Vec::new() };
        VoiceFrame { flags, seq, ts, payload: Bytes::new(), redundant }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(loss_pct: f64, burst: f64) -> Report {
        Report { loss_permille: (loss_pct * 10.0) as u16, burst_x10: (burst * 10.0) as u8, delay_ms: 20 }
    }

    #[test]
    fn protection_follows_loss_and_bursts() {
        let base = 48_000;
        assert_eq!(wanted(&report(0.0, 1.0), base).copies, 0);
        assert_eq!(wanted(&report(0.0, 1.0), base).bitrate_bps, base);
        assert_eq!(wanted(&report(5.0, 1.0), base).copies, 1);
        assert_eq!(wanted(&report(5.0, 3.0), base).copies, 2);
        assert_eq!(wanted(&report(12.0, 1.0), base).copies, 2);
        // The payload at 5 % loss stays within twice the clean payload.
        for r in [report(5.0, 1.0), report(5.0, 3.0), report(30.0, 4.0)] {
            let p = wanted(&r, base);
            assert!(i32::from(1 + p.copies) * p.bitrate_bps <= 2 * base, "{p:?}");
        }
    }

    #[test]
    fn the_worst_path_decides_and_protection_comes_down_slowly() {
        let mut policy = Policy::new(48_000);
        assert_eq!(policy.current().copies, 0);
        let clean = report(0.0, 1.0);
        let lossy = report(6.0, 2.5);
        assert_eq!(policy.update([&clean, &lossy]).copies, 2);
        for _ in 0..HOLD_REPORTS - 1 {
            assert_eq!(policy.update([&clean]).copies, 2, "held");
        }
        assert_eq!(policy.update([&clean]).copies, 0);
        assert_eq!(policy.update([]).copies, 0);
    }

    #[test]
    fn copies_are_of_the_packets_one_and_three_back_and_never_stale() {
        let mut h = History::default();
        assert!(h.copies(5, 5, 2, false).is_empty());
        h.push(10, 10, Bytes::from_static(b"a"));
        h.push(11, 11, Bytes::from_static(b"b"));
        h.push(12, 12, Bytes::from_static(b"c"));
        let c = h.copies(13, 13, 2, false);
        let got: Vec<_> = c.iter().map(|r| (r.back, r.seq_back, &r.payload[..])).collect();
        assert_eq!(got, vec![(1, 1, &b"c"[..]), (3, 3, &b"a"[..])]);
        assert_eq!(h.copies(13, 13, 1, false).len(), 1);
        // A keep-alive reuses the last packet's number.
        assert_eq!(h.copies(13, 12, 1, false)[0].seq_back, 0);
        // After a pause the old packets are not sent again.
        assert!(h.copies(12 + MAX_BACK + 1, 13, 2, false).is_empty());
    }

    #[test]
    fn pairs_carry_two_frames_and_a_pause_sends_the_waiting_one_alone() {
        let mut p = Packetizer::default();
        let b = |x: &'static [u8]| Bytes::from_static(x);
        assert!(p.audio(10, 1, 0, b(b"a"), 1, true).is_none(), "waits for its pair");
        let f = p.audio(11, 2, 0, b(b"b"), 1, true).unwrap();
        assert_eq!((f.ts, f.seq, &f.payload[..], f.flags & FLAG_PAIR), (11, 2, &b"b"[..], FLAG_PAIR));
        assert_eq!(f.redundant.len(), 1, "no earlier packet to copy yet");
        assert_eq!((f.redundant[0].back, f.redundant[0].seq_back, &f.redundant[0].payload[..]), (1, 1, &b"a"[..]));
        p.audio(12, 3, 0, b(b"c"), 1, true);
        let f = p.audio(13, 4, 0, b(b"d"), 1, true).unwrap();
        let got: Vec<_> = f.redundant.iter().map(|r| (r.back, &r.payload[..])).collect();
        assert_eq!(got, vec![(1, &b"c"[..]), (1 + 1, &b"b"[..]), (3, &b"a"[..])], "the pair, then the packet before");
        // Speech stops after an odd frame: it goes alone, then the keep-alive.
        assert!(p.audio(14, 5, 0, b(b"e"), 1, true).is_none());
        let f = p.flush(1).unwrap();
        assert_eq!((f.ts, f.seq, f.flags & FLAG_PAIR), (14, 5, 0));
        assert_eq!(f.redundant[0].payload, b(b"d"));
        assert!(p.flush(1).is_none());
        let k = p.keepalive(15, 5, 0, 1, true);
        assert!(k.payload.is_empty());
        assert_eq!(k.redundant[0].payload, b(b"e"));
        // Back to 10 ms packets at once.
        assert_eq!(p.audio(16, 6, 0, b(b"f"), 0, false).unwrap().redundant.len(), 0);
    }
}
