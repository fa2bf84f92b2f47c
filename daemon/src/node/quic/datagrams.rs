//! Unreliable QUIC datagrams (RFC 9221) on each peer's direct connections,
//! for voice: a lost datagram costs only itself, where a lost stream packet
//! holds back everything behind it until it is retransmitted.
//!
//! The transport registers every connection it completes; the voice engine
//! sends through [`Datagrams::send`] and reads what arrives from the one
//! subscriber queue. The connection authenticates the sender (TLS with the
//! peer's libp2p key), so the peer id given with each datagram is true; what
//! the datagram says is not, and is checked by its reader.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use libp2p::PeerId;
use tokio::sync::mpsc;

use crate::lock::lock;

#[derive(Clone, Default)]
pub struct Datagrams {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    conns: Mutex<HashMap<PeerId, Vec<quinn::Connection>>>,
    sink: Mutex<Option<mpsc::Sender<(PeerId, Bytes)>>>,
    /// Datagrams that arrived with nobody reading, or faster than read.
    dropped_in: AtomicU64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    #[error("no direct QUIC connection to the peer carries datagrams")]
    NoPath,
    #[error("datagram of {0} bytes is larger than the path allows")]
    TooLarge(usize),
}

impl Datagrams {
    /// Sends on the newest open connection to `peer` that can carry it.
    pub fn send(&self, peer: &PeerId, data: Bytes) -> Result<(), DatagramError> {
        let conns = lock(&self.inner.conns);
        let mut too_large = false;
        for c in conns.get(peer).into_iter().flatten().rev() {
            match c.max_datagram_size() {
                Some(max) if max >= data.len() => {}
                Some(_) => {
                    too_large = true;
                    continue;
                }
                None => continue,
            }
            match c.send_datagram(data.clone()) {
                Ok(()) => return Ok(()),
                Err(quinn::SendDatagramError::TooLarge) => too_large = true,
                Err(_) => {}
            }
        }
        Err(if too_large { DatagramError::TooLarge(data.len()) } else { DatagramError::NoPath })
    }

    /// The queue of datagrams from every peer; a new subscriber replaces the
    /// old one. Datagrams that find it full are dropped and counted: a voice
    /// frame read late is worth nothing.
    pub fn subscribe(&self, capacity: usize) -> mpsc::Receiver<(PeerId, Bytes)> {
        let (tx, rx) = mpsc::channel(capacity);
        *lock(&self.inner.sink) = Some(tx);
        rx
    }

    pub fn dropped_in(&self) -> u64 {
        self.inner.dropped_in.load(Ordering::Relaxed)
    }

    /// Takes a new connection's datagrams until it closes.
    pub(super) fn add(&self, peer: PeerId, conn: quinn::Connection) {
        lock(&self.inner.conns).entry(peer).or_default().push(conn.clone());
        let inner = self.inner.clone();
        tokio::spawn(async move {
            while let Ok(data) = conn.read_datagram().await {
                let sink = lock(&inner.sink).clone();
                if sink.is_none_or(|tx| tx.try_send((peer, data)).is_err()) {
                    inner.dropped_in.fetch_add(1, Ordering::Relaxed);
                }
            }
            let id = conn.stable_id();
            let mut conns = lock(&inner.conns);
            if let Some(cs) = conns.get_mut(&peer) {
                cs.retain(|c| c.stable_id() != id);
                if cs.is_empty() {
                    conns.remove(&peer);
                }
            }
        });
    }
}
