//! The composition root and the control dispatcher.
//!
//! `App` builds the services (rooms, short codes, calls, files), wires the
//! small handles they share, routes what the network brings (connections,
//! peers' requests) to the service that owns it, and answers control
//! requests by calling the services. It holds no state of its own beyond
//! the handles and the shutdown signal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use apero_control::{Event, HelloReply, PeerInfo, PeerPath, Reply, Request, RoomInfo, Status, Transport, PROTOCOL_VERSION};
use libp2p::identity::Keypair;
use libp2p::PeerId;
use tokio::sync::{mpsc, watch};

use crate::channels::{ChannelDeps, Channels};
use crate::counters::Counters;
use crate::error::{ServiceError, ServiceResult};
use crate::events::EventSink;
use crate::files::{FileDeps, Files};
use crate::handles::{EntryListener, InCall};
use crate::node::{Node, NodeEvent};
use crate::room::{short, Identity, Rooms, ShortCodes};
use crate::store::Store;
use crate::video::service::{Video, VideoDeps};
use crate::voice::call::{CallDeps, Calls, VoiceConfig};
use crate::wire::{PeerRequest, PeerResponse, RefuseReason};

/// What the composition root needs beyond the store and the node.
pub struct AppConfig {
    pub name: String,
    pub home: PathBuf,
    pub voice: VoiceConfig,
    pub voice_kbps: u32,
    pub upload_limit_kbit: u64,
    pub pace_transfers: bool,
    /// Where pictures for the window go (video::service::VideoDeps::frames).
    pub frames: PathBuf,
    /// The proxy TCP dials go through, and what they did there (`status`).
    pub proxy: Arc<crate::node::proxy::ProxySettings>,
    pub proxy_use: Arc<crate::node::proxy::transport::ProxyUse>,
}

/// Where the listen ports are kept in the `meta` table (then "ip4/udp" ...).
pub const PORT_KEY: &str = "listen-port/";

pub struct App {
    pub rooms: Arc<Rooms>,
    pub short: Arc<ShortCodes>,
    pub calls: Arc<Calls>,
    pub files: Arc<Files>,
    pub video: Arc<Video>,
    pub channels: Arc<Channels>,
    pub events: EventSink,
    pub counters: Arc<Counters>,
    pub shutdown: watch::Sender<bool>,
    node: Node,
    store: Arc<Store>,
    me: Arc<Identity>,
    proxy: (Arc<crate::node::proxy::ProxySettings>, Arc<crate::node::proxy::transport::ProxyUse>),
}

impl App {
    /// Builds and starts the services: their accept loops, the node-event
    /// router and room maintenance.
    pub fn start(
        store: Arc<Store>,
        node: Node,
        node_events: mpsc::Receiver<NodeEvent>,
        key: Keypair,
        counters: Arc<Counters>,
        config: AppConfig,
    ) -> Result<Arc<App>, crate::voice::backend::AudioError> {
        let events = EventSink::default();
        let in_call = InCall::default();
        let name = crate::identity::Name::new(config.name.clone(), Some(config.home.join("name")));
        let me = Arc::new(Identity { peer_id: node.peer_id, key, name: name.clone(), home: config.home });
        let rooms = Rooms::new(store.clone(), node.clone(), me.clone(), events.clone(), counters.clone());
        let short = ShortCodes::new(rooms.clone(), node.clone(), counters.clone());
        let calls = Calls::new(
            config.voice,
            CallDeps {
                store: store.clone(),
                node: node.clone(),
                events: events.clone(),
                counters: counters.clone(),
                in_call: in_call.clone(),
                name,
                kbps: config.voice_kbps,
            },
        )?;
        let files = Files::new(FileDeps {
            store: store.clone(),
            node: node.clone(),
            events: events.clone(),
            counters: counters.clone(),
            publisher: rooms.publisher(),
            in_call,
            upload_limit_kbit: config.upload_limit_kbit,
            pace_transfers: config.pace_transfers,
            thumbs: me.home.join("thumbs"),
        });
        // Weak: `App` owns the file service; the room service only calls it.
        let listener: Arc<dyn EntryListener> = files.clone();
        rooms.listen(Arc::downgrade(&listener));
        let call_view: Arc<dyn crate::handles::CallView> = calls.clone();
        let video = Video::new(VideoDeps {
            frames: config.frames.clone(),
            node: node.clone(),
            store: store.clone(),
            events: events.clone(),
            call: call_view,
        });
        let channels = Channels::new(ChannelDeps {
            store: store.clone(),
            publisher: rooms.publisher(),
            calls: calls.clone(),
            events: events.clone(),
            me: node.peer_id,
        });
        let listener: Arc<dyn EntryListener> = channels.clone();
        rooms.listen(Arc::downgrade(&listener));
        channels.resume_timers();
        let (shutdown, _) = watch::channel(false);
        let proxy = (config.proxy.clone(), config.proxy_use.clone());
        let app = Arc::new(App { rooms, short, calls, files, video, channels, events, counters, shutdown, node, store, me, proxy });
        app.calls.spawn_accept_loop();
        app.video.spawn_accept_loop();
        app.files.spawn_server();
        tokio::spawn(app.clone().route_node_events(node_events));
        tokio::spawn(app.rooms.clone().run_maintenance(app.shutdown.subscribe()));
        // A name changed while we were stopped (the config, `--name`).
        let rooms = app.rooms.clone();
        tokio::spawn(async move {
            if let Err(e) = rooms.announce_name().await {
                tracing::warn!("cannot tell the rooms our name: {e}");
            }
        });
        Ok(app)
    }

