//! How fast a share may flow to one viewer without building a queue on the
//! path, where the call's voice would wait behind it (voice goes first at
//! the sender, but a router's queue is first come, first served).
//!
//! The viewer measures, as the file transfers do (LEDBAT's idea, RFC 6817):
//! each frame is stamped with the sharer's clock when its first byte is
//! written, the viewer subtracts that from its own clock when the first
//! bytes arrive, and what exceeds the smallest such difference seen (the
//! clock offset plus the path's delay) is time spent in a queue. Every
//! [`TICK`] it sends the sharer a rate: less than what arrived while a
//! queue stands, more while none does. The sharer paces that viewer's
//! frames to it and encodes no faster than its slowest viewer allows (down
//! to [`MIN_KBPS`]; a viewer slower than that skips frames instead).
//!
//! The start is where a queue would come from: the first keyframe is the
//! largest frame, and a share written unpaced into a thin link stood
//! 200 ms in front of the call's voice for seconds, and hid itself (the
//! frames after it taught the minimum delay with the queue in it). So the
//! sharer paces a new viewer at [`START_KBPS`] from the first byte, except
//! the first [`TRAIN_BYTES`] of the first frame that large, which go as one
//! burst: that burst comes through the path's narrowest link at that link's
//! rate, and the idle path gives the base delay clean. From that one
//! measure the viewer either frees the share (a fast path) or paces it just
//! under the path, before a queue could form.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(200);
/// The encoder never goes below this for a slow viewer: below it the text
/// blurs for everyone, and that viewer gets fewer frames instead.
pub const MIN_KBPS: u64 = 250;
/// The pace of a new viewer until its path is measured (see the top):
/// slow enough for a thin link's voice, for the first keyframe only.
pub const START_KBPS: u64 = 1000;
pub const MAX_KBPS: u64 = 20_000;
/// A queue above this is the share's doing: drain it. Voice waits behind
/// it, and the goal is a rise of 20 ms at most.
const QUEUE_HIGH: Duration = Duration::from_millis(15);
/// Below this the path has room: step up.
const QUEUE_LOW: Duration = Duration::from_millis(8);
/// A path that delivers a frame faster than this is not the share's limit.
const UNPACED_ABOVE: f64 = 20_000.0;
/// Frames at least this large say how fast the path delivers; the first
/// one's head of this size is the burst that measures a new path.
pub const TRAIN_BYTES: usize = 8_000;
/// About what one QUIC packet carries.
const PACKET: usize = 1200;
/// The base delay is the minimum over this long.
const BASE_WINDOW: Duration = Duration::from_secs(20);

pub struct Pace {
    /// No frame of [`TRAIN_BYTES`] came yet: the sharer paces at
    /// [`START_KBPS`] and waits for our first measure.
    starting: bool,
    kbps: f64,
    /// (when, smallest one-way delay in µs in that second), newest last.
    base: VecDeque<(Instant, i64)>,
    tick_min: Option<i64>,
    bytes: u64,
    last_tick: Instant,
    /// What arrived the last time a queue stood: about the path's capacity,
    /// near which the rate creeps instead of climbing.
    ceiling: Option<f64>,
    /// A queue has stood, or a frame came slower than [`UNPACED_ABOVE`]:
    /// until then the path has room for the share as it is, and nothing is
    /// paced (0).
    engaged: bool,
    /// The rates (kbit/s) at which the last large frames' bytes came in,
    /// first to last: a frame is a train of packets, and a train leaves a
    /// bottleneck at the bottleneck's rate (packet-pair dispersion).
    trains: VecDeque<f64>,
}

impl Pace {
    pub fn new(now: Instant) -> Pace {
        Pace {
            starting: true,
            kbps: START_KBPS as f64,
            base: VecDeque::new(),
            tick_min: None,
            bytes: 0,
            last_tick: now,
            ceiling: None,
            engaged: false,
            trains: VecDeque::new(),
        }
    }

    /// A frame of `bytes` stamped `sent_us` (sharer's clock) began to
    /// arrive at `recv_us` (ours).
    pub fn sample(&mut self, sent_us: u64, recv_us: u64, bytes: usize, now: Instant) {
        let owd = recv_us as i64 - sent_us as i64;
        self.tick_min = Some(self.tick_min.map_or(owd, |m| m.min(owd)));
        self.bytes += bytes as u64;
        match self.base.back_mut() {
            Some((t, m)) if now.duration_since(*t) < Duration::from_secs(1) => *m = (*m).min(owd),
            _ => self.base.push_back((now, owd)),
        }
        while self.base.front().is_some_and(|(t, _)| now.duration_since(*t) > BASE_WINDOW) {
            self.base.pop_front();
        }
    }

