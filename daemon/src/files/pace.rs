//! Voice first: while a call runs on either end, a download is paced below
//! the path's capacity so that the call's packets never wait behind file
//! bytes in a router's queue.
//!
//! The signal is one-way queuing delay, as in LEDBAT (RFC 6817): the sender
//! stamps every piece of a chunk with its clock, the downloader subtracts the
//! stamp from its own clock (the offset between the clocks cancels out against
//! the smallest value seen), and anything above that base is time spent in a
//! queue. [`DelayControl`] turns it into a rate that holds the queue near
//! [`TARGET`]; the downloader sends that rate to the sender (`Pace`), and the
//! sender's [`TokenBucket`] for that peer spaces its pieces to it. A rate
//! control rather than a window, because file bytes are written into a QUIC
//! connection whose own congestion control fills any queue it finds.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Queuing delay the controller aims for. A call's mouth-to-ear latency
/// grows by about this much plus the jitter it causes, and the jitter buffer
/// works in 10 ms frames: at 5 ms one run in three grew by a frame.
pub const TARGET: Duration = Duration::from_millis(3);
/// How often the downloader recomputes the rate and tells the sender.
pub const TICK: Duration = Duration::from_millis(20);
/// Never below this: a transfer keeps moving, and keeps producing samples.
pub const MIN_RATE: u64 = 32 * 1024;
/// A rate to start from when nothing has been measured yet (2 Mbit/s).
const START_RATE: u64 = 256 * 1024;
/// The base delay is the minimum over this many buckets of [`BUCKET`]: long
/// enough to see an empty queue, short enough to follow a route change.
const BUCKETS: usize = 15;
const BUCKET: Duration = Duration::from_secs(4);

/// Microseconds on this process's monotonic clock; what pieces are stamped with.
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

pub use crate::rate::TokenBucket;

/// How big the pieces of a chunk are at a given pace: small enough that a
/// voice packet queued behind one waits little (about 1 ms of the link, one
/// packet on a slow one), large enough not to cost a write per packet on a
/// fast path.
pub fn piece_len(rate: u64) -> usize {
    ((rate / 1000) as usize).clamp(1200, 64 * 1024)
}

/// The downloader's controller for one source.
pub struct DelayControl {
    rate: f64,
    /// Minima of one-way delay (µs, sender clock offset included), newest last.
    base: VecDeque<(Instant, i64)>,
    /// Smallest delay seen since the last tick: a queue that drains at any
    /// moment of the tick was not standing, and noise only ever adds delay.
    tick_min: Option<i64>,
    /// Bytes delivered since the last tick.
    delivered: u64,
    last_tick: Instant,
    /// Delivery rate over recent ticks, to keep the rate from running away
    /// when the transfer is limited by something else.
    delivery: VecDeque<(Instant, u64)>,
    active: bool,
    /// What arrived the last time a queue stood: about the path's capacity.
    /// Near it the rate creeps instead of climbing.
    ceiling: Option<f64>,
    /// Queuing delay seen in the last tick, for the logs.
    pub last_queuing: Option<Duration>,
}

impl Default for DelayControl {
    fn default() -> Self {
        DelayControl::new(Instant::now())
    }
}

impl DelayControl {
    pub fn new(now: Instant) -> DelayControl {
        DelayControl {
            rate: START_RATE as f64,
            base: VecDeque::new(),
            tick_min: None,
            delivered: 0,
            last_tick: now,
            delivery: VecDeque::new(),
            active: false,
            ceiling: None,
            last_queuing: None,
        }
    }

    /// A piece stamped `sent_us` by the sender arrived `recv_us` (our clock).
    pub fn sample(&mut self, sent_us: u64, recv_us: u64, bytes: usize, now: Instant) {
        let owd = recv_us as i64 - sent_us as i64;
        self.tick_min = Some(self.tick_min.map_or(owd, |m| m.min(owd)));
        self.delivered += bytes as u64;
        match self.base.back_mut() {
            Some((t, m)) if now.duration_since(*t) < BUCKET => *m = (*m).min(owd),
            _ => {
                self.base.push_back((now, owd));
                while self.base.len() > BUCKETS {
                    self.base.pop_front();
                }
            }
        }
    }

