//! The daemon's state and logic, between the control socket and the network.
//!
//! `App` owns the database and a handle to the node. It runs one task that
//! consumes [`NodeEvent`]s (never blocking on the node, so the two cannot
//! deadlock) and one maintenance task that redials room peers and runs
//! periodic anti-entropy. Requests from peers and from the control socket are
//! each handled on their own task.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apero_control::{Dropped, ErrorKind, Event};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, watch};

use crate::node::{Node, NodeError, NodeEvent};
use crate::room::entry::{Body, Entry, Verified};
use crate::store::{Ingested, Store, StoreError};
use crate::wire::{PeerRequest, PeerResponse, BATCH_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    InvalidCode(String),
    #[error("{0}")]
    Expired(String),
    #[error("this invite code was revoked by the person who made it; ask them for a new one")]
    Revoked,
    #[error("this single-use invite code was already used; ask for a new one")]
    AlreadyUsed,
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    AlreadyMember(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl AppError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::NotFound(_) => ErrorKind::NotFound,
            AppError::Ambiguous(_) => ErrorKind::Ambiguous,
            AppError::BadRequest(_) => ErrorKind::BadRequest,
            AppError::TooLarge(_) => ErrorKind::TooLarge,
            AppError::InvalidCode(_) => ErrorKind::InvalidCode,
            AppError::Expired(_) => ErrorKind::Expired,
            AppError::Revoked => ErrorKind::Revoked,
            AppError::AlreadyUsed => ErrorKind::AlreadyUsed,
            AppError::Refused(_) => ErrorKind::Refused,
            AppError::Unreachable(_) => ErrorKind::Unreachable,
            AppError::AlreadyMember(_) => ErrorKind::AlreadyMember,
            AppError::Store(_) | AppError::Node(_) => ErrorKind::Internal,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[derive(Default)]
pub struct Counters {
    pub bad_frames: Arc<AtomicU64>,
    pub bad_signatures: AtomicU64,
    pub not_members: AtomicU64,
    pub refused_joins: AtomicU64,
    pub bad_control: AtomicU64,
    pub files: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Dropped {
        Dropped {
            bad_frames: self.bad_frames.load(Ordering::Relaxed),
            bad_signatures: self.bad_signatures.load(Ordering::Relaxed),
            not_members: self.not_members.load(Ordering::Relaxed),
            refused_joins: self.refused_joins.load(Ordering::Relaxed),
            bad_control: self.bad_control.load(Ordering::Relaxed),
            voice: 0,
            files: self.files.load(Ordering::Relaxed),
        }
    }
}

pub struct App {
    pub store: Store,
    pub node: Node,
    pub key: Keypair,
    pub peer_id: PeerId,
    pub name: String,
    pub home: PathBuf,
    pub events: broadcast::Sender<Event>,
    pub counters: Counters,
    pub shutdown: watch::Sender<bool>,
    pub voice: crate::voice::call::Voice,
    pub transfers: crate::files::transfer::Transfers,
    pub short: crate::room::short::ShortCodes,
    /// Last time a repair sync was started per (peer, room), to stop a peer
    /// from making us sync in a loop.
    repairs: Mutex<HashMap<(PeerId, String), Instant>>,
}

const EVENT_BACKLOG: usize = 1024;
const REDIAL_EVERY: Duration = Duration::from_secs(10);
const RESYNC_EVERY: Duration = Duration::from_secs(30);
const REPAIR_MIN_GAP: Duration = Duration::from_secs(5);

impl App {
    pub fn new(store: Store, node: Node, key: Keypair, name: String, home: PathBuf, counters: Counters, voice: crate::voice::call::Voice) -> Arc<App> {
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let (shutdown, _) = watch::channel(false);
        Arc::new(App {
            store,
            peer_id: node.peer_id,
            node,
            key,
            name,
            home,
            events,
            counters,
            shutdown,
            voice,
            transfers: Default::default(),
            short: Default::default(),
            repairs: Mutex::new(HashMap::new()),
        })
    }

    pub fn emit(&self, event: Event) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    pub async fn run_node_events(self: Arc<Self>, mut rx: mpsc::Receiver<NodeEvent>) {
        while let Some(event) = rx.recv().await {
            match event {
                NodeEvent::PeerConnected { peer, .. } => {
                    log_store(self.store.touch_peer(&peer.to_string()));
                    self.emit(Event::PeerConnected { peer_id: peer.to_string() });
                    let app = self.clone();
                    tokio::spawn(async move {
                        app.call_on_connect(peer).await;
                        app.sync_peer(peer).await;
                    });
                }
                NodeEvent::PeerDisconnected { peer } => {
                    self.call_on_disconnect(peer);
                    log_store(self.store.touch_peer(&peer.to_string()));
                    self.emit(Event::PeerDisconnected { peer_id: peer.to_string() });
                }
                NodeEvent::Identified { peer, listen_addrs } => {
                    let addrs: Vec<String> = listen_addrs.iter().map(|a| a.to_string()).collect();
                    log_store(self.store.save_addrs(&peer.to_string(), &addrs));
                }
                NodeEvent::NetworkChanged => {
                    let app = self.clone();
                    tokio::spawn(async move { app.redial().await });
                }
                NodeEvent::LanPeer { .. } => {}
                NodeEvent::InboundRequest { peer, request, channel } => {
                    let app = self.clone();
                    tokio::spawn(async move {
                        let response = app.handle_peer(peer, request).await;
                        app.node.respond(channel, response).await;
                    });
                }
            }
        }
    }

    /// Keeps us connected to everyone we share a room with, and in sync.
    pub async fn run_maintenance(self: Arc<Self>) {
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        let mut resync = tokio::time::interval(RESYNC_EVERY);
        resync.reset(); // The first sync happens on connect.
        let mut stop = self.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = redial.tick() => self.redial().await,
                _ = resync.tick() => {
                    if let Ok(info) = self.node.info().await {
                        for p in info.peers {
                            let app = self.clone();
                            tokio::spawn(async move { app.sync_peer(p.peer).await });
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
        match self.store.all_room_peers(&self.peer_id.to_string()) {
            Ok(peers) => self.set_relay_members(&peers),
            Err(e) => tracing::warn!("cannot list room peers for the relay: {e}"),
        }
    }

    fn set_relay_members(&self, peers: &[String]) {
        self.node.relay_members.replace(peers.iter().filter_map(|p| p.parse().ok()));
    }

    async fn redial(&self) {
        let peers = match self.store.all_room_peers(&self.peer_id.to_string()) {
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
            let addrs = self.known_addrs(&p);
            if !addrs.is_empty() {
                self.node.dial(peer, addrs).await;
            }
        }
    }

    pub fn known_addrs(&self, peer: &str) -> Vec<Multiaddr> {
        self.store.addrs(peer).unwrap_or_default().iter().filter_map(|a| a.parse().ok()).collect()
    }

    /// Signs a new local entry, stores it durably, and spreads it.
    pub async fn publish(self: &Arc<Self>, room: &str, body: Body) -> AppResult<Verified> {
        let lamport = if matches!(body, Body::Create { .. }) { 1 } else { self.store.next_lamport(room)? };
        let v = Entry::sign(&self.key, room, lamport, crate::store::now_ms(), body);
        let allow_create = lamport == 1;
        let result = self.store.ingest(room, vec![v.entry.clone()], allow_create)?;
        if result.inserted.is_empty() {
            return Err(AppError::Refused("you are no longer a member of this room".into()));
        }
        self.announce(room, &result.inserted);
        self.spread(room, vec![v.entry.clone()], None).await;
        Ok(v)
    }

    /// Tells local subscribers about newly stored entries.
    pub fn announce(&self, room: &str, inserted: &[Verified]) {
        if inserted.iter().any(|v| matches!(v.entry.body, Body::Create { .. } | Body::Admit { .. } | Body::Leave)) {
            self.refresh_relay_members();
        }
        for v in inserted {
            let author = v.author.to_string();
            match &v.entry.body {
                Body::Message { text } => {
                    let author_name = self.store.author_name(room, &author).unwrap_or_default();
                    self.emit(Event::Message {
                        room: room.to_string(),
                        message: apero_control::MessageInfo {
                            id: v.id.clone(),
                            room: room.to_string(),
                            author,
                            author_name,
                            text: text.clone(),
                            time: v.entry.time,
                            lamport: v.entry.lamport,
                        },
                    });
                }
                Body::Admit { member, name } => {
                    self.emit(Event::MemberJoined { room: room.to_string(), peer_id: member.clone(), name: name.clone() })
                }
                Body::Leave => {
                    let name = self.store.author_name(room, &author).unwrap_or_default();
                    self.emit(Event::MemberLeft { room: room.to_string(), peer_id: author, name })
                }
                Body::Offer { file, .. } => {
                    if let Ok(Some(info)) = self.file_info(room, file) {
                        self.emit(Event::FileOffered { room: room.to_string(), file: info });
                    }
                }
                Body::Create { .. } | Body::Have { .. } => {}
            }
        }
    }

    /// Counts what a batch from a peer contained that we had to drop.
    pub fn count_rejects(&self, r: &Ingested) {
        Counters::bump(&self.counters.bad_signatures, r.bad_signature as u64);
        Counters::bump(&self.counters.not_members, r.not_member as u64);
        Counters::bump(&self.counters.bad_frames, r.malformed as u64);
    }

    /// Sends entries to every connected member of the room except `except`.
    /// Members that are offline get them by anti-entropy when they return.
    pub async fn spread(self: &Arc<Self>, room: &str, entries: Vec<Entry>, except: Option<PeerId>) {
        let Ok(info) = self.node.info().await else { return };
        let mut sends = Vec::new();
        for p in info.peers {
            if Some(p.peer) == except || !self.store.is_member(room, &p.peer.to_string()).unwrap_or(false) {
                continue;
            }
            for batch in batches(&entries) {
                let app = self.clone();
                let req = PeerRequest::Push { room: room.to_string(), entries: batch };
                sends.push(tokio::spawn(async move {
                    if let Err(e) = app.node.request(p.peer, vec![], req).await {
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
    pub fn schedule_repair(self: &Arc<Self>, peer: PeerId, room: &str) {
        let key = (peer, room.to_string());
        {
            let mut repairs = self.repairs.lock().unwrap_or_else(|p| p.into_inner());
            if repairs.get(&key).is_some_and(|t| t.elapsed() < REPAIR_MIN_GAP) {
                return;
            }
            repairs.insert(key, Instant::now());
        }
        let app = self.clone();
        let room = room.to_string();
        tokio::spawn(async move { app.sync_room(peer, &room).await });
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

pub fn log_store<T>(r: Result<T, StoreError>) {
    if let Err(e) = r {
        tracing::warn!("database: {e}");
    }
}

/// Routes a peer's request to its handler.
impl App {
    pub async fn handle_peer(self: &Arc<Self>, peer: PeerId, request: PeerRequest) -> PeerResponse {
        let result = match request {
            PeerRequest::Join { code, name } => self.handle_join(peer, &code, &name).await,
            PeerRequest::Sync { room, digests } => self.handle_sync(peer, &room, digests),
            PeerRequest::Fetch { room, ids } => self.handle_fetch(peer, &room, &ids),
            PeerRequest::Push { room, entries } => self.handle_push(peer, &room, entries).await,
            PeerRequest::Call { room, joined } => self.handle_call(peer, &room, joined),
            PeerRequest::ShortJoin { number, pake } => self.handle_short_join(peer, number, &pake).await,
        };
        result.unwrap_or_else(|e| {
            tracing::warn!(%peer, "failed to answer a peer: {e}");
            PeerResponse::Refused { reason: crate::wire::RefuseReason::BadRequest }
        })
    }
}
