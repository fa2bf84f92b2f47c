//! Target playout delay from the distribution of packet arrival delays, the
//! idea of NetEq's DelayManager.
//!
//! Each packet's delay is measured relative to the fastest packet of the last
//! two seconds: `(now - ts) - min(now - ts)`. The unknown offset between the
//! two clocks cancels, a slow drift only shifts the reference by what drifts
//! in two seconds, and a DTX pause advances both clocks alike so it counts as
//! no delay. The delays go into a histogram that forgets exponentially per
//! packet; the target is a high quantile of it, so a rare late packet is
//! concealed rather than waited for.
//!
//! Self-contained (no `crate::` imports) so it can be tested on its own with
//! `rustc --edition 2021 --test -O delay.rs`.

use std::collections::VecDeque;

/// Histogram resolution; within a bucket the quantile is interpolated.
const BUCKET_MS: f64 = 2.0;
/// Delays up to 1 s: more than any playout cap worth having.
const BUCKETS: usize = 500;
const RANGE_MS: f64 = BUCKET_MS * BUCKETS as f64;
/// The fastest packet of this long is the reference: long enough to contain
/// an unqueued packet, short enough that clock drift cannot accumulate.
const WINDOW_MS: f64 = 2000.0;
/// Weight kept per packet. At 100 packets/s a changed condition owns 40 % of
/// the histogram after 1 s, and an old one falls below 5 % (and so out of a
/// 0.95 quantile) after 6 s; one packet weighs 0.5 %, far too little to move
/// a 0.95 quantile on its own.
pub const FORGET: f64 = 0.995;
/// Timestamps remembered to recognise duplicates: ~0.6 s of packets, by when
/// a copy is useless anyway.
const RECENT: usize = 64;
const SAME_TS_MS: f64 = 0.1;
/// Bounds the reference window against a flood (≈ 5 × the normal rate).
const MAX_WINDOW_PACKETS: usize = 1024;

pub struct DelayEstimator {
    quantile: f64,
    /// Weight kept per packet ([`FORGET`] unless changed).
    forget: f64,
    min_ms: f64,
    max_ms: f64,
    /// Probability mass per `BUCKET_MS` of delay; sums to 1 once fed.
    histogram: Vec<f64>,
    /// (arrival time, transit) with transit strictly increasing: the front is
    /// the fastest packet of the window (a sliding minimum).
    window: VecDeque<(f64, f64)>,
    recent: [f64; RECENT],
    recent_next: usize,
    counted: u64,
    quantile_ms: f64,
}

impl DelayEstimator {
    /// `quantile` of the delay distribution to target (NetEq uses 0.95;
    /// clamped to 0..=1), bounded below by `min_ms` and above by `max_ms`
    /// (the cap wins if they cross).
    pub fn new(quantile: f64, min_ms: f64, max_ms: f64) -> DelayEstimator {
        DelayEstimator {
            quantile: if quantile.is_finite() { quantile.clamp(0.0, 1.0) } else { 0.95 },
            forget: FORGET,
            min_ms,
            max_ms,
            histogram: vec![0.0; BUCKETS],
            window: VecDeque::new(),
            recent: [f64::NAN; RECENT],
            recent_next: 0,
            counted: 0,
            quantile_ms: 0.0,
        }
    }

    /// Records a received packet: `ts_ms` is its sender timestamp in ms (the
    /// frame clock × 10), `now_ms` the local receive time. Call it for every
    /// packet carrying audio, in arrival order, whether on time, late or
    /// reordered; duplicates are recognised and ignored. O(buckets).
    pub fn arrival(&mut self, ts_ms: f64, now_ms: f64) {
        let transit = now_ms - ts_ms;
        if !transit.is_finite() {
            return;
        }
        // NaN never equals, so unfilled slots match nothing.
        if self.recent.iter().any(|&t| (t - ts_ms).abs() < SAME_TS_MS) {
            return;
        }
        self.recent[self.recent_next] = ts_ms;
        self.recent_next = (self.recent_next + 1) % RECENT;

        while self.window.front().is_some_and(|&(at, _)| at < now_ms - WINDOW_MS) {
            self.window.pop_front();
        }
        let fastest = self.window.front().map_or(transit, |&(_, t)| t.min(transit));
        let delay = transit - fastest;
        if delay >= RANGE_MS {
            // A second late is no network queue: the sender's clock jumped
            // back (a restart) or the path stalled, and waiting that long is
            // hopeless anyway. Measure from here on rather than fill the
            // histogram with a transit that will never come down.
            self.window.clear();
            self.window.push_back((now_ms, transit));
            return;
        }
        while self.window.back().is_some_and(|&(_, t)| t >= transit) {
            self.window.pop_back();
        }
        if self.window.len() >= MAX_WINDOW_PACKETS {
            self.window.pop_front();
        }
        self.window.push_back((now_ms, transit));
        self.count(delay);
    }

