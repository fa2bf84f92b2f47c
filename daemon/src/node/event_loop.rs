//! The task that owns the Swarm. Besides serving [`Command`]s it keeps us
//! reachable on its own: it dials the DHT bootstrap nodes, holds reservations
//! on up to [`WANT_RELAYS`] relays while AutoNAT does not find us public,
//! re-announces DHT records when our addresses change, and drops a relayed
//! connection as soon as a direct one (DCUtR) to the same peer is up.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::core::transport::ListenerId;
use libp2p::core::ConnectedPoint;
use libp2p::kad::{self, GetProvidersOk, QueryId, QueryResult};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{autonat, dcutr, identify, mdns, ping, relay, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::{Command, ConnectedPeer, Nat, NodeConfig, NodeError, NodeEvent, NodeInfo, Relaying};
use crate::wire::PeerResponse;

/// Two relays, so that losing one does not make us unreachable.
const WANT_RELAYS: usize = 2;
/// How often reservations, bootstrap connections and DHT records are checked.
const TICK: Duration = Duration::from_secs(5);
const BOOTSTRAP_REDIAL: Duration = Duration::from_secs(60);
/// A relay that refused or dropped us is tried again after this long.
const RELAY_BACKOFF: Duration = Duration::from_secs(20);
/// How long a relayed connection lives on once a direct one is up.
const RELAY_GRACE: Duration = Duration::from_secs(3);
/// A lookup answers as soon as this many providers are found (and dialed);
/// the query goes on in the background.
const PROVIDERS_ENOUGH: usize = 1;

struct Connection {
    id: ConnectionId,
    addr: Multiaddr,
    /// Through a relay: for an inbound circuit the remote address is just
    /// `/p2p/PEER`, so this comes from the whole endpoint.
    relayed: bool,
    via: Option<PeerId>,
}

fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// The relay in `/.../p2p/RELAY/p2p-circuit/...`.
fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let mut last = None;
    for p in addr.iter() {
        match p {
            Protocol::P2p(id) => last = Some(id),
            Protocol::P2pCircuit => return last,
            _ => {}
        }
    }
    None
}

fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

#[derive(Default)]
struct Relays {
    /// Peers that offered the relay (hop) protocol, with addresses to reach them.
    candidates: HashMap<PeerId, Vec<Multiaddr>>,
    /// Our `/p2p-circuit` listeners, by relay.
    listeners: HashMap<ListenerId, PeerId>,
    /// Relays that accepted a reservation.
    accepted: HashSet<PeerId>,
    retry_after: HashMap<PeerId, Instant>,
}

struct ProviderQuery {
    reply: Option<oneshot::Sender<Vec<PeerId>>>,
    found: Vec<PeerId>,
}

pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NodeEvent>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<PeerResponse, NodeError>>>,
    connections: HashMap<PeerId, Vec<Connection>>,
    rtt: HashMap<PeerId, Duration>,
    bootstrap: Vec<(PeerId, Multiaddr)>,
    bootstrapped: bool,
    last_bootstrap_dial: Option<Instant>,
    relays: Relays,
    relay_server: bool,
    nat: Nat,
    provided: HashSet<Vec<u8>>,
    provider_queries: HashMap<QueryId, ProviderQuery>,
    /// Said once: the kernel would not give our QUIC sockets big buffers.
    warned_rcvbuf: bool,
    /// Who waits for an announce to be stored (`Node::provide_stored`).
    provide_waiters: HashMap<QueryId, oneshot::Sender<bool>>,
    /// Relayed connections to close once their grace period is over.
    to_close: Vec<(Instant, ConnectionId)>,
}

