//! The video service: what we share (at most one screen and one camera),
//! what we watch, and the control requests about them.
//!
//! A share goes to the other participants of our call and to nobody else:
//! a manager task follows the call's participants and keeps one viewer
//! task (`send::serve_viewer`) per participant. Incoming shares are
//! accepted only from members of the room whose call we are in.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use apero_control::{
    Event, FrameInfo, SentStream, ShareKind, ShareSource, ShareStatus, ShareableInfo, SnapshotInfo, ViewerInfo, WatchedStream,
};
use futures::AsyncReadExt;
use libp2p::PeerId;
use tokio::task::JoinHandle;

use super::codec::Settings;
use super::send::{self, Sending, ViewerStats};
use super::source::{self, Pick};
use super::watch::{self, VideoCounters, Watched};
use super::wire::{self, Header};
use crate::error::{ServiceError, ServiceResult};
use crate::events::EventSink;
use crate::handles::CallView;
use crate::lock::lock;
use crate::node::inbound::IncomingStream;
use crate::node::Node;
use crate::store::Store;

/// How often a share looks at who is in the call.
const FOLLOW_CALL: Duration = Duration::from_millis(250);
/// A viewer whose stream failed is tried again after this.
const RETRY: Duration = Duration::from_secs(2);

pub struct VideoDeps {
    /// Where the window's pictures are written (`share frame`): the runtime
    /// directory, beside the control socket.
    pub frames: std::path::PathBuf,
    pub node: Node,
    pub store: Arc<Store>,
    pub events: EventSink,
    pub call: Arc<dyn CallView>,
}

struct Viewer {
    task: JoinHandle<()>,
    stats: Arc<ViewerStats>,
    started: Instant,
}

/// One share of ours that runs.
struct Run {
    sending: Arc<Sending>,
    viewers: Mutex<HashMap<PeerId, Viewer>>,
}

pub struct Video {
    deps: VideoDeps,
    me: PeerId,
    sending: Mutex<HashMap<ShareKind, Arc<Run>>>,
    watched: Mutex<HashMap<(PeerId, ShareKind), Arc<Watched>>>,
    serials: AtomicU64,
    pub counters: Arc<VideoCounters>,
}

fn room_bytes(room: &str) -> ServiceResult<[u8; 16]> {
    crate::store::room_bytes(room).ok_or_else(|| ServiceError::Internal(format!("corrupt room id {room:?} in the database")))
}

impl Video {
    pub fn new(deps: VideoDeps) -> Arc<Video> {
        Arc::new(Video {
            me: deps.node.peer_id,
            deps,
            sending: Mutex::new(HashMap::new()),
            watched: Mutex::new(HashMap::new()),
            serials: AtomicU64::new(0),
            counters: Arc::new(VideoCounters::default()),
        })
    }

    /// Video drops for `status`.
    pub fn dropped(&self) -> u64 {
        let c = &self.counters;
        c.bad.load(Ordering::Relaxed) + c.refused.load(Ordering::Relaxed) + c.dropped_frames.load(Ordering::Relaxed)
    }

    /// Screens, windows and cameras: names and sizes, and with `thumbnails`
    /// a small PNG of each screen and window, for the window's picker. The
    /// thumbnails stay in the runtime directory; cameras are not opened.
    pub async fn list(&self, thumbnails: bool) -> ServiceResult<Vec<ShareableInfo>> {
        let dir = self.deps.frames.clone();
        let listed = tokio::task::spawn_blocking(move || {
            source::list()
                .into_iter()
                .enumerate()
                .map(|(i, a)| {
                    let pick = match a.kind {
                        "screen" => a.id.strip_prefix("--screen ").and_then(|n| n.parse().ok()).map(Pick::Screen),
                        "window" => a.id.strip_prefix("--window ").map(|t| Pick::Window(t.to_string())),
                        _ => None,
                    };
                    let thumbnail = pick.filter(|_| thumbnails).and_then(|p| thumbnail(&p, &dir, i));
                    ShareableInfo { kind: a.kind.to_string(), pick: a.id, name: a.name, width: a.width, height: a.height, thumbnail }
                })
                .collect()
        });
        listed.await.map_err(|e| ServiceError::Internal(e.to_string()))
    }

