//! Calls as the daemon sees them: which peers are in which room's call, our
//! own call (at most one), signaling over the room protocol, and admission of
//! incoming voice streams.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use apero_control::{AudioDevicesInfo, CallStatus, Event, Participant};
use libp2p::PeerId;

use super::backend::{self, BackendConfig};
use super::codec::Decoder;
use super::engine::{lock, Engine, Shared};
use super::jitter::JitterBuffer;
use super::transport::{self, Admission, Design, VoiceCounters};
use crate::app::{App, AppError, AppResult};
use crate::wire::{PeerRequest, PeerResponse, RefuseReason};

#[derive(Debug, Clone)]
pub struct VoiceConfig {
    pub backend: String,
    pub audio: BackendConfig,
    pub design: Design,
}

struct LocalCall {
    room: String,
    room_bytes: [u8; 16],
    engine: Engine,
    shared: Arc<Shared>,
}

pub struct Voice {
    config: Mutex<VoiceConfig>,
    local: Mutex<Option<LocalCall>>,
    /// Who we know to be in each room's call (other peers only).
    remote: Mutex<HashMap<String, HashSet<PeerId>>>,
    control: libp2p_stream::Control,
    pub counters: Arc<VoiceCounters>,
}

impl Voice {
    pub fn new(config: VoiceConfig, control: libp2p_stream::Control) -> Result<Voice, backend::AudioError> {
        // Fail at start, not at the first call, when the backend is misconfigured.
        backend::by_name(&config.backend, &config.audio)?;
        Ok(Voice {
            config: Mutex::new(config),
            local: Mutex::new(None),
            remote: Mutex::new(HashMap::new()),
            control,
            counters: Arc::new(VoiceCounters::default()),
        })
    }

    pub fn control(&self) -> libp2p_stream::Control {
        self.control.clone()
    }

    /// Whether we are in a call (in any room): file transfers then pace
    /// themselves so the call keeps the path.
    pub fn in_call(&self) -> bool {
        lock(&self.local).is_some()
    }

    pub fn call_size(&self, room: &str) -> (usize, bool) {
        let others = lock(&self.remote).get(room).map(|s| s.len()).unwrap_or(0);
        let me = lock(&self.local).as_ref().is_some_and(|c| c.room == room);
        (others + me as usize, me)
    }
}

fn room_bytes(room: &str) -> AppResult<[u8; 16]> {
    let mut b = [0u8; 16];
    hex::decode_to_slice(room, &mut b).map_err(|_| AppError::NotFound("corrupt room id".into()))?;
    Ok(b)
}

