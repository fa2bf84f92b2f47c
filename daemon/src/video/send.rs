//! The sharer's side of one share: a capture thread grabs and encodes, and
//! one task per viewer writes the frames to that viewer's stream.
//!
//! Frames reach the viewer tasks through a broadcast queue. A viewer whose
//! link is slower than the share falls behind in that queue; it then skips
//! the frames no later frame needs (`droppable`, every other frame while
//! the picture moves), and if it falls further behind it skips to the next
//! keyframe. Either way only that viewer's picture slows down: the encoder
//! and every other viewer go on as before.
//!
//! Voice stays first: frames travel on QUIC streams, and QUIC puts the
//! voice datagrams of a packet before any stream data (quinn writes
//! DATAGRAM frames ahead of STREAM frames), so a large keyframe never holds
//! a voice frame back at the sender.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apero_control::ShareKind;
use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::PeerId;
use tokio::sync::broadcast;

use super::codec::{Encoder, Rgba, Settings};

use super::pace;
use super::source::{Picture, Source};
use super::wire::{self, Frame, Header, Note};
use crate::lock::lock;
use crate::rate::TokenBucket;

/// Frames a viewer may be behind before it skips to a keyframe.
const QUEUE: usize = 12;
/// Frames encoded after the picture stopped moving: they sharpen what was
/// sent while it moved, then the share goes quiet.
const REFINE: u32 = 2;
/// A viewer that takes longer than this to take a frame is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often one viewer may ask for a keyframe.
const KEY_EVERY: Duration = Duration::from_millis(500);
/// A viewer with a frame still on its way after this is behind: it gets
/// only keyframes until it catches up, so its picture stays this fresh
/// instead of growing a backlog in the connection's buffers (which hold
/// seconds of video on a slow link).
const BEHIND: Duration = Duration::from_millis(400);

/// What the capture thread and the viewer tasks share.
pub struct Sending {
    pub kind: ShareKind,
    pub room: String,
    pub header: Mutex<Header>,
    pub describe: String,
    pub settings: Settings,
    running: AtomicBool,
    /// Seen only by us for now (a camera's preview): no viewer is served.
    pub previewing: AtomicBool,
    key_wanted: AtomicBool,
    frames: broadcast::Sender<Arc<Frame>>,
    stats: Mutex<SendStats>,
    /// Set when the capture stopped by itself (window closed, display gone).
    pub failed: Mutex<Option<String>>,
    /// Until when the window wants to see what we share (self-view, camera
    /// preview); a small copy is kept only then.
    pub preview_until: Mutex<Option<Instant>>,
    pub preview: Mutex<Option<(Arc<Rgba>, u64)>>,
    /// What each viewer's path carries (`video::pace`), kbit/s, and when said.
    rates: Mutex<std::collections::HashMap<PeerId, (u64, Instant)>>,
}

#[derive(Default)]
struct SendStats {
    frames: u64,
    keyframes: u64,
    /// (when, bytes) of the last seconds' frames.
    recent: super::recent::Recent,
}

/// What `share status` says of one viewer.
#[derive(Default)]
pub struct ViewerStats {
    pub watching: AtomicBool,
    pub decoded: AtomicU64,
    pub skipped: AtomicU64,
}

impl Sending {
    pub fn new(kind: ShareKind, room: String, header: Header, describe: String, settings: Settings) -> Arc<Sending> {
        Arc::new(Sending {
            kind,
            room,
            header: Mutex::new(header),
            describe,
            settings,
            running: AtomicBool::new(true),
            previewing: AtomicBool::new(false),
            key_wanted: AtomicBool::new(true),
            frames: broadcast::channel(QUEUE).0,
            stats: Mutex::new(SendStats::default()),
            failed: Mutex::new(None),
            preview_until: Mutex::new(None),
            preview: Mutex::new(None),
            rates: Mutex::new(std::collections::HashMap::new()),
        })
    }

    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Ends the capture; the viewer tasks then tell their viewers and close.
    pub fn stop(&self) {
        self.running.store(false, Ordering::Relaxed);
    }

    /// The encoder's rate: what the slowest viewer's path carries, within
    /// [`pace::MIN_KBPS`] and the settings' rate.
    pub fn target_kbps(&self) -> u32 {
        let mut rates = lock(&self.rates);
        rates.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(3));
        let slowest = rates.values().map(|r| r.0 * 4 / 5).min().unwrap_or(u64::MAX);
        slowest.clamp(pace::MIN_KBPS, self.settings.kbps as u64) as u32
    }

    pub fn request_key(&self) {
        self.key_wanted.store(true, Ordering::Relaxed);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.frames.subscribe()
    }

    /// (fps, kbit/s, frames, keyframes) over the last three seconds.
    pub fn rates(&self) -> (f64, f64, u64, u64) {
        let mut s = lock(&self.stats);
        let (fps, kbps) = s.recent.rates();
        (fps, kbps, s.frames, s.keyframes)
    }

    fn sent(&self, f: Frame) {
        let mut s = lock(&self.stats);
        s.frames += 1;
        s.keyframes += f.key as u64;
        s.recent.push(f.data.len());
        drop(s);
        // No viewer yet is fine: the frame is simply not needed.
        let _ = self.frames.send(Arc::new(f));
    }
}

