//! The task that owns the Swarm. Besides serving [`Command`]s it keeps us
//! reachable on its own: it dials the DHT bootstrap nodes, holds relay
//! reservations while AutoNAT does not find us public ([`Relays`]),
//! re-announces DHT records when our addresses change ([`Dht`]), and drops
//! a relayed connection as soon as a direct one to the same peer is up
//! ([`Connections`]).
//!
//! It never waits on the daemon: events go out with `try_send`. Connection
//! events, which the daemon's state follows, wait in a small backlog of the
//! loop's own when the queue is full; anything else a full queue cannot take
//! is shed and counted (a shed request fails at the asking peer at once; a
//! shed identify or network change is repeated by the next one).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{autonat, dcutr, identify, kad, mdns, ping, relay, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

use super::addrs::{is_global_ip6, is_ip6_wildcard, is_relayed, peer_of};
use super::backlog::Backlog;
use super::behaviour::{Behaviour, BehaviourEvent};
use super::connections::Connections;
use super::dht::Dht;
use super::relays::Relays;
use super::{Command, Nat, NodeConfig, NodeError, NodeEvent, NodeInfo, Relaying};
use crate::wire::{PeerRequest, PeerResponse};

/// How often reservations, bootstrap connections and DHT records are checked.
const TICK: Duration = Duration::from_secs(5);
const BOOTSTRAP_REDIAL: Duration = Duration::from_secs(60);

pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NodeEvent>,
    shed: Arc<AtomicU64>,
    /// Connection events the queue could not take yet, in order.
    backlog: Backlog,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<PeerResponse, NodeError>>>,
    connections: Connections,
    bootstrap: Vec<(PeerId, Multiaddr)>,
    bootstrapped: bool,
    last_bootstrap_dial: Option<Instant>,
    relays: Relays,
    relay_server: bool,
    nat: Nat,
    dht: Dht,
    /// Said once: the kernel would not give our QUIC sockets big buffers.
    warned_rcvbuf: bool,
}

