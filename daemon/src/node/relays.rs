//! Relays we may listen on: peers that offer the relay (hop) protocol, the
//! reservations we hold (up to [`WANT_RELAYS`] while AutoNAT does not find
//! us public), and circuits to a peer through them.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, Swarm};

use super::addrs::{is_loopback, is_relayed};
use super::behaviour::Behaviour;

/// Two relays, so that losing one does not make us unreachable.
const WANT_RELAYS: usize = 2;
/// A relay that refused or dropped us is tried again after 2 s, then 4, 8
/// ... up to a minute, and at once again after it accepted: a relay that
/// restarts (or a Wi-Fi that drops for a moment) is back within seconds,
/// while one that keeps refusing is not asked in a loop. (A fixed 20 s used
/// to keep members behind symmetric NATs apart that long after every relay
/// restart in the chaos run.)
const RELAY_BACKOFF_FIRST: Duration = Duration::from_secs(2);
const RELAY_BACKOFF_MAX: Duration = Duration::from_secs(60);

fn backoff(failures: u32) -> Duration {
    RELAY_BACKOFF_FIRST.saturating_mul(1 << failures.saturating_sub(1).min(6)).min(RELAY_BACKOFF_MAX)
}

#[derive(Default)]
pub(super) struct Relays {
    /// Peers that offered the relay (hop) protocol, with addresses to reach them.
    candidates: HashMap<PeerId, Vec<Multiaddr>>,
    /// Our `/p2p-circuit` listeners, by relay.
    listeners: HashMap<ListenerId, PeerId>,
    /// Relays that accepted a reservation.
    accepted: HashSet<PeerId>,
    retry_after: HashMap<PeerId, Instant>,
    /// Refusals or losses in a row, per relay.
    failures: HashMap<PeerId, u32>,
}

impl Relays {
    pub(super) fn accepted(&self) -> Vec<PeerId> {
        self.accepted.iter().copied().collect()
    }

    pub(super) fn reservation_accepted(&mut self, relay: PeerId) {
        self.accepted.insert(relay);
        self.failures.remove(&relay);
    }

    pub(super) fn is_candidate(&self, peer: &PeerId) -> bool {
        self.candidates.contains_key(peer)
    }

    /// We are connected to a relay we hold no reservation on: its backoff
    /// is over. True if it was waiting one out.
    pub(super) fn reconnected(&mut self, relay: &PeerId) -> bool {
        if self.accepted.contains(relay) || !self.candidates.contains_key(relay) {
            return false;
        }
        self.failures.remove(relay);
        self.retry_after.remove(relay).is_some()
    }

    fn failed(&mut self, relay: PeerId, now: Instant) {
        let n = self.failures.entry(relay).or_insert(0);
        *n = n.saturating_add(1);
        let wait = backoff(*n);
        self.retry_after.insert(relay, now + wait);
    }

    /// A listener closed; if it was a relay's, the reservation is gone.
    pub(super) fn listener_closed(&mut self, id: ListenerId) -> Option<PeerId> {
        let relay = self.listeners.remove(&id)?;
        self.accepted.remove(&relay);
        self.failed(relay, Instant::now());
        Some(relay)
    }

    /// We dialed a relay directly at `address`: that one goes first.
    pub(super) fn dialed(&mut self, relay: &PeerId, address: &Multiaddr) {
        if let Some(c) = self.candidates.get_mut(relay) {
            c.retain(|a| a != address);
            c.insert(0, address.clone());
        }
    }

    /// Identify said `peer` offers the hop protocol. True if it is new.
    pub(super) fn offered(&mut self, peer: PeerId, listen_addrs: &[Multiaddr], reached_at: Option<Multiaddr>) -> bool {
        let mut addrs: Vec<Multiaddr> = listen_addrs.iter().filter(|a| !is_relayed(a) && !is_loopback(a)).cloned().collect();
        if addrs.is_empty() {
            addrs = listen_addrs.iter().filter(|a| !is_relayed(a)).cloned().collect();
        }
        // The address we reached it at is the one known to work.
        if let Some(a) = reached_at {
            let a: Multiaddr = a.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
            addrs.retain(|x| *x != a);
            addrs.insert(0, a);
        }
        !addrs.is_empty() && self.candidates.insert(peer, addrs).is_none()
    }

    /// Friends behind NATs tend to use the same relays (a friend with a
    /// public address, the bootstrap relay), and what we know of a peer's
    /// addresses may predate its reservation: try reaching it through ours.
    pub(super) fn circuits_to(&self, peer: PeerId) -> Vec<Multiaddr> {
        let mut out = Vec::new();
        for relay in self.accepted.iter().filter(|r| **r != peer) {
            for a in self.candidates.get(relay).into_iter().flatten() {
                out.push(a.clone().with(Protocol::P2p(*relay)).with(Protocol::P2pCircuit).with(Protocol::P2p(peer)));
            }
        }
        out
    }

    /// Asks for reservations until we hold [`WANT_RELAYS`].
    pub(super) fn reserve(&mut self, swarm: &mut Swarm<Behaviour>) {
        let mut active: HashSet<PeerId> = self.listeners.values().copied().collect();
        let now = Instant::now();
        let mut candidates: Vec<(PeerId, Vec<Multiaddr>)> = self
            .candidates
            .iter()
            .filter(|(p, _)| !active.contains(p))
            .filter(|(p, _)| self.retry_after.get(p).is_none_or(|t| now >= *t))
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        // Relays we are already connected to first: no dial needed.
        candidates.sort_by_key(|(p, _)| !swarm.is_connected(p));
        for (relay, addrs) in candidates {
            if active.len() >= WANT_RELAYS {
                break;
            }
            let Some(addr) = addrs.first() else { continue };
            let circuit = addr.clone().with(Protocol::P2p(relay)).with(Protocol::P2pCircuit);
            match swarm.listen_on(circuit.clone()) {
                Ok(id) => {
                    tracing::info!(%relay, "asking for a reservation on {circuit}");
                    self.listeners.insert(id, relay);
                    active.insert(relay);
                }
                Err(e) => {
                    tracing::debug!(%relay, "cannot listen on relay: {e}");
                    self.failed(relay, now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_starts_short_and_doubles_to_a_minute() {
        let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 32, 60, 60, 60, 60]);
        let mut r = Relays::default();
        let relay = PeerId::random();
        let now = Instant::now();
        r.failed(relay, now);
        r.failed(relay, now);
        assert_eq!(r.retry_after[&relay], now + Duration::from_secs(4));
        r.reservation_accepted(relay);
        r.failed(relay, now);
        assert_eq!(r.retry_after[&relay], now + Duration::from_secs(2), "an accepted reservation starts the count over");
    }
}