    fn count(&mut self, delay_ms: f64) {
        self.counted += 1;
        // Until the histogram has seen 1/(1-FORGET) packets every packet weighs
        // the same (a plain average), so the first estimate is not one packet's.
        let keep = self.forget.min(1.0 - 1.0 / self.counted as f64);
        let bucket = ((delay_ms / BUCKET_MS) as usize).min(BUCKETS - 1);
        for w in self.histogram.iter_mut() {
            *w *= keep;
        }
        if let Some(w) = self.histogram.get_mut(bucket) {
            *w += 1.0 - keep;
        }
        self.quantile_ms = self.histogram_quantile(self.quantile);
    }

    fn histogram_quantile(&self, quantile: f64) -> f64 {
        let total: f64 = self.histogram.iter().sum();
        let wanted = quantile * total;
        let mut below = 0.0;
        for (i, &w) in self.histogram.iter().enumerate() {
            if w > 0.0 && below + w >= wanted {
                // Spread each bucket's mass evenly across it.
                return (i as f64 + ((wanted - below) / w).clamp(0.0, 1.0)) * BUCKET_MS;
            }
            below += w;
        }
        // Only rounding gets here: the top of the highest occupied bucket.
        self.histogram.iter().rposition(|&w| w > 0.0).map_or(0.0, |i| (i + 1) as f64 * BUCKET_MS)
    }

    /// The delay (ms, beyond the fastest recent packet) that the configured
    /// quantile of packets arrive within, between `min_ms` and `max_ms`.
    /// `min_ms` until the first packet.
    pub fn target_ms(&self) -> f64 {
        self.quantile_ms.max(self.min_ms).min(self.max_ms)
    }

    /// The quantile itself, without floor or cap (for stats).
    pub fn quantile_ms(&self) -> f64 {
        self.quantile_ms
    }

    /// Changes the quantile targeted from now on (the histogram is kept).
    pub fn set_quantile(&mut self, quantile: f64) {
        if quantile.is_finite() && quantile != self.quantile {
            self.quantile = quantile.clamp(0.0, 1.0);
            self.quantile_ms = self.histogram_quantile(self.quantile);
        }
    }

    /// Changes the weight kept per packet (clamped to 0.9..=0.9999): closer
    /// to 1 remembers longer.
    pub fn set_forgetting(&mut self, keep: f64) {
        if keep.is_finite() {
            self.forget = keep.clamp(0.9, 0.9999);
        }
    }

    /// The transit time (receive time minus sender timestamp, clock offset
    /// included) of the fastest packet of the last two seconds.
    pub fn fastest_transit_ms(&self) -> Option<f64> {
        self.window.front().map(|&(_, t)| t)
    }