    fn name_of(&self, peer: &PeerId) -> Option<String> {
        self.deps.store.peer_name(&peer.to_string()).ok().flatten()
    }

    fn announce(&self, room: &str, peer: PeerId, kind: ShareKind, on: bool) {
        let name = self.name_of(&peer);
        self.deps.events.emit(Event::ShareChanged { room: room.to_string(), peer_id: peer.to_string(), name, kind, on });
    }

    /// Starts sharing `what` with the call we are in, in `room` (an id).
    pub async fn start(self: &Arc<Self>, room: &str, what: ShareSource, preview: bool) -> ServiceResult<ShareStatus> {
        match self.deps.call.our_call() {
            Some((r, _)) if r == room => {}
            _ => {
                return Err(ServiceError::NotFound(
                    "you are not in this room's call: join it first (`apero call join ROOM`), then share".into(),
                ))
            }
        }
        let kind = what.kind();
        let pick = match what {
            ShareSource::Screen { index } => Pick::Screen(index),
            ShareSource::Window { title } => Pick::Window(title),
            ShareSource::Camera { name } => Pick::Camera(name),
            ShareSource::TestPattern => Pick::TestPattern,
            ShareSource::TestCamera => Pick::TestCamera,
        };
        let opened = tokio::task::spawn_blocking(move || source::open(&pick)).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        let source = opened.map_err(|e| ServiceError::Capture(e.to_string()))?;
        // One screen and one camera at a time: a new pick replaces the old.
        self.stop(Some(kind));
        let settings = match kind {
            ShareKind::Screen => Settings::screen(),
            ShareKind::Camera => Settings::camera(),
        };
        let header = Header { room: room_bytes(room)?, share: rand::random(), kind, codec: settings.codec, width: 16, height: 16 };
        let sending = Sending::new(kind, room.to_string(), header, source.describe(), settings);
        sending.previewing.store(preview, Ordering::Relaxed);
        let capture = sending.clone();
        std::thread::Builder::new()
            .name("video-capture".into())
            .spawn(move || send::capture_loop(source, capture))
            .map_err(|e| ServiceError::Internal(format!("cannot start the capture thread: {e}")))?;
        let run = Arc::new(Run { sending, viewers: Mutex::new(HashMap::new()) });
        lock(&self.sending).insert(kind, run.clone());
        tokio::spawn(follow_call(Arc::downgrade(self), run));
        tracing::info!(%room, ?kind, preview, "sharing started");
        if !preview {
            self.announce(room, self.me, kind, true);
        }
        Ok(self.status())
    }

    /// Shows our previewed `kind` share to the call.
    pub fn show(&self, kind: ShareKind) -> ServiceResult<ShareStatus> {
        let Some(run) = lock(&self.sending).get(&kind).cloned() else {
            return Err(ServiceError::NotFound(format!("you have no {kind} to show: start one first")));
        };
        if run.sending.previewing.swap(false, Ordering::Relaxed) {
            self.announce(&run.sending.room, self.me, kind, true);
        }
        Ok(self.status())
    }

    /// Stops our shares of `kind` (both when `None`).
    pub fn stop(&self, kind: Option<ShareKind>) -> ShareStatus {
        let stopped: Vec<Arc<Run>> = {
            let mut sending = lock(&self.sending);
            let kinds: Vec<ShareKind> = sending.keys().copied().filter(|k| kind.is_none_or(|want| want == *k)).collect();
            kinds.iter().filter_map(|k| sending.remove(k)).collect()
        };
        for run in stopped {
            run.sending.stop();
            if !run.sending.previewing.load(Ordering::Relaxed) {
                self.announce(&run.sending.room, self.me, run.sending.kind, false);
            }
        }
        self.status()
    }

