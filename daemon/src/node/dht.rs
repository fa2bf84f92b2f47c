//! Our use of the DHT: keys we provide (re-announced whenever our reachable
//! addresses change), provider lookups that answer at the first provider
//! found, and who waits for an announce to be stored.

use std::collections::{HashMap, HashSet};

use libp2p::kad::{self, GetProvidersOk, QueryId, QueryResult};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{PeerId, Swarm};
use tokio::sync::oneshot;

use super::behaviour::Behaviour;

/// A lookup answers as soon as this many providers are found (and dialed);
/// the query goes on in the background.
const PROVIDERS_ENOUGH: usize = 1;

struct ProviderQuery {
    reply: Option<oneshot::Sender<Vec<PeerId>>>,
    found: Vec<PeerId>,
}

#[derive(Default)]
pub(super) struct Dht {
    provided: HashSet<Vec<u8>>,
    provider_queries: HashMap<QueryId, ProviderQuery>,
    /// Who waits for an announce to be stored (`Node::provide_stored`).
    provide_waiters: HashMap<QueryId, oneshot::Sender<bool>>,
}

fn announce(swarm: &mut Swarm<Behaviour>, key: &[u8]) -> Option<QueryId> {
    match swarm.behaviour_mut().kad.start_providing(kad::RecordKey::new(&key)) {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!("cannot announce in the DHT: {e}");
            None
        }
    }
}

impl Dht {
    pub(super) fn provide(&mut self, swarm: &mut Swarm<Behaviour>, key: Vec<u8>, stored: Option<oneshot::Sender<bool>>) {
        if let (Some(id), Some(tx)) = (announce(swarm, &key), stored) {
            self.provide_waiters.insert(id, tx);
        }
        self.provided.insert(key);
    }

    pub(super) fn unprovide(&mut self, swarm: &mut Swarm<Behaviour>, key: &[u8]) {
        swarm.behaviour_mut().kad.stop_providing(&kad::RecordKey::new(&key));
        self.provided.remove(key);
    }

    pub(super) fn providers(&mut self, swarm: &mut Swarm<Behaviour>, key: Vec<u8>, reply: oneshot::Sender<Vec<PeerId>>) {
        let id = swarm.behaviour_mut().kad.get_providers(kad::RecordKey::new(&key));
        self.provider_queries.insert(id, ProviderQuery { reply: Some(reply), found: Vec::new() });
    }

    /// Records announced before carried no (or stale) addresses.
    pub(super) fn reannounce(&mut self, swarm: &mut Swarm<Behaviour>) {
        for k in &self.provided {
            announce(swarm, k);
        }
    }

    pub(super) fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: kad::Event) {
        let kad::Event::OutboundQueryProgressed { id, result, step, .. } = event else {
            tracing::trace!("kad: {event:?}");
            return;
        };
        tracing::debug!(?id, last = step.last, "DHT query: {result:?}");
        match result {
            QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders { providers, .. })) => {
                let me = *swarm.local_peer_id();
                let new: Vec<PeerId> = providers.into_iter().filter(|p| *p != me).collect();
                // Kademlia forgets the providers' addresses when the query
                // ends, so dial now while it can still hand them out.
                for p in &new {
                    if !swarm.is_connected(p) {
                        let _ = swarm.dial(DialOpts::peer_id(*p).condition(PeerCondition::DisconnectedAndNotDialing).build());
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
}