impl EventLoop {
    pub(super) fn new(
        mut swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NodeEvent>,
        config: &NodeConfig,
    ) -> Result<Self, NodeError> {
        for addr in &config.listen {
            if let Some(sticky) = super::ports::remembered(addr, &config.last_ports).filter(super::ports::free) {
                match swarm.listen_on(sticky.clone()) {
                    Ok(_) => continue,
                    Err(e) => tracing::info!("{sticky} (our port last time) is taken, listening on another: {e}"),
                }
            }
            match swarm.listen_on(addr.clone()) {
                Ok(_) => {}
                // A machine with IPv6 turned off still runs on IPv4.
                Err(e) if is_ip6_wildcard(addr) => tracing::warn!("not listening on {addr} (no IPv6 here?): {e}"),
                Err(e) => return Err(NodeError::Setup(format!("cannot listen on {addr}: {e}"))),
            }
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
            shed: config.shed_events.clone(),
            backlog: Backlog::new(config.coalesced_events.clone()),
            pending: HashMap::new(),
            connections: Connections::default(),
            bootstrap,
            bootstrapped: false,
            last_bootstrap_dial: None,
            relays: Relays::default(),
            relay_server: config.relay_server,
            nat: if config.relay_server { Nat::Public } else { Nat::Unknown },
            dht: Dht::default(),
            warned_rcvbuf: false,
        })
    }

    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(c) => self.on_command(c),
                },
                _ = tick.tick() => self.maintain(),
            }
            self.flush_backlog();
        }
        tracing::debug!("network event loop stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request { peer, addrs, request, reply } => {
                let mut addrs = addrs;
                if !addrs.is_empty() && !self.swarm.is_connected(&peer) {
                    addrs.extend(self.relays.circuits_to(peer));
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
            Command::Provide { key, stored } => self.dht.provide(&mut self.swarm, key, stored),
            Command::Unprovide { key } => self.dht.unprovide(&mut self.swarm, &key),
            Command::Providers { key, reply } => self.dht.providers(&mut self.swarm, key, reply),
            Command::Shutdown => {}
        }
    }

    fn info(&self) -> NodeInfo {
        NodeInfo {
            listen: self.swarm.listeners().cloned().collect(),
            peers: self.connections.peers(),
            external: self.swarm.external_addresses().cloned().collect(),
            nat: self.nat,
            relays: self.relays.accepted(),
            relaying: if self.relay_server {
                Relaying::Anyone
            } else if self.nat == Nat::Public {
                Relaying::Members
            } else {
                Relaying::Off
            },
        }
    }

    fn dial(&mut self, peer: PeerId, mut addrs: Vec<Multiaddr>) {
        if self.swarm.is_connected(&peer) {
            return;
        }
        addrs.extend(self.relays.circuits_to(peer));
        let opts = DialOpts::peer_id(peer).addresses(addrs).condition(PeerCondition::DisconnectedAndNotDialing).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, "not dialing: {e}");
        }
    }

    /// Periodic upkeep: relayed connections past their grace, bootstrap
    /// connections and relay reservations.
    fn maintain(&mut self) {
        let now = Instant::now();
        for id in self.connections.due_closes(now) {
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
        if self.nat != Nat::Public {
            self.relays.reserve(&mut self.swarm);
        }
    }

    /// Hands an event to the daemon without waiting: the Swarm must keep
    /// turning even when the daemon is slow.
    fn emit(&mut self, event: NodeEvent) {
        let must_arrive = matches!(event, NodeEvent::PeerConnected { .. } | NodeEvent::PeerDisconnected { .. });
        if must_arrive && !self.backlog.is_empty() {
            // Behind ones already waiting, to keep their order.
            self.backlog.push_back(event);
            return;
        }
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) if must_arrive => self.backlog.push_back(event),
            Err(mpsc::error::TrySendError::Full(event)) => {
                let shed = self.shed.fetch_add(1, Ordering::Relaxed);
                // The first, then one line per hundred: a flood must not flood the log.
                if shed.is_multiple_of(100) {
                    tracing::warn!("the daemon is behind the network: shed {} ({} so far)", event.kind(), shed + 1);
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn flush_backlog(&mut self) {
        while let Some(event) = self.backlog.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.backlog.push_front(event);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.backlog.clear();
                    return;
                }
            }
        }
    }

    fn on_new_listen_addr(&mut self, address: Multiaddr) {
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
            self.emit(NodeEvent::NetworkChanged);
        }
    }

    fn on_connected(&mut self, peer_id: PeerId, endpoint: ConnectedPoint, connection_id: libp2p::swarm::ConnectionId, first: bool) {
        let keep_all = self.relay_server || self.relays.is_candidate(&peer_id);
        self.connections.established(peer_id, connection_id, &endpoint, keep_all);
        if self.relays.reconnected(&peer_id) {
            // A relay came back (restarted, or our network did): ask now.
            self.reserve_relays();
        }
        let addr = endpoint.get_remote_address().clone();
        if first {
            tracing::info!(%peer_id, %addr, "connected");
            self.emit(NodeEvent::PeerConnected { peer: peer_id, addr });
        }
        if !self.bootstrapped && self.bootstrap.iter().any(|(p, _)| *p == peer_id) {
            self.bootstrapped = true;
            let _ = self.swarm.behaviour_mut().kad.bootstrap();
        }
        if let ConnectedPoint::Dialer { address, .. } = &endpoint {
            if !endpoint.is_relayed() {
                self.relays.dialed(&peer_id, address);
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => self.on_new_listen_addr(address),
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                tracing::info!("no longer listening on {address}");
                if !is_relayed(&address) {
                    self.emit(NodeEvent::NetworkChanged);
                }
            }
            SwarmEvent::ListenerClosed { listener_id, reason, .. } => {
                if let Some(relay) = self.relays.listener_closed(listener_id) {
                    tracing::info!(%relay, "relay reservation ended: {reason:?}");
                }
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!("reachable at {address}");
                self.dht.reannounce(&mut self.swarm);
            }
            SwarmEvent::ExternalAddrExpired { address } => tracing::info!("no longer reachable at {address}"),
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, connection_id, num_established, .. } => {
                self.on_connected(peer_id, endpoint, connection_id, num_established.get() == 1);
            }
            SwarmEvent::ConnectionClosed { peer_id, connection_id, num_established, .. } => {
                let last = self.connections.closed(peer_id, connection_id, num_established);
                if last {
                    tracing::info!(%peer_id, "disconnected");
                    self.emit(NodeEvent::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                // Friends being offline is normal: keep this out of the default log.
                tracing::debug!(?peer_id, "dial failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Rooms(event)) => self.on_rooms_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, connection_id })) => {
                tracing::debug!(%peer_id, protocols = ?info.protocols, addrs = ?info.listen_addrs, "identified");
                let stale = self.connections.identified(peer_id, connection_id, &info.agent_version);
                if !stale.is_empty() {
                    for old in &stale {
                        self.swarm.close_connection(*old);
                    }
                    // The peer restarted: it is back as far as the services
                    // are concerned (they sync now, not at the next round).
                    tracing::info!(%peer_id, "restarted; closed {} connection(s) of its previous run", stale.len());
                    let addr = self.connections.direct_addr(&peer_id).unwrap_or_else(Multiaddr::empty);
                    self.emit(NodeEvent::PeerConnected { peer: peer_id, addr });
                }
                if info.protocols.contains(&relay::HOP_PROTOCOL_NAME) {
                    let reached_at = self.connections.direct_addr(&peer_id);
                    if self.relays.offered(peer_id, &info.listen_addrs, reached_at) {
                        tracing::debug!(%peer_id, "found a relay");
                        self.reserve_relays();
                    }
                }
                // Reached through a relay only, but the peer has a global IPv6
                // address: many homes have IPv6 without NAT, where a plain dial
                // goes direct with no hole to punch (DCUtR only tries the
                // observed, NATed IPv4 addresses).
                if self.connections.direct_addr(&peer_id).is_none() {
                    let v6: Vec<Multiaddr> = info.listen_addrs.iter().filter(|a| is_global_ip6(a)).cloned().collect();
                    if !v6.is_empty() {
                        tracing::debug!(%peer_id, addrs = ?v6, "relayed only: dialing its IPv6 addresses");
                        let opts = DialOpts::peer_id(peer_id).addresses(v6).condition(PeerCondition::Always).build();
                        if let Err(e) = self.swarm.dial(opts) {
                            tracing::debug!(%peer_id, "cannot dial its IPv6 addresses: {e}");
                        }
                    }
                }
                self.emit(NodeEvent::Identified { peer: peer_id, listen_addrs: info.listen_addrs });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), connection })) => {
                self.connections.ping(peer, connection, rtt);
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
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => match event {
                relay::client::Event::ReservationReqAccepted { relay_peer_id, renewal, .. } => {
                    if !renewal {
                        tracing::info!(relay = %relay_peer_id, "relay reservation accepted");
                    }
                    self.relays.reservation_accepted(relay_peer_id);
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
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.dht.on_event(&mut self.swarm, event),
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
        self.reserve_relays();
    }

    fn on_rooms_event(&mut self, event: request_response::Event<PeerRequest, PeerResponse>) {
        use request_response::{Event, Message};
        match event {
            Event::Message { peer, message: Message::Request { request, channel, .. }, .. } => {
                self.emit(NodeEvent::InboundRequest { peer, request, channel });
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
