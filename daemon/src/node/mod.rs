//! The one owner of the libp2p Swarm.
//!
//! [`new`] returns a cloneable [`Node`] handle, a receiver of [`NodeEvent`]s
//! and an [`EventLoop`] to spawn. Only the event loop touches the Swarm; the
//! rest of the daemon sends it [`Command`]s (each with a oneshot reply) over a
//! bounded channel. Nothing here knows about rooms: requests and responses are
//! opaque [`PeerRequest`]/[`PeerResponse`] values.

pub(crate) mod addrs;
mod backlog;
mod behaviour;
mod connections;
mod dht;
mod event_loop;
pub mod inbound;
mod own_addrs;
pub mod ports;
pub mod proxy;
pub mod quic;
mod relays;
mod sockets;

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

pub use event_loop::EventLoop;

pub use apero_control::{Nat, Relaying};

use crate::wire::{PeerRequest, PeerResponse};

pub struct NodeConfig {
    pub listen: Vec<Multiaddr>,
    pub mdns: bool,
    /// DHT entry points (each with a `/p2p/` peer id); empty: no DHT.
    pub bootstrap: Vec<Multiaddr>,
    /// Relay for anyone (a machine with a public address).
    pub relay_server: bool,
    /// The NAT testbed: test-range addresses count as public.
    pub lab: bool,
    pub agent: String,
    /// Shared with the daemon's counters; bumped by the codec.
    pub bad_frames: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Events the daemon was too slow to take, shed rather than waited for.
    pub shed_events: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Connection events merged or dropped because too many waited.
    pub coalesced_events: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The QUIC connections' congestion controller.
    pub congestion: quic::Congestion,
    /// The ports we listened on last time, by kind (`ports::key_port`).
    pub last_ports: std::collections::HashMap<String, u16>,
    /// Where TCP dials go through a proxy, and what they did there.
    pub proxy: std::sync::Arc<proxy::ProxySettings>,
    pub proxy_use: std::sync::Arc<proxy::transport::ProxyUse>,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("the network task has stopped")]
    Stopped,
    #[error("could not build the network stack: {0}")]
    Setup(String),
    #[error("{0}")]
    Request(String),
    /// The connection closed under the request (e.g. a relayed one replaced
    /// by a direct one): worth one retry.
    #[error("the connection closed before an answer came")]
    ConnectionClosed,
}

/// What the event loop tells the daemon.
#[derive(Debug)]
pub enum NodeEvent {
    PeerConnected {
        peer: PeerId,
        addr: Multiaddr,
    },
    PeerDisconnected {
        peer: PeerId,
    },
    /// The peer's own listen addresses, from identify.
    Identified {
        peer: PeerId,
        listen_addrs: Vec<Multiaddr>,
    },
    InboundRequest {
        peer: PeerId,
        request: PeerRequest,
        channel: ResponseChannel<PeerResponse>,
    },
    /// Our own addresses changed (a new network, a lost interface): a good
    /// moment to redial friends.
    NetworkChanged,
}

impl NodeEvent {
    /// For the log line when an event is shed.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeEvent::PeerConnected { .. } => "a connection event",
            NodeEvent::PeerDisconnected { .. } => "a disconnection event",
            NodeEvent::Identified { .. } => "an identify event",
            NodeEvent::InboundRequest { .. } => "a peer's request",
            NodeEvent::NetworkChanged => "a network change",
        }
    }
}

pub(crate) enum Command {
    Request {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: PeerRequest,
        reply: oneshot::Sender<Result<PeerResponse, NodeError>>,
    },
    Respond {
        channel: ResponseChannel<PeerResponse>,
        response: PeerResponse,
    },
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    },
    Info {
        reply: oneshot::Sender<NodeInfo>,
    },
    /// Announce in the DHT that we provide `key` (re-announced whenever our
    /// reachable addresses change) until `Unprovide`.
    Provide {
        key: Vec<u8>,
        stored: Option<oneshot::Sender<bool>>,
    },
    Unprovide {
        key: Vec<u8>,
    },
    /// Who provides `key`; providers found are dialed at once (the DHT only
    /// knows their addresses while the query runs).
    Providers {
        key: Vec<u8>,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Shutdown,
}

#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub listen: Vec<Multiaddr>,
    pub peers: Vec<ConnectedPeer>,
    /// Confirmed reachable addresses, relayed ones included.
    pub external: Vec<Multiaddr>,
    pub nat: Nat,
    /// Relays holding a reservation for us.
    pub relays: Vec<PeerId>,
    /// Whom we relay for.
    pub relaying: Relaying,
}