    pub fn status(&self) -> ShareStatus {
        let mut sending: Vec<SentStream> = lock(&self.sending)
            .values()
            .map(|run| {
                let s = &run.sending;
                let (fps, kbps, frames, keyframes) = s.rates();
                let header = *lock(&s.header);
                let viewers = lock(&run.viewers)
                    .iter()
                    .filter(|(_, v)| v.stats.watching.load(Ordering::Relaxed) && !v.task.is_finished())
                    .map(|(p, v)| ViewerInfo {
                        peer_id: p.to_string(),
                        name: self.name_of(p),
                        frames_decoded: v.stats.decoded.load(Ordering::Relaxed),
                        skipped: v.stats.skipped.load(Ordering::Relaxed),
                    })
                    .collect();
                SentStream {
                    kind: s.kind,
                    room: s.room.clone(),
                    source: s.describe.clone(),
                    codec: format!("{:?}", s.settings.codec).to_uppercase(),
                    width: header.width as u32,
                    height: header.height as u32,
                    fps,
                    kbps,
                    frames,
                    keyframes,
                    viewers,
                    preview: s.previewing.load(Ordering::Relaxed),
                }
            })
            .collect();
        sending.sort_by_key(|s| s.kind == ShareKind::Camera);
        let mut watching: Vec<WatchedStream> = lock(&self.watched)
            .values()
            .map(|w| {
                let f = w.figures();
                let (width, height) = lock(&w.latest).as_ref().map(|(p, _)| (p.width, p.height)).unwrap_or((0, 0));
                WatchedStream {
                    peer_id: w.peer.to_string(),
                    name: self.name_of(&w.peer),
                    kind: w.header.kind,
                    room: w.room.clone(),
                    width,
                    height,
                    frames_decoded: f.decoded,
                    fps: f.fps,
                    kbps: f.kbps,
                    latency_ms: f.latency_ms,
                    errors: f.errors,
                }
            })
            .collect();
        watching.sort_by(|a, b| (&a.peer_id, a.kind == ShareKind::Camera).cmp(&(&b.peer_id, b.kind == ShareKind::Camera)));
        ShareStatus { sending, watching }
    }