    pub fn peer_id(&self) -> PeerId {
        self.me.peer_id
    }

    /// Routes each node event to the services it concerns. Never waits on
    /// the database or the network itself: anything slow is spawned or
    /// queued, so the node's event queue keeps draining.
    async fn route_node_events(self: Arc<Self>, mut rx: mpsc::Receiver<NodeEvent>) {
        while let Some(event) = rx.recv().await {
            match event {
                NodeEvent::PeerConnected { peer, .. } => {
                    self.rooms.note_seen(peer);
                    self.events.emit(Event::PeerConnected { peer_id: peer.to_string() });
                    self.files.resume_paused(Some(peer));
                    let app = self.clone();
                    tokio::spawn(async move {
                        app.calls.on_connect(peer).await;
                        app.rooms.sync_peer(peer).await;
                    });
                }
                NodeEvent::PeerDisconnected { peer } => {
                    self.calls.on_disconnect(peer);
                    self.rooms.note_seen(peer);
                    self.events.emit(Event::PeerDisconnected { peer_id: peer.to_string() });
                }
                NodeEvent::Identified { peer, listen_addrs } => self.rooms.note_addrs(peer, &listen_addrs),
                NodeEvent::NetworkChanged => {
                    self.rooms.redial_soon();
                    self.remember_ports();
                }
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

    /// Keeps the ports we listen on, to ask for them again after a restart
    /// (node::ports says why).
    fn remember_ports(self: &Arc<Self>) {
        let app = self.clone();
        tokio::spawn(async move {
            let Ok(info) = app.node.info().await else { return };
            for a in &info.listen {
                if let Some((kind, port)) = crate::node::ports::key_port(a) {
                    crate::store::log_error(app.store.set_meta(&format!("{PORT_KEY}{kind}"), &port.to_string()));
                }
            }
        });
    }

    /// Routes a peer's request to the service that answers it.
    async fn handle_peer(&self, peer: PeerId, request: PeerRequest) -> PeerResponse {
        let result = match request {
            PeerRequest::Join { code, name } => self.rooms.handle_join(peer, &code, &name).await,
            PeerRequest::JoinProof { room, invite, proof, name } => self.rooms.handle_join_proof(peer, &room, &invite, &proof, &name).await,
            PeerRequest::Sync { room, digests } => self.rooms.handle_sync(peer, &room, digests),
            PeerRequest::Fetch { room, ids } => self.rooms.handle_fetch(peer, &room, &ids),
            PeerRequest::Push { room, entries } => self.rooms.handle_push(peer, &room, entries).await,
            PeerRequest::Call { room, joined, channel } => self.calls.handle_call(peer, &room, joined, channel),
            PeerRequest::ShortJoin { number, pake } => self.short.handle_short_join(peer, number, &pake).await,
            PeerRequest::Claim { room, invite, joiner } => self.rooms.handle_claim(peer, &room, &invite, &joiner),
        };
        result.unwrap_or_else(|e| {
            tracing::warn!(%peer, "failed to answer a peer: {e}");
            PeerResponse::Refused { reason: RefuseReason::BadRequest }
        })
    }

    /// Answers one control request. `Subscribe` and `Shutdown` change the
    /// connection itself and are the control socket's.
    pub async fn dispatch(&self, request: Request) -> ServiceResult<Reply> {
        Ok(match request {
            Request::Status => Reply::Status(self.status().await?),
            Request::SetName { name } => {
                let rooms = self.rooms.rename(&name).await?;
                Reply::Renamed(apero_control::Renamed { name: self.me.name.get(), rooms })
            }
            Request::RoomCreate { name } => Reply::RoomCreated(self.rooms.room_create(&name).await?),
            Request::RoomList => Reply::Rooms(self.room_list().await?),
            Request::RoomLeave { room } => {
                self.rooms.room_leave(&room).await?;
                Reply::Done
            }
            Request::RoomMembers { room } => Reply::Members(self.rooms.room_members(&room).await?),
            Request::InviteCreate { room, ttl_secs, once: _, short: true } => Reply::Invite(self.short.create(&room, ttl_secs).await?),
            Request::InviteCreate { room, ttl_secs, once, short: false } => {
                Reply::Invite(self.rooms.invite_create(&room, ttl_secs, once).await?)
            }
            Request::InviteList { room } => Reply::Invites(self.rooms.invite_list(&room)?),
            Request::InviteRevoke { code_or_id } => {
                self.rooms.invite_revoke(&code_or_id).await?;
                Reply::Done
            }
            Request::Join { code, timeout_secs, via } => {
                let timeout = Duration::from_secs(timeout_secs.clamp(1, 3600));
                let via = match via.as_deref().map(str::parse::<libp2p::PeerId>) {
                    None => None,
                    Some(Ok(p)) => Some(p),
                    Some(Err(_)) => {
                        return Err(ServiceError::BadRequest(format!(
                            "--via wants a peer id (from `apero room members`), not {:?}",
                            via.unwrap_or_default()
                        )))
                    }
                };
                // Short codes (`7-guitar-orbit`) go through the PAKE first.
                let failures = self.proxy.1.failures.load(std::sync::atomic::Ordering::Relaxed);
                let joined = if short::looks_short(&code) {
                    self.short.join(&code, timeout).await
                } else {
                    self.rooms.join(&code, timeout, via).await
                };
                Reply::Joined(joined.map_err(|e| self.with_proxy_error(e, failures))?)
            }
            Request::Say { room, text, reply_to, channel } => {
                Reply::Message(self.rooms.say(&room, &text, reply_to.as_deref(), channel.as_deref()).await?)
            }
            Request::Edit { room, message, text } => Reply::Message(self.rooms.edit(&room, &message, &text).await?),
            Request::Delete { room, message } => {
                self.rooms.delete(&room, &message).await?;
                Reply::Done
            }
            Request::React { room, message, emoji, on } => Reply::Message(self.rooms.react(&room, &message, &emoji, on).await?),
            Request::History { room, limit, channel } => Reply::History(self.rooms.history(&room, limit, channel.as_deref())?),
            Request::CallJoin { room, channel } => {
                let room = self.rooms.resolve_room(&room)?;
                Reply::Call(self.channels.join_call(&room, channel.as_deref()).await?)
            }
            Request::ChannelList { .. }
            | Request::ChannelCreate { .. }
            | Request::ChannelRename { .. }
            | Request::ChannelDelete { .. }
            | Request::CallMove { .. }
            | Request::CallMuteMember { .. }
            | Request::RoomHost { .. }
            | Request::RoomRemove { .. }
            | Request::BreakoutStart { .. }
            | Request::BreakoutEnd { .. }
            | Request::BreakoutHelp { .. }
            | Request::BreakoutBroadcast { .. } => self.channel_request(request).await?,
            Request::CallLeave => {
                self.video.on_call_left();
                self.calls.leave().await?;
                Reply::Done
            }
            Request::CallStatus => Reply::Call(self.calls.status().await?),
            Request::Mute { muted } => Reply::Call(self.calls.set_muted(muted).await?),
            Request::AudioDevices => Reply::AudioDevices(self.calls.audio_devices()?),
            Request::AudioUse { input, output } => Reply::AudioDevices(self.calls.audio_use(input, output).await?),
            Request::CallSettings { input, output, echo_cancel, noise_suppression, gain_control } => {
                let change = crate::voice::call::SettingsChange { input, output, echo_cancel, noise_suppression, gain_control };
                Reply::AudioDevices(self.calls.settings(change).await?)
            }
            Request::SoundCheck { echo, seconds } => Reply::SoundCheck(self.calls.sound_check(echo, seconds).await?),
            Request::SoundCheckStop => Reply::SoundCheck(self.calls.sound_check_stop().await?),
            Request::CallVolume { peer_id, percent } => Reply::Call(self.calls.set_volume(&peer_id, percent).await?),
            Request::Send { room, paths, name, channel } => {
                let room = self.rooms.resolve_room(&room)?;
                let channel = self.rooms.channel_id(&room.id, channel.as_deref())?;
                Reply::Offered(self.files.send_files(&room, paths, name, channel).await?)
            }
            Request::Files { room, channel } => {
                let room = self.rooms.resolve_room(&room)?;
                let channel = self.rooms.channel_id(&room.id, channel.as_deref())?;
                Reply::Files(self.files.files(&room, channel.as_deref()).await?)
            }
            Request::Get { file, dir } => Reply::Transfer(self.files.get(&file, dir).await?),
            Request::Transfers => Reply::Transfers(self.files.transfers_list()?),
            Request::Cancel { file } => Reply::Transfer(self.files.cancel(&file).await?),
            Request::ShareList { thumbnails } => Reply::Shareable(self.video.list(thumbnails).await?),
            Request::ShareStart { room, what, preview } => {
                let room = self.rooms.resolve_room(&room)?;
                Reply::Share(self.video.start(&room.id, what, preview).await?)
            }
            Request::ShareShow { kind } => Reply::Share(self.video.show(kind)?),
            Request::ShareStop { kind } => Reply::Share(self.video.stop(kind)),
            Request::ShareStatus => Reply::Share(self.video.status()),
            Request::ShareFrame { peer_id, kind, after } => Reply::Frame(self.video.frame(&peer_id, kind, after).await?),
            Request::ShareSnapshot { path, from } => Reply::Snapshot(self.video.snapshot(&path, from.as_deref()).await?),
            Request::Hello { .. } => Reply::Hello(HelloReply { version: PROTOCOL_VERSION, daemon: env!("CARGO_PKG_VERSION").into() }),
            Request::Subscribe | Request::Shutdown => {
                return Err(ServiceError::Internal("subscribe and shutdown are handled by the control socket".into()))
            }
        })
    }

    /// A join that reached nobody, while dials through the proxy failed
    /// (more than `failures_before`): the proxy's own words say why.
    fn with_proxy_error(&self, e: ServiceError, failures_before: u64) -> ServiceError {
        let used = &self.proxy.1;
        match e {
            ServiceError::Unreachable(msg) if used.failures.load(std::sync::atomic::Ordering::Relaxed) > failures_before => {
                match crate::lock::lock(&used.last_error).clone() {
                    Some(why) => ServiceError::Unreachable(format!("{msg}. Through the proxy: {why}")),
                    None => ServiceError::Unreachable(msg),
                }
            }
            other => other,
        }
    }

    /// Channels, hosts and breakouts (the channels service).
    async fn channel_request(&self, request: Request) -> ServiceResult<Reply> {
        let c = &self.channels;
        let room = |r: &str| self.rooms.resolve_room(r);
        Ok(match request {
            Request::ChannelList { room: r } => Reply::Channels(c.list(&room(&r)?)?),
            Request::ChannelCreate { room: r, name } => Reply::Channels(c.create(&room(&r)?, &name).await?),
            Request::ChannelRename { room: r, channel, name } => Reply::Channels(c.rename(&room(&r)?, &channel, &name).await?),
            Request::ChannelDelete { room: r, channel } => Reply::Channels(c.delete(&room(&r)?, &channel).await?),
            Request::CallMove { room: r, member, channel } => Reply::Channels(c.move_member(&room(&r)?, &member, &channel).await?),
            Request::CallMuteMember { room: r, member } => Reply::Channels(c.mute(&room(&r)?, &member).await?),
            Request::RoomHost { room: r, member, host } => Reply::Channels(c.set_host(&room(&r)?, &member, host).await?),
            Request::RoomRemove { room: r, member } => Reply::Channels(c.remove(&room(&r)?, &member).await?),
            Request::BreakoutStart { room: r, groups, minutes, assign } => {
                Reply::Channels(c.breakout_start(&room(&r)?, groups, minutes, &assign).await?)
            }
            Request::BreakoutEnd { room: r } => Reply::Channels(c.breakout_end(&room(&r)?).await?),
            Request::BreakoutHelp { room: r } => Reply::Channels(c.help(&room(&r)?).await?),
            Request::BreakoutBroadcast { room: r, text } => Reply::Message(c.broadcast(&room(&r)?, &text).await?),
            other => return Err(ServiceError::Internal(format!("not a channel request: {other:?}"))),
        })
    }

    /// Rooms with who is in each one's call.
    async fn room_list(&self) -> ServiceResult<Vec<RoomInfo>> {
        Ok(self
            .rooms
            .room_list()
            .await?
            .into_iter()
            .map(|r| {
                let (call, in_call) = self.calls.call_size(&r.id);
                RoomInfo { id: r.id, name: r.name, members: r.members, online: r.online, call, in_call }
            })
            .collect())
    }

    pub async fn status(&self) -> ServiceResult<Status> {
        let info = self.node.info().await?;
        let peers = info
            .peers
            .iter()
            .map(|p| PeerInfo {
                peer_id: p.peer.to_string(),
                name: self.store.peer_name(&p.peer.to_string()).ok().flatten(),
                path: if p.relayed { PeerPath::Relayed } else { PeerPath::Direct },
                addr: p.addr.to_string(),
                rtt_ms: p.rtt.map(|d| d.as_secs_f64() * 1000.0),
                via: p.via.map(|v| v.to_string()),
                transport: if p.is_quic() { Transport::Quic } else { Transport::Tcp },
            })
            .collect();
        Ok(Status {
            peer_id: self.me.peer_id.to_string(),
            name: self.me.name.get(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            home: self.me.home.display().to_string(),
            listen: info.listen.iter().map(|a| a.to_string()).collect(),
            peers,
            rooms: self.store.rooms(false)?.len(),
            dropped: self.counters.snapshot(
                self.calls.dropped(),
                self.video.dropped(),
                self.calls.dropped_datagrams(),
                self.node.inbound.refused(),
            ),
            nat: info.nat,
            external: info.external.iter().map(|a| a.to_string()).collect(),
            relays: info.relays.iter().map(|r| r.to_string()).collect(),
            relaying: info.relaying,
            tasks: tokio::runtime::Handle::current().metrics().num_alive_tasks(),
            proxy: self.proxy.0.proxy.as_ref().map(|p| {
                use std::sync::atomic::Ordering::Relaxed;
                let used = &self.proxy.1;
                apero_control::ProxyStatus {
                    url: p.display(),
                    source: p.source.clone(),
                    no_proxy: self.proxy.0.no_proxy.clone(),
                    dials: used.dials.load(Relaxed),
                    failures: used.failures.load(Relaxed),
                    last_error: crate::lock::lock(&used.last_error).clone(),
                }
            }),
        })
    }
}
