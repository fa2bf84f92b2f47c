//! The room service: owns membership, invites, chat history and sync. It
//! signs and spreads our entries, takes in the ones peers send, keeps us
//! connected to everyone we share a room with, and tells [`EntryListener`]s
//! (the file service) and local subscribers about what landed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, watch};

use apero_control::{Event, MessageInfo};

use crate::counters::Counters;
use crate::entry::{Body, Entry, Verified};
use crate::error::{ServiceError, ServiceResult};
use crate::events::EventSink;
use crate::handles::{EntryListener, Publisher};
use crate::lock::lock;
use crate::node::Node;
use crate::store::{Ingested, RoomRow, Store};
use crate::wire::{PeerRequest, BATCH_BYTES};

const REDIAL_EVERY: Duration = Duration::from_secs(10);
const RESYNC_EVERY: Duration = Duration::from_secs(30);
const REPAIR_MIN_GAP: Duration = Duration::from_secs(5);
/// Address changes come in bursts (one per listener at start-up, several on
/// a network switch): one redial after the burst serves them all.
const REDIAL_DEBOUNCE: Duration = Duration::from_millis(250);

/// Who we are, as the room service signs and introduces us.
pub struct Identity {
    pub key: Keypair,
    pub peer_id: PeerId,
    pub name: crate::identity::Name,
    /// The state directory, shown by `status`.
    pub home: PathBuf,
}

pub struct Rooms {
    pub(super) store: Arc<Store>,
    pub(super) node: Node,
    pub(super) me: Arc<Identity>,
    pub(super) events: EventSink,
    pub(super) counters: Arc<Counters>,
    listeners: RwLock<Vec<Weak<dyn EntryListener>>>,
    /// Last time a repair sync was started per (peer, room), to stop a peer
    /// from making us sync in a loop.
    repairs: Mutex<HashMap<(PeerId, String), Instant>>,
    /// Peer bookkeeping (last seen, addresses) goes to a writer of its own:
    /// the node events that cause it must never wait on an fsync.
    notes: mpsc::Sender<Note>,
    /// A debounced redial is waiting to run.
    redial_due: AtomicBool,
    /// DHT keys we announce for the room's live invite codes.
    /// Held across the announcements it decides (an async lock): two
    /// refreshes in a row (a code made, then revoked) must reach the DHT
    /// in their order, or a withdrawn code would stay announced.
    pub(super) rendezvous: tokio::sync::Mutex<std::collections::HashSet<Vec<u8>>>,
}

enum Note {
    Seen(PeerId),
    Addrs(PeerId, Vec<String>),
}

/// Notes waiting for the writer; past this they are shed (and counted):
/// they are refreshed on the next connection or identify anyway.
const NOTES_QUEUE: usize = 1024;

impl Rooms {
    pub fn new(store: Arc<Store>, node: Node, me: Arc<Identity>, events: EventSink, counters: Arc<Counters>) -> Arc<Rooms> {
        let (notes, mut rx) = mpsc::channel(NOTES_QUEUE);
        let writer = store.clone();
        // A thread of its own: SQLite's fsync must not hold up a runtime worker.
        tokio::task::spawn_blocking(move || {
            while let Some(note) = rx.blocking_recv() {
                match note {
                    Note::Seen(peer) => log_store(writer.touch_peer(&peer.to_string())),
                    Note::Addrs(peer, addrs) => log_store(writer.save_addrs(&peer.to_string(), &addrs)),
                }
            }
        });
        Arc::new(Rooms {
            store,
            node,
            me,
            events,
            counters,
            listeners: RwLock::default(),
            repairs: Mutex::default(),
            notes,
            redial_due: AtomicBool::new(false),
            rendezvous: tokio::sync::Mutex::default(),
        })
    }

    pub fn peer_id(&self) -> PeerId {
        self.me.peer_id
    }

