//! Our connections to each peer: which one is best (direct over IPv6, then
//! direct over IPv4, then relayed), the best path's RTT, and worse
//! connections to close once a better one is up: relayed ones once a direct
//! one (often DCUtR's hole punch) is, IPv4 ones once an IPv6 one is (many
//! home connections have IPv6 with no NAT at all, so nothing between the
//! two ends rewrites or drops what they send).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::core::ConnectedPoint;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

use libp2p::multiaddr::Protocol;

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

impl Connection {
    fn routable_v6(&self) -> bool {
        self.addr.iter().any(|p| match p {
            // Link-local needs a scope and loopback stays on this machine:
            // neither is the path the preference is about.
            Protocol::Ip6(ip) => !ip.is_loopback() && (ip.segments()[0] & 0xffc0) != 0xfe80,
            _ => false,
        })
    }

    fn quic(&self) -> bool {
        self.addr.iter().any(|p| matches!(p, Protocol::QuicV1))
    }

    /// Which to show and measure as the path: direct, then QUIC (voice
    /// datagrams need it), then IPv6.
    fn rank(&self) -> (bool, bool, bool) {
        (!self.relayed, self.quic(), !self.relayed && self.routable_v6())
    }

    /// Whether `self` makes `worse` redundant: a direct path makes a relayed
    /// one so; direct IPv6 makes direct IPv4 of the same transport so.
    fn supersedes(&self, worse: &Connection) -> bool {
        if self.relayed {
            return false;
        }
        worse.relayed || (self.quic() == worse.quic() && self.routable_v6() && !worse.routable_v6())
    }
}

#[derive(Default)]
pub(super) struct Connections {
    by_peer: HashMap<PeerId, Vec<Connection>>,
    rtt: HashMap<PeerId, Duration>,
    /// Connections to close once their grace period is over (if what made
    /// them redundant is still up then).
    to_close: Vec<(Instant, PeerId, ConnectionId)>,
}