fn unix_us(at: Instant) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    now.saturating_sub(at.elapsed()).as_micros() as u64
}

/// The self-view's width: enough to check what is shared, cheap to copy.
const PREVIEW_W: u32 = 640;

/// The capture thread: grabs, encodes what changed, hands frames to the
/// viewer tasks. Ends when the share is stopped or the source fails.
pub fn capture_loop(mut source: Box<dyn Source>, sending: Arc<Sending>) {
    let mut pic = Picture::new(1, 1);
    let mut encoder: Option<Encoder> = None;
    let (mut seq, mut refine, mut moving) = (0u32, 0u32, 0u64);
    let start = Instant::now();
    let frame_ms = 1000 / source.max_fps().max(1);
    while sending.running() {
        let changed = match source.grab(&mut pic) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("{}: {e}", sending.describe);
                *lock(&sending.failed) = Some(e.to_string());
                break;
            }
        };
        let mut key = sending.key_wanted.swap(false, Ordering::Relaxed);
        let fits = encoder.as_ref().is_some_and(|e| e.width == pic.width & !1 && e.height == pic.height & !1);
        if !fits {
            match Encoder::new(pic.width, pic.height, sending.settings) {
                Ok(e) => {
                    let mut h = lock(&sending.header);
                    (h.width, h.height) = (e.width as u16, e.height as u16);
                    encoder = Some(e);
                }
                Err(e) => {
                    *lock(&sending.failed) = Some(e.to_string());
                    break;
                }
            }
            key = true;
        }
        let Some(enc) = encoder.as_mut() else { break };
        let wanted = lock(&sending.preview_until).is_some_and(|t| t > Instant::now());
        if wanted && (changed || lock(&sending.preview).is_none()) {
            let serial = lock(&sending.preview).as_ref().map_or(0, |p| p.1) + 1;
            *lock(&sending.preview) = Some((Arc::new(pic.small(PREVIEW_W)), serial));
        }
        if !(changed || key || refine > 0) {
            continue;
        }
        if changed {
            refine = REFINE;
            moving += 1;
        } else {
            refine = refine.saturating_sub(1);
        }
        enc.set_kbps(sending.target_kbps());
        // A frame of a moving picture keeps to the rate, a keyframe too (one
        // sent sharp while things scroll would take a thin link a second);
        // the frames after the picture stops sharpen it.
        enc.set_max_q(if changed { sending.settings.moving_max_q } else { sending.settings.max_q });
        // While it moves, every other frame is one a viewer who is behind may skip.
        let droppable = changed && !key && moving % 2 == 0;
        let pts = start.elapsed().as_millis() as i64;
        match enc.encode(&pic, pts, frame_ms, key, droppable) {
            Ok(Some(f)) => {
                seq = seq.wrapping_add(1);
                sending.sent(Frame {
                    seq,
                    key: f.key,
                    droppable: droppable && !f.key,
                    captured_us: unix_us(pic.captured),
                    sent_us: 0,
                    width: enc.width as u16,
                    height: enc.height as u16,
                    data: f.data.into(),
                });
            }
            Ok(None) => {}
            Err(e) => {
                *lock(&sending.failed) = Some(e.to_string());
                break;
            }
        }
    }
    sending.stop();
    tracing::info!("{}: capture stopped", sending.describe);
}

