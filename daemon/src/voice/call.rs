//! The call service: which peers are in which room's call, our own call (at
//! most one), signaling over the room protocol, and admission of incoming
//! voice streams. The audio itself runs in [`Engine`]; per-peer state lives
//! in one [`PeerVoice`] each, inside [`Shared`].

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use apero_control::{AudioDevicesInfo, AudioProcessing, AudioState, CallPath, CallStatus, Event, Level, Participant, SoundCheckState};
use libp2p::PeerId;

use super::backend::{self, BackendConfig};
use super::codec::Decoder;
use super::engine::{lock, processing_bits, Engine, PeerVoice, Shared};
use super::frame::call_tag;
use super::jitter::JitterBuffer;
use super::kept;
use super::soundcheck::{self, SoundCheck};
use super::transport::{self, Admission, CallKey, Design, VoiceCounters};
use crate::counters::Counters;
use crate::error::{ServiceError, ServiceResult};
use crate::events::EventSink;
use crate::handles::InCall;
use crate::node::Node;
use crate::store::{RoomRow, Store};
use crate::wire::{PeerRequest, PeerResponse, RefuseReason};

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

/// How often the call's watcher looks at levels and devices.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// Levels are sent again after this many ticks without a change (1 s).
const RESEND_LEVELS_TICKS: u32 = 10;

/// The settings `call settings` may change; `None` leaves one as it is.
#[derive(Debug, Default)]
pub struct SettingsChange {
    pub input: Option<String>,
    pub output: Option<String>,
    pub echo_cancel: Option<bool>,
    pub noise_suppression: Option<bool>,
    pub gain_control: Option<bool>,
}

struct LocalCall {
    room: String,
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
    /// Who we know to be in each room's call (other peers only).
    remote: Mutex<HashMap<String, HashSet<PeerId>>>,
    serials: std::sync::atomic::AtomicU64,
    pub counters: Arc<VoiceCounters>,
}

fn audio(what: &str) -> impl Fn(backend::AudioError) -> ServiceError + '_ {
    move |e| ServiceError::Audio(format!("{what}: {e}"))
}