#[derive(Debug, Clone)]
pub struct ConnectedPeer {
    pub peer: PeerId,
    /// The best connection's remote address (direct preferred).
    pub addr: Multiaddr,
    pub relayed: bool,
    /// The relay of a relayed connection.
    pub via: Option<PeerId>,
    pub rtt: Option<Duration>,
}

impl ConnectedPeer {
    pub fn is_quic(&self) -> bool {
        self.addr.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::QuicV1))
    }
}

/// Peers that share a room with us: the only ones a publicly reachable
/// daemon (without `--relay`) relays for. Read by the relay behaviour inside
/// the swarm, written by the daemon whenever membership changes.
#[derive(Clone, Default)]
pub struct RelayMembers(std::sync::Arc<std::sync::RwLock<std::collections::HashSet<PeerId>>>);

impl RelayMembers {
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.0.read().unwrap_or_else(|p| p.into_inner()).contains(peer)
    }

    pub fn replace(&self, peers: impl IntoIterator<Item = PeerId>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = peers.into_iter().collect();
    }
}

#[derive(Clone)]
pub struct Node {
    commands: mpsc::Sender<Command>,
    pub peer_id: PeerId,
    /// Opens raw streams (voice, files) without going through the loop.
    pub streams: libp2p_stream::Control,
    /// Where services accept raw streams: bounded, counted (`inbound`).
    pub inbound: inbound::Inbound,
    /// Who may use us as a relay once AutoNAT finds us public.
    pub relay_members: RelayMembers,
    /// Unreliable datagrams on direct QUIC connections (voice).
    pub datagrams: quic::Datagrams,
}

/// Room for bursts without letting a stuck consumer grow memory forever.
const COMMAND_QUEUE: usize = 256;
const EVENT_QUEUE: usize = 1024;

pub fn new(key: Keypair, config: NodeConfig) -> Result<(Node, mpsc::Receiver<NodeEvent>, EventLoop), NodeError> {
    let peer_id = key.public().to_peer_id();
    let relay_members = RelayMembers::default();
    let datagrams = quic::Datagrams::default();
    let inbound = inbound::Inbound::default();
    let swarm = behaviour::build_swarm(key, &config, relay_members.clone(), datagrams.clone(), &inbound)?;
    let streams = swarm.behaviour().streams.new_control();
    let (ctx, crx) = mpsc::channel(COMMAND_QUEUE);
    let (etx, erx) = mpsc::channel(EVENT_QUEUE);
    let event_loop = EventLoop::new(swarm, crx, etx, &config)?;
    Ok((Node { commands: ctx, peer_id, streams, inbound, relay_members, datagrams }, erx, event_loop))
}

impl Node {
    /// Sends a request (dialing `addrs` first if we are not connected) and
    /// waits for the answer.
    pub async fn request(&self, peer: PeerId, addrs: Vec<Multiaddr>, request: PeerRequest) -> Result<PeerResponse, NodeError> {
        match self.request_once(peer, addrs.clone(), request.clone()).await {
            Err(NodeError::ConnectionClosed) => self.request_once(peer, addrs, request).await,
            other => other,
        }
    }

    async fn request_once(&self, peer: PeerId, addrs: Vec<Multiaddr>, request: PeerRequest) -> Result<PeerResponse, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Request { peer, addrs, request, reply: tx }).await.map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)?
    }

    pub async fn respond(&self, channel: ResponseChannel<PeerResponse>, response: PeerResponse) {
        // If the loop is gone the daemon is shutting down; the peer times out.
        let _ = self.commands.send(Command::Respond { channel, response }).await;
    }

    pub async fn dial(&self, peer: PeerId, addrs: Vec<Multiaddr>) {
        let _ = self.commands.send(Command::Dial { peer, addrs }).await;
    }

    pub async fn info(&self) -> Result<NodeInfo, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Info { reply: tx }).await.map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    pub async fn provide(&self, key: Vec<u8>) {
        let _ = self.commands.send(Command::Provide { key, stored: None }).await;
    }

    /// Like `provide`, and waits until the DHT has the record (true) or the
    /// announce failed or `within` passed (false): what is looked up right
    /// after is then found at the first try.
    pub async fn provide_stored(&self, key: Vec<u8>, within: std::time::Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Provide { key, stored: Some(tx) }).await.is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, rx).await, Ok(Ok(true)))
    }

    pub async fn unprovide(&self, key: Vec<u8>) {
        let _ = self.commands.send(Command::Unprovide { key }).await;
    }

    /// The DHT's providers of `key` (already being dialed), or none.
    pub async fn providers(&self, key: Vec<u8>) -> Result<Vec<PeerId>, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Providers { key, reply: tx }).await.map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}