/// Sends the share to one viewer until the share ends, the viewer goes, or
/// its link breaks. Returns whether the viewer ever said it watches.
pub async fn serve_viewer(mut control: libp2p_stream::Control, peer: PeerId, sending: Arc<Sending>, stats: Arc<ViewerStats>) {
    let mut rx = sending.subscribe();
    let opened = tokio::time::timeout(Duration::from_secs(5), control.open_stream(peer, wire::PROTOCOL)).await;
    let stream = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return tracing::debug!(%peer, "video stream: {e}"),
        Err(_) => return tracing::debug!(%peer, "video stream: no answer"),
    };
    let (mut rd, mut wr) = stream.split();
    let header = wire::encode_header(&lock(&sending.header));
    if wr.write_all(&header).await.is_err() {
        return;
    }
    // The newest frame the viewer said it received.
    let received = Arc::new(AtomicU64::new(0));
    // Paced to what the viewer's path carries; until it says, at a start
    // pace slow enough for a thin link (pace.rs). A burst of 5 ms: what a
    // voice datagram may find queued in front of it.
    let pacer = Arc::new(TokenBucket::new(pace::START_KBPS * 1000 / 8, Duration::from_millis(5)));
    let notes = {
        let (sending, stats, received, bucket) = (sending.clone(), stats.clone(), received.clone(), pacer.clone());
        tokio::spawn(async move {
            let mut last_key: Option<Instant> = None;
            let mut note = [0u8; wire::NOTE_LEN];
            while rd.read_exact(&mut note).await.is_ok() {
                match wire::decode_note(&note) {
                    Ok(Note::Watching) => stats.watching.store(true, Ordering::Relaxed),
                    Ok(Note::Decoded(n)) => stats.decoded.store(n, Ordering::Relaxed),
                    Ok(Note::Received(seq)) => {
                        received.fetch_max(seq, Ordering::Relaxed);
                    }
                    // 0: the path has room; nothing to pace.
                    Ok(Note::Rate(0)) => {
                        lock(&sending.rates).remove(&peer);
                        bucket.set_rate(0);
                    }
                    Ok(Note::Rate(kbps)) => {
                        let kbps = kbps.clamp(pace::MIN_KBPS / 2, pace::MAX_KBPS);
                        lock(&sending.rates).insert(peer, (kbps, Instant::now()));
                        // Frames leave at the path's pace; the encoder keeps
                        // a fifth under it for the call's voice and bursts.
                        bucket.set_rate(kbps * 1000 / 8);
                    }
                    Ok(Note::NeedKeyframe) => {
                        if last_key.is_none_or(|t| t.elapsed() >= KEY_EVERY) {
                            last_key = Some(Instant::now());
                            sending.request_key();
                        }
                    }
                    Err(_) => break,
                }
            }
        })
    };
    // A new viewer starts at a keyframe.
    let mut waiting_key = true;
    // The head of the first frame of pace::TRAIN_BYTES goes as one burst:
    // the viewer measures its path with it.
    let mut probe = true;
    let mut last_ask: Option<Instant> = None;
    let mut buf = Vec::new();
    // (seq, when written) of what the viewer has not said it received.
    let mut on_the_way: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut stop_check = tokio::time::interval(Duration::from_millis(200));
    loop {
        let frame = tokio::select! {
            f = rx.recv() => Some(f),
            _ = stop_check.tick() => {
                if sending.running() { None } else { Some(Err(broadcast::error::RecvError::Closed)) }
            }
        };
        let got = received.load(Ordering::Relaxed);
        while on_the_way.front().is_some_and(|(seq, _)| *seq <= got) {
            on_the_way.pop_front();
        }
        let behind = on_the_way.front().is_some_and(|(_, at)| at.elapsed() > BEHIND);
        waiting_key |= behind;
        // Once the link has drained, the viewer starts again at a keyframe
        // (asked on the tick too: a still screen sends no frame to wait for).
        if waiting_key && !behind && last_ask.is_none_or(|t| t.elapsed() >= KEY_EVERY) {
            last_ask = Some(Instant::now());
            sending.request_key();
        }
        let Some(frame) = frame else { continue };
        match frame {
            Ok(f) => {
                if (waiting_key && (!f.key || behind)) || (f.droppable && !rx.is_empty()) {
                    stats.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                waiting_key = false;
                buf.clear();
                wire::encode_frame(&f, 0, &mut buf);
                let burst = if probe && buf.len() >= pace::TRAIN_BYTES { pace::TRAIN_BYTES } else { 0 };
                probe &= burst == 0;
                let wrote = tokio::time::timeout(WRITE_TIMEOUT, async {
                    // Paced in pieces of 2.5 ms (a packet on a thin link): a
                    // voice packet that queues behind one waits a few ms.
                    let piece = match pacer.rate() {
                        0 => buf.len(),
                        r => ((r / 400) as usize).clamp(1200, 16 * 1024),
                    };
                    let mut at = 0;
                    while at < buf.len() {
                        let end = if at == 0 && burst > 0 { burst } else { (at + piece).min(buf.len()) };
                        if at > 0 || burst == 0 {
                            pacer.take(end - at).await;
                        }
                        if at == 0 {
                            // Stamped after our own wait: the viewer measures the path's queue only.
                            buf[wire::SENT_AT].copy_from_slice(&unix_us(Instant::now()).to_be_bytes());
                        }
                        wr.write_all(&buf[at..end]).await?;
                        at = end;
                    }
                    wr.flush().await
                })
                .await;
                if !matches!(wrote, Ok(Ok(()))) {
                    break;
                }
                // From when its last byte left us: our own pacing is not the
                // viewer being behind.
                on_the_way.push_back((f.seq as u64, Instant::now()));
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                stats.skipped.fetch_add(n, Ordering::Relaxed);
                waiting_key = true;
                sending.request_key();
            }
            Err(broadcast::error::RecvError::Closed) => {
                buf.clear();
                wire::encode_message(&wire::Message::End, &mut buf);
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    wr.write_all(&buf).await?;
                    wr.close().await
                })
                .await;
                break;
            }
        }
    }
    notes.abort();
}