/// A participant's numbers, taken under the peers lock and turned into a
/// [`Participant`] after it is released (names come from the database).
struct Snapshot {
    peer: PeerId,
    speaking: bool,
    muted: bool,
    loss_pct: f64,
    jitter_ms: f64,
    target_ms: f64,
    heard_by: Option<apero_control::VoicePath>,
    volume: u32,
    stats: Option<serde_json::Value>,
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
        let mut v: Vec<String> = lock(&self.remote).get(room).map(|s| s.iter().map(|p| p.to_string()).collect()).unwrap_or_default();
        if lock(&self.local).as_ref().is_some_and(|c| c.room == room) {
            v.push(self.peer_id.to_string());
        }
        v.sort();
        v
    }

    fn announce_call(&self, room: &str) {
        self.deps.events.emit(Event::CallChanged { room: room.to_string(), participants: self.participants(room) });
    }

    /// Starts receiving from and sending to `peer` in our call.
    fn add_to_local_call(&self, peer: PeerId) {
        let volume = kept::volume(&self.deps.store, &peer);
        let local = lock(&self.local);
        let Some(call) = local.as_ref() else { return };
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
        let mut asks = Vec::new();
        for p in info.peers {
            if only.is_some_and(|o| o != p.peer) || !self.deps.store.is_member(room, &p.peer.to_string()).unwrap_or(false) {
                continue;
            }
            let calls = self.clone();
            let room = room.to_string();
            asks.push(tokio::spawn(async move {
                let req = PeerRequest::Call { room: room.clone(), joined };
                // A peer behind a dead connection must not hold up a join or a leave.
                let answer = tokio::time::timeout(SIGNAL_WAIT, calls.deps.node.request(p.peer, vec![], req)).await;
                if let Ok(Ok(PeerResponse::CallState { in_call })) = answer {
                    calls.note_remote(&room, p.peer, in_call);
                }
            }));
        }
        for a in asks {
            let _ = a.await;
        }
    }

    fn note_remote(&self, room: &str, peer: PeerId, in_call: bool) {
        let changed = {
            let mut remote = lock(&self.remote);
            let set = remote.entry(room.to_string()).or_default();
            if in_call {
                set.insert(peer)
            } else {
                set.remove(&peer)
            }
        };
        let ours = lock(&self.local).as_ref().is_some_and(|c| c.room == room);
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

    pub async fn join(self: &Arc<Self>, room: &RoomRow) -> ServiceResult<CallStatus> {
        if lock(&self.local).as_ref().is_some_and(|c| c.room == room.id) {
            return self.status().await;
        }
        self.leave().await?;
        // The call needs the devices, and is what the person wants now.
        self.sound_check_stop().await?;
        let room_bytes = room_bytes(&room.id)?;
        let config = lock(&self.config).clone();
        let backend = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
        let datagrams = (config.design == Design::Datagram).then(|| self.deps.node.datagrams.clone());
        let shared = Shared::new(call_tag(&room_bytes), datagrams);
        shared.processing.store(processing_bits(config.processing), Ordering::Relaxed);
        // A missing microphone or speaker does not stop the join (the cpal
        // backend stands in for it and says so in `call status`); only a
        // backend that cannot run at all does.
        let engine = Engine::start(backend.as_ref(), shared.clone(), self.deps.kbps).map_err(audio("cannot start audio"))?;
        let serial = self.serials.fetch_add(1, Ordering::Relaxed) + 1;
        *lock(&self.local) = Some(LocalCall { room: room.id.clone(), room_bytes, engine, shared, serial });
        tokio::spawn(watch(Arc::downgrade(self), serial));
        self.deps.in_call.set(true);
        let known: Vec<PeerId> = lock(&self.remote).get(&room.id).map(|s| s.iter().copied().collect()).unwrap_or_default();
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

    pub async fn status(&self) -> ServiceResult<CallStatus> {
        let links: HashMap<PeerId, (bool, Option<f64>)> = self
            .deps
            .node
            .info()
            .await
            .map(|i| i.peers.into_iter().map(|p| (p.peer, (p.relayed, p.rtt.map(|d| d.as_secs_f64() * 1000.0)))).collect())
            .unwrap_or_default();
        let backend = lock(&self.config).backend.clone();
        // Everything is copied out under the locks; the database is asked
        // only after they are released.
        let taken = lock(&self.local).as_ref().map(|call| {
            let peers: Vec<Snapshot> = lock(&call.shared.peers)
                .iter()
                .map(|(peer, p)| Snapshot {
                    peer: *peer,
                    speaking: p.jitter.speaking(),
                    muted: p.jitter.muted(),
                    loss_pct: p.jitter.loss_pct,
                    jitter_ms: p.jitter.jitter_ms(),
                    target_ms: p.jitter.target_ms(),
                    heard_by: p.heard_by,
                    volume: p.volume,
                    stats: stats_of(p),
                })
                .collect();
            let s = &call.shared;
            let me = (
                s.speaking.load(Ordering::Relaxed),
                s.muted.load(Ordering::Relaxed),
                s.sent_bytes.load(Ordering::Relaxed),
                s.packet_ms.load(Ordering::Relaxed),
            );
            let timing = serde_json::to_value(call.engine.timing()).ok();
            let (input_error, output_error, reopened) = match call.engine.health() {
                Some(h) => {
                    let (i, o) = h.errors();
                    (i, o, h.reopened.load(Ordering::Relaxed))
                }
                None => (None, None, 0),
            };
            let echo = s.echo();
            let audio = AudioState {
                input_error,
                output_error,
                processing: super::engine::processing_of(s.processing.load(Ordering::Relaxed)),
                erle_db: echo.erle_db.map(|v| (v * 10.0).round() / 10.0),
                echo_delay_ms: echo.delay_ms,
                input_level_db: s.input_level_db().round().max(-100.0) as f64,
                reopened,
                playback_buffer_ms: s.ring_target.load(Ordering::Relaxed) as f64 * 1000.0 / super::RATE as f64,
            };
            (call.room.clone(), peers, me, timing, call.engine.underruns(), audio)
        });
        let Some((room, peers, (speaking, muted, sent_bytes, packet_ms), timing, underruns, audio)) = taken else {
            return Ok(CallStatus {
                room: None,
                room_name: None,
                muted: false,
                backend,
                participants: vec![],
                timing: None,
                sent_bytes: 0,
                underruns: 0,
                packet_ms: 0,
                audio: None,
            });
        };
        let store = &self.deps.store;
        let mut participants = vec![Participant {
            peer_id: self.peer_id.to_string(),
            name: self.deps.name.get(),
            is_self: true,
            speaking,
            muted,
            path: CallPath::Local,
            voice_path: None,
            rtt_ms: None,
            loss_pct: 0.0,
            jitter_ms: 0.0,
            latency_ms: None,
            volume: 100,
            stats: None,
        }];
        for p in peers {
            let link = links.get(&p.peer);
            let rtt = link.and_then(|l| l.1);
            participants.push(Participant {
                peer_id: p.peer.to_string(),
                name: store.author_name(&room, &p.peer.to_string()).unwrap_or_default(),
                is_self: false,
                speaking: p.speaking,
                muted: p.muted,
                path: match link {
                    Some((true, _)) => CallPath::Relayed,
                    Some((false, _)) => CallPath::Direct,
                    None => CallPath::Unknown,
                },
                voice_path: p.heard_by,
                rtt_ms: rtt,
                loss_pct: (p.loss_pct * 10.0).round() / 10.0,
                jitter_ms: (p.jitter_ms * 10.0).round() / 10.0,
                // One-way network time, the jitter buffer, one frame to fill,
                // one in the playback ring, and Opus' look-ahead.
                latency_ms: rtt.map(|r| (r / 2.0 + p.target_ms + 10.0 + 10.0 + 6.5).round()),
                volume: p.volume,
                stats: p.stats,
            });
        }
        let room_name = store.room(&room)?.map(|r| r.name);
        Ok(CallStatus {
            room: Some(room),
            room_name,
            muted,
            backend,
            participants,
            timing,
            sent_bytes,
            underruns,
            packet_ms,
            audio: Some(audio),
        })
    }

    pub fn audio_devices(&self) -> ServiceResult<AudioDevicesInfo> {
        let config = lock(&self.config).clone();
        let b = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
        let d = b.devices().map_err(audio("cannot list sound devices"))?;
        Ok(AudioDevicesInfo {
            backend: config.backend,
            inputs: d.inputs,
            outputs: d.outputs,
            default_input: d.default_input,
            default_output: d.default_output,
            input: config.audio.input,
            output: config.audio.output,
            processing: config.processing,
        })
    }

    /// `call settings`: devices move at once (the call stays), processing
    /// changes within a frame.
    pub async fn settings(&self, change: SettingsChange) -> ServiceResult<AudioDevicesInfo> {
        let processing = {
            let mut config = lock(&self.config);
            let p = &mut config.processing;
            if let Some(v) = change.echo_cancel {
                p.echo_cancel = v;
            }
            if let Some(v) = change.noise_suppression {
                p.noise_suppression = v;
            }
            if let Some(v) = change.gain_control {
                p.gain_control = v;
            }
            *p
        };
        if change.echo_cancel.is_some() || change.noise_suppression.is_some() || change.gain_control.is_some() {
            kept::save_processing(&self.deps.store, processing);
        }
        if let Some(call) = lock(&self.local).as_ref() {
            call.shared.processing.store(processing_bits(processing), Ordering::Relaxed);
        }
        if let Some(check) = lock(&self.check).as_ref() {
            check.set_processing(processing);
        }
        if change.input.is_some() || change.output.is_some() {
            return self.audio_use(change.input, change.output).await;
        }
        self.audio_devices()
    }

    /// Our playback volume for one participant of our call.
    pub async fn set_volume(&self, peer: &str, percent: u32) -> ServiceResult<CallStatus> {
        if percent > 400 {
            return Err(ServiceError::BadRequest(format!("volume {percent}% is out of range: 0 to 400")));
        }
        let peer: PeerId = peer.parse().map_err(|_| ServiceError::BadRequest(format!("{peer:?} is not a peer id")))?;
        {
            let local = lock(&self.local);
            let call =
                local.as_ref().ok_or_else(|| ServiceError::NotFound("you are in no call; join one with `apero call join ROOM`".into()))?;
            let mut peers = lock(&call.shared.peers);
            let p = peers
                .get_mut(&peer)
                .ok_or_else(|| ServiceError::NotFound(format!("{peer} is not in your call; `apero call status` lists who is")))?;
            p.volume = percent;
        }
        kept::save_volume(&self.deps.store, &peer, percent);
        self.status().await
    }

    /// Levels and device health of our call, as events: levels while they
    /// change, devices when they are lost or come back.
    fn watch_tick(&self, serial: u64, last: &mut Watched) -> bool {
        let (room, shared, health) = {
            let local = lock(&self.local);
            let Some(call) = local.as_ref().filter(|c| c.serial == serial) else { return false };
            (call.room.clone(), call.shared.clone(), call.engine.health())
        };
        let muted = shared.muted.load(Ordering::Relaxed);
        let mut levels = vec![Level {
            peer_id: self.peer_id.to_string(),
            level_db: if muted { -100.0 } else { shared.input_level_db().round().max(-100.0) as f64 },
            speaking: shared.speaking.load(Ordering::Relaxed),
            muted,
        }];
        levels.extend(lock(&shared.peers).iter().map(|(peer, p)| Level {
            peer_id: peer.to_string(),
            level_db: p.level_db.round().max(-100.0) as f64,
            speaking: p.jitter.speaking(),
            muted: p.jitter.muted(),
        }));
        levels.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        if last.levels.due(&levels) {
            self.deps.events.emit(Event::CallLevels { room: room.clone(), levels });
        }
        let errors = health.map(|h| h.errors()).unwrap_or_default();
        if errors != last.errors {
            tracing::info!(input = ?errors.0, output = ?errors.1, "sound devices changed");
            self.deps.events.emit(Event::AudioDevice { input_error: errors.0.clone(), output_error: errors.1.clone() });
            last.errors = errors;
        }
        true
    }

    /// Switches devices; a running call moves to them at once.
    pub async fn audio_use(&self, input: Option<String>, output: Option<String>) -> ServiceResult<AudioDevicesInfo> {
        let (input_changed, output_changed) = (input.is_some(), output.is_some());
        {
            let mut config = lock(&self.config);
            if input.is_some() {
                config.audio.input = input;
            }
            if output.is_some() {
                config.audio.output = output;
            }
            kept::save_devices(
                &self.deps.store,
                config.audio.input.as_deref().filter(|_| input_changed),
                config.audio.output.as_deref().filter(|_| output_changed),
            );
        }
        // A running call or sound check moves to the new devices at once.
        if lock(&self.local).is_none() && lock(&self.check).is_none() {
            return self.audio_devices();
        }
        let config = lock(&self.config).clone();
        let backend = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
        let mut old = Vec::new();
        if let Some(call) = lock(&self.local).as_mut() {
            let engine =
                Engine::start(backend.as_ref(), call.shared.clone(), self.deps.kbps).map_err(audio("cannot open the new devices"))?;
            old.push(std::mem::replace(&mut call.engine, engine));
            tracing::info!(room = %call.room, "switched audio devices during the call");
        }
        if let Some(check) = lock(&self.check).as_mut() {
            old.push(check.replace_engine(backend.as_ref(), self.deps.kbps).map_err(audio("cannot open the new devices"))?);
        }
        for engine in old {
            let _ = tokio::task::spawn_blocking(move || engine.stop()).await;
        }
        self.audio_devices()
    }

    /// Starts the sound check, or changes the running one (echo on or off,
    /// and `seconds` more from now).
    pub async fn sound_check(self: &Arc<Self>, echo: bool, seconds: Option<u32>) -> ServiceResult<SoundCheckState> {
        if let Some(room) = lock(&self.local).as_ref().map(|c| c.room.clone()) {
            let name = self.deps.store.room(&room).ok().flatten().map(|r| r.name).unwrap_or(room);
            return Err(ServiceError::Refused(format!(
                "you are in the call of {name:?}: your microphone's level shows in `apero call status`; leave the call (`apero call leave`) to test it alone"
            )));
        }
        let config = lock(&self.config).clone();
        let started = {
            let mut check = lock(&self.check);
            match check.as_mut() {
                Some(c) => {
                    c.run_for(seconds);
                    c.set_echo(echo).map_err(audio("cannot start the echo"))?;
                    None
                }
                None => {
                    let backend = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
                    let serial = self.serials.fetch_add(1, Ordering::Relaxed) + 1;
                    let mut c = SoundCheck::start(backend.as_ref(), self.deps.kbps, config.processing, self.peer_id, serial)
                        .map_err(audio("cannot start audio"))?;
                    c.run_for(seconds);
                    c.set_echo(echo).map_err(audio("cannot start the echo"))?;
                    *check = Some(c);
                    Some(serial)
                }
            }
        };
        if let Some(serial) = started {
            tracing::info!(echo, "sound check started");
            tokio::spawn(watch_check(Arc::downgrade(self), serial));
        }
        Ok(self.check_state())
    }

    /// Stops the sound check (nothing to do when none runs).
    pub async fn sound_check_stop(&self) -> ServiceResult<SoundCheckState> {
        let Some(check) = lock(&self.check).take() else { return Ok(self.check_state()) };
        let stopped = tokio::task::spawn_blocking(move || check.stop()).await;
        let state = self.check_state();
        self.deps.events.emit(Event::SoundCheck { state: state.clone() });
        tracing::info!("sound check stopped");
        stopped_cleanly(stopped).map(|()| state)
    }

    fn check_state(&self) -> SoundCheckState {
        let (input, output) = {
            let c = lock(&self.config);
            (c.audio.input.clone(), c.audio.output.clone())
        };
        match lock(&self.check).as_ref() {
            Some(c) => c.state(input, output),
            None => soundcheck::stopped(input, output),
        }
    }

    /// One tick of the check `serial`'s watcher: `false` once it is over.
    async fn check_tick(&self, serial: u64, last: &mut Resend<SoundCheckState>) -> bool {
        let expired = match lock(&self.check).as_ref() {
            Some(c) if c.serial == serial => c.expired(),
            _ => return false,
        };
        if expired {
            if let Err(e) = self.sound_check_stop().await {
                tracing::warn!("{e}");
            }
            return false;
        }
        let state = self.check_state();
        if last.due(&state) {
            self.deps.events.emit(Event::SoundCheck { state });
        }
        true
    }

    /// Peer side of signaling.
    pub fn handle_call(&self, peer: PeerId, room: &str, joined: bool) -> ServiceResult<PeerResponse> {
        if !self.deps.store.is_member(room, &peer.to_string())? {
            Counters::bump(&self.deps.counters.not_members, 1);
            return Ok(PeerResponse::Refused { reason: RefuseReason::UnknownRoom });
        }
        self.note_remote(room, peer, joined);
        let in_call = lock(&self.local).as_ref().is_some_and(|c| c.room == room);
        Ok(PeerResponse::CallState { in_call })
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
            remote.iter_mut().filter_map(|(room, set)| set.remove(&peer).then(|| room.clone())).collect()
        };
        self.remove_from_local_call(&peer);
        for room in rooms {
            self.announce_call(&room);
        }
    }
}

