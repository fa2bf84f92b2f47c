//! The call service: which peers are in which room's call, our own call (at
//! most one), signaling over the room protocol, and admission of incoming
//! voice streams. The audio itself runs in [`Engine`]; per-peer state lives
//! in one [`PeerVoice`] each, inside [`Shared`].
//!
//! `Calls` and the call's life (join, leave, signaling) live here; the rest
//! of its methods are split by subject so that each file reads alone:
//! `status` (what `call status` shows), `devices` (devices, processing and
//! volumes), `check` (the sound check outside a call) and `watch` (levels
//! and device health sent as events).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use apero_control::{AudioProcessing, CallStatus, Event};
use libp2p::PeerId;

use super::backend::{self, BackendConfig};
use super::codec::Decoder;
use super::engine::{lock, processing_bits, Engine, PeerVoice, Shared};
use super::frame::channel_tag;
use super::jitter::JitterBuffer;
use super::kept;
use super::soundcheck::SoundCheck;
use super::transport::{self, Admission, CallKey, Design, VoiceCounters};
use crate::counters::Counters;
use crate::entry::host::GENERAL;
use crate::error::{ServiceError, ServiceResult};
use crate::events::EventSink;
use crate::handles::InCall;
use crate::node::Node;
use crate::store::{RoomRow, Store};
use crate::wire::{PeerRequest, PeerResponse, RefuseReason};

mod channel;
mod check;
mod devices;
mod status;
mod watch;

pub use devices::SettingsChange;

/// How long a peer gets to answer "I joined / left the call".
const SIGNAL_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct VoiceConfig {
    pub backend: String,
    pub audio: BackendConfig,
    pub design: Design,
    pub processing: AudioProcessing,
    /// What this run's environment and flags set (they win over what was kept).
    pub pinned: super::kept::Pinned,
}

struct LocalCall {
    room: String,
    /// The channel of the room we are in: we hear and are heard only there.
    channel: String,
    room_bytes: [u8; 16],
    engine: Engine,
    shared: Arc<Shared>,
    /// Tells this call from a later one, for its watcher.
    serial: u64,
}

/// What the call service is given.
pub struct CallDeps {
    pub store: Arc<Store>,
    pub node: Node,
    pub events: EventSink,
    pub counters: Arc<Counters>,
    /// Set while we are in a call: file transfers read it.
    pub in_call: InCall,
    /// Our display name, for our own line in `call status`.
    pub name: crate::identity::Name,
    /// The encoder's clean-path bitrate, kbit/s (0: the default).
    pub kbps: u32,
}

pub struct Calls {
    deps: CallDeps,
    peer_id: PeerId,
    config: Mutex<VoiceConfig>,
    local: Mutex<Option<LocalCall>>,
    /// The microphone test; never at the same time as a call.
    check: Mutex<Option<SoundCheck>>,
    /// Who we know to be in each room's call (other peers only), and in
    /// which channel.
    remote: Mutex<HashMap<String, HashMap<PeerId, String>>>,
    serials: std::sync::atomic::AtomicU64,
    pub counters: Arc<VoiceCounters>,
}

fn audio(what: &str) -> impl Fn(backend::AudioError) -> ServiceError + '_ {
    move |e| ServiceError::Audio(format!("{what}: {e}"))
}

impl Calls {
    pub fn new(mut config: VoiceConfig, deps: CallDeps) -> Result<Arc<Calls>, backend::AudioError> {
        kept::restore(&deps.store, config.pinned, &mut config.processing, &mut config.audio);
        // Fail at start, not at the first call, when the backend is misconfigured.
        backend::by_name(&config.backend, &config.audio)?;
        Ok(Arc::new(Calls {
            peer_id: deps.node.peer_id,
            deps,
            config: Mutex::new(config),
            local: Mutex::new(None),
            check: Mutex::new(None),
            remote: Mutex::new(HashMap::new()),
            serials: std::sync::atomic::AtomicU64::new(0),
            counters: Arc::new(VoiceCounters::default()),
        }))
    }