impl EventLoop {
    pub(super) fn new(
        mut swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NodeEvent>,
        config: &NodeConfig,
    ) -> Result<Self, NodeError> {
        for addr in &config.listen {
            swarm.listen_on(addr.clone()).map_err(|e| NodeError::Setup(format!("cannot listen on {addr}: {e}")))?;
        }
        let mut bootstrap = Vec::new();
        for addr in &config.bootstrap {
            match peer_of(addr) {
                Some(peer) => {
                    swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
                    bootstrap.push((peer, addr.clone()));
                }
                None => tracing::warn!(%addr, "ignoring a bootstrap address without /p2p/PEER_ID"),
            }
        }
        Ok(EventLoop {
            swarm,
            commands,
            events,
            pending: HashMap::new(),
            connections: HashMap::new(),
            rtt: HashMap::new(),
            bootstrap,
            bootstrapped: false,
            last_bootstrap_dial: None,
            relays: Relays::default(),
            relay_server: config.relay_server,
            nat: if config.relay_server { Nat::Public } else { Nat::Unknown },
            provided: HashSet::new(),
            provider_queries: HashMap::new(),
            provide_waiters: HashMap::new(),
            warned_rcvbuf: false,
            to_close: Vec::new(),
        })
    }

    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event).await,
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(c) => self.on_command(c),
                },
                _ = tick.tick() => self.maintain(),
            }
        }
        tracing::debug!("network event loop stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request { peer, addrs, request, reply } => {
                let mut addrs = addrs;
                if !addrs.is_empty() && !self.swarm.is_connected(&peer) {
                    addrs.extend(self.circuits_to(peer));
                }
                let rooms = &mut self.swarm.behaviour_mut().rooms;
                let id = if addrs.is_empty() {
                    rooms.send_request(&peer, request)
                } else {
                    rooms.send_request_with_addresses(&peer, request, addrs)
                };
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                if self.swarm.behaviour_mut().rooms.send_response(channel, response).is_err() {
                    tracing::debug!("a peer went away before its answer was sent");
                }
            }
            Command::Dial { peer, addrs } => self.dial(peer, addrs),
            Command::Info { reply } => {
                let _ = reply.send(self.info());
            }
            Command::Provide { key, stored } => {
                if let (Some(id), Some(tx)) = (self.announce(&key), stored) {
                    self.provide_waiters.insert(id, tx);
                }
                self.provided.insert(key);
            }
            Command::Unprovide { key } => {
                self.swarm.behaviour_mut().kad.stop_providing(&kad::RecordKey::new(&key));
                self.provided.remove(&key);
            }
            Command::Providers { key, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_providers(kad::RecordKey::new(&key));
                self.provider_queries.insert(id, ProviderQuery { reply: Some(reply), found: Vec::new() });
            }
            Command::Shutdown => {}
        }
    }

    fn info(&self) -> NodeInfo {
        let peers = self
            .connections
            .iter()
            .filter_map(|(peer, conns)| {
                let best = conns.iter().find(|c| !c.relayed).or_else(|| conns.first())?;
                let relayed = best.relayed;
                Some(ConnectedPeer {
                    peer: *peer,
                    addr: best.addr.clone(),
                    relayed,
                    via: best.via,
                    rtt: self.rtt.get(peer).copied(),
                })
            })
            .collect();
        NodeInfo {
            listen: self.swarm.listeners().cloned().collect(),
            peers,
            external: self.swarm.external_addresses().cloned().collect(),
            nat: self.nat,
            relays: self.relays.accepted.iter().copied().collect(),
            relaying: if self.relay_server {
                Relaying::Anyone
            } else if self.nat == Nat::Public {
                Relaying::Members
            } else {
                Relaying::Off
            },
        }
    }

    /// Friends behind NATs tend to use the same relays (a friend with a
    /// public address, the bootstrap relay), and what we know of a peer's
    /// addresses may predate its reservation: try reaching it through ours.
    fn circuits_to(&self, peer: PeerId) -> Vec<Multiaddr> {
        let mut out = Vec::new();
        for relay in self.relays.accepted.iter().filter(|r| **r != peer) {
            for a in self.relays.candidates.get(relay).into_iter().flatten() {
                out.push(a.clone().with(Protocol::P2p(*relay)).with(Protocol::P2pCircuit).with(Protocol::P2p(peer)));
            }
        }
        out
    }

    fn announce(&mut self, key: &[u8]) -> Option<QueryId> {
        match self.swarm.behaviour_mut().kad.start_providing(kad::RecordKey::new(&key)) {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!("cannot announce in the DHT: {e}");
                None
            }
        }
    }

    fn dial(&mut self, peer: PeerId, mut addrs: Vec<Multiaddr>) {
        if self.swarm.is_connected(&peer) {
            return;
        }
        addrs.extend(self.circuits_to(peer));
        let opts = DialOpts::peer_id(peer).addresses(addrs).condition(PeerCondition::DisconnectedAndNotDialing).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, "not dialing: {e}");
        }
    }

    /// Periodic upkeep: bootstrap connections and relay reservations.
    fn maintain(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.to_close.drain(..).partition(|(t, _)| *t <= now);
        self.to_close = later;
        for (_, id) in due {
            if self.swarm.close_connection(id) {
                tracing::info!("direct path is up, closed the relayed connection");
            }
        }
        let connected_to_bootstrap = self.bootstrap.iter().any(|(p, _)| self.swarm.is_connected(p));
        if !self.bootstrap.is_empty()
            && !connected_to_bootstrap
            && self.last_bootstrap_dial.is_none_or(|t| now.duration_since(t) > BOOTSTRAP_REDIAL)
        {
            self.last_bootstrap_dial = Some(now);
            // One connection per address, QUIC and TCP alike: each gives an
            // observed address for its transport, and hole punching needs
            // the QUIC one (a lone TCP connection that won the race would
            // leave only TCP, whose punches are far less reliable).
            for (p, a) in self.bootstrap.clone() {
                let opts = DialOpts::peer_id(p).addresses(vec![a]).condition(PeerCondition::Always).build();
                if let Err(e) = self.swarm.dial(opts) {
                    tracing::debug!(peer = %p, "not dialing a bootstrap node: {e}");
                }
            }
        }
        self.reserve_relays();
    }

    fn reserve_relays(&mut self) {
        if self.nat == Nat::Public {
            return;
        }
        let mut active: HashSet<PeerId> = self.relays.listeners.values().copied().collect();
        let now = Instant::now();
        let mut candidates: Vec<(PeerId, Vec<Multiaddr>)> = self
            .relays
            .candidates
            .iter()
            .filter(|(p, _)| !active.contains(p))
            .filter(|(p, _)| self.relays.retry_after.get(p).is_none_or(|t| now >= *t))
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        // Relays we are already connected to first: no dial needed.
        candidates.sort_by_key(|(p, _)| !self.swarm.is_connected(p));
        for (relay, addrs) in candidates {
            if active.len() >= WANT_RELAYS {
                break;
            }
            let Some(addr) = addrs.first() else { continue };
            let circuit = addr.clone().with(Protocol::P2p(relay)).with(Protocol::P2pCircuit);
            match self.swarm.listen_on(circuit.clone()) {
                Ok(id) => {
                    tracing::info!(%relay, "asking for a reservation on {circuit}");
                    self.relays.listeners.insert(id, relay);
                    active.insert(relay);
                }
                Err(e) => {
                    tracing::debug!(%relay, "cannot listen on relay: {e}");
                    self.relays.retry_after.insert(relay, now + RELAY_BACKOFF);
                }
            }
        }
    }

    async fn emit(&mut self, event: NodeEvent) {
        // Backpressure on purpose: the consumer never waits on us while we wait on it.
        let _ = self.events.send(event).await;
    }

    async fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!("listening on {address}");
                if address.iter().any(|p| matches!(p, Protocol::QuicV1)) {
                    let (n, capped) = super::sockets::raise_udp_buffers(super::sockets::RECV_BUFFER);
                    tracing::debug!("raised the receive buffer of {n} UDP socket(s)");
                    if let Some(got) = capped.filter(|_| !self.warned_rcvbuf) {
                        self.warned_rcvbuf = true;
                        tracing::warn!(
                            "the kernel caps UDP receive buffers at {} KiB (net.core.rmem_max): fast file transfers over QUIC may lose packets \
                             at this machine and slow down; `sudo sysctl -w net.core.rmem_max=4194304` lifts the cap",
                            got / 1024
                        );
                    }
                }
                if self.relay_server && !is_relayed(&address) {
                    // A relay is public by definition: what it listens on is
                    // what others reach (and what reservations hand out).
                    self.swarm.add_external_address(address.clone());
                }
                if !is_relayed(&address) {
                    self.emit(NodeEvent::NetworkChanged).await;
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                tracing::info!("no longer listening on {address}");
                if !is_relayed(&address) {
                    self.emit(NodeEvent::NetworkChanged).await;
                }
            }
            SwarmEvent::ListenerClosed { listener_id, reason, .. } => {
                if let Some(relay) = self.relays.listeners.remove(&listener_id) {
                    tracing::info!(%relay, "relay reservation ended: {reason:?}");
                    self.relays.accepted.remove(&relay);
                    self.relays.retry_after.insert(relay, Instant::now() + RELAY_BACKOFF);
                }
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!("reachable at {address}");
                // Records announced before carried no (or stale) addresses.
                let keys: Vec<Vec<u8>> = self.provided.iter().cloned().collect();
                for k in keys {
                    self.announce(&k);
                }
            }
            SwarmEvent::ExternalAddrExpired { address } => tracing::info!("no longer reachable at {address}"),
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, connection_id, num_established, .. } => {
                let addr = endpoint.get_remote_address().clone();
                let relayed = endpoint.is_relayed();
                let via = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } => relay_of(address),
                    ConnectedPoint::Listener { local_addr, .. } => relay_of(local_addr),
                };
                let conns = self.connections.entry(peer_id).or_default();
                conns.push(Connection { id: connection_id, addr: addr.clone(), relayed, via });
                if !relayed {
                    // A direct path (often DCUtR's hole punch): move off the
                    // relay, so that nothing dies with it. After a grace
                    // period, for requests already under way on it.
                    let when = Instant::now() + RELAY_GRACE;
                    self.to_close.extend(conns.iter().filter(|c| c.relayed).map(|c| (when, c.id)));
                }
                if num_established.get() == 1 {
                    tracing::info!(%peer_id, %addr, "connected");
                    self.emit(NodeEvent::PeerConnected { peer: peer_id, addr }).await;
                }
                if !self.bootstrapped && self.bootstrap.iter().any(|(p, _)| *p == peer_id) {
                    self.bootstrapped = true;
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                }
                if let ConnectedPoint::Dialer { address, .. } = &endpoint {
                    if !relayed {
                        if let Some(c) = self.relays.candidates.get_mut(&peer_id) {
                            // The address that worked goes first.
                            c.retain(|a| a != address);
                            c.insert(0, address.clone());
                        }
                    }
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, connection_id, num_established, .. } => {
                if let Some(conns) = self.connections.get_mut(&peer_id) {
                    conns.retain(|c| c.id != connection_id);
                }
                if num_established == 0 {
                    self.connections.remove(&peer_id);
                    self.rtt.remove(&peer_id);
                    tracing::info!(%peer_id, "disconnected");
                    self.emit(NodeEvent::PeerDisconnected { peer: peer_id }).await;
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                // Friends being offline is normal: keep this out of the default log.
                tracing::debug!(?peer_id, "dial failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Rooms(event)) => self.on_rooms_event(event).await,
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                tracing::debug!(%peer_id, protocols = ?info.protocols, addrs = ?info.listen_addrs, "identified");
                if info.protocols.contains(&relay::HOP_PROTOCOL_NAME) {
                    let mut addrs: Vec<Multiaddr> =
                        info.listen_addrs.iter().filter(|a| !is_relayed(a) && !is_loopback(a)).cloned().collect();
                    if addrs.is_empty() {
                        addrs = info.listen_addrs.iter().filter(|a| !is_relayed(a)).cloned().collect();
                    }
                    // The address we reached it at is the one known to work.
                    if let Some(c) = self.connections.get(&peer_id).and_then(|c| c.iter().find(|c| !c.relayed)) {
                        let a = c.addr.clone();
                        let a: Multiaddr = a.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
                        addrs.retain(|x| *x != a);
                        addrs.insert(0, a);
                    }
                    if !addrs.is_empty() && self.relays.candidates.insert(peer_id, addrs).is_none() {
                        tracing::debug!(%peer_id, "found a relay");
                        self.reserve_relays();
                    }
                }
                self.emit(NodeEvent::Identified { peer: peer_id, listen_addrs: info.listen_addrs }).await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), connection })) => {
                // The best path's RTT is the one that matters.
                let direct = self.connections.get(&peer).map(|c| c.iter().any(|c| c.id == connection && !c.relayed));
                let has_direct = self.connections.get(&peer).is_some_and(|c| c.iter().any(|c| !c.relayed));
                if direct == Some(true) || !has_direct {
                    self.rtt.insert(peer, rtt);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, addr) in found {
                    by_peer.entry(peer).or_default().push(addr);
                }
                for (peer, addrs) in by_peer {
                    for a in &addrs {
                        self.swarm.add_peer_address(peer, a.clone());
                    }
                    self.dial(peer, addrs);
                    self.emit(NodeEvent::LanPeer { peer }).await;
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => match event {
                relay::client::Event::ReservationReqAccepted { relay_peer_id, renewal, .. } => {
                    if !renewal {
                        tracing::info!(relay = %relay_peer_id, "relay reservation accepted");
                    }
                    self.relays.accepted.insert(relay_peer_id);
                }
                other => tracing::debug!("relay client: {other:?}"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => match event {
                relay::Event::ReservationReqAccepted { renewed: false, .. }
                | relay::Event::ReservationReqDenied { .. }
                | relay::Event::CircuitReqAccepted { .. }
                | relay::Event::CircuitReqDenied { .. } => tracing::info!("relay: {event:?}"),
                other => tracing::debug!("relay: {other:?}"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event { remote_peer_id, result })) => match result {
                Ok(_) => tracing::info!(peer = %remote_peer_id, "hole punch succeeded: direct connection"),
                Err(e) => tracing::info!(peer = %remote_peer_id, "hole punch failed, staying relayed: {e}"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(autonat::Event::StatusChanged { old, new })) => {
                self.on_nat(old, new);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad_event(event),
            _ => {}
        }
    }

    fn on_nat(&mut self, old: autonat::NatStatus, new: autonat::NatStatus) {
        tracing::info!("NAT status: {old:?} -> {new:?}");
        if self.relay_server {
            return;
        }
        self.nat = match new {
            autonat::NatStatus::Public(_) => Nat::Public,
            autonat::NatStatus::Private => Nat::Private,
            autonat::NatStatus::Unknown => Nat::Unknown,
        };
        let public = self.nat == Nat::Public;
        let mode = if public { kad::Mode::Server } else { kad::Mode::Client };
        self.swarm.behaviour_mut().kad.set_mode(Some(mode));
        // Reachable: offer our friends what `--relay` offers everyone.
        let status = if public { relay::Status::Enable } else { relay::Status::Disable };
        self.swarm.behaviour_mut().relay.set_status(Some(status));
        if self.nat != Nat::Public {
            self.reserve_relays();
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        let kad::Event::OutboundQueryProgressed { id, result, step, .. } = event else {
            tracing::trace!("kad: {event:?}");
            return;
        };
        tracing::debug!(?id, last = step.last, "DHT query: {result:?}");
        match result {
            QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders { providers, .. })) => {
                let me = *self.swarm.local_peer_id();
                let new: Vec<PeerId> = providers.into_iter().filter(|p| *p != me).collect();
                // Kademlia forgets the providers' addresses when the query
                // ends, so dial now while it can still hand them out.
                for p in &new {
                    if !self.swarm.is_connected(p) {
                        let _ = self.swarm.dial(DialOpts::peer_id(*p).condition(PeerCondition::DisconnectedAndNotDialing).build());
                    }
                }
                if let Some(q) = self.provider_queries.get_mut(&id) {
                    for p in new {
                        if !q.found.contains(&p) {
                            q.found.push(p);
                        }
                    }
                    if q.found.len() >= PROVIDERS_ENOUGH {
                        if let Some(r) = q.reply.take() {
                            let _ = r.send(q.found.clone());
                        }
                    }
                }
            }
            QueryResult::GetProviders(Err(e)) => tracing::debug!("provider lookup: {e}"),
            QueryResult::StartProviding(res) => {
                if let Err(e) = &res {
                    tracing::debug!("announcing in the DHT failed: {e}");
                }
                if let Some(tx) = self.provide_waiters.remove(&id) {
                    let _ = tx.send(res.is_ok());
                }
            }
            QueryResult::Bootstrap(Err(e)) => tracing::debug!("DHT bootstrap: {e}"),
            _ => {}
        }
        if step.last {
            if let Some(mut q) = self.provider_queries.remove(&id) {
                if let Some(r) = q.reply.take() {
                    let _ = r.send(q.found);
                }
            }
        }
    }

    async fn on_rooms_event(&mut self, event: request_response::Event<crate::wire::PeerRequest, PeerResponse>) {
        use request_response::{Event, Message};
        match event {
            Event::Message { peer, message: Message::Request { request, channel, .. }, .. } => {
                self.emit(NodeEvent::InboundRequest { peer, request, channel }).await;
            }
            Event::Message { message: Message::Response { request_id, response }, .. } => {
                if let Some(tx) = self.pending.remove(&request_id) {
                    let _ = tx.send(Ok(response));
                }
            }
            Event::OutboundFailure { request_id, error, peer, .. } => {
                tracing::debug!(%peer, "request failed: {error}");
                if let Some(tx) = self.pending.remove(&request_id) {
                    let e = match error {
                        request_response::OutboundFailure::ConnectionClosed => NodeError::ConnectionClosed,
                        other => NodeError::Request(other.to_string()),
                    };
                    let _ = tx.send(Err(e));
                }
            }
            // Undecodable frames are counted by the codec itself.
            Event::InboundFailure { peer, error, .. } => tracing::debug!(%peer, "inbound request failed: {error}"),
            Event::ResponseSent { .. } => {}
        }
    }
}
