//! Voice bytes between daemons, on `libp2p-stream` so they never queue behind
//! the Swarm's event loop.
//!
//! Three designs, chosen by `--voice-transport` (measured in docs/benchmarks.md):
//! - `datagram` (the default): each frame in a QUIC datagram of its own on a
//!   direct QUIC connection, so a lost packet costs only its own frame. The
//!   call's `voice-send` thread sends those (`engine::send_loop`); what a
//!   connection cannot carry as a datagram (relayed, TCP, too large) comes to
//!   the sender task and goes on the stream below. The stream is opened
//!   either way: it keeps the connection alive, carries our reports, and is
//!   the fallback the moment datagrams stop fitting;
//! - `stream`: one long-lived unidirectional stream per peer; when it backs up
//!   the sender drops frames that are already too old to be worth playing;
//! - `frames`: a new stream for every frame, so a lost packet stalls only its
//!   own frame.
//!
//! Every stream begins with a header naming the room; the receiver accepts it
//! only from a member of the room whose call we are in (the connection itself
//! authenticates the peer), and drops, counts and closes on anything malformed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, StreamProtocol};
use tokio::sync::{mpsc, Semaphore};

use apero_control::VoicePath;
use bytes::Bytes;

use super::engine::{OutFrame, Shared};
use super::frame::{self, decode_header, encode_header, Packet, Report, VoiceFrame, HEADER_LEN};
use crate::lock::lock;
use crate::node::inbound::{Inbound, IncomingStream};
use crate::node::quic::Datagrams;

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/apero/voice/2");

/// Older than this, a frame would only add delay: drop it instead.
const MAX_AGE: Duration = Duration::from_millis(150);
/// Frames queued per peer before the engine starts dropping.
pub const QUEUE: usize = 16;
/// How often each receiver reports loss and delay to the sender.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Twice a normal talker's 100 frames/s, with a burst allowance.
const RATE_PER_SEC: f64 = 200.0;
const BURST: f64 = 50.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
pub enum Design {
    /// QUIC datagrams where the connection has them, else one stream.
    #[default]
    Datagram,
    /// One long-lived stream per peer.
    Stream,
    /// A new stream per frame.
    Frames,
}

/// Frames a sender may deliver: `RATE_PER_SEC`, with a `BURST` allowance.
struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(now: Instant) -> TokenBucket {
        TokenBucket { tokens: BURST, last: now }
    }

    /// Takes one token; `false` when the sender is over its rate.
    fn take(&mut self, now: Instant) -> bool {
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * RATE_PER_SEC).min(BURST);
        self.last = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// Hands an admitted frame to `peer`'s jitter buffer; `false` when the peer
/// is no longer in the call.
pub(crate) fn deliver(shared: &Shared, peer: &PeerId, frame: VoiceFrame, path: VoicePath) -> bool {
    let now_ms = shared.now_ms();
    match lock(&shared.peers).get_mut(peer) {
        Some(p) => {
            if p.heard_by != Some(path) {
                p.jitter.set_reliable(path == VoicePath::Stream);
            }
            p.heard_by = Some(path);
            p.jitter.push(frame, now_ms);
            true
        }
        None => false,
    }
}

