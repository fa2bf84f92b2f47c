use std::collections::HashMap;

use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, mdns, ping, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::{Command, ConnectedPeer, NodeError, NodeEvent, NodeInfo};
use crate::wire::PeerResponse;

pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NodeEvent>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<PeerResponse, NodeError>>>,
    connected: HashMap<PeerId, ConnectedPeer>,
}

impl EventLoop {
    pub(super) fn new(
        mut swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NodeEvent>,
        listen: Vec<Multiaddr>,
    ) -> Result<Self, NodeError> {
        for addr in listen {
            swarm.listen_on(addr.clone()).map_err(|e| NodeError::Setup(format!("cannot listen on {addr}: {e}")))?;
        }
        Ok(EventLoop { swarm, commands, events, pending: HashMap::new(), connected: HashMap::new() })
    }

    pub async fn run(mut self) {
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event).await,
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(c) => self.on_command(c),
                },
            }
        }
        tracing::debug!("network event loop stopped");
    }

    fn on_command(&mut self, command: Command) {
        let rooms = &mut self.swarm.behaviour_mut().rooms;
        match command {
            Command::Request { peer, addrs, request, reply } => {
                let id = if addrs.is_empty() {
                    rooms.send_request(&peer, request)
                } else {
                    rooms.send_request_with_addresses(&peer, request, addrs)
                };
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                if rooms.send_response(channel, response).is_err() {
                    tracing::debug!("a peer went away before its answer was sent");
                }
            }
            Command::Dial { peer, addrs } => self.dial(peer, addrs),
            Command::Info { reply } => {
                let info = NodeInfo { listen: self.swarm.listeners().cloned().collect(), peers: self.connected.values().cloned().collect() };
                let _ = reply.send(info);
            }
            Command::Shutdown => {}
        }
    }

    fn dial(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        if self.swarm.is_connected(&peer) {
            return;
        }
        let opts = DialOpts::peer_id(peer).addresses(addrs).condition(PeerCondition::DisconnectedAndNotDialing).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, "not dialing: {e}");
        }
    }

    async fn emit(&mut self, event: NodeEvent) {
        // Backpressure on purpose: the consumer never waits on us while we wait on it.
        let _ = self.events.send(event).await;
    }

    async fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => tracing::info!("listening on {address}"),
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                let addr = endpoint.get_remote_address().clone();
                let relayed = addr.iter().any(|p| matches!(p, Protocol::P2pCircuit));
                let entry = self.connected.entry(peer_id).or_insert(ConnectedPeer { peer: peer_id, addr: addr.clone(), relayed, rtt: None });
                // Prefer describing a direct connection when there are several.
                if entry.relayed && !relayed {
                    entry.addr = addr.clone();
                    entry.relayed = false;
                }
                if num_established.get() == 1 {
                    tracing::info!(%peer_id, %addr, "connected");
                    self.emit(NodeEvent::PeerConnected { peer: peer_id, addr }).await;
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, .. } => {
                if num_established == 0 {
                    self.connected.remove(&peer_id);
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
                self.emit(NodeEvent::Identified { peer: peer_id, listen_addrs: info.listen_addrs }).await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), .. })) => {
                if let Some(p) = self.connected.get_mut(&peer) {
                    p.rtt = Some(rtt);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, addr) in found {
                    by_peer.entry(peer).or_default().push(addr);
                }
                for (peer, addrs) in by_peer {
                    self.dial(peer, addrs);
                }
            }
            _ => {}
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
                    let _ = tx.send(Err(NodeError::Request(error.to_string())));
                }
            }
            // Undecodable frames are counted by the codec itself.
            Event::InboundFailure { peer, error, .. } => tracing::debug!(%peer, "inbound request failed: {error}"),
            Event::ResponseSent { .. } => {}
        }
    }
}

