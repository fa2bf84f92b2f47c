//! A token bucket whose rate can change at any time: what a sender uses to
//! keep to a pace a receiver measured (file pieces, shared-screen frames),
//! so that the bytes wait in our memory rather than in a router's queue,
//! where a call's voice would wait behind them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A token bucket whose rate can change at any time; rate 0 means no limit.
pub struct TokenBucket {
    rate: AtomicU64,
    burst: Duration,
    state: tokio::sync::Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(bytes_per_sec: u64, burst: Duration) -> TokenBucket {
        TokenBucket { rate: AtomicU64::new(bytes_per_sec), burst, state: tokio::sync::Mutex::new((0.0, Instant::now())) }
    }

    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    pub fn set_rate(&self, bytes_per_sec: u64) {
        self.rate.store(bytes_per_sec, Ordering::Relaxed);
    }

    /// Waits until `n` bytes may go out.
    pub async fn take(&self, n: usize) {
        let rate = self.rate() as f64;
        if rate <= 0.0 {
            return;
        }
        let wait = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let burst = (rate * self.burst.as_secs_f64()).max(n as f64);
            st.0 = (st.0 + now.duration_since(st.1).as_secs_f64() * rate).min(burst);
            st.1 = now;
            st.0 -= n as f64;
            if st.0 < 0.0 {
                Duration::from_secs_f64(-st.0 / rate)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}