    /// Starts accepting voice streams, admitted by this service.
    pub fn spawn_accept_loop(self: &Arc<Self>) {
        let admission: Arc<dyn Admission> = Arc::new(CallAdmission(Arc::downgrade(self)));
        tokio::spawn(transport::accept_loop(self.deps.node.inbound.clone(), admission.clone(), self.counters.clone()));
        tokio::spawn(transport::datagram_loop(self.deps.node.datagrams.clone(), admission, self.counters.clone()));
    }

    /// Voice drops for `status`.
    pub fn dropped(&self) -> u64 {
        let v = &self.counters;
        [&v.bad, &v.flooded, &v.refused_streams, &v.bad_datagrams, &v.refused_datagrams, &v.flooded_datagrams]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// (malformed, refused) voice datagrams, for `status`.
    pub fn dropped_datagrams(&self) -> (u64, u64) {
        (self.counters.bad_datagrams.load(Ordering::Relaxed), self.counters.refused_datagrams.load(Ordering::Relaxed))
    }

    pub fn call_size(&self, room: &str) -> (usize, bool) {
        let others = lock(&self.remote).get(room).map(|s| s.len()).unwrap_or(0);
        let me = lock(&self.local).as_ref().is_some_and(|c| c.room == room);
        (others + me as usize, me)
    }

    fn participants(&self, room: &str) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.remote).get(room).map(|s| s.keys().map(|p| p.to_string()).collect()).unwrap_or_default();
        if lock(&self.local).as_ref().is_some_and(|c| c.room == room) {
            v.push(self.peer_id.to_string());
        }
        v.sort();
        v
    }

    fn announce_call(&self, room: &str) {
        self.deps.events.emit(Event::CallChanged { room: room.to_string(), participants: self.participants(room) });
        self.deps.events.emit(Event::ChannelsChanged { room: room.to_string() });
    }

    /// Starts receiving from and sending to `peer` in our call, when it is
    /// in our channel.
    fn add_to_local_call(&self, peer: PeerId) {
        let volume = kept::volume(&self.deps.store, &peer);
        let local = lock(&self.local);
        let Some(call) = local.as_ref() else { return };
        if !self.in_channel(&call.room, &peer, &call.channel) {
            return;
        }
        let design = lock(&self.config).design;
        let mut peers = lock(&call.shared.peers);
        let p = match peers.entry(peer) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => match Decoder::new() {
                Ok(d) => v.insert(PeerVoice { volume, ..PeerVoice::new(JitterBuffer::new(d)) }),
                Err(e) => return tracing::error!("opus decoder: {e}"),
            },
        };
        if p.sender.as_ref().is_none_or(|tx| tx.is_closed()) {
            let streams = self.deps.node.streams.clone();
            p.sender = Some(transport::spawn_sender(streams, peer, call.room_bytes, call.shared.clone(), self.counters.clone(), design));
        }
    }

    fn remove_from_local_call(&self, peer: &PeerId) {
        if let Some(call) = lock(&self.local).as_ref() {
            lock(&call.shared.peers).remove(peer);
        }
    }

    async fn signal(self: &Arc<Self>, room: &str, joined: bool, only: Option<PeerId>) {
        let Ok(info) = self.deps.node.info().await else { return };
        let channel = lock(&self.local).as_ref().filter(|c| c.room == room).map(|c| c.channel.clone());
        let mut asks = Vec::new();
        for p in info.peers {
            if only.is_some_and(|o| o != p.peer) || !self.deps.store.is_member(room, &p.peer.to_string()).unwrap_or(false) {
                continue;
            }
            let calls = self.clone();
            let room = room.to_string();
            let channel = channel.clone();
            asks.push(tokio::spawn(async move {
                let req = PeerRequest::Call { room: room.clone(), joined, channel };
                // A peer behind a dead connection must not hold up a join or a leave.
                let answer = tokio::time::timeout(SIGNAL_WAIT, calls.deps.node.request(p.peer, vec![], req)).await;
                if let Ok(Ok(PeerResponse::CallState { in_call, channel })) = answer {
                    calls.note_remote(&room, p.peer, in_call, channel);
                }
            }));
        }
        for a in asks {
            let _ = a.await;
        }
    }

    /// `channel` `None`: unchanged if known (a voice packet is proof of
    /// presence, not of a channel), else general.
    fn note_remote(&self, room: &str, peer: PeerId, in_call: bool, channel: Option<String>) {
        let changed = {
            let mut remote = lock(&self.remote);
            let set = remote.entry(room.to_string()).or_default();
            if in_call {
                let was = set.get(&peer).cloned();
                let now = channel.or_else(|| was.clone()).unwrap_or_else(|| GENERAL.to_string());
                set.insert(peer, now.clone());
                was.as_ref() != Some(&now)
            } else {
                set.remove(&peer).is_some()
            }
        };
        let ours = lock(&self.local).as_ref().is_some_and(|c| c.room == room);
        if ours {
            let here = in_call && lock(&self.local).as_ref().is_some_and(|c| self.in_channel(room, &peer, &c.channel));
            if here {
                self.add_to_local_call(peer);
            } else {
                self.remove_from_local_call(&peer);
            }
        }
        if changed {
            self.announce_call(room);
        }
    }

    /// Joins `room`'s call in `channel` (an id the caller checked).
    pub async fn join(self: &Arc<Self>, room: &RoomRow, channel: &str) -> ServiceResult<CallStatus> {
        if lock(&self.local).as_ref().is_some_and(|c| c.room == room.id) {
            self.switch_channel(&room.id, channel).await;
            return self.status().await;
        }
        self.leave().await?;
        // The call needs the devices, and is what the person wants now.
        self.sound_check_stop().await?;
        let room_bytes = room_bytes(&room.id)?;
        let config = lock(&self.config).clone();
        let backend = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
        let datagrams = (config.design == Design::Datagram).then(|| self.deps.node.datagrams.clone());
        let shared = Shared::new(channel_tag(&room_bytes, channel), datagrams);
        shared.processing.store(processing_bits(config.processing), Ordering::Relaxed);
        // A missing microphone or speaker does not stop the join (the cpal
        // backend stands in for it and says so in `call status`); only a
        // backend that cannot run at all does.
        let engine = Engine::start(backend.as_ref(), shared.clone(), self.deps.kbps).map_err(audio("cannot start audio"))?;
        let serial = self.serials.fetch_add(1, Ordering::Relaxed) + 1;
        *lock(&self.local) = Some(LocalCall { room: room.id.clone(), channel: channel.to_string(), room_bytes, engine, shared, serial });
        tokio::spawn(watch::watch(Arc::downgrade(self), serial));
        self.deps.in_call.set(true);
        let known: Vec<PeerId> = lock(&self.remote).get(&room.id).map(|s| s.keys().copied().collect()).unwrap_or_default();
        for p in known {
            self.add_to_local_call(p);
        }
        self.announce_call(&room.id);
        self.signal(&room.id, true, None).await;
        tracing::info!(room = %room.id, backend = %config.backend, "joined the call");
        self.status().await
    }

    pub async fn leave(self: &Arc<Self>) -> ServiceResult<()> {
        let Some(call) = lock(&self.local).take() else { return Ok(()) };
        self.deps.in_call.set(false);
        let room = call.room.clone();
        // Closing the queues ends the sender tasks.
        for p in lock(&call.shared.peers).values_mut() {
            p.sender = None;
        }
        let stopped = tokio::task::spawn_blocking(move || call.engine.stop()).await;
        self.announce_call(&room);
        self.signal(&room, false, None).await;
        tracing::info!(%room, "left the call");
        stopped_cleanly(stopped)
    }

    pub async fn set_muted(&self, muted: bool) -> ServiceResult<CallStatus> {
        match lock(&self.local).as_ref() {
            Some(c) => c.shared.muted.store(muted, Ordering::Relaxed),
            None => return Err(ServiceError::NotFound("you are in no call; join one with `apero call join ROOM`".into())),
        }
        self.status().await
    }

    /// Peer side of signaling.
    pub fn handle_call(&self, peer: PeerId, room: &str, joined: bool, channel: Option<String>) -> ServiceResult<PeerResponse> {
        if !self.deps.store.is_member(room, &peer.to_string())? {
            Counters::bump(&self.deps.counters.not_members, 1);
            return Ok(PeerResponse::Refused { reason: RefuseReason::UnknownRoom });
        }
        // From a daemon without channels: general.
        self.note_remote(room, peer, joined, Some(channel.unwrap_or_else(|| GENERAL.to_string())));
        let ours = lock(&self.local).as_ref().filter(|c| c.room == room).map(|c| c.channel.clone());
        Ok(PeerResponse::CallState { in_call: ours.is_some(), channel: ours })
    }

    /// A member connected: if we are in a call of a room we share, tell it.
    pub async fn on_connect(self: &Arc<Self>, peer: PeerId) {
        let room = lock(&self.local).as_ref().map(|c| c.room.clone());
        if let Some(room) = room {
            if self.deps.store.is_member(&room, &peer.to_string()).unwrap_or(false) {
                self.signal(&room, true, Some(peer)).await;
            }
        }
    }

    pub fn on_disconnect(&self, peer: PeerId) {
        let rooms: Vec<String> = {
            let mut remote = lock(&self.remote);
            remote.iter_mut().filter_map(|(room, set)| set.remove(&peer).map(|_| room.clone())).collect()
        };
        self.remove_from_local_call(&peer);
        for room in rooms {
            self.announce_call(&room);
        }
    }
}