    /// Adds a listener for newly stored entries (held weakly: the
    /// composition root owns the services).
    pub fn listen(&self, listener: Weak<dyn EntryListener>) {
        self.listeners.write().unwrap_or_else(|p| p.into_inner()).push(listener);
    }

    /// A handle through which other services publish entries.
    pub fn publisher(self: &Arc<Self>) -> Arc<dyn Publisher> {
        Arc::new(RoomPublisher(Arc::downgrade(self)))
    }

    /// A room by id, unambiguous id prefix, or name.
    pub fn resolve_room(&self, query: &str) -> ServiceResult<RoomRow> {
        let query = query.trim();
        let rooms = self.store.rooms(false)?;
        if let Some(r) = rooms.iter().find(|r| r.id == query) {
            return Ok(r.clone());
        }
        let by_name: Vec<&RoomRow> = rooms.iter().filter(|r| r.name == query).collect();
        match by_name.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            many => {
                let ids: Vec<&str> = many.iter().map(|r| r.id.as_str()).collect();
                return Err(ServiceError::Ambiguous(format!(
                    "{} rooms are called {query:?}; use an id instead: {}",
                    ids.len(),
                    ids.join(", ")
                )));
            }
        }
        let by_prefix: Vec<&RoomRow> =
            if query.len() >= 4 { rooms.iter().filter(|r| r.id.starts_with(query)).collect() } else { Vec::new() };
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ServiceError::NotFound(format!("you are in no room called {query:?}; `apero room list` shows your rooms"))),
            many => Err(ServiceError::Ambiguous(format!("{} room ids start with {query:?}; type more of it", many.len()))),
        }
    }

    /// Keeps us connected to everyone we share a room with, and in sync.
    pub async fn run_maintenance(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        let mut resync = tokio::time::interval(RESYNC_EVERY);
        resync.reset(); // The first sync happens on connect.
        self.share_old_invites().await;
        loop {
            tokio::select! {
                _ = redial.tick() => {
                    self.redial().await;
                    // Also withdraws codes that expired since.
                    self.refresh_rendezvous().await;
                }
                _ = resync.tick() => {
                    if let Ok(info) = self.node.info().await {
                        for p in info.peers {
                            let rooms = self.clone();
                            tokio::spawn(async move { rooms.sync_peer(p.peer).await });
                        }
                    }
                }
                _ = stop.changed() => break,
            }
        }
    }

    /// Who may use us as a relay if we turn out to be public: everyone we
    /// share a room with. Called before a join is answered, so the newcomer
    /// can reach the others through us at once.
    pub fn refresh_relay_members(&self) {
        match self.store.all_room_peers(&self.me.peer_id.to_string()) {
            Ok(peers) => self.set_relay_members(&peers),
            Err(e) => tracing::warn!("cannot list room peers for the relay: {e}"),
        }
    }

    fn set_relay_members(&self, peers: &[String]) {
        self.node.relay_members.replace(peers.iter().filter_map(|p| p.parse().ok()));
    }

    /// Our addresses changed: redial once the burst of changes is over.
    pub fn redial_soon(self: &Arc<Self>) {
        if self.redial_due.swap(true, Ordering::AcqRel) {
            return;
        }
        let rooms = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REDIAL_DEBOUNCE).await;
            rooms.redial_due.store(false, Ordering::Release);
            rooms.redial().await;
        });
    }

    pub async fn redial(&self) {
        let peers = match self.store.all_room_peers(&self.me.peer_id.to_string()) {
            Ok(p) => p,
            Err(e) => return tracing::warn!("cannot list room peers: {e}"),
        };
        // Also catches rooms we left, whose members no longer need us.
        self.set_relay_members(&peers);
        let Ok(info) = self.node.info().await else { return };
        let connected: Vec<PeerId> = info.peers.iter().map(|p| p.peer).collect();
        for p in peers {
            let Ok(peer) = p.parse::<PeerId>() else { continue };
            if connected.contains(&peer) {
                continue;
            }
            let addrs = self.store.known_addrs(&p);
            if !addrs.is_empty() {
                self.node.dial(peer, addrs).await;
            }
        }
    }

    /// Signs a new local entry, stores it durably, and spreads it.
    pub async fn publish(self: &Arc<Self>, room: &str, body: Body) -> ServiceResult<Verified> {
        let lamport = if matches!(body, Body::Create { .. }) { 1 } else { self.store.next_lamport(room)? };
        let v = Entry::sign(&self.me.key, room, lamport, crate::store::now_ms(), body);
        let allow_create = lamport == 1;
        let result = self.store.ingest(room, vec![v.entry.clone()], allow_create)?;
        if result.inserted.is_empty() {
            return Err(ServiceError::Refused("you are no longer a member of this room".into()));
        }
        self.announce(room, &result.inserted);
        self.spread(room, vec![v.entry.clone()], None).await;
        if let Body::Remove { member } = &v.entry.body {
            // No longer a member, so `spread` passed it by: it is told all the same.
            if let Ok(peer) = member.parse::<PeerId>() {
                let req = PeerRequest::Push { room: room.to_string(), entries: vec![v.entry.clone()] };
                if let Err(e) = self.node.request(peer, vec![], req).await {
                    tracing::debug!(%peer, "could not tell a removed member: {e}");
                }
            }
        }
        Ok(v)
    }

    /// Tells local subscribers and listeners about newly stored entries.
    pub(super) fn announce(&self, room: &str, inserted: &[Verified]) {
        if inserted.is_empty() {
            return;
        }
        if inserted.iter().any(|v| matches!(v.entry.body, Body::Create { .. } | Body::Admit { .. } | Body::Leave | Body::Remove { .. })) {
            self.refresh_relay_members();
        }
        for v in inserted {
            let author = v.author.to_string();
            match &v.entry.body {
                Body::Message { .. } => {
                    if let Some(message) = self.stored_message(room, &v.id) {
                        self.events.emit(Event::Message { room: room.to_string(), message });
                    }
                }
                Body::Edit { message, .. } | Body::React { message, .. } => {
                    if let Some(message) = self.stored_message(room, message) {
                        self.events.emit(Event::MessageChanged { room: room.to_string(), message });
                    }
                }
                Body::Delete { message } => {
                    if self.store.message_deleted(room, message).unwrap_or(false) {
                        self.events.emit(Event::MessageDeleted { room: room.to_string(), id: message.clone() });
                    }
                }
                Body::Admit { member, name, .. } => {
                    self.events.emit(Event::MemberJoined { room: room.to_string(), peer_id: member.clone(), name: name.clone() })
                }
                Body::Leave => {
                    let name = self.store.author_name(room, &author).unwrap_or_default();
                    self.events.emit(Event::MemberLeft { room: room.to_string(), peer_id: author, name })
                }
                Body::Rename { name } => self.events.emit(Event::MemberRenamed {
                    room: room.to_string(),
                    peer_id: author,
                    name: self.store.author_name(room, &v.author.to_string()).unwrap_or_else(|_| name.clone()),
                }),
                Body::Offer { .. }
                | Body::Channel { .. }
                | Body::Role { .. }
                | Body::Remove { .. }
                | Body::Move { .. }
                | Body::Mute { .. }
                | Body::Breakout { .. }
                | Body::BreakoutEnd { .. }
                | Body::Help { .. }
                | Body::Create { .. }
                | Body::Have { .. }
                | Body::Partial { .. }
                | Body::Dropped { .. }
                | Body::Invite { .. }
                | Body::Revoke { .. } => {}
            }
        }
        let listeners: Vec<Arc<dyn EntryListener>> =
            self.listeners.read().unwrap_or_else(|p| p.into_inner()).iter().filter_map(Weak::upgrade).collect();
        for l in listeners {
            l.inserted(room, inserted);
        }
    }

    /// A message as it reads now (edits and reactions folded in).
    fn stored_message(&self, room: &str, id: &str) -> Option<MessageInfo> {
        match self.store.message(room, id) {
            Ok(m) => m.map(|m| self.message_info(m)),
            Err(e) => {
                tracing::warn!("database: {e}");
                None
            }
        }
    }

    /// Counts what a batch from a peer contained that we had to drop.
    pub(super) fn count_rejects(&self, r: &Ingested) {
        Counters::bump(&self.counters.not_author, r.not_author as u64);
        Counters::bump(&self.counters.not_host, r.not_host as u64);
        Counters::bump(&self.counters.bad_signatures, r.bad_signature as u64);
        Counters::bump(&self.counters.not_members, r.not_member as u64);
        Counters::bump(&self.counters.bad_frames, r.malformed as u64);
    }

    /// Sends entries to every connected member of the room except `except`.
    /// Members that are offline get them by anti-entropy when they return.
    pub(super) async fn spread(self: &Arc<Self>, room: &str, entries: Vec<Entry>, except: Option<PeerId>) {
        let Ok(info) = self.node.info().await else { return };
        let mut sends = Vec::new();
        for p in info.peers {
            if Some(p.peer) == except || !self.store.is_member(room, &p.peer.to_string()).unwrap_or(false) {
                continue;
            }
            for batch in batches(&entries) {
                let node = self.node.clone();
                let req = PeerRequest::Push { room: room.to_string(), entries: batch };
                sends.push(tokio::spawn(async move {
                    if let Err(e) = node.request(p.peer, vec![], req).await {
                        tracing::debug!(peer = %p.peer, "push failed (sync will catch up): {e}");
                    }
                }));
            }
        }
        for s in sends {
            let _ = s.await;
        }
    }

    /// Starts a repair sync with `peer` unless one ran very recently.
    pub(super) fn schedule_repair(self: &Arc<Self>, peer: PeerId, room: &str) {
        let key = (peer, room.to_string());
        {
            let mut repairs = lock(&self.repairs);
            if repairs.get(&key).is_some_and(|t| t.elapsed() < REPAIR_MIN_GAP) {
                return;
            }
            repairs.insert(key, Instant::now());
        }
        let rooms = self.clone();
        let room = room.to_string();
        tokio::spawn(async move { rooms.sync_room(peer, &room).await });
    }

    /// A peer connected or went away: remember when we last saw it.
    pub fn note_seen(&self, peer: PeerId) {
        self.note(Note::Seen(peer));
    }

    /// A peer told us where it listens.
    pub fn note_addrs(&self, peer: PeerId, listen_addrs: &[Multiaddr]) {
        self.note(Note::Addrs(peer, listen_addrs.iter().map(|a| a.to_string()).collect()));
    }

    fn note(&self, note: Note) {
        if self.notes.try_send(note).is_err() {
            Counters::bump(&self.counters.shed_events, 1);
        }
    }
}

struct RoomPublisher(Weak<Rooms>);

impl Publisher for RoomPublisher {
    fn publish(&self, room: String, body: Body) -> BoxFuture<'static, ServiceResult<Verified>> {
        let rooms = self.0.upgrade();
        Box::pin(async move {
            match rooms {
                Some(r) => r.publish(&room, body).await,
                None => Err(ServiceError::Internal("the room service has stopped".into())),
            }
        })
    }
}

/// Splits entries into pushes that stay well under the frame cap.
pub fn batches(entries: &[Entry]) -> Vec<Vec<Entry>> {
    let mut out = vec![Vec::new()];
    let mut size = 0;
    for e in entries {
        let len = serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0);
        if size + len > BATCH_BYTES && !out.last().is_some_and(|b: &Vec<Entry>| b.is_empty()) {
            out.push(Vec::new());
            size = 0;
        }
        size += len;
        if let Some(last) = out.last_mut() {
            last.push(e.clone());
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

pub use crate::store::log_error as log_store;