impl App {
    fn participants(&self, room: &str) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.voice.remote).get(room).map(|s| s.iter().map(|p| p.to_string()).collect()).unwrap_or_default();
        if lock(&self.voice.local).as_ref().is_some_and(|c| c.room == room) {
            v.push(self.peer_id.to_string());
        }
        v.sort();
        v
    }

    fn announce_call(&self, room: &str) {
        self.emit(Event::CallChanged { room: room.to_string(), participants: self.participants(room) });
    }

    /// Starts receiving from and sending to `peer` in our call.
    fn add_to_local_call(&self, peer: PeerId) {
        let local = lock(&self.voice.local);
        let Some(call) = local.as_ref() else { return };
        let design = lock(&self.voice.config).design;
        let mut peers = lock(&call.shared.peers);
        if !peers.contains_key(&peer) {
            match Decoder::new() {
                Ok(d) => {
                    peers.insert(peer, JitterBuffer::new(d));
                }
                Err(e) => return tracing::error!("opus decoder: {e}"),
            }
        }
        drop(peers);
        let mut senders = lock(&call.shared.senders);
        if !senders.get(&peer).is_some_and(|tx| !tx.is_closed()) {
            let tx = transport::spawn_sender(self.voice.control(), peer, call.room_bytes, call.shared.clone(), self.voice.counters.clone(), design);
            senders.insert(peer, tx);
        }
    }

    fn remove_from_local_call(&self, peer: &PeerId) {
        if let Some(call) = lock(&self.voice.local).as_ref() {
            lock(&call.shared.senders).remove(peer);
            lock(&call.shared.peers).remove(peer);
            lock(&call.shared.reported_loss).remove(peer);
        }
    }

    async fn signal(self: &Arc<Self>, room: &str, joined: bool, only: Option<PeerId>) {
        let Ok(info) = self.node.info().await else { return };
        let mut asks = Vec::new();
        for p in info.peers {
            if only.is_some_and(|o| o != p.peer) || !self.store.is_member(room, &p.peer.to_string()).unwrap_or(false) {
                continue;
            }
            let app = self.clone();
            let room = room.to_string();
            asks.push(tokio::spawn(async move {
                let req = PeerRequest::Call { room: room.clone(), joined };
                if let Ok(PeerResponse::CallState { in_call }) = app.node.request(p.peer, vec![], req).await {
                    app.note_remote(&room, p.peer, in_call);
                }
            }));
        }
        for a in asks {
            let _ = a.await;
        }
    }

    fn note_remote(&self, room: &str, peer: PeerId, in_call: bool) {
        let changed = {
            let mut remote = lock(&self.voice.remote);
            let set = remote.entry(room.to_string()).or_default();
            if in_call { set.insert(peer) } else { set.remove(&peer) }
        };
        let ours = lock(&self.voice.local).as_ref().is_some_and(|c| c.room == room);
        if ours {
            if in_call {
                self.add_to_local_call(peer);
            } else {
                self.remove_from_local_call(&peer);
            }
        }
        if changed {
            self.announce_call(room);
        }
    }

    pub async fn call_join(self: &Arc<Self>, room: &str) -> AppResult<CallStatus> {
        let room = self.resolve_room(room)?;
        if lock(&self.voice.local).as_ref().is_some_and(|c| c.room == room.id) {
            return self.call_status().await;
        }
        self.call_leave().await?;
        let config = lock(&self.voice.config).clone();
        let backend = backend::by_name(&config.backend, &config.audio).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let shared = Shared::new();
        let engine = Engine::start(backend.as_ref(), shared.clone()).map_err(|e| AppError::BadRequest(format!("cannot start audio: {e}")))?;
        *lock(&self.voice.local) = Some(LocalCall { room: room.id.clone(), room_bytes: room_bytes(&room.id)?, engine, shared });
        let known: Vec<PeerId> = lock(&self.voice.remote).get(&room.id).map(|s| s.iter().copied().collect()).unwrap_or_default();
        for p in known {
            self.add_to_local_call(p);
        }
        self.announce_call(&room.id);
        self.signal(&room.id, true, None).await;
        tracing::info!(room = %room.id, backend = %config.backend, "joined the call");
        self.call_status().await
    }

    pub async fn call_leave(self: &Arc<Self>) -> AppResult<()> {
        let Some(call) = lock(&self.voice.local).take() else { return Ok(()) };
        let room = call.room.clone();
        lock(&call.shared.senders).clear();
        let stopped = tokio::task::spawn_blocking(move || call.engine.stop()).await;
        self.announce_call(&room);
        self.signal(&room, false, None).await;
        tracing::info!(%room, "left the call");
        match stopped {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AppError::BadRequest(format!("the audio backend did not stop cleanly: {e}"))),
            Err(_) => Err(AppError::BadRequest("the audio backend panicked while stopping".into())),
        }
    }

    pub async fn set_muted(&self, muted: bool) -> AppResult<CallStatus> {
        match lock(&self.voice.local).as_ref() {
            Some(c) => c.shared.muted.store(muted, Ordering::Relaxed),
            None => return Err(AppError::NotFound("you are in no call; join one with `apero call join ROOM`".into())),
        }
        self.call_status().await
    }

    pub async fn call_status(&self) -> AppResult<CallStatus> {
        let links: HashMap<PeerId, (bool, Option<f64>)> = self
            .node
            .info()
            .await
            .map(|i| i.peers.into_iter().map(|p| (p.peer, (p.relayed, p.rtt.map(|d| d.as_secs_f64() * 1000.0)))).collect())
            .unwrap_or_default();
        let local = lock(&self.voice.local);
        let backend = lock(&self.voice.config).backend.clone();
        let Some(call) = local.as_ref() else {
            return Ok(CallStatus { room: None, room_name: None, muted: false, backend, participants: vec![], timing: None, sent_bytes: 0 });
        };
        let name = self.store.room(&call.room)?.map(|r| r.name);
        let me = self.peer_id.to_string();
        let mut participants = vec![Participant {
            peer_id: me,
            name: self.name.clone(),
            is_self: true,
            speaking: call.shared.speaking.load(Ordering::Relaxed),
            muted: call.shared.muted.load(Ordering::Relaxed),
            path: "local".into(),
            rtt_ms: None,
            loss_pct: 0.0,
            jitter_ms: 0.0,
            latency_ms: None,
            stats: None,
        }];
        for (peer, jb) in lock(&call.shared.peers).iter() {
            let link = links.get(peer);
            let rtt = link.and_then(|l| l.1);
            participants.push(Participant {
                peer_id: peer.to_string(),
                name: self.store.author_name(&call.room, &peer.to_string()).unwrap_or_default(),
                is_self: false,
                speaking: jb.speaking(),
                muted: jb.muted(),
                path: link.map(|l| if l.0 { "relayed" } else { "direct" }).unwrap_or("unknown").to_string(),
                rtt_ms: rtt,
                loss_pct: (jb.loss_pct * 10.0).round() / 10.0,
                jitter_ms: (jb.jitter_ms() * 10.0).round() / 10.0,
                // One-way network time, the jitter buffer, one frame to fill,
                // one in the playback ring, and Opus' look-ahead.
                latency_ms: rtt.map(|r| (r / 2.0 + jb.target_ms() + 10.0 + 10.0 + 6.5).round()),
                stats: serde_json::to_value(jb.stats).ok(),
            });
        }
        let timing = serde_json::to_value(call.engine.timing()).ok();
        Ok(CallStatus { room: Some(call.room.clone()), room_name: name, muted: call.shared.muted.load(Ordering::Relaxed), backend, participants, timing, sent_bytes: call.shared.sent_bytes.load(Ordering::Relaxed) })
    }

    pub fn audio_devices(&self) -> AppResult<AudioDevicesInfo> {
        let config = lock(&self.voice.config).clone();
        let b = backend::by_name(&config.backend, &config.audio).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let d = b.devices().map_err(|e| AppError::BadRequest(e.to_string()))?;
        Ok(AudioDevicesInfo {
            backend: config.backend,
            inputs: d.inputs,
            outputs: d.outputs,
            default_input: d.default_input,
            default_output: d.default_output,
            input: config.audio.input,
            output: config.audio.output,
        })
    }

    /// Switches devices; a running call moves to them at once.
    pub async fn audio_use(self: &Arc<Self>, input: Option<String>, output: Option<String>) -> AppResult<AudioDevicesInfo> {
        {
            let mut config = lock(&self.voice.config);
            if input.is_some() {
                config.audio.input = input;
            }
            if output.is_some() {
                config.audio.output = output;
            }
        }
        let room = lock(&self.voice.local).as_ref().map(|c| c.room.clone());
        if let Some(room) = room {
            let config = lock(&self.voice.config).clone();
            let backend = backend::by_name(&config.backend, &config.audio).map_err(|e| AppError::BadRequest(e.to_string()))?;
            let old = {
                let mut local = lock(&self.voice.local);
                match local.as_mut() {
                    Some(call) => {
                        let engine = Engine::start(backend.as_ref(), call.shared.clone())
                            .map_err(|e| AppError::BadRequest(format!("cannot open the new devices: {e}")))?;
                        Some(std::mem::replace(&mut call.engine, engine))
                    }
                    None => None,
                }
            };
            if let Some(old) = old {
                let _ = tokio::task::spawn_blocking(move || old.stop()).await;
                tracing::info!(%room, "switched audio devices during the call");
            }
        }
        self.audio_devices()
    }

    /// Peer side of signaling.
    pub fn handle_call(&self, peer: PeerId, room: &str, joined: bool) -> AppResult<PeerResponse> {
        if !self.store.is_member(room, &peer.to_string())? {
            crate::app::Counters::bump(&self.counters.not_members, 1);
            return Ok(PeerResponse::Refused { reason: RefuseReason::UnknownRoom });
        }
        self.note_remote(room, peer, joined);
        let in_call = lock(&self.voice.local).as_ref().is_some_and(|c| c.room == room);
        Ok(PeerResponse::CallState { in_call })
    }

    /// A member connected: if we are in a call of a room we share, tell it.
    pub async fn call_on_connect(self: &Arc<Self>, peer: PeerId) {
        let room = lock(&self.voice.local).as_ref().map(|c| c.room.clone());
        if let Some(room) = room {
            if self.store.is_member(&room, &peer.to_string()).unwrap_or(false) {
                self.signal(&room, true, Some(peer)).await;
            }
        }
    }

    pub fn call_on_disconnect(&self, peer: PeerId) {
        let rooms: Vec<String> = {
            let mut remote = lock(&self.voice.remote);
            remote.iter_mut().filter_map(|(room, set)| set.remove(&peer).then(|| room.clone())).collect()
        };
        self.remove_from_local_call(&peer);
        for room in rooms {
            self.announce_call(&room);
        }
    }
}

/// Incoming voice streams: only from members of the room whose call we are in.
pub struct AppAdmission(pub std::sync::Weak<App>);

impl Admission for AppAdmission {
    fn admit(&self, peer: &PeerId, room: &[u8; 16]) -> Option<Arc<Shared>> {
        let app = self.0.upgrade()?;
        let (room_id, shared) = {
            let local = lock(&app.voice.local);
            let call = local.as_ref().filter(|c| &c.room_bytes == room)?;
            (call.room.clone(), call.shared.clone())
        };
        if !app.store.is_member(&room_id, &peer.to_string()).unwrap_or(false) {
            return None;
        }
        // Hearing someone is proof enough that they are in the call.
        app.note_remote(&room_id, *peer, true);
        Some(shared)
    }
}