    /// Whether the next frame of [`TRAIN_BYTES`] is the start's burst: then
    /// only its first [`TRAIN_BYTES`] make the train.
    pub fn starting(&self) -> bool {
        self.starting
    }

    /// A frame (or, [`Pace::starting`], its head) of `bytes` began to arrive
    /// at `first_us` and ended at `last_us` (our clock).
    pub fn train(&mut self, bytes: usize, first_us: u64, last_us: u64) {
        if bytes < TRAIN_BYTES || last_us <= first_us {
            return;
        }
        // The clock starts when the first packet is in: the bytes that
        // took the time are the others.
        let kbps = (bytes - PACKET) as f64 * 8.0 / ((last_us - first_us) as f64 / 1e6) / 1000.0;
        self.trains.push_back(kbps);
        while self.trains.len() > 5 {
            self.trains.pop_front();
        }
    }

    /// The median of the recent trains' rates.
    fn delivers(&self) -> Option<f64> {
        if self.trains.len() < 2 {
            return None;
        }
        let mut t: Vec<f64> = self.trains.iter().copied().collect();
        t.sort_by(f64::total_cmp);
        Some(t[t.len() / 2])
    }

    /// The queue seen since the last tick, if any frame arrived.
    fn queue(&self) -> Option<Duration> {
        let base = self.base.iter().map(|b| b.1).min()?;
        Some(Duration::from_micros((self.tick_min? - base).max(0) as u64))
    }

    /// Every [`TICK`], and at once after the start's burst: the rate
    /// (kbit/s) to tell the sharer, 0 for no limit; none while starting
    /// (the sharer keeps [`START_KBPS`]).
    pub fn tick(&mut self, now: Instant) -> Option<u64> {
        let secs = now.duration_since(self.last_tick).as_secs_f64().max(0.001);
        let arrived = self.bytes as f64 * 8.0 / secs / 1000.0;
        let queue = self.queue();
        if self.starting {
            let Some(&d) = self.trains.back() else {
                self.finish(now);
                return None;
            };
            // The start's burst: a fast path is not paced at all (as before
            // the start was paced); a thin one just under what it carries.
            self.starting = false;
            // Half the usual bar: a busy CPU only makes a burst look slower.
            if d < UNPACED_ABOVE / 2.0 {
                self.engaged = true;
                self.kbps = d * 0.8;
                self.ceiling = Some(d);
            }
            return Some(self.finish(now));
        }
        // Only on what came this tick: old trains say nothing of a still screen.
        if let Some(d) = self.delivers().filter(|_| queue.is_some_and(|q| q <= QUEUE_HIGH)) {
            if !self.engaged && d < UNPACED_ABOVE {
                // The path is slower than the share's bursts: pace just under it.
                self.engaged = true;
                self.kbps = d * 0.85;
                self.ceiling = Some(d);
            } else if self.engaged && d < 0.9 * self.kbps {
                self.kbps = d * 0.85;
                self.ceiling = Some(d);
                self.trains.clear();
            } else if self.engaged && queue.is_some_and(|q| q > QUEUE_LOW) && arrived > 0.5 * self.kbps {
                // A queue begins: we are at the path's rate, step back a little.
                self.kbps *= 0.95;
                self.ceiling = Some(self.kbps.min(self.ceiling.unwrap_or(f64::MAX)));
            } else if self.engaged && arrived > 0.5 * self.kbps {
                // Frames come as fast as we pace them: probe for more, 5 % a
                // tick, but only 1 % near the capacity last seen, where each
                // step past it is a queue in front of the voice.
                self.kbps *= match self.ceiling {
                    Some(c) if self.kbps > 1.2 * c => {
                        self.ceiling = None; // the path got faster
                        1.05
                    }
                    Some(c) if self.kbps > 0.8 * c => 1.01,
                    _ => 1.05,
                };
            }
            return Some(self.finish(now));
        }
        // The share filled its pace: a queue may be its doing, and what
        // arrived is about what the path carries. A sparse share (a still
        // slide) that meets a queue met someone else's, or a busy CPU.
        let busy = arrived > 0.5 * self.kbps;
        match queue {
            // A fast path's queue is not ours: leave the share unpaced.
            Some(_) if !self.engaged && self.delivers().is_some_and(|d| d >= UNPACED_ABOVE) => {}
            Some(q) if q > QUEUE_HIGH && (busy || !self.engaged) => {
                if !self.engaged {
                    // Start from what the path delivered, not from the start value.
                    self.engaged = true;
                    self.kbps = arrived.max(MIN_KBPS as f64);
                }
                self.ceiling = Some(arrived);
                // Drain well below the capacity, so that the queue goes in
                // a few ticks instead of standing.
                let drain = if q > 4 * QUEUE_HIGH { 0.5 } else { 0.7 };
                self.kbps = self.kbps.min(arrived * drain).min(self.kbps * 0.85);
            }
            // Not ours: yield a little, as LEDBAT does to others' traffic.
            Some(q) if q > QUEUE_HIGH => self.kbps *= 0.9,
            Some(q) if q > QUEUE_LOW && busy => self.kbps = self.kbps.min(arrived.max(self.kbps * 0.9)),
            // Room: climb about ×1.5 a second far from the last capacity
            // seen, 5 % a second near it; never far past what the share
            // actually sends (a still screen proves nothing, and lowers
            // nothing either).
            Some(_) => {
                let gain = match self.ceiling {
                    Some(c) if self.kbps > 1.2 * c => {
                        self.ceiling = None; // the path got faster
                        1.08
                    }
                    Some(c) if self.kbps > 0.85 * c => 1.01,
                    _ => 1.08,
                };
                let room = (arrived * 3.0).max(START_KBPS as f64);
                if self.kbps < room {
                    self.kbps = (self.kbps * gain).min(room);
                }
            }
            None => {}
        }
        Some(self.finish(now))
    }

