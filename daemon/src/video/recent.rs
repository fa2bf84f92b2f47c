//! Frames and bytes of the last seconds, for `share status`: the sharer's
//! encoder output and each watched stream.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const SPAN: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct Recent(VecDeque<(Instant, usize)>);

impl Recent {
    pub fn push(&mut self, bytes: usize) {
        self.0.push_back((Instant::now(), bytes));
    }

    /// (frames a second, kbit/s) over the last [`SPAN`].
    pub fn rates(&mut self) -> (f64, f64) {
        let now = Instant::now();
        while self.0.front().is_some_and(|(t, _)| now.duration_since(*t) > SPAN) {
            self.0.pop_front();
        }
        let bytes: usize = self.0.iter().map(|(_, b)| b).sum();
        let secs = SPAN.as_secs_f64();
        (self.0.len() as f64 / secs, bytes as f64 * 8.0 / secs / 1000.0)
    }
}