/// Hands a receiver report from `peer` to the engine.
fn deliver_report(shared: &Shared, peer: &PeerId, report: Report) -> bool {
    match lock(&shared.peers).get_mut(peer) {
        Some(p) => {
            p.reported = report;
            shared.reports.fetch_add(1, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Drops counted on the receive side, for `status`.
#[derive(Default)]
pub struct VoiceCounters {
    pub bad: AtomicU64,
    pub refused_streams: AtomicU64,
    pub flooded: AtomicU64,
    pub too_old: AtomicU64,
    pub bad_datagrams: AtomicU64,
    pub refused_datagrams: AtomicU64,
    pub flooded_datagrams: AtomicU64,
}

/// What we tell `peer` about its packets; `None` once it left the call.
fn report_of(shared: &Shared, peer: &PeerId) -> Option<Report> {
    lock(&shared.peers).get(peer).map(|p| p.jitter.report())
}

fn framed(packet: &[u8], buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(packet.len() as u16).to_be_bytes());
    buf.extend_from_slice(packet);
}

/// Starts the task that sends our frames to `peer`; returns its queue.
pub fn spawn_sender(
    control: libp2p_stream::Control,
    peer: PeerId,
    room: [u8; 16],
    shared: Arc<Shared>,
    counters: Arc<VoiceCounters>,
    design: Design,
) -> mpsc::Sender<Arc<OutFrame>> {
    let (tx, rx) = mpsc::channel(QUEUE);
    match design {
        // Under `datagram` the engine has sent what datagrams could carry.
        Design::Datagram | Design::Stream => tokio::spawn(send_on_one_stream(control, peer, room, shared, counters, rx)),
        Design::Frames => tokio::spawn(send_stream_per_frame(control, peer, room, shared, counters, rx)),
    };
    tx
}

async fn send_on_one_stream(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    room: [u8; 16],
    shared: Arc<Shared>,
    counters: Arc<VoiceCounters>,
    mut rx: mpsc::Receiver<Arc<OutFrame>>,
) {
    let mut buf = Vec::with_capacity(1500);
    'reconnect: loop {
        let mut stream = match control.open_stream(peer, PROTOCOL).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(%peer, "voice stream: {e}");
                // Drain what piled up meanwhile, then retry.
                tokio::time::sleep(Duration::from_millis(200)).await;
                loop {
                    match rx.try_recv() {
                        Ok(_) => counters.too_old.fetch_add(1, Ordering::Relaxed),
                        Err(mpsc::error::TryRecvError::Empty) => continue 'reconnect,
                        Err(mpsc::error::TryRecvError::Disconnected) => return,
                    };
                }
            }
        };
        if stream.write_all(&encode_header(&room)).await.is_err() {
            continue;
        }
        let mut reports = tokio::time::interval(REPORT_EVERY);
        reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            buf.clear();
            tokio::select! {
                frame = rx.recv() => {
                    let Some(frame) = frame else { break };
                    if frame.captured.elapsed() > MAX_AGE {
                        counters.too_old.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    framed(&frame.packet, &mut buf);
                }
                _ = reports.tick() => {
                    // The report rides the stream: small, once a second, and it must arrive.
                    let Some(report) = report_of(&shared, &peer) else { continue };
                    report.encode_framed(shared.tag(), &mut buf);
                }
            }
            if stream.write_all(&buf).await.is_err() || stream.flush().await.is_err() {
                continue 'reconnect;
            }
            shared.sent_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        }
        let _ = stream.close().await;
        return;
    }
}

