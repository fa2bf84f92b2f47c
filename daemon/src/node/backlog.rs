//! Connection events the daemon could not take yet: they must arrive (the
//! daemon's view of who is online follows them), in order, but not without
//! bound. Past [`MAX`] waiting, a peer's older events give way to its
//! newest (only the last state of a peer matters to the daemon); if every
//! one waiting is a different peer, the oldest goes. Either way it is
//! counted (`status` → dropped.coalesced_events).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use libp2p::PeerId;

use super::NodeEvent;

/// Connection events waiting at most: a flood of connections (thousands of
/// peers churning while the daemon is stuck on its disk) stays in memory's
/// bounds.
pub const MAX: usize = 4096;

pub struct Backlog {
    waiting: VecDeque<NodeEvent>,
    coalesced: Arc<AtomicU64>,
}

fn peer_of(e: &NodeEvent) -> Option<PeerId> {
    match e {
        NodeEvent::PeerConnected { peer, .. } | NodeEvent::PeerDisconnected { peer } => Some(*peer),
        _ => None,
    }
}

impl Backlog {
    pub fn new(coalesced: Arc<AtomicU64>) -> Backlog {
        Backlog { waiting: VecDeque::new(), coalesced }
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn push_back(&mut self, event: NodeEvent) {
        if self.waiting.len() >= MAX {
            let before = self.waiting.len();
            if let Some(peer) = peer_of(&event) {
                self.waiting.retain(|e| peer_of(e) != Some(peer));
            }
            if self.waiting.len() == before {
                self.waiting.pop_front();
            }
            self.coalesced.fetch_add((before - self.waiting.len()) as u64, Ordering::Relaxed);
        }
        self.waiting.push_back(event);
    }

    pub fn push_front(&mut self, event: NodeEvent) {
        self.waiting.push_front(event);
    }

    pub fn pop_front(&mut self) -> Option<NodeEvent> {
        self.waiting.pop_front()
    }

    pub fn clear(&mut self) {
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_stays_bounded_and_keeps_each_peers_last_state() {
        let counter = Arc::new(AtomicU64::new(0));
        let mut b = Backlog::new(counter.clone());
        let churner = PeerId::random();
        let others: Vec<PeerId> = (0..MAX - 1).map(|_| PeerId::random()).collect();
        b.push_back(NodeEvent::PeerConnected { peer: churner, addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap() });
        for p in &others {
            b.push_back(NodeEvent::PeerDisconnected { peer: *p });
        }
        assert_eq!(b.waiting.len(), MAX);
        b.push_back(NodeEvent::PeerDisconnected { peer: churner });
        assert_eq!(b.waiting.len(), MAX, "the churner's older event gave way");
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        let last = b.waiting.back().unwrap();
        assert!(matches!(last, NodeEvent::PeerDisconnected { peer } if *peer == churner), "its newest state stays, last");
        // A new peer when all are distinct: the oldest goes.
        b.push_back(NodeEvent::PeerDisconnected { peer: PeerId::random() });
        assert_eq!(b.waiting.len(), MAX);
        assert_eq!(counter.load(Ordering::Relaxed), 2);
        for _ in 0..10_000 {
            b.push_back(NodeEvent::PeerDisconnected { peer: PeerId::random() });
        }
        assert_eq!(b.waiting.len(), MAX, "bounded whatever comes");
    }
}
