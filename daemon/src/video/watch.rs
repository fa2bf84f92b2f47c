//! The viewer's side: a share's stream arrives from a member of our call,
//! a thread decodes it, and the latest picture is kept for the window and
//! `share snapshot`. Whatever is malformed or from outside our call is
//! dropped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::PeerId;
use tokio::sync::mpsc;

use super::codec::{Decoder, Yuv};
use super::pace::{Pace, TICK, TRAIN_BYTES};
use super::wire::{self, Frame, Header, Message, Note};
use crate::lock::lock;

/// Frames waiting for the decoder before the viewer gives up on them and
/// asks for a keyframe.
const DECODE_QUEUE: usize = 6;

/// Drops on the viewer's side, for `status`.
#[derive(Default)]
pub struct VideoCounters {
    /// Streams that were malformed or broke their own rules.
    pub bad: AtomicU64,
    /// Streams from peers not in our call.
    pub refused: AtomicU64,
    /// Frames the decoder could not take in time or could not decode.
    pub dropped_frames: AtomicU64,
}

/// One share we receive.
pub struct Watched {
    pub peer: PeerId,
    pub room: String,
    pub header: Header,
    /// Tells this stream from a later one of the same share.
    pub serial: u64,
    pub latest: Mutex<Option<(Arc<Yuv>, Instant)>>,
    /// Counts the pictures put in `latest`.
    pub serial_pictures: AtomicU64,
    stats: Mutex<WatchStats>,
}

#[derive(Default)]
struct WatchStats {
    decoded: u64,
    errors: u64,
    recent: super::recent::Recent,
    latencies: VecDeque<f64>,
}

/// What `share status` shows of a watched stream.
pub struct WatchFigures {
    pub decoded: u64,
    pub errors: u64,
    pub fps: f64,
    pub kbps: f64,
    pub latency_ms: Option<f64>,
}

impl Watched {
    pub fn new(peer: PeerId, room: String, header: Header, serial: u64) -> Arc<Watched> {
        Arc::new(Watched {
            peer,
            room,
            header,
            serial,
            latest: Mutex::new(None),
            serial_pictures: AtomicU64::new(0),
            stats: Mutex::new(WatchStats::default()),
        })
    }

    pub fn figures(&self) -> WatchFigures {
        let mut s = lock(&self.stats);
        let (fps, kbps) = s.recent.rates();
        let mut l: Vec<f64> = s.latencies.iter().copied().collect();
        l.sort_by(f64::total_cmp);
        WatchFigures { decoded: s.decoded, errors: s.errors, fps, kbps, latency_ms: l.get(l.len() / 2).copied() }
    }
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

/// The decoding thread of one watched stream: a frame that cannot be
/// decoded (or follows one) asks the sharer for a keyframe, and what comes
/// before it is skipped.
fn decode_loop(watched: Arc<Watched>, frames: std_mpsc::Receiver<Frame>, notes: mpsc::Sender<Note>, counters: Arc<VideoCounters>) {
    let mut decoder = match Decoder::new(watched.header.codec, 2) {
        Ok(d) => d,
        Err(e) => return tracing::error!("{e}"),
    };
    let mut broken = false;
    // For the benchmark's glass-to-glass latency (bench/video.py): when each
    // picture was ready, and the frame counter a test deck drew on it.
    let mut trace = std::env::var_os("APERO_VIDEO_TRACE").and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok());
    while let Ok(f) = frames.recv() {
        if broken && !f.key {
            continue;
        }
        let mut picture = Yuv::default();
        match decoder.decode_yuv(&f.data, &mut picture) {
            Ok(true) => {
                broken = false;
                let latency = now_us().saturating_sub(f.captured_us) as f64 / 1000.0;
                let mut s = lock(&watched.stats);
                s.decoded += 1;
                s.recent.push(f.data.len());
                if s.latencies.len() == 30 {
                    s.latencies.pop_front();
                }
                s.latencies.push_back(latency);
                drop(s);
                if let Some(t) = trace.as_mut() {
                    use std::io::Write;
                    let counter = super::source::pattern::read_counter_luma(&picture.y, picture.width as usize).unwrap_or(0);
                    let _ = writeln!(t, "{} {} {} {} {}", now_us(), counter, f.seq, f.data.len(), f.key as u8);
                }
                *lock(&watched.latest) = Some((Arc::new(picture), Instant::now()));
                watched.serial_pictures.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(peer = %watched.peer, "video: {e}");
                lock(&watched.stats).errors += 1;
                counters.dropped_frames.fetch_add(1, Ordering::Relaxed);
                broken = true;
                let _ = notes.try_send(Note::NeedKeyframe);
            }
        }
    }
}