/// What an engine stopped on a blocking thread came to.
fn stopped_cleanly(stopped: Result<Result<(), backend::AudioError>, tokio::task::JoinError>) -> ServiceResult<()> {
    match stopped {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ServiceError::Audio(format!("the audio backend did not stop cleanly: {e}"))),
        Err(e) => Err(ServiceError::Internal(format!("the audio backend panicked while stopping: {e}"))),
    }
}

fn room_bytes(room: &str) -> ServiceResult<[u8; 16]> {
    crate::store::room_bytes(room).ok_or_else(|| ServiceError::Internal(format!("corrupt room id {room:?} in the database")))
}

impl crate::handles::CallView for Calls {
    fn our_call(&self) -> Option<(String, Vec<PeerId>)> {
        let room = lock(&self.local).as_ref().map(|c| (c.room.clone(), c.channel.clone()))?;
        // Pictures, as voice, stay inside our channel.
        let others =
            lock(&self.remote).get(&room.0).map(|s| s.iter().filter(|(_, c)| **c == room.1).map(|(p, _)| *p).collect()).unwrap_or_default();
        Some((room.0, others))
    }
}

/// Incoming voice streams: only from members of the room whose call we are in.
struct CallAdmission(Weak<Calls>);

impl Admission for CallAdmission {
    fn admit(&self, peer: &PeerId, key: CallKey) -> Option<Arc<Shared>> {
        let calls = self.0.upgrade()?;
        let (room_id, shared, channel) = {
            let local = lock(&calls.local);
            let call = local.as_ref().filter(|c| match key {
                CallKey::Room(room) => c.room_bytes == room,
                CallKey::Tag(tag) => c.shared.tag() == tag,
            })?;
            (call.room.clone(), call.shared.clone(), call.channel.clone())
        };
        // A participant of our call was a member when it joined: no database
        // query for each of its 100 packets a second.
        if lock(&shared.peers).contains_key(peer) {
            return Some(shared);
        }
        if !calls.deps.store.is_member(&room_id, &peer.to_string()).unwrap_or(false) {
            return None;
        }
        // Hearing someone is proof enough that they are in the call; a
        // packet with our channel's tag, that they are in our channel (a move
        // is heard at its first packet, before its signal). A stream's
        // header names only the room: one known elsewhere stays unheard.
        let in_ours = matches!(key, CallKey::Tag(_)).then_some(channel);
        calls.note_remote(&room_id, *peer, true, in_ours);
        let here = lock(&shared.peers).contains_key(peer);
        here.then_some(shared)
    }
}
