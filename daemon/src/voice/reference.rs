//! The echo canceller's reference: what the speaker played, handed over one
//! frame per captured frame.
//!
//! AEC3 resets its delay search whenever a captured block finds no new
//! reference (a render underrun) and when the reference stays more than
//! ~32 ms ahead for a second (excess render). Feeding whatever the sound
//! card's callback had written by the time a capture frame is processed
//! hit both on a real sound server: the two callbacks jitter against each
//! other by more than a frame, and each reset cost seconds of echo.
//!
//! So the canceller gets exactly one reference frame per capture frame. A
//! frame the speaker has not written yet is handed over as silence, and
//! what happens next tells why it was missing:
//! - it comes in a burst with the next one (the callback ran late): the
//!   late frame is skipped, and every later frame keeps its place;
//! - it comes alone, one per capture frame as before (the sound server
//!   starved the stream and played a gap of silence): the silence was what
//!   really played, and the frames go on from there.
//!
//! Either way the delay the canceller sees stays what the room makes it.
//!
//! Nothing is held back to absorb a speaker that writes several frames at
//! once: on a sound server's monitor the echo came back 4-8 ms after the
//! callback wrote it, so a frame of margin made the canceller's reference
//! come after its echo, which it cannot cancel. The speaker is asked for
//! periods of one frame instead (`backend::cpal`).

use rtrb::Consumer;

use super::FRAME;

/// Reference frames waiting beyond which the oldest are dropped: more than
/// the canceller's delay search covers comfortably (the capture stood
/// still, or the speaker's clock runs faster).
const BACKLOG: usize = 8;
/// A silence handed over is matched by a burst within this many frames,
/// or taken to have been a real gap.
const OWED_FOR: u32 = 20;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceStats {
    /// Frames handed over as silence because the speaker had not played them yet.
    pub late: u64,
    /// Frames skipped because they came late, in a burst.
    pub skipped: u64,
    /// Times a backlog was dropped.
    pub dropped: u64,
}

pub struct Reference {
    frame: [i16; FRAME],
    /// Silences handed over that a burst may still make up for.
    owed: usize,
    owed_age: u32,
    /// Nothing is owed before the speaker's first frame.
    started: bool,
    stats: ReferenceStats,
}

/// Reads one frame from `ring` into `out`, if a whole one is there.
pub fn take_frame(ring: &mut Consumer<i16>, out: &mut [i16; FRAME]) -> bool {
    let Ok(chunk) = ring.read_chunk(FRAME) else { return false };
    let (a, b) = chunk.as_slices();
    out[..a.len()].copy_from_slice(a);
    out[a.len()..].copy_from_slice(b);
    chunk.commit_all();
    true
}

fn skip(ring: &mut Consumer<i16>, frames: usize) {
    if let Ok(chunk) = ring.read_chunk(frames * FRAME) {
        chunk.commit_all();
    }
}

impl Default for Reference {
    fn default() -> Self {
        Reference::new()
    }
}

impl Reference {
    pub fn new() -> Reference {
        Reference { frame: [0; FRAME], owed: 0, owed_age: 0, started: false, stats: ReferenceStats::default() }
    }

    pub fn stats(&self) -> ReferenceStats {
        self.stats
    }

    /// The reference frame for the next captured frame.
    pub fn next(&mut self, played: &mut Consumer<i16>) -> &[i16; FRAME] {
        let waiting = played.slots() / FRAME;
        if waiting > BACKLOG {
            skip(played, waiting - 1);
            self.owed = 0;
            self.stats.dropped += 1;
        } else {
            // Only a surplus pays: the frame for now is never skipped.
            let paid = self.owed.min(waiting.saturating_sub(1));
            skip(played, paid);
            self.owed -= paid;
            self.stats.skipped += paid as u64;
        }
        if take_frame(played, &mut self.frame) {
            self.started = true;
        } else {
            self.frame.fill(0);
            if self.started {
                // A speaker silent for long (its stand-in writes nothing)
                // owes no more than a backlog could ever pay.
                self.owed = (self.owed + 1).min(BACKLOG);
                self.owed_age = 0;
                self.stats.late += 1;
            }
        }
        if self.owed > 0 {
            self.owed_age += 1;
            if self.owed_age > OWED_FOR {
                self.owed = 0;
            }
        }
        &self.frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: i16) -> [i16; FRAME] {
        [n; FRAME]
    }