impl Connections {
    /// `keep_all`: the peer is a relay of ours, or we relay for others: its
    /// reservations and circuits live on whichever connection libp2p chose,
    /// so none of them is closed for being the worse path.
    pub(super) fn established(&mut self, peer: PeerId, id: ConnectionId, endpoint: &ConnectedPoint, keep_all: bool) {
        let addr = endpoint.get_remote_address().clone();
        let relayed = endpoint.is_relayed();
        let via = match endpoint {
            ConnectedPoint::Dialer { address, .. } => relay_of(address),
            ConnectedPoint::Listener { local_addr, .. } => relay_of(local_addr),
        };
        let conns = self.by_peer.entry(peer).or_default();
        conns.push(Connection { id, addr, relayed, via, run: None });
        // A better path: move off the worse ones (off the relay, so that
        // nothing dies with it). After a grace period, for requests already
        // under way on them.
        let when = Instant::now() + RELAY_GRACE;
        let redundant: Vec<ConnectionId> =
            conns.iter().filter(|w| (w.relayed || !keep_all) && conns.iter().any(|b| b.supersedes(w))).map(|w| w.id).collect();
        for w in redundant {
            if !self.to_close.iter().any(|(_, _, id)| *id == w) {
                self.to_close.push((when, peer, w));
            }
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
        let top = conns.and_then(|c| c.iter().map(Connection::rank).max());
        let this = conns.and_then(|c| c.iter().find(|c| c.id == connection)).map(Connection::rank);
        if this.is_some() && this == top {
            self.rtt.insert(peer, rtt);
        }
    }

    /// The remote address of the best direct connection to `peer`, if any.
    pub(super) fn direct_addr(&self, peer: &PeerId) -> Option<Multiaddr> {
        self.by_peer.get(peer).and_then(|c| c.iter().filter(|c| !c.relayed).max_by_key(|c| c.rank())).map(|c| c.addr.clone())
    }

    /// Connections whose grace period is over and that are still redundant:
    /// if the better path died meanwhile, the worse one stays.
    pub(super) fn due_closes(&mut self, now: Instant) -> Vec<ConnectionId> {
        let (due, later): (Vec<_>, Vec<_>) = self.to_close.drain(..).partition(|(t, _, _)| *t <= now);
        self.to_close = later;
        due.into_iter()
            .filter(|(_, peer, id)| {
                let Some(conns) = self.by_peer.get(peer) else { return false };
                let Some(w) = conns.iter().find(|c| c.id == *id) else { return false };
                conns.iter().any(|b| b.id != *id && b.supersedes(w))
            })
            .map(|(_, _, id)| id)
            .collect()
    }

    pub(super) fn peers(&self) -> Vec<ConnectedPeer> {
        self.by_peer
            .iter()
            .filter_map(|(peer, conns)| {
                // The first of the best rank: the one that has been up longest.
                let top = conns.iter().map(Connection::rank).max()?;
                let best = conns.iter().find(|c| c.rank() == top)?;
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

    fn dialed(addr: &str) -> ConnectedPoint {
        ConnectedPoint::Dialer {
            address: addr.parse().unwrap(),
            role_override: libp2p::core::Endpoint::Dialer,
            port_use: libp2p::core::transport::PortUse::Reuse,
        }
    }

    #[test]
    fn ipv6_beats_ipv4_which_beats_the_relay_and_the_worse_ones_close() {
        let mut c = Connections::default();
        let peer = PeerId::random();
        let relay = PeerId::random();
        let (r, v4, v6, ll) = (
            ConnectionId::new_unchecked(1),
            ConnectionId::new_unchecked(2),
            ConnectionId::new_unchecked(3),
            ConnectionId::new_unchecked(4),
        );
        c.established(peer, r, &dialed(&format!("/ip4/198.18.0.254/udp/4001/quic-v1/p2p/{relay}/p2p-circuit")), false);
        assert!(c.peers()[0].relayed);
        c.established(peer, v4, &dialed("/ip4/198.18.0.1/udp/5000/quic-v1"), false);
        c.established(peer, ll, &dialed("/ip6/fe80::1/udp/5000/quic-v1"), false);
        assert_eq!(c.peers()[0].addr.to_string(), "/ip4/198.18.0.1/udp/5000/quic-v1", "link-local does not count as IPv6 here");
        c.established(peer, v6, &dialed("/ip6/2001:db8:1::2/udp/5000/quic-v1"), false);
        assert_eq!(c.peers()[0].addr.to_string(), "/ip6/2001:db8:1::2/udp/5000/quic-v1");
        assert_eq!(c.direct_addr(&peer).unwrap().to_string(), "/ip6/2001:db8:1::2/udp/5000/quic-v1");
        assert!(c.due_closes(Instant::now()).is_empty(), "a grace period first");
        let mut due = c.due_closes(Instant::now() + RELAY_GRACE + Duration::from_millis(10));
        due.sort();
        assert_eq!(due, vec![r, v4, ll]);
        // A TCP path over IPv6 does not push QUIC over IPv4 out (voice
        // datagrams need QUIC), nor is anything closed at a relay of ours.
        let other = PeerId::random();
        let (q4, t6) = (ConnectionId::new_unchecked(10), ConnectionId::new_unchecked(11));
        c.established(other, q4, &dialed("/ip4/198.18.0.3/udp/6000/quic-v1"), false);
        c.established(other, t6, &dialed("/ip6/2001:db8:3::2/tcp/6000"), false);
        assert!(c.due_closes(Instant::now() + RELAY_GRACE * 2).is_empty());
        assert_eq!(c.peers().iter().find(|p| p.peer == other).unwrap().addr.to_string(), "/ip4/198.18.0.3/udp/6000/quic-v1");
        let ours = PeerId::random();
        let (a4, a6) = (ConnectionId::new_unchecked(20), ConnectionId::new_unchecked(21));
        c.established(ours, a4, &dialed("/ip4/198.18.0.254/udp/4001/quic-v1"), true);
        c.established(ours, a6, &dialed("/ip6/2001:db8:ff::fe/udp/4001/quic-v1"), true);
        assert!(c.due_closes(Instant::now() + RELAY_GRACE * 2).is_empty(), "a relay of ours keeps its connections");
        // The better path died in the grace period: the worse one stays.
        let late = PeerId::random();
        let (l4, l6) = (ConnectionId::new_unchecked(30), ConnectionId::new_unchecked(31));
        c.established(late, l4, &dialed("/ip4/198.18.0.4/udp/7000/quic-v1"), false);
        c.established(late, l6, &dialed("/ip6/2001:db8:4::2/udp/7000/quic-v1"), false);
        c.closed(late, l6, 1);
        assert!(c.due_closes(Instant::now() + RELAY_GRACE * 2).is_empty());
        // The RTT is the best path's.
        // (`peers` comes out of a map: find ours by id.)
        let rtt = |c: &Connections| c.peers().iter().find(|p| p.peer == peer).and_then(|p| p.rtt);
        c.ping(peer, v4, Duration::from_millis(80));
        assert!(rtt(&c).is_none());
        c.ping(peer, v6, Duration::from_millis(20));
        assert_eq!(rtt(&c), Some(Duration::from_millis(20)));
    }

    #[test]
    fn the_run_id_is_read_from_the_agent_string() {
        assert_eq!(run_of("aperod/0.1.0 run/00ff00ff00ff00ff"), Some("00ff00ff00ff00ff"));
        assert_eq!(run_of("aperod/0.1.0"), None);
        assert_eq!(run_of("rust-libp2p/0.47"), None);
    }
}