/// Something sent as events while it changes, and once a second unchanged:
/// a client that applied an older answer after the last change (a mute's
/// reply crossing the event) is put right within a second, without asking.
struct Resend<T> {
    last: Option<T>,
    /// Ticks since it was last sent.
    quiet_ticks: u32,
}

impl<T> Default for Resend<T> {
    fn default() -> Self {
        Resend { last: None, quiet_ticks: 0 }
    }
}

impl<T: PartialEq + Clone> Resend<T> {
    /// Whether `now` is to be sent at this tick (then it is remembered).
    fn due(&mut self, now: &T) -> bool {
        self.quiet_ticks += 1;
        if self.last.as_ref() == Some(now) && self.quiet_ticks < RESEND_LEVELS_TICKS {
            return false;
        }
        self.last = Some(now.clone());
        self.quiet_ticks = 0;
        true
    }
}

/// What the watcher last announced.
#[derive(Default)]
struct Watched {
    levels: Resend<Vec<Level>>,
    errors: (Option<String>, Option<String>),
}

/// Runs while the call `serial` does.
async fn watch(calls: Weak<Calls>, serial: u64) {
    let mut last = Watched::default();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(calls) = calls.upgrade() else { return };
        if !calls.watch_tick(serial, &mut last) {
            return;
        }
    }
}

