//! Our connections to each peer: which one is best (direct before relayed),
//! the best path's RTT, and relayed connections to close once a direct one
//! (often DCUtR's hole punch) is up.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::core::ConnectedPoint;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

use super::addrs::relay_of;
use super::ConnectedPeer;

/// How long a relayed connection lives on once a direct one is up.
const RELAY_GRACE: Duration = Duration::from_secs(3);
/// Each daemon run announces a random id in its identify agent string
/// (`apero/0.1.0 run/5f3a…`). A connection identified with a newer run id
/// than a peer's other connections means the peer restarted (kill -9, a
/// crash): the older connections lead to a process that no longer exists.
pub(super) const RUN_PREFIX: &str = "run/";

/// The run id in an identify agent string.
pub(super) fn run_of(agent: &str) -> Option<&str> {
    agent.split_whitespace().find_map(|w| w.strip_prefix(RUN_PREFIX))
}

struct Connection {
    id: ConnectionId,
    addr: Multiaddr,
    /// Through a relay: for an inbound circuit the remote address is just
    /// `/p2p/PEER`, so this comes from the whole endpoint.
    relayed: bool,
    via: Option<PeerId>,
    /// The peer's run id, once identify told it.
    run: Option<String>,
}

#[derive(Default)]
pub(super) struct Connections {
    by_peer: HashMap<PeerId, Vec<Connection>>,
    rtt: HashMap<PeerId, Duration>,
    /// Relayed connections to close once their grace period is over.
    to_close: Vec<(Instant, ConnectionId)>,
}

impl Connections {
    pub(super) fn established(&mut self, peer: PeerId, id: ConnectionId, endpoint: &ConnectedPoint) {
        let addr = endpoint.get_remote_address().clone();
        let relayed = endpoint.is_relayed();
        let via = match endpoint {
            ConnectedPoint::Dialer { address, .. } => relay_of(address),
            ConnectedPoint::Listener { local_addr, .. } => relay_of(local_addr),
        };
        let conns = self.by_peer.entry(peer).or_default();
        conns.push(Connection { id, addr, relayed, via, run: None });
        if !relayed {
            // A direct path: move off the relay, so that nothing dies with
            // it. After a grace period, for requests already under way on it.
            let when = Instant::now() + RELAY_GRACE;
            self.to_close.extend(conns.iter().filter(|c| c.relayed).map(|c| (when, c.id)));
        }
    }

    /// Notes the run id identify gave for a connection; returns the peer's
    /// connections of an earlier run, to close at once.
    ///
    /// Closing them matters: requests are spread over a peer's connections,
    /// so half of them would go down a dead one and wait for its idle
    /// timeout, and nothing would tell the daemon that the peer came back.
    /// A second connection of the same run (to a relay, say, which often
    /// has several) is left alone.
    pub(super) fn identified(&mut self, peer: PeerId, id: ConnectionId, agent: &str) -> Vec<ConnectionId> {
        let Some(run) = run_of(agent) else { return Vec::new() };
        let Some(conns) = self.by_peer.get_mut(&peer) else { return Vec::new() };
        let Some(c) = conns.iter_mut().find(|c| c.id == id) else { return Vec::new() };
        c.run = Some(run.to_string());
        let stale: Vec<ConnectionId> = conns.iter().filter(|c| c.run.as_deref().is_some_and(|r| r != run)).map(|c| c.id).collect();
        conns.retain(|c| !stale.contains(&c.id));
        stale
    }

    /// Forgets a closed connection; true when it was the peer's last.
    pub(super) fn closed(&mut self, peer: PeerId, id: ConnectionId, remaining: u32) -> bool {
        if let Some(conns) = self.by_peer.get_mut(&peer) {
            conns.retain(|c| c.id != id);
        }
        if remaining > 0 {
            return false;
        }
        self.by_peer.remove(&peer);
        self.rtt.remove(&peer);
        true
    }

    /// The best path's RTT is the one that matters.
    pub(super) fn ping(&mut self, peer: PeerId, connection: ConnectionId, rtt: Duration) {
        let conns = self.by_peer.get(&peer);
        let direct = conns.map(|c| c.iter().any(|c| c.id == connection && !c.relayed));
        let has_direct = conns.is_some_and(|c| c.iter().any(|c| !c.relayed));
        if direct == Some(true) || !has_direct {
            self.rtt.insert(peer, rtt);
        }
    }

    /// The remote address of a direct connection to `peer`, if any.
    pub(super) fn direct_addr(&self, peer: &PeerId) -> Option<Multiaddr> {
        self.by_peer.get(peer).and_then(|c| c.iter().find(|c| !c.relayed)).map(|c| c.addr.clone())
    }

    /// Relayed connections whose grace period is over.
    pub(super) fn due_closes(&mut self, now: Instant) -> Vec<ConnectionId> {
        let (due, later): (Vec<_>, Vec<_>) = self.to_close.drain(..).partition(|(t, _)| *t <= now);
        self.to_close = later;
        due.into_iter().map(|(_, id)| id).collect()
    }

    pub(super) fn peers(&self) -> Vec<ConnectedPeer> {
        self.by_peer
            .iter()
            .filter_map(|(peer, conns)| {
                let best = conns.iter().find(|c| !c.relayed).or_else(|| conns.first())?;
                Some(ConnectedPeer {
                    peer: *peer,
                    addr: best.addr.clone(),
                    relayed: best.relayed,
                    via: best.via,
                    rtt: self.rtt.get(peer).copied(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_id_is_read_from_the_agent_string() {
        assert_eq!(run_of("aperod/0.1.0 run/00ff00ff00ff00ff"), Some("00ff00ff00ff00ff"));
        assert_eq!(run_of("aperod/0.1.0"), None);
        assert_eq!(run_of("rust-libp2p/0.47"), None);
    }
}