/// Reads one share's stream after its header was read and admitted, until
/// it ends. Returns when the sharer stopped, the stream broke or the
/// stream broke the rules (counted).
pub async fn receive(stream: libp2p::Stream, watched: Arc<Watched>, counters: Arc<VideoCounters>) {
    let (mut rd, mut wr) = stream.split();
    let (notes_tx, mut notes_rx) = mpsc::channel::<Note>(16);
    let (frames_tx, frames_rx) = std_mpsc::sync_channel::<Frame>(DECODE_QUEUE);
    let decoder = {
        let (w, n, c) = (watched.clone(), notes_tx.clone(), counters.clone());
        std::thread::Builder::new().name("video-decode".into()).spawn(move || decode_loop(w, frames_rx, n, c))
    };
    if decoder.is_err() {
        return tracing::error!("cannot start a video decoder thread");
    }
    let writer = {
        let watched = watched.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            if wr.write_all(&wire::encode_note(Note::Watching)).await.is_err() {
                return;
            }
            loop {
                let note = tokio::select! {
                    n = notes_rx.recv() => match n { Some(n) => n, None => return },
                    _ = tick.tick() => Note::Decoded(lock(&watched.stats).decoded),
                };
                if wr.write_all(&wire::encode_note(note)).await.is_err() || wr.flush().await.is_err() {
                    return;
                }
            }
        })
    };
    let mut waiting_key = false;
    let mut pace = Pace::new(Instant::now());
    let mut last_tick = Instant::now();
    loop {
        let mut prefix = [0u8; 5];
        if rd.read_exact(&mut prefix).await.is_err() {
            break;
        }
        // When the frame's first bytes came: its wait in the path's queue.
        let first_us = now_us();
        let (tag, len) = match wire::decode_prefix(&prefix) {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(peer = %watched.peer, "video stream: {e}");
                counters.bad.fetch_add(1, Ordering::Relaxed);
                break;
            }
        };
        let mut body = vec![0u8; len];
        // While starting, the frame's head came as one burst (pace.rs): when
        // it was all in says the path's rate, told at once so that the rest
        // of the frame goes at that pace.
        let head = (pace.starting() && len + prefix.len() >= TRAIN_BYTES).then_some(TRAIN_BYTES - prefix.len());
        if let Some(h) = head {
            if rd.read_exact(&mut body[..h]).await.is_err() {
                break;
            }
            pace.train(TRAIN_BYTES, first_us, now_us());
            last_tick = Instant::now();
            if let Some(kbps) = pace.tick(last_tick) {
                let _ = notes_tx.try_send(Note::Rate(kbps));
            }
        }
        if rd.read_exact(&mut body[head.unwrap_or(0)..]).await.is_err() {
            break;
        }
        let last_us = now_us();
        match wire::decode_body(tag, body.into()) {
            Ok(Message::End) => break,
            Ok(Message::Frame(f)) => {
                let _ = notes_tx.try_send(Note::Received(f.seq as u64));
                pace.sample(f.sent_us, first_us, len + prefix.len(), Instant::now());
                if head.is_none() {
                    pace.train(len + prefix.len(), first_us, last_us);
                }
                if last_tick.elapsed() >= TICK {
                    last_tick = Instant::now();
                    if let Some(kbps) = pace.tick(last_tick) {
                        let _ = notes_tx.try_send(Note::Rate(kbps));
                    }
                }
                if waiting_key && !f.key {
                    continue;
                }
                waiting_key = false;
                if frames_tx.try_send(f).is_err() {
                    // The decoder is behind: skip to a keyframe rather than
                    // pile up delay.
                    counters.dropped_frames.fetch_add(1, Ordering::Relaxed);
                    waiting_key = true;
                    let _ = notes_tx.try_send(Note::NeedKeyframe);
                }
            }
            Err(e) => {
                tracing::debug!(peer = %watched.peer, "video stream: {e}");
                counters.bad.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    writer.abort();
}