    /// Writes the latest picture of a share we watch to `path` as PNG.
    pub async fn snapshot(&self, path: &str, from: Option<&str>) -> ServiceResult<SnapshotInfo> {
        if !Path::new(path).is_absolute() {
            return Err(ServiceError::BadRequest(format!("the snapshot's path must be absolute, not {path:?}")));
        }
        let chosen = {
            let watched = lock(&self.watched);
            if watched.is_empty() {
                return Err(ServiceError::NotFound(
                    "you watch no share: a snapshot is of a screen or camera someone shares in your call".into(),
                ));
            }
            let mut matching: Vec<&Arc<Watched>> = watched
                .values()
                .filter(|w| {
                    from.is_none_or(|f| {
                        w.peer.to_string() == f || self.name_of(&w.peer).is_some_and(|n| n.to_lowercase().contains(&f.to_lowercase()))
                    })
                })
                .collect();
            // Screens before cameras, as the window shows them.
            matching.sort_by_key(|w| w.header.kind == ShareKind::Camera);
            match matching.first() {
                Some(w) => (*w).clone(),
                None => return Err(ServiceError::NotFound(format!("nobody called {:?} shares in your call", from.unwrap_or_default()))),
            }
        };
        let Some((picture, at)) = lock(&chosen.latest).clone() else {
            return Err(ServiceError::NotFound("no picture has arrived from this share yet; try again in a moment".into()));
        };
        let target = path.to_string();
        let written = tokio::task::spawn_blocking(move || {
            let picture = picture.to_rgba();
            image::save_buffer(&target, &picture.data, picture.width, picture.height, image::ExtendedColorType::Rgba8).map(|_| picture)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let picture = written.map_err(|e| ServiceError::Io(format!("cannot write {path}: {e}")))?;
        Ok(SnapshotInfo {
            path: path.to_string(),
            peer_id: chosen.peer.to_string(),
            kind: chosen.header.kind,
            width: picture.width,
            height: picture.height,
            age_ms: at.elapsed().as_millis() as u64,
        })
    }

    /// The latest picture of `peer_id`'s `kind` stream (ours: the self-view),
    /// written for the window when newer than `after`.
    pub async fn frame(&self, peer_id: &str, kind: ShareKind, after: u64) -> ServiceResult<Option<FrameInfo>> {
        let (picture, serial) = if peer_id == self.me.to_string() {
            let Some(run) = lock(&self.sending).get(&kind).cloned() else {
                return Err(ServiceError::NotFound(format!("you share no {kind}")));
            };
            // The capture keeps a copy while someone looks.
            *lock(&run.sending.preview_until) = Some(Instant::now() + Duration::from_secs(2));
            let Some(p) = lock(&run.sending.preview).clone() else { return Ok(None) };
            p
        } else {
            let peer: PeerId = peer_id.parse().map_err(|_| ServiceError::BadRequest(format!("{peer_id:?} is not a peer id")))?;
            let Some(w) = lock(&self.watched).get(&(peer, kind)).cloned() else {
                return Err(ServiceError::NotFound(format!("this member shares no {kind} with you now")));
            };
            let serial = w.serial_pictures.load(Ordering::Relaxed);
            if serial <= after {
                return Ok(None);
            }
            let Some((p, _)) = lock(&w.latest).clone() else { return Ok(None) };
            // Made only now that someone looks.
            let rgba = tokio::task::spawn_blocking(move || p.to_rgba()).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
            (Arc::new(rgba), serial)
        };
        if serial <= after {
            return Ok(None);
        }
        let dir = self.deps.frames.clone();
        let name = format!("{}-{kind}.rgba", &peer_id[peer_id.len().saturating_sub(12)..]);
        let written = tokio::task::spawn_blocking(move || write_frame(&dir, &name, &picture.data).map(|p| (p, picture)))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (path, picture) = written.map_err(|e| ServiceError::Io(format!("cannot write the picture for the window: {e}")))?;
        Ok(Some(FrameInfo { path: path.display().to_string(), serial, width: picture.width, height: picture.height }))
    }

    /// Starts accepting the shares of others.
    pub fn spawn_accept_loop(self: &Arc<Self>) {
        let mut incoming = match self.deps.node.inbound.accept(wire::PROTOCOL) {
            Ok(i) => i,
            Err(e) => return tracing::error!("cannot accept video streams: {e}"),
        };
        let video = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(s) = incoming.recv().await {
                let Some(v) = video.upgrade() else { return };
                tokio::spawn(async move { v.incoming(s).await });
            }
        });
    }