/// Runs while the sound check `serial` does; stops it when its time is up.
async fn watch_check(calls: Weak<Calls>, serial: u64) {
    let mut last = Resend::default();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(calls) = calls.upgrade() else { return };
        if !calls.check_tick(serial, &mut last).await {
            return;
        }
    }
}

/// A participant's playout counters, with the playout's target and level and
/// what they last reported of our packets.
fn stats_of(p: &PeerVoice) -> Option<serde_json::Value> {
    let mut v = serde_json::to_value(p.jitter.stats).ok()?;
    let o = v.as_object_mut()?;
    o.insert("target_ms".into(), serde_json::json!((p.jitter.target_ms() * 10.0).round() / 10.0));
    o.insert("level_ms".into(), serde_json::json!((p.jitter.level_ms() * 10.0).round() / 10.0));
    o.insert("burst".into(), serde_json::json!((p.jitter.burst * 100.0).round() / 100.0));
    o.insert("their_report".into(), serde_json::to_value(p.reported).ok()?);
    Some(v)
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
    let mut b = [0u8; 16];
    hex::decode_to_slice(room, &mut b).map_err(|_| ServiceError::Internal(format!("corrupt room id {room:?} in the database")))?;
    Ok(b)
}

/// Incoming voice streams: only from members of the room whose call we are in.
struct CallAdmission(Weak<Calls>);

impl Admission for CallAdmission {
    fn admit(&self, peer: &PeerId, key: CallKey) -> Option<Arc<Shared>> {
        let calls = self.0.upgrade()?;
        let (room_id, shared) = {
            let local = lock(&calls.local);
            let call = local.as_ref().filter(|c| match key {
                CallKey::Room(room) => c.room_bytes == room,
                CallKey::Tag(tag) => c.shared.tag == tag,
            })?;
            (call.room.clone(), call.shared.clone())
        };
        // A participant of our call was a member when it joined: no database
        // query for each of its 100 packets a second.
        if lock(&shared.peers).contains_key(peer) {
            return Some(shared);
        }
        if !calls.deps.store.is_member(&room_id, &peer.to_string()).unwrap_or(false) {
            return None;
        }
        // Hearing someone is proof enough that they are in the call.
        calls.note_remote(&room_id, *peer, true);
        Some(shared)
    }
}