async fn send_stream_per_frame(
    control: libp2p_stream::Control,
    peer: PeerId,
    room: [u8; 16],
    shared: Arc<Shared>,
    counters: Arc<VoiceCounters>,
    mut rx: mpsc::Receiver<Arc<OutFrame>>,
) {
    // Bounds the streams in flight when the path stalls.
    let in_flight = Arc::new(Semaphore::new(32));
    while let Some(frame) = rx.recv().await {
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            counters.too_old.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let mut buf = encode_header(&room).to_vec();
        framed(&frame.packet, &mut buf);
        let (mut control, shared, counters) = (control.clone(), shared.clone(), counters.clone());
        tokio::spawn(async move {
            let sent = tokio::time::timeout(MAX_AGE, async {
                let mut s = control.open_stream(peer, PROTOCOL).await.ok()?;
                // With lazy negotiation the protocol proposal, header and
                // frame leave in one packet; close sends FIN, no ack wait.
                s.write_all(&buf).await.ok()?;
                s.close().await.ok()?;
                Some(s)
            })
            .await;
            drop(permit);
            match sent {
                Ok(Some(mut s)) => {
                    shared.sent_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    // Dropping the read half now would send STOP_SENDING, which
                    // can make the receiver's protocol confirmation fail and
                    // the frame be dropped: read until the receiver's FIN.
                    let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut Vec::new())).await;
                }
                _ => {
                    counters.too_old.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

/// What a packet names its call by: a stream's header the room, a
/// datagram the call's tag.
#[derive(Debug, Clone, Copy)]
pub enum CallKey {
    Room([u8; 16]),
    Tag(u32),
}

/// Decides whether packets for a call from `peer` may be delivered now.
pub trait Admission: Send + Sync + 'static {
    fn admit(&self, peer: &PeerId, call: CallKey) -> Option<Arc<Shared>>;
}

pub async fn accept_loop(inbound: Inbound, admission: Arc<dyn Admission>, counters: Arc<VoiceCounters>) {
    let mut incoming = match inbound.accept(PROTOCOL) {
        Ok(i) => i,
        Err(e) => return tracing::error!("cannot accept voice streams: {e}"),
    };
    while let Some(IncomingStream { peer, stream, slot }) = incoming.recv().await {
        let (admission, counters) = (admission.clone(), counters.clone());
        tokio::spawn(async move {
            receive(peer, stream, admission, counters).await;
            drop(slot);
        });
    }
}

async fn receive(peer: PeerId, mut stream: libp2p::Stream, admission: Arc<dyn Admission>, counters: Arc<VoiceCounters>) {
    let mut header = [0u8; HEADER_LEN];
    let header_ok = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut header)).await;
    let Ok(Ok(())) = header_ok else {
        counters.bad.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Ok(room) = decode_header(&header) else {
        counters.bad.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(shared) = admission.admit(&peer, CallKey::Room(room)) else {
        counters.refused_streams.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut bucket = TokenBucket::new(Instant::now());
    let mut body = vec![0u8; frame::MAX_LEN];
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return; // closed: normal for the per-frame design
        }
        let len = u16::from_be_bytes(len) as usize;
        if frame::check_len(len).is_err() {
            counters.bad.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if stream.read_exact(&mut body[..len]).await.is_err() {
            counters.bad.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !bucket.take(Instant::now()) {
            counters.flooded.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let packet = match frame::decode(&Bytes::copy_from_slice(&body[..len])) {
            Ok((tag, packet)) if tag == shared.tag() => packet,
            // Sent from another channel of the call (a move under way): not
            // ours to play; dropped and counted, the stream goes on.
            Ok(_) => {
                counters.refused_streams.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(_) => {
                counters.bad.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let still_in_call = match packet {
            Packet::Voice(f) => deliver(&shared, &peer, f, VoicePath::Stream),
            Packet::Report(r) => deliver_report(&shared, &peer, r),
        };
        if !still_in_call {
            // The peer left the call while this stream was open.
            return;
        }
    }
}

/// Datagrams from every peer: decoded, admitted like a stream's header
/// (a member of the room whose call we are in), rate-limited per peer, then
/// into that peer's jitter buffer. Anything else is dropped and counted.
pub async fn datagram_loop(datagrams: Datagrams, admission: Arc<dyn Admission>, counters: Arc<VoiceCounters>) {
    let mut incoming = datagrams.subscribe(256);
    let mut buckets: std::collections::HashMap<PeerId, TokenBucket> = std::collections::HashMap::new();
    while let Some((peer, data)) = incoming.recv().await {
        let Ok((tag, packet)) = frame::decode(&data) else {
            counters.bad_datagrams.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Some(shared) = admission.admit(&peer, CallKey::Tag(tag)) else {
            counters.refused_datagrams.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let now = Instant::now();
        if buckets.len() > 1024 {
            // Only members get here, so this is a long call's churn, not an attack.
            buckets.retain(|_, b| now.duration_since(b.last) < Duration::from_secs(10));
        }
        if !buckets.entry(peer).or_insert_with(|| TokenBucket::new(now)).take(now) {
            counters.flooded_datagrams.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // A datagram of a peer that just left has nobody to go to: nothing to do.
        match packet {
            Packet::Voice(f) => deliver(&shared, &peer, f, VoicePath::Datagram),
            Packet::Report(r) => deliver_report(&shared, &peer, r),
        };
    }
}