    fn push(p: &mut rtrb::Producer<i16>, n: i16) {
        for s in frame(n) {
            p.push(s).unwrap();
        }
    }

    /// Frames written late are replaced by silence and then skipped, so
    /// that every later frame keeps its place: the n-th reference is the
    /// n-th frame played, whatever the timing.
    #[test]
    fn jitter_keeps_frames_in_their_place() {
        let (mut p, mut c) = rtrb::RingBuffer::new(32 * FRAME);
        let mut r = Reference::new();
        let mut n = 1i16;
        // (frames the speaker writes before this capture frame)
        let pattern = [1, 1, 0, 2, 1, 0, 0, 3, 1, 2, 0, 1];
        let mut got = Vec::new();
        for (i, &writes) in pattern.iter().cycle().take(60).enumerate() {
            for _ in 0..writes {
                push(&mut p, n);
                n += 1;
            }
            got.push((i, r.next(&mut c)[0]));
        }
        for (i, v) in got {
            assert!(v == 0 || v as usize == i + 1, "capture frame {i} got reference frame {v}");
        }
        assert!(r.stats().late > 0);
        assert_eq!(r.stats().late, r.stats().skipped);
    }

    /// A speaker the sound server starved for three frames (it played
    /// silence) and that then goes on at its pace: the silence stands in
    /// for the gap and no frame it played is lost.
    #[test]
    fn a_gap_is_silence_and_nothing_is_skipped() {
        let (mut p, mut c) = rtrb::RingBuffer::new(32 * FRAME);
        let mut r = Reference::new();
        let mut got = Vec::new();
        let mut n = 1;
        for i in 0..60 {
            if !(10..13).contains(&i) {
                push(&mut p, n);
                n += 1;
            }
            got.push(r.next(&mut c)[0]);
        }
        let real: Vec<i16> = got.iter().copied().filter(|&v| v != 0).collect();
        assert_eq!(real, (1..n).collect::<Vec<i16>>());
        assert_eq!(r.stats(), ReferenceStats { late: 3, skipped: 0, dropped: 0 });
    }

    /// A speaker far ahead is cut back to its newest frame.
    #[test]
    fn a_backlog_is_dropped() {
        let (mut p, mut c) = rtrb::RingBuffer::new(32 * FRAME);
        let mut r = Reference::new();
        for i in 1..=20 {
            push(&mut p, i);
        }
        assert_eq!(r.next(&mut c)[0], 20);
        assert_eq!(r.stats().dropped, 1);
    }

    /// Before the speaker's first frame nothing is owed.
    #[test]
    fn a_long_silence_owes_no_more_than_a_backlog() {
        let (mut p, mut c) = rtrb::RingBuffer::new(64 * FRAME);
        let mut r = Reference::new();
        push(&mut p, 1);
        assert_eq!(r.next(&mut c), &frame(1));
        for _ in 0..15 {
            assert_eq!(r.next(&mut c), &frame(0));
        }
        assert_eq!(r.owed, BACKLOG);
        assert_eq!(r.stats().late, 15);
    }

    #[test]
    fn nothing_owed_before_the_speaker_starts() {
        let (mut p, mut c) = rtrb::RingBuffer::new(32 * FRAME);
        let mut r = Reference::new();
        for _ in 0..50 {
            assert_eq!(r.next(&mut c)[0], 0);
        }
        push(&mut p, 7);
        assert_eq!(r.next(&mut c)[0], 7);
        assert_eq!(r.stats(), ReferenceStats::default());
    }
}
