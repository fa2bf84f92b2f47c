//! One download under way, as its workers, `transfers` and events see it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use apero_control::{TransferInfo, TransferState};
use libp2p::PeerId;
use tokio::sync::watch;

use super::names;
use crate::lock::lock;
use crate::store::OfferRow;

/// How long one chunk (or the chunk list) may take before its source is
/// given up on.
pub(super) const CHUNK_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Running {
    pub(super) offer: OfferRow,
    pub(super) done: AtomicU64,
    pub(super) fetched: AtomicU64,
    /// Bytes of chunks still arriving, not verified yet: on a slow uplink a
    /// 1 MiB chunk takes seconds, and a progress bar must move meanwhile.
    pub(super) partial: AtomicU64,
    pub(super) bad: AtomicU64,
    pub(super) sources: AtomicUsize,
    pub(super) rate: Mutex<VecDeque<(Instant, u64)>>,
    /// The pace asked of each source (bytes/s, 0: none).
    pub(super) paces: Mutex<HashMap<PeerId, u64>>,
    pub(super) cancel: watch::Sender<bool>,
}

impl Running {
    pub(super) fn info(&self, state: TransferState, path: Option<String>, error: Option<String>) -> TransferInfo {
        TransferInfo {
            id: self.offer.file.clone(),
            room: self.offer.room.clone(),
            name: names::sanitize(&self.offer.name),
            size: self.offer.size,
            state,
            done_bytes: self.done.load(Ordering::Relaxed),
            fetched_bytes: self.fetched.load(Ordering::Relaxed),
            partial_bytes: if state == TransferState::Running { self.partial.load(Ordering::Relaxed) } else { 0 },
            rate_bps: self.rate(),
            sources: self.sources.load(Ordering::Relaxed),
            bad_chunks: self.bad.load(Ordering::Relaxed),
            paced_bps: if state == TransferState::Running { lock(&self.paces).values().sum() } else { 0 },
            path,
            error,
        }
    }

    fn rate(&self) -> f64 {
        let mut r = lock(&self.rate);
        let now = Instant::now();
        r.push_back((now, self.done.load(Ordering::Relaxed)));
        while r.len() > 2 && now.duration_since(r[0].0) > Duration::from_secs(3) {
            r.pop_front();
        }
        let (t0, b0) = r[0];
        let dt = now.duration_since(t0).as_secs_f64();
        if dt < 0.2 {
            return 0.0;
        }
        (r.back().map_or(b0, |x| x.1).saturating_sub(b0)) as f64 / dt
    }
}