    /// Queuing delay seen in the last tick, if any piece arrived.
    fn queuing(&self) -> Option<Duration> {
        let base = self.base.iter().map(|b| b.1).min()?;
        let q = self.tick_min? - base;
        Some(Duration::from_micros(q.max(0) as u64))
    }

    /// Starts pacing from what the transfer delivered so far: a transfer
    /// that ran unpaced has filled the queue, so begin well below it.
    fn start(&mut self, now: Instant) {
        let recent = self.delivery_rate(now);
        self.rate = if recent > 0.0 { (recent * 0.5).max(MIN_RATE as f64) } else { START_RATE as f64 };
        self.active = true;
    }

    fn delivery_rate(&self, now: Instant) -> f64 {
        let Some(first) = self.delivery.front() else { return 0.0 };
        let bytes: u64 = self.delivery.iter().map(|d| d.1).sum();
        let dt = now.duration_since(first.0).as_secs_f64();
        if dt < 0.1 {
            0.0
        } else {
            bytes as f64 / dt
        }
    }

    /// Called every [`TICK`]; returns the rate (bytes/s) the sender should
    /// keep to, or 0 when `paced` is false (nobody is in a call).
    pub fn tick(&mut self, paced: bool, now: Instant) -> u64 {
        self.delivery.push_back((self.last_tick, self.delivered));
        while self.delivery.len() > 10 {
            self.delivery.pop_front();
        }
        let queuing = self.queuing();
        self.last_queuing = queuing;
        self.tick_min = None;
        self.delivered = 0;
        self.last_tick = now;
        if !paced {
            self.active = false;
            return 0;
        }
        if !self.active {
            self.start(now);
            return self.rate as u64;
        }
        let delivered = self.delivery_rate(now);
        if let Some(q) = queuing {
            let off = (TARGET.as_secs_f64() - q.as_secs_f64()) / TARGET.as_secs_f64();
            if off >= 0.0 {
                // Below the target: climb, slower the closer the queue is to
                // it: at most 1.5 % a tick (about ×2 a second) far from the
                // last capacity seen, 0.2 % (about 10 % a second) near it,
                // since the queue only shows a round trip after the excess.
                let gain = match self.ceiling {
                    Some(c) if self.rate > 1.1 * c => {
                        self.ceiling = None; // the path got faster
                        0.015
                    }
                    Some(c) if self.rate > 0.95 * c => 0.002,
                    _ => 0.015,
                };
                self.rate *= 1.0 + gain * off;
            } else if delivered > 0.0 {
                self.ceiling = Some(delivered);
                // A standing queue: what arrives is what the bottleneck
                // carries. Send a little less than that and the queue
                // drains, without the deep undershoot that cutting by a
                // factor every tick causes (the cut keeps going for a whole
                // round trip before its effect is seen).
                let drain = if off < -1.0 { 0.8 } else { 0.9 };
                self.rate = self.rate.min(delivered * drain);
            } else {
                self.rate *= 0.9;
            }
        }
        // No more than twice what actually arrives: a source limited by
        // something else must not bank a rate it would burst at later.
        if delivered > 0.0 {
            self.rate = self.rate.min(delivered * 2.0);
        }
        self.rate = self.rate.max(MIN_RATE as f64);
        self.rate as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bottleneck of `capacity` bytes/s with a FIFO queue and `delay` each
    /// way, fed at the controller's rate; returns (mean throughput over the
    /// second half, worst queuing delay over the second half).
    fn simulate(capacity: f64, delay: Duration, secs: u64) -> (f64, Duration) {
        let t0 = Instant::now();
        let mut c = DelayControl::new(t0);
        let step = Duration::from_millis(1);
        let mut rate = 0u64;
        let mut queue_bytes = 0.0f64;
        // Rates the sender uses, delayed by one-way delay (feedback path).
        let mut pending: VecDeque<(Duration, u64)> = VecDeque::new();
        let mut in_flight: VecDeque<(Duration, u64, usize)> = VecDeque::new();
        let (mut sent_rate, mut out_bytes, mut worst) = (0u64, 0.0, Duration::ZERO);
        let mut next_tick = TICK;
        let total = Duration::from_secs(secs);
        let mut t = Duration::ZERO;
        while t < total {
            t += step;
            while pending.front().is_some_and(|p| p.0 <= t) {
                sent_rate = pending.pop_front().map(|p| p.1).unwrap_or(0);
            }
            // Sender: `sent_rate` bytes/s in 4 KiB pieces, stamped now.
            let add = sent_rate as f64 * step.as_secs_f64();
            queue_bytes += add;
            let drained = (capacity * step.as_secs_f64()).min(queue_bytes);
            queue_bytes -= drained;
            let qdelay = Duration::from_secs_f64(queue_bytes / capacity);
            if t > total / 2 {
                worst = worst.max(qdelay);
                out_bytes += drained;
            }
            if add > 0.0 {
                in_flight.push_back((t + delay + qdelay, (t.as_micros() as u64), add as usize));
            }
            while in_flight.front().is_some_and(|p| p.0 <= t) {
                let (_, sent, n) = in_flight.pop_front().unwrap_or_default();
                // The receiver's clock runs 7 s ahead of the sender's.
                c.sample(sent, t.as_micros() as u64 + 7_000_000, n, t0 + t);
            }
            if t >= next_tick {
                next_tick += TICK;
                rate = c.tick(true, t0 + t);
                pending.push_back((t + delay, rate));
            }
        }
        assert!(rate >= MIN_RATE);
        (out_bytes / (secs as f64 / 2.0), worst)
    }

    #[test]
    fn holds_the_queue_near_target_and_uses_most_of_the_link() {
        for (mbit, delay_ms) in [(10.0, 20), (10.0, 40), (2.0, 30), (50.0, 10)] {
            let capacity = mbit * 1e6 / 8.0;
            let (got, worst) = simulate(capacity, Duration::from_millis(delay_ms), 60);
            println!("{mbit} Mbit/s, {delay_ms} ms: {:.0} % of the link, worst queue {worst:?}", got / capacity * 100.0);
            assert!(got > 0.85 * capacity, "{mbit} Mbit/s: only {:.0} %", got / capacity * 100.0);
            assert!(worst < Duration::from_millis(12), "{mbit} Mbit/s: queue reached {worst:?}");
        }
    }

    #[test]
    fn unpaced_means_no_limit_and_a_paced_start_begins_below_what_arrived() {
        let t0 = Instant::now();
        let mut c = DelayControl::new(t0);
        let mut t = t0;
        let tick_us = TICK.as_micros() as u64;
        for i in 0..20u64 {
            // 10 MB/s arriving, unpaced.
            for k in 0..10u64 {
                c.sample(i * tick_us + k * tick_us / 10, i * tick_us + k * tick_us / 10 + 1_000, (tick_us * 10 / 10) as usize, t);
            }
            t += TICK;
            assert_eq!(c.tick(false, t), 0);
        }
        t += TICK;
        let r = c.tick(true, t);
        assert!(r > 1_000_000 && r < 10_000_000, "{r}");
    }

    #[tokio::test]
    async fn token_bucket_spaces_bytes_to_its_rate() {
        let b = TokenBucket::new(1_000_000, Duration::from_millis(5));
        let t = Instant::now();
        for _ in 0..50 {
            b.take(4096).await;
        }
        let secs = t.elapsed().as_secs_f64();
        // 200 KiB at 1 MB/s: about 0.2 s.
        assert!(secs > 0.15 && secs < 0.5, "{secs}");
        assert_eq!(b.rate(), 1_000_000);
        b.set_rate(0);
        let t = Instant::now();
        b.take(100_000_000).await;
        assert!(t.elapsed() < Duration::from_millis(10));
    }

    #[test]
    fn pieces_stay_small_when_slow() {
        assert_eq!(piece_len(125_000), 1200);
        assert_eq!(piece_len(1 << 30), 64 * 1024);
    }
}
