//! What the daemon dropped instead of acting on, by reason: shared by the
//! services and the node, read by `status`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use apero_control::Dropped;

#[derive(Default)]
pub struct Counters {
    /// Shared with the node's codec, which counts undecodable frames.
    pub bad_frames: Arc<AtomicU64>,
    pub bad_signatures: AtomicU64,
    pub not_members: AtomicU64,
    pub not_author: AtomicU64,
    /// Host entries (channels, roles, moves, removals, breakouts) by a
    /// member who was no host: kept, and ignored.
    pub not_host: AtomicU64,
    pub refused_joins: AtomicU64,
    pub bad_control: AtomicU64,
    pub files: AtomicU64,
    /// Node events shed because the daemon could not keep up with the
    /// network (the Swarm never waits on the daemon).
    pub shed_events: Arc<AtomicU64>,
    /// Connection events merged or dropped by the node's bounded backlog.
    pub coalesced_events: Arc<AtomicU64>,
}

impl Counters {
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// `voice` is counted by the call service, which owns its counters.
    /// `voice`: the call service's total; `datagrams`: its (malformed, refused) voice datagrams.
    /// `refused_streams`: the node's inbound queues' refusals.
    pub fn snapshot(&self, voice: u64, video: u64, datagrams: (u64, u64), refused_streams: u64) -> Dropped {
        Dropped {
            bad_frames: self.bad_frames.load(Ordering::Relaxed),
            bad_signatures: self.bad_signatures.load(Ordering::Relaxed),
            not_members: self.not_members.load(Ordering::Relaxed),
            not_author: self.not_author.load(Ordering::Relaxed),
            not_host: self.not_host.load(Ordering::Relaxed),
            refused_joins: self.refused_joins.load(Ordering::Relaxed),
            bad_control: self.bad_control.load(Ordering::Relaxed),
            voice,
            video,
            files: self.files.load(Ordering::Relaxed),
            shed_events: self.shed_events.load(Ordering::Relaxed),
            coalesced_events: self.coalesced_events.load(Ordering::Relaxed),
            bad_datagrams: datagrams.0,
            refused_datagrams: datagrams.1,
            refused_streams,
        }
    }
}
