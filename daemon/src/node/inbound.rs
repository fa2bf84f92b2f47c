//! Inbound streams of the protocols that services read themselves (voice,
//! files), handed over through bounded queues of our own.
//!
//! libp2p-stream keeps one inbound stream per protocol in flight and drops
//! the next one while that slot is taken, without a trace: under load (a
//! download, a call and a sync at once) a legitimate stream could vanish.
//! Here every protocol has a queue with room for bursts, each connection a
//! cap on how many of its streams may be open at once for that protocol (so
//! one flooding peer cannot fill the queue for everyone), and whatever does
//! not fit is reset (the remote sees an error, not silence) and counted for
//! `status`. Opening streams stays with libp2p-stream's `Control`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{DeniedUpgrade, InboundUpgrade, UpgradeInfo};
use libp2p::core::Endpoint;
use libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm, NetworkBehaviour, Stream, SubstreamProtocol,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use tokio::sync::mpsc;

use crate::lock::lock;

/// Streams waiting for their service, per protocol.
pub const QUEUE: usize = 128;
/// Streams of one protocol one connection may have open at once (queued or
/// being served): far above what a friend's daemon opens (a download keeps
/// a few, voice one or two).
pub const PER_CONNECTION: usize = 32;

/// A stream for a service; `slot` keeps its place in the connection's cap
/// until dropped, so keep it as long as the stream is served.
pub struct IncomingStream {
    pub peer: PeerId,
    pub stream: Stream,
    pub slot: Slot,
}

/// One of a connection's places for a protocol; freed on drop.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("inbound streams of {0} are already taken by another service")]
pub struct AlreadyTaken(pub StreamProtocol);

#[derive(Default)]
struct Routes {
    queues: HashMap<StreamProtocol, mpsc::Sender<IncomingStream>>,
}

/// Where services take their streams from; cheap to clone.
#[derive(Clone, Default)]
pub struct Inbound {
    routes: Arc<Mutex<Routes>>,
    refused: Arc<AtomicU64>,
}

impl Inbound {
    /// From now on streams of `protocol` are accepted and queued for the
    /// returned receiver. Once it is dropped they are refused again.
    pub fn accept(&self, protocol: StreamProtocol) -> Result<mpsc::Receiver<IncomingStream>, AlreadyTaken> {
        let mut routes = lock(&self.routes);
        if routes.queues.get(&protocol).is_some_and(|q| !q.is_closed()) {
            return Err(AlreadyTaken(protocol));
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        routes.queues.insert(protocol, tx);
        Ok(rx)
    }

    /// Streams reset because a queue or a connection's cap was full, or
    /// because nobody reads that protocol any more.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn protocols(&self) -> Vec<StreamProtocol> {
        lock(&self.routes).queues.iter().filter(|(_, q)| !q.is_closed()).map(|(p, _)| p.clone()).collect()
    }

    fn queue(&self, protocol: &StreamProtocol) -> Option<mpsc::Sender<IncomingStream>> {
        lock(&self.routes).queues.get(protocol).cloned()
    }

    pub(super) fn behaviour(&self) -> Behaviour {
        Behaviour { inbound: self.clone() }
    }
}

/// The swarm's part: a handler per connection.
pub struct Behaviour {
    inbound: Inbound,
}

impl Behaviour {
    fn handler(&self, peer: PeerId) -> Handler {
        Handler { peer, inbound: self.inbound.clone(), open: HashMap::new() }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

pub struct Handler {
    peer: PeerId,
    inbound: Inbound,
    /// Per protocol: this connection's streams queued or being served.
    open: HashMap<StreamProtocol, Arc<AtomicUsize>>,
}

impl Handler {
    fn take(&mut self, stream: Stream, protocol: StreamProtocol) {
        let (refused, peer) = (self.inbound.refused.clone(), self.peer);
        let refuse = |why: &str| {
            refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, %protocol, "inbound stream refused: {why}");
        };
        let Some(queue) = self.inbound.queue(&protocol) else {
            return refuse("nobody reads this protocol");
        };
        let open = self.open.entry(protocol.clone()).or_default().clone();
        if open.fetch_add(1, Ordering::Relaxed) >= PER_CONNECTION {
            open.fetch_sub(1, Ordering::Relaxed);
            return refuse("too many open at once on this connection");
        }
        // The slot exists before the send: a refused stream frees it at once.
        let incoming = IncomingStream { peer: self.peer, stream, slot: Slot(open) };
        if let Err(e) = queue.try_send(incoming) {
            refuse(match e {
                mpsc::error::TrySendError::Full(_) => "the service's queue is full",
                mpsc::error::TrySendError::Closed(_) => "the service stopped reading",
            });
        }
    }
}

/// Offers the protocols services read and hands back the one negotiated.
pub struct Protocols(Vec<StreamProtocol>);

impl UpgradeInfo for Protocols {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;

    fn protocol_info(&self) -> Self::InfoIter {
        self.0.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for Protocols {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = Ready<Result<Self::Output, Infallible>>;

    fn upgrade_inbound(self, stream: Stream, protocol: StreamProtocol) -> Self::Future {
        ready(Ok((stream, protocol)))
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = Protocols;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = Infallible;

    fn listen_protocol(&self) -> SubstreamProtocol<Protocols> {
        SubstreamProtocol::new(Protocols(self.inbound.protocols()), ())
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ConnectionHandlerEvent<DeniedUpgrade, Infallible, Infallible>> {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: Infallible) {
        match event {}
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<Protocols, DeniedUpgrade, (), Infallible>) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound { protocol: (stream, protocol), .. }) = event {
            self.take(stream, protocol);
        }
    }
}