    /// Forgets everything, e.g. when the sender restarts its stream.
    pub fn reset(&mut self) {
        let forget = self.forget;
        *self = DelayEstimator::new(self.quantile, self.min_ms, self.max_ms);
        self.forget = forget;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD_MS: f64 = 10.0;
    /// The clocks' unknown offset.
    const OFFSET_MS: f64 = 123_456.7;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn estimator() -> DelayEstimator {
        DelayEstimator::new(0.95, 0.0, 500.0)
    }

    /// Sends packets `from..to` (10 ms apart) with the extra network delay
    /// `delay(i)` and feeds them in arrival order, which jitter reorders.
    fn feed(d: &mut DelayEstimator, from: u64, to: u64, mut delay: impl FnMut(u64) -> f64) {
        let mut packets: Vec<(f64, f64)> =
            (from..to).map(|i| (i as f64 * PERIOD_MS, OFFSET_MS + i as f64 * PERIOD_MS + delay(i))).collect();
        packets.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (ts, now) in packets {
            d.arrival(ts, now);
        }
    }

    #[test]
    fn before_any_packet_the_target_is_the_floor() {
        assert_eq!(DelayEstimator::new(0.95, 20.0, 200.0).target_ms(), 20.0);
    }

    #[test]
    fn constant_delay_gives_the_floor() {
        let mut d = estimator();
        feed(&mut d, 0, 1000, |_| 37.0);
        // Within a bucket of zero.
        assert!(d.target_ms() < BUCKET_MS, "{}", d.target_ms());
        let mut floored = DelayEstimator::new(0.95, 10.0, 200.0);
        feed(&mut floored, 0, 1000, |_| 37.0);
        assert_eq!(floored.target_ms(), 10.0);
    }

    #[test]
    fn uniform_jitter_gives_its_95th_percentile() {
        let mut rng = XorShift(1);
        let mut d = estimator();
        feed(&mut d, 0, 3000, |_| 20.0 * rng.unit());
        assert!((d.target_ms() - 19.0).abs() < 2.0, "{}", d.target_ms());
    }

    #[test]
    fn the_quantile_is_configurable() {
        let mut rng = XorShift(2);
        let mut d = DelayEstimator::new(0.5, 0.0, 500.0);
        feed(&mut d, 0, 3000, |_| 20.0 * rng.unit());
        assert!((d.target_ms() - 10.0).abs() < 2.0, "{}", d.target_ms());
    }

    #[test]
    fn floor_and_cap_bound_the_target() {
        let mut rng = XorShift(3);
        let mut d = DelayEstimator::new(0.95, 5.0, 15.0);
        feed(&mut d, 0, 3000, |_| 20.0 * rng.unit());
        assert_eq!(d.target_ms(), 15.0);
        assert!(d.quantile_ms() > 15.0);
        let crossed = DelayEstimator::new(0.95, 50.0, 30.0);
        assert_eq!(crossed.target_ms(), 30.0);
    }

    #[test]
    fn a_single_spike_barely_moves_the_target() {
        let mut rng = XorShift(4);
        let mut d = estimator();
        feed(&mut d, 0, 2000, |_| 20.0 * rng.unit());
        let before = d.target_ms();
        feed(&mut d, 2000, 2001, |_| 200.0);
        assert!((d.target_ms() - before).abs() < 1.0, "{before} -> {}", d.target_ms());
        feed(&mut d, 2001, 2100, |_| 20.0 * rng.unit());
        assert!((d.target_ms() - before).abs() < 1.5, "{before} -> {}", d.target_ms());
    }

    #[test]
    fn a_step_up_in_jitter_is_followed_within_three_seconds() {
        let mut rng = XorShift(5);
        let mut d = estimator();
        feed(&mut d, 0, 1000, |_| 0.0);
        feed(&mut d, 1000, 1100, |_| 40.0 * rng.unit());
        let after_1s = d.target_ms();
        feed(&mut d, 1100, 1300, |_| 40.0 * rng.unit());
        let after_3s = d.target_ms();
        assert!(after_1s > 25.0, "{after_1s}");
        assert!(after_3s > 34.0 && after_3s < 41.0, "{after_3s}");
    }

    #[test]
    fn jitter_that_goes_away_lets_the_target_decay() {
        let mut rng = XorShift(6);
        let mut d = estimator();
        feed(&mut d, 0, 2000, |_| 40.0 * rng.unit());
        assert!(d.target_ms() > 35.0);
        feed(&mut d, 2000, 2500, |_| 0.0);
        let after_5s = d.target_ms();
        feed(&mut d, 2500, 3000, |_| 0.0);
        let after_10s = d.target_ms();
        assert!(after_5s < 25.0, "{after_5s}");
        assert!(after_10s < BUCKET_MS, "{after_10s}");
    }

    #[test]
    fn reordered_packets_count_their_lateness() {
        let mut d = estimator();
        // Every 4th packet arrives 35 ms late, i.e. after the three behind it.
        feed(&mut d, 0, 3000, |i| if i % 4 == 0 { 35.0 } else { 0.0 });
        assert!((35.0..=45.0).contains(&d.target_ms()), "{}", d.target_ms());
    }

    #[test]
    fn duplicates_are_ignored() {
        let mut d = estimator();
        let mut packets = Vec::new();
        for i in 0..2000u64 {
            let ts = i as f64 * PERIOD_MS;
            packets.push((ts, OFFSET_MS + ts));
            // A copy 60 ms later, as a retransmitting path might deliver.
            packets.push((ts, OFFSET_MS + ts + 60.0));
        }
        packets.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (ts, now) in packets {
            d.arrival(ts, now);
        }
        assert!(d.target_ms() < BUCKET_MS, "{}", d.target_ms());
    }

    #[test]
    fn lost_packets_contribute_nothing() {
        let mut rng = XorShift(7);
        let mut d = estimator();
        let mut packets: Vec<(f64, f64)> =
            (0..3000u64).filter(|_| rng.unit() > 0.2).map(|i| (i as f64 * PERIOD_MS, OFFSET_MS + i as f64 * PERIOD_MS)).collect();
        packets.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (ts, now) in packets {
            d.arrival(ts, now);
        }
        assert!(d.target_ms() < BUCKET_MS, "{}", d.target_ms());
    }

    #[test]
    fn a_dtx_pause_is_not_delay() {
        let mut rng = XorShift(8);
        let mut d = estimator();
        feed(&mut d, 0, 500, |_| 20.0 * rng.unit());
        let before = d.target_ms();
        // 1 s and 8 s without packets: both clocks move on together.
        feed(&mut d, 600, 1100, |_| 20.0 * rng.unit());
        feed(&mut d, 1900, 2400, |_| 20.0 * rng.unit());
        assert!((d.target_ms() - before).abs() < 2.0, "{before} -> {}", d.target_ms());

        let mut quiet = estimator();
        feed(&mut quiet, 0, 300, |_| 0.0);
        feed(&mut quiet, 800, 1100, |_| 0.0);
        assert!(quiet.target_ms() < BUCKET_MS);
    }

    #[test]
    fn clock_drift_does_not_grow_the_target() {
        for drift in [0.001, -0.001] {
            let mut rng = XorShift(9);
            let mut d = estimator();
            let mut at_10s = 0.0;
            for second in 0..60u64 {
                // The receiver's clock runs 0.1 % fast (or slow).
                feed(&mut d, second * 100, (second + 1) * 100, |i| drift * i as f64 * PERIOD_MS);
                if second == 9 {
                    at_10s = d.target_ms();
                }
                // Two seconds of drift is 2 ms: the reference's age.
                assert!(d.target_ms() <= 2.0 + BUCKET_MS, "drift {drift} at {second} s: {}", d.target_ms());
            }
            assert!(d.target_ms() <= at_10s + 0.5, "drift {drift}: {at_10s} -> {}", d.target_ms());

            let mut jittered = estimator();
            feed(&mut jittered, 0, 6000, |i| drift * i as f64 * PERIOD_MS + 20.0 * rng.unit());
            assert!((jittered.target_ms() - 19.0).abs() < 3.5, "drift {drift}: {}", jittered.target_ms());
        }
    }

    #[test]
    fn a_sender_clock_jump_is_not_taken_for_delay() {
        let mut d = estimator();
        feed(&mut d, 0, 500, |_| 0.0);
        // The sender restarts its clock 5 s back; the packets keep coming.
        for i in 500..1000u64 {
            let now = OFFSET_MS + i as f64 * PERIOD_MS;
            d.arrival((i - 500) as f64 * PERIOD_MS, now);
        }
        assert!(d.target_ms() < BUCKET_MS, "{}", d.target_ms());
    }

    #[test]
    fn reset_forgets() {
        let mut rng = XorShift(10);
        let mut d = DelayEstimator::new(0.95, 10.0, 200.0);
        feed(&mut d, 0, 1000, |_| 60.0 * rng.unit());
        assert!(d.target_ms() > 40.0);
        d.reset();
        assert_eq!(d.target_ms(), 10.0);
    }

    #[test]
    fn hostile_input_never_panics_and_stays_bounded() {
        let mut rng = XorShift(11);
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1e300, 1e300, 0.0, -0.0, f64::MIN_POSITIVE];
        for quantile in [f64::NAN, -1.0, 0.0, 0.95, 1.0, 7.0] {
            let mut d = DelayEstimator::new(quantile, 10.0, 200.0);
            for _ in 0..5000 {
                let pick = |r: &mut XorShift| match r.next() % 4 {
                    0 => specials[(r.next() % specials.len() as u64) as usize],
                    1 => (r.unit() - 0.5) * 1e7,
                    _ => (r.next() % 100_000) as f64 * PERIOD_MS,
                };
                let (ts, now) = (pick(&mut rng), pick(&mut rng));
                d.arrival(ts, now);
                let t = d.target_ms();
                assert!((10.0..=200.0).contains(&t), "{t}");
                assert!(d.window.len() <= MAX_WINDOW_PACKETS);
            }
        }
        // Bounds that are themselves nonsense do not panic either.
        let mut d = DelayEstimator::new(0.95, f64::NAN, f64::NAN);
        d.arrival(0.0, 5.0);
        assert!(d.target_ms().is_finite());
    }

    /// `rustc --edition 2021 --test -O delay.rs -o /tmp/delay-test && /tmp/delay-test --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        let mut rng = XorShift(12);
        let mut d = estimator();
        let runs = 200_000u64;
        let start = std::time::Instant::now();
        for i in 0..runs {
            let ts = i as f64 * PERIOD_MS;
            d.arrival(ts, OFFSET_MS + ts + 20.0 * rng.unit());
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / runs as f64;
        println!("arrival: {us:.2} µs per packet (target {:.1} ms)", std::hint::black_box(d.target_ms()));
    }
}
