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

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(200);
/// The encoder never goes below this for a slow viewer: below it the text
/// blurs for everyone, and that viewer gets fewer frames instead.
pub const MIN_KBPS: u64 = 250;
/// Where a viewer starts, and the most it asks for.
pub const START_KBPS: u64 = 1500;
pub const MAX_KBPS: u64 = 20_000;
/// A queue above this is the share's doing: step down to what arrives.
const QUEUE_HIGH: Duration = Duration::from_millis(25);
/// Below this the path has room: step up.
const QUEUE_LOW: Duration = Duration::from_millis(8);
/// A path that delivers a frame faster than this is not the share's limit.
const UNPACED_ABOVE: f64 = 20_000.0;
/// Frames at least this large say how fast the path delivers.
pub const TRAIN_BYTES: usize = 8_000;
/// The base delay is the minimum over this long.
const BASE_WINDOW: Duration = Duration::from_secs(20);

pub struct Pace {
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

    /// A frame of `bytes` began to arrive at `first_us` and ended at
    /// `last_us` (our clock).
    pub fn train(&mut self, bytes: usize, first_us: u64, last_us: u64) {
        if bytes < TRAIN_BYTES || last_us <= first_us {
            return;
        }
        let kbps = bytes as f64 * 8.0 / ((last_us - first_us) as f64 / 1e6) / 1000.0;
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

    /// Every [`TICK`]: the rate (kbit/s) to tell the sharer; 0 (no limit)
    /// until a queue first stands, so a path with room is never held back.
    pub fn tick(&mut self, now: Instant) -> u64 {
        let secs = now.duration_since(self.last_tick).as_secs_f64().max(0.001);
        let arrived = self.bytes as f64 * 8.0 / secs / 1000.0;
        let queue = self.queue();
        if let Some(d) = self.delivers().filter(|_| queue.is_none_or(|q| q <= QUEUE_HIGH)) {
            if !self.engaged && d < UNPACED_ABOVE {
                // The path is slower than the share's bursts: pace just under it.
                self.engaged = true;
                self.kbps = d * 0.85;
            } else if self.engaged && d < 0.9 * self.kbps {
                self.kbps = d * 0.85;
                self.trains.clear();
            } else if self.engaged && queue.is_some_and(|q| q < QUEUE_LOW) {
                // Frames come as fast as we pace them: probe for more, 5 % a tick.
                self.kbps *= 1.05;
            }
            return self.finish(now);
        }
        match queue {
            // A standing queue: what arrived is about what the path carries.
            Some(q) if q > QUEUE_HIGH => {
                if !self.engaged {
                    // Start from what the path delivered, not from the start value.
                    self.engaged = true;
                    self.kbps = arrived.max(MIN_KBPS as f64);
                }
                self.ceiling = Some(arrived);
                // A deep queue drains only well below the capacity.
                let drain = if q > 4 * QUEUE_HIGH { 0.5 } else { 0.85 };
                self.kbps = self.kbps.min(arrived * drain).min(self.kbps * 0.85);
            }
            Some(q) if q > QUEUE_LOW => self.kbps = self.kbps.min(arrived.max(self.kbps * 0.9)),
            // Room: climb about ×1.5 a second far from the last capacity
            // seen, 5 % a second near it; never far past what the share
            // actually sends (a still screen proves nothing).
            Some(_) => {
                let gain = match self.ceiling {
                    Some(c) if self.kbps > 1.2 * c => {
                        self.ceiling = None; // the path got faster
                        1.08
                    }
                    Some(c) if self.kbps > 0.85 * c => 1.01,
                    _ => 1.08,
                };
                self.kbps = (self.kbps * gain).min((arrived * 3.0).max(START_KBPS as f64));
            }
            None => {}
        }
        self.finish(now)
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

    /// A bottleneck of `link_kbps` with a FIFO queue; frames of `frame`
    /// bytes at 15 fps (fewer if the asked rate allows less), written by a
    /// sender paced at 1.25 × the asked rate as `send.rs` does. Returns
    /// (the rate asked at the end, the 95th percentile of the link's queue
    /// over the last 5 s: what a voice packet would wait).
    fn run(link_kbps: f64, frame: usize, secs: u64) -> (u64, Duration) {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        let (mut rate, mut backlog, mut queue_s) = (START_KBPS as f64, 0.0f64, 0.0f64);
        let mut stamps: VecDeque<(f64, f64)> = VecDeque::new(); // (bytes left before this frame's first byte, sent at)
        let mut sent_bytes = 0.0f64;
        let mut queues = Vec::new();
        let (mut next_frame, mut next_tick) = (0.0, TICK.as_secs_f64());
        let step = 0.001;
        let mut t = 0.0;
        while t < secs as f64 {
            if t >= next_frame {
                backlog += (frame as f64).min(rate * 1000.0 / 8.0 / 15.0);
                next_frame += 1.0 / 15.0;
            }
            // The sender's pacer moves bytes into the link.
            let out = backlog.min(rate * 1.25 * 1000.0 / 8.0 * step);
            if out > 0.0 && stamps.back().is_none_or(|s| s.0 < sent_bytes - 1.0) && backlog > 0.0 {
                stamps.push_back((sent_bytes, t));
            }
            backlog -= out;
            sent_bytes += out;
            queue_s += out * 8.0 / (link_kbps * 1000.0);
            queue_s = (queue_s - step).max(0.0);
            // A frame's first byte arrives after the queue ahead of it.
            while let Some((_, at)) = stamps.pop_front() {
                let now = start + Duration::from_secs_f64(t);
                pace.sample((at * 1e6) as u64, ((t + 0.02 + queue_s) * 1e6) as u64, out as usize, now);
            }
            if t > secs as f64 - 5.0 {
                queues.push(queue_s);
            }
            if t >= next_tick {
                rate = match pace.tick(start + Duration::from_secs_f64(t)) {
                    0 => link_kbps * 4.0, // unpaced: the encoder's own rate
                    k => k as f64,
                };
                next_tick += TICK.as_secs_f64();
            }
            t += step;
        }
        queues.sort_by(f64::total_cmp);
        (rate as u64, Duration::from_secs_f64(queues[queues.len() * 95 / 100]))
    }

    #[test]
    fn a_slow_link_gets_a_rate_it_carries_without_a_queue() {
        // 30 kB frames (scrolling text, 3.6 Mbit/s unpaced) into 1 Mbit/s.
        let (rate, worst) = run(1000.0, 30_000, 30);
        // It probes a little past the link, then steps back: around it.
        assert!((600..=1250).contains(&rate), "asked {rate} kbit/s of a 1000 kbit/s link");
        assert!(worst < Duration::from_millis(60), "a queue of {worst:?} stood");
    }

    #[test]
    fn a_fast_link_is_not_held_back() {
        // No queue ever stands: nothing is paced.
        let (rate, _) = run(50_000.0, 30_000, 20);
        assert_eq!(rate, 200_000, "a 50 Mbit/s link was paced");
    }
}