    async fn incoming(self: Arc<Self>, IncomingStream { peer, mut stream, slot }: IncomingStream) {
        let mut h = [0u8; wire::HEADER_LEN];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut h)).await;
        let header = match read {
            Ok(Ok(())) => wire::decode_header(&h).ok(),
            _ => None,
        };
        let Some(header) = header else {
            self.counters.bad.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(room) = self.admit(&peer, &header) else {
            tracing::debug!(%peer, "a share from outside our call: refused");
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let serial = self.serials.fetch_add(1, Ordering::Relaxed);
        let watched = Watched::new(peer, room.clone(), header, serial);
        lock(&self.watched).insert((peer, header.kind), watched.clone());
        self.announce(&room, peer, header.kind, true);
        watch::receive(stream, watched, self.counters.clone()).await;
        let mine = {
            let mut all = lock(&self.watched);
            let mine = all.get(&(peer, header.kind)).is_some_and(|w| w.serial == serial);
            if mine {
                all.remove(&(peer, header.kind));
            }
            mine
        };
        if mine {
            self.announce(&room, peer, header.kind, false);
        }
        drop(slot);
    }

    /// The room of our call when `peer` may share with us in it.
    fn admit(&self, peer: &PeerId, header: &Header) -> Option<String> {
        let (room, peers) = self.deps.call.our_call()?;
        if crate::store::room_bytes(&room)? != header.room {
            return None;
        }
        // A member who just joined may share before its join reached us.
        let member = peers.contains(peer) || self.deps.store.is_member(&room, &peer.to_string()).unwrap_or(false);
        member.then_some(room)
    }

    /// Stops what we share when we leave the call.
    pub fn on_call_left(&self) {
        self.stop(None);
    }
}

/// One picture of `pick`, small, as a PNG in `dir`; `None` when it cannot be had.
fn thumbnail(pick: &Pick, dir: &Path, i: usize) -> Option<String> {
    let mut source = source::open(pick).ok()?;
    let mut p = source::Picture::new(1, 1);
    source.grab(&mut p).ok()?;
    let small = p.small(240);
    let mut png = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut png);
    image::ImageEncoder::write_image(encoder, &small.data, small.width, small.height, image::ExtendedColorType::Rgba8).ok()?;
    write_frame(dir, &format!("thumb-{i}.png"), &png).ok().map(|p| p.display().to_string())
}

/// Writes `data` as `dir/name`, whole or not at all: aside, then renamed.
fn write_frame(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let (path, aside) = (dir.join(name), dir.join(format!(".{name}.new")));
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&aside)?;
    std::io::Write::write_all(&mut f, data)?;
    std::fs::rename(&aside, &path)?;
    Ok(path)
}

/// Keeps one viewer task per participant of our call, for as long as the
/// share runs and we stay in its room's call.
async fn follow_call(video: Weak<Video>, run: Arc<Run>) {
    let mut tick = tokio::time::interval(FOLLOW_CALL);
    loop {
        tick.tick().await;
        let Some(v) = video.upgrade() else { break };
        if !run.sending.running() {
            break;
        }
        let peers = match v.deps.call.our_call() {
            Some((room, peers)) if room == run.sending.room => peers,
            _ => {
                run.sending.stop();
                break;
            }
        };
        let mut viewers = lock(&run.viewers);
        let previewing = run.sending.previewing.load(Ordering::Relaxed);
        viewers.retain(|p, viewer| {
            let stay = peers.contains(p) && !previewing;
            if !stay {
                viewer.task.abort();
            }
            stay
        });
        for p in peers.into_iter().filter(|_| !previewing) {
            let retry = viewers.get(&p).is_none_or(|v| v.task.is_finished() && v.started.elapsed() >= RETRY);
            if retry {
                let stats = Arc::new(ViewerStats::default());
                let task = tokio::spawn(send::serve_viewer(v.deps.node.streams.clone(), p, run.sending.clone(), stats.clone()));
                viewers.insert(p, Viewer { task, stats, started: Instant::now() });
            }
        }
    }
    // The viewer tasks see the stop and tell their viewers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let Some(v) = video.upgrade() else { return };
    let still_listed = {
        let mut sending = lock(&v.sending);
        let listed = sending.get(&run.sending.kind).is_some_and(|r| Arc::ptr_eq(r, &run));
        if listed {
            sending.remove(&run.sending.kind);
        }
        listed
    };
    if still_listed {
        if let Some(why) = lock(&run.sending.failed).clone() {
            tracing::warn!("the share stopped: {why}");
        }
        v.announce(&run.sending.room, v.me, run.sending.kind, false);
    }
    for viewer in lock(&run.viewers).values() {
        viewer.task.abort();
    }
}