    fn finish(&mut self, now: Instant) -> u64 {
        self.kbps = self.kbps.clamp(MIN_KBPS as f64 / 2.0, MAX_KBPS as f64);
        self.tick_min = None;
        self.bytes = 0;
        self.last_tick = now;
        if self.engaged {
            self.kbps as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bottleneck of `link_kbps` (FIFO, 20 ms behind it) and a sharer as
    /// `send.rs` is: 1200-byte packets, paced at the asked rate with a burst
    /// of 5 ms, at [`START_KBPS`] until the viewer speaks but the head of the
    /// first large frame, the encoder at 4/5 of the asked rate. Frames of
    /// `key` bytes then `frame` bytes at 15 fps. Returns (the rate asked at
    /// the end, 0 for none, and the queue a voice packet met, every ms: the
    /// whole run's).
    fn run(link_kbps: f64, key: usize, frame: usize, secs: f64) -> (u64, Vec<f64>) {
        let start = Instant::now();
        let at = |t: f64| start + Duration::from_secs_f64(t);
        let mut pace = Pace::new(start);
        let mut asked = Some(START_KBPS); // None: unpaced
        let mut said = false;
        let (mut tokens, mut link_free, mut probe) = (0.0f64, 0.0f64, true);
        // Frames to write: (bytes left, bytes of the burst left, size).
        let mut to_send: VecDeque<(usize, usize, usize)> = VecDeque::new();
        // Frames on the way: (size, sent at, first, head, last arrival, all written).
        let mut on_way: VecDeque<(usize, f64, f64, f64, f64, bool)> = VecDeque::new();
        let (mut queues, mut n, mut next_tick, step) = (Vec::new(), 0u32, TICK.as_secs_f64(), 0.001);
        let mut t = 0.0;
        while t < secs {
            if t >= n as f64 / 15.0 {
                let size = if n == 0 { key } else { frame };
                let size = match asked.filter(|_| said) {
                    Some(k) => size.min((k as f64 * 0.8 * 1000.0 / 8.0 / 15.0) as usize),
                    None => size,
                };
                let burst = if probe && size >= TRAIN_BYTES { TRAIN_BYTES } else { 0 };
                probe &= burst == 0;
                to_send.push_back((size, burst, size));
                n += 1;
            }
            if let Some(k) = asked {
                let rate = k as f64 * 1000.0 / 8.0;
                tokens = (tokens + rate * step).min((rate * 0.005).max(1200.0));
            }
            while let Some(f) = to_send.front_mut() {
                let p = f.0.min(1200);
                let free = f.1 > 0 || asked.is_none();
                if !free && tokens < p as f64 {
                    break;
                }
                if !free {
                    tokens -= p as f64;
                }
                f.1 = f.1.saturating_sub(p);
                let first = f.0 == f.2;
                f.0 -= p;
                link_free = link_free.max(t) + p as f64 * 8.0 / (link_kbps * 1000.0);
                let arrive = link_free + 0.02;
                if first {
                    on_way.push_back((f.2, t, arrive, arrive, arrive, false));
                }
                let w = on_way.back_mut().expect("a frame on the way");
                if f.2 - f.0 <= TRAIN_BYTES {
                    w.3 = arrive;
                }
                w.4 = arrive;
                w.5 = f.0 == 0;
                if f.0 == 0 {
                    to_send.pop_front();
                }
            }
            queues.push((link_free - t).max(0.0));
            // As watch.rs: the start's head is measured and told as soon as
            // it is in, the rest when the whole frame is.
            let us = |x: f64| (x * 1e6) as u64;
            if let Some(f) = on_way.front().filter(|f| pace.starting() && f.0 >= TRAIN_BYTES && f.3 <= t) {
                pace.train(TRAIN_BYTES, us(f.2), us(f.3));
                if let Some(k) = pace.tick(at(t)) {
                    asked = (k > 0).then_some(k);
                    said = true;
                }
            }
            while on_way.front().is_some_and(|f| f.5 && f.4 <= t) {
                let (size, sent, first, _, last, _) = on_way.pop_front().expect("checked");
                pace.sample(us(sent), us(first), size, at(t));
                if !pace.starting() {
                    pace.train(size, us(first), us(last));
                }
            }
            if t >= next_tick {
                if let Some(k) = pace.tick(at(t)) {
                    asked = (k > 0).then_some(k);
                    said = true;
                }
                next_tick = t + TICK.as_secs_f64();
            }
            t += step;
        }
        (asked.unwrap_or(0), queues)
    }

    fn p95(q: &[f64]) -> Duration {
        let mut q = q.to_vec();
        q.sort_by(f64::total_cmp);
        Duration::from_secs_f64(q[q.len() * 95 / 100])
    }

    #[test]
    fn a_slow_link_gets_a_rate_it_carries_without_a_queue() {
        // 30 kB frames (scrolling text, 3.6 Mbit/s unpaced) into 1 Mbit/s.
        let (rate, queues) = run(1000.0, 30_000, 30_000, 30.0);
        assert!((600..=1100).contains(&rate), "asked {rate} kbit/s of a 1000 kbit/s link");
        let worst = p95(&queues[queues.len() - 5000..]);
        assert!(worst < Duration::from_millis(20), "a queue of {worst:?} stood");
    }

    #[test]
    fn a_fast_link_is_not_held_back() {
        // The start's burst shows a fast path: nothing is paced.
        let (rate, _) = run(50_000.0, 60_000, 30_000, 10.0);
        assert_eq!(rate, 0, "a 50 Mbit/s link was paced");
    }

    #[test]
    fn the_start_builds_no_queue_on_a_thin_link() {
        // A 60 kB keyframe, then scrolling: at 2 Mbit/s unpaced it was
        // 240 ms in front of the voice, and stood. Now the head's burst
        // (32 ms) is the most, and from the first second on no queue stands.
        let (rate, queues) = run(2000.0, 60_000, 15_000, 10.0);
        let most = Duration::from_secs_f64(queues.iter().copied().fold(0.0, f64::max));
        assert!(most <= Duration::from_millis(40), "the start queued {most:?}");
        assert!(p95(&queues[1000..]) < Duration::from_millis(10), "a queue stood after the start");
        assert!((1200..=2000).contains(&rate), "asked {rate} kbit/s of a 2000 kbit/s link");
    }

    #[test]
    fn a_path_measured_at_the_start_is_paced_before_a_queue_stands() {
        let mut p = Pace::new(Instant::now());
        let t0 = Instant::now();
        assert!(p.starting());
        // Nothing large yet: the sharer keeps its start pace.
        p.sample(1_000, 21_000, 2_000, t0);
        assert_eq!(p.tick(t0), None);
        // The head: 8 kB, the last 6.8 kB of them in 27.2 ms after the first packet: 2 Mbit/s.
        p.sample(100_000, 120_000, 40_000, t0);
        p.train(TRAIN_BYTES, 120_000, 147_200);
        let k = p.tick(t0).expect("a rate once measured");
        assert!((1500..2000).contains(&k), "asked {k} of a 2 Mbit/s path");
        assert!(!p.starting());
    }

    #[test]
    fn a_still_screen_keeps_its_pace_through_a_late_frame() {
        // Paced at about 1.6 Mbit/s; then the slide stands still and one
        // small frame comes 40 ms late (a busy CPU, someone else's queue):
        // that is not the share's doing, and must not crush its rate.
        let t0 = Instant::now();
        let mut p = Pace::new(t0);
        p.sample(0, 20_000, TRAIN_BYTES, t0);
        p.train(TRAIN_BYTES, 20_000, 47_200);
        let before = p.tick(t0).expect("measured");
        let t1 = t0 + TICK;
        p.sample(1_000_000, 1_060_000, 600, t1);
        let after = p.tick(t1).expect("a rate");
        assert!(after >= before * 8 / 10, "{before} → {after} kbit/s for one late frame of a still screen");
    }
}
