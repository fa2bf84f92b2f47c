//! The audio thread of a call: takes 10 ms frames from the capture ring,
//! detects speech, encodes once and hands the packet to every participant's
//! sender; and, for a sound card, keeps the playback ring topped up with the
//! mix of every participant's jitter buffer (`Playout`; a paced backend
//! renders it itself at each tick). Joined to async code by bounded queues
//! only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libp2p::PeerId;
use tokio::sync::mpsc;

use super::backend::{AudioError, Backend, Health, Playback, Ports, Running, Signals, Timing};
use super::codec::Encoder;
use super::fill::Fill;
use super::frame::{Report, VoiceFrame, FLAG_MUTED, FLAG_SPEAKING};
use super::gate::{Gate, HANGOVER};
use super::jitter::JitterBuffer;
use super::mix::{level_dbfs, Mixer};
use super::processing::{EchoStats, Processor};
use super::redundancy::{Packetizer, Policy};
use super::reference::{take_frame, Reference};
use super::FRAME;
use crate::node::quic::Datagrams;

/// A packet as it goes on the wire, built once for every participant.
#[derive(Debug)]
pub struct OutFrame {
    pub packet: Bytes,
    pub captured: Instant,
}

/// Everything about one participant of our call, in one place: what we
/// hear of them, how we send to them, and what they hear of us.
pub struct PeerVoice {
    pub jitter: JitterBuffer,
    /// The queue of the task that sends our frames to them.
    pub sender: Option<mpsc::Sender<Arc<OutFrame>>>,
    /// What they last reported of our packets.
    pub reported: Report,
    /// What their last frame came by.
    pub heard_by: Option<apero_control::VoicePath>,
    /// Our playback volume for them, percent.
    pub volume: u32,
    /// Their level as we last played it, dBFS.
    pub level_db: f32,
}

impl PeerVoice {
    pub fn new(jitter: JitterBuffer) -> PeerVoice {
        PeerVoice { jitter, sender: None, reported: Report::default(), heard_by: None, volume: 100, level_db: -100.0 }
    }
}

/// State shared between the audio thread and the network tasks. The one
/// lock (`peers`) is only ever held for in-memory work: nothing that holds
/// it waits on the network or the database, so the audio thread, which takes
/// it every 10 ms, never stalls behind them.
pub struct Shared {
    pub base: Instant,
    /// Our channel's tag in every packet (`frame::channel_tag`): changes
    /// when we move to another channel of the call.
    pub tag: AtomicU32,
    /// +1 for every report received: the engine re-decides protection then.
    pub reports: AtomicU64,
    /// Where voice may go as QUIC datagrams (the `datagram` design), sent by
    /// the call's `voice-send` thread (`send_loop`).
    pub datagrams: Option<Datagrams>,
    pub muted: AtomicBool,
    pub speaking: AtomicBool,
    pub peers: Mutex<HashMap<PeerId, PeerVoice>>,
    /// Frames not sent because a peer's queue was full.
    pub send_dropped: AtomicU64,
    pub sent_bytes: AtomicU64,
    /// Audio per packet we send now: 10 ms, or 20 in a big call.
    pub packet_ms: AtomicU32,
    /// Participants as the playout last counted them (no second lock per
    /// frame for the packetizer).
    pub peer_count: AtomicUsize,
    /// The processing the engine applies (`processing_bits`): read every
    /// frame, so a change applies within 10 ms.
    pub processing: AtomicU8,
    /// Our microphone after processing, dBFS (f32 bits).
    pub input_level: AtomicU32,
    /// The echo canceller's ERLE, dB (f32 bits; NaN before it has one).
    pub erle: AtomicU32,
    /// The echo delay it found, ms (i32::MIN before it has one).
    pub echo_delay: AtomicI32,
    /// Where the sequence and timestamp go on when the engine is restarted
    /// (new devices) mid-call: receivers see one stream, not a new one.
    pub next_seq: AtomicU32,
    pub next_ts: AtomicU32,
    /// The playback ring's fill target, samples (0 for a paced backend).
    pub ring_target: AtomicUsize,
    /// Samples of the chime ([`super::chime`]) still to play (0: none).
    pub chime: AtomicU32,
}

impl Shared {
    pub fn tag(&self) -> u32 {
        self.tag.load(Ordering::Relaxed)
    }
}

/// `AudioProcessing` in the three low bits of a byte.
pub fn processing_bits(p: apero_control::AudioProcessing) -> u8 {
    p.echo_cancel as u8 | (p.noise_suppression as u8) << 1 | (p.gain_control as u8) << 2
}

pub fn processing_of(bits: u8) -> apero_control::AudioProcessing {
    apero_control::AudioProcessing { echo_cancel: bits & 1 != 0, noise_suppression: bits & 2 != 0, gain_control: bits & 4 != 0 }
}

impl Shared {
    pub fn new(tag: u32, datagrams: Option<Datagrams>) -> Arc<Shared> {
        Arc::new(Shared {
            base: Instant::now(),
            tag: AtomicU32::new(tag),
            reports: AtomicU64::new(0),
            datagrams,
            muted: AtomicBool::new(false),
            speaking: AtomicBool::new(false),
            peers: Mutex::new(HashMap::new()),
            send_dropped: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            packet_ms: AtomicU32::new(10),
            peer_count: AtomicUsize::new(0),
            processing: AtomicU8::new(processing_bits(apero_control::AudioProcessing::default())),
            input_level: AtomicU32::new((-100f32).to_bits()),
            erle: AtomicU32::new(f32::NAN.to_bits()),
            echo_delay: AtomicI32::new(i32::MIN),
            next_seq: AtomicU32::new(0),
            next_ts: AtomicU32::new(0),
            ring_target: AtomicUsize::new(0),
            chime: AtomicU32::new(0),
        })
    }

    pub fn input_level_db(&self) -> f32 {
        f32::from_bits(self.input_level.load(Ordering::Relaxed))
    }

    pub fn echo(&self) -> EchoStats {
        let erle = f32::from_bits(self.erle.load(Ordering::Relaxed));
        let delay = self.echo_delay.load(Ordering::Relaxed);
        EchoStats { erle_db: erle.is_finite().then_some(erle as f64), delay_ms: (delay != i32::MIN).then_some(delay) }
    }

    pub fn now_ms(&self) -> f64 {
        self.base.elapsed().as_secs_f64() * 1000.0
    }
}

pub(crate) use crate::lock::lock;

pub struct Engine {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Ends when the engine thread drops its end of the outbox.
    sender: Option<JoinHandle<()>>,
    running: Option<Box<dyn Running>>,
    signals: Arc<Signals>,
}

/// 200 ms of capture: room for a slow scheduler, never for a real backlog.
const CAPTURE_RING: usize = FRAME * 20;
const PLAYBACK_RING: usize = FRAME * 20;
/// Frames played and waiting for the echo canceller: the engine takes them
/// every 10 ms, so a few suffice; when full, the newest reference is lost,
/// not the call.
const FAR_RING: usize = 16;
/// The speaker plays the others' voice (not silence, not a whisper).
const FAR_HOT_DBFS: f32 = -50.0;
/// Packets between the engine and the thread that sends them: a few frames,
/// for a sender held up a moment (full means dropped and counted).
const OUTBOX: usize = 8;
/// The longest the engine sleeps without a wake from the backend.
const WAIT: Duration = Duration::from_millis(10);
/// From this many other participants on, a packet carries two frames (20
/// ms): a speaker sends a packet per frame to each of them, and in the
/// 8-person mesh the wake-ups and encryptions of those packets were more
/// than half its CPU (docs/benchmarks.md). Costs 10 ms of delay, which a
/// two- or three-person call, where the packets are few, does not pay.
/// `APERO_VOICE_PAIR_FROM` overrides it, for measurements (bench/voice.py
/// runs the mesh both ways).
const PAIR_FROM_PEERS: usize = 4;

fn pair_from_peers() -> usize {
    std::env::var("APERO_VOICE_PAIR_FROM").ok().and_then(|v| v.parse().ok()).unwrap_or(PAIR_FROM_PEERS)
}
/// With nothing to send (DTX or muted), one keep-alive a second.
const KEEPALIVE_FRAMES: u32 = 100;

impl Engine {
    /// `kbps`: the encoder's clean-path bitrate (0: the default).
    pub fn start(backend: &dyn Backend, shared: Arc<Shared>, kbps: u32) -> Result<Engine, AudioError> {
        let (cap_tx, cap_rx) = rtrb::RingBuffer::new(CAPTURE_RING);
        let (far_tx, far_rx) = rtrb::RingBuffer::new(FAR_RING * FRAME);
        let (playback, ring) = if backend.pulls() {
            // A paced backend plays each frame as it is rendered.
            let mut playout = Playout::new(shared.clone(), Some(far_tx));
            (Playback::Pull(Box::new(move |out: &mut [i16; FRAME]| playout.render(out))), None)
        } else {
            let (play_tx, play_rx) = rtrb::RingBuffer::new(PLAYBACK_RING);
            (Playback::Ring { ring: play_rx, played: far_tx }, Some((play_tx, Playout::new(shared.clone(), None))))
        };
        let encoder = Encoder::new(kbps).map_err(|e| AudioError::Device(format!("opus: {e}")))?;
        let signals = Arc::new(Signals::default());
        let signals2 = signals.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let (outbox, out_rx) = std::sync::mpsc::sync_channel(OUTBOX);
        let shared2 = shared.clone();
        let sender = std::thread::Builder::new()
            .name("voice-send".into())
            .spawn(move || send_loop(&shared2, &out_rx))
            .map_err(|e| AudioError::Device(e.to_string()))?;
        let thread = std::thread::Builder::new()
            .name("voice-engine".into())
            .spawn(move || run(Loop { shared, cap: cap_rx, far: far_rx, ring, enc: encoder, stop: stop2, outbox, signals: signals2 }))
            .map_err(|e| AudioError::Device(e.to_string()))?;
        signals.set_engine(thread.thread().clone());
        let running = match backend.start(Ports { capture: cap_tx, playback, signals: signals.clone() }) {
            Ok(r) => r,
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                thread.thread().unpark();
                let _ = thread.join();
                let _ = sender.join();
                return Err(e);
            }
        };
        Ok(Engine { stop, thread: Some(thread), sender: Some(sender), running: Some(running), signals })
    }

    /// Times the speaker wanted samples and found the playback ring short.
    pub fn underruns(&self) -> u64 {
        self.signals.underruns()
    }

    pub fn timing(&self) -> Timing {
        self.running.as_ref().map(|r| r.timing()).unwrap_or_default()
    }

    pub fn health(&self) -> Option<Arc<Health>> {
        self.running.as_ref().and_then(|r| r.health())
    }

    /// Stops the thread and the backend (which finishes its files).
    pub fn stop(mut self) -> Result<(), AudioError> {
        self.halt()
    }

    fn halt(&mut self) -> Result<(), AudioError> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        if let Some(t) = self.sender.take() {
            let _ = t.join();
        }
        match self.running.take() {
            Some(r) => r.stop(),
            None => Ok(()),
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// What the speaker plays next: every participant's jitter buffer popped
/// and mixed into one frame.
struct Playout {
    shared: Arc<Shared>,
    mixer: Mixer,
    peer_frame: [i16; FRAME],
    /// Each frame as rendered, for the echo canceller's reference, where
    /// rendering is playing (a paced backend; a sound card's callback
    /// writes its own).
    far: Option<rtrb::Producer<i16>>,
}

impl Playout {
    fn new(shared: Arc<Shared>, far: Option<rtrb::Producer<i16>>) -> Playout {
        Playout { shared, mixer: Mixer::default(), peer_frame: [0; FRAME], far }
    }

    fn render(&mut self, out: &mut [i16; FRAME]) {
        self.mixer.clear();
        let now = self.shared.now_ms();
        let mut peers = lock(&self.shared.peers);
        self.shared.peer_count.store(peers.len(), Ordering::Relaxed);
        for p in peers.values_mut() {
            if p.jitter.pop(now, &mut self.peer_frame) {
                if p.volume != 100 {
                    let g = p.volume as i32;
                    for s in self.peer_frame.iter_mut() {
                        *s = (*s as i32 * g / 100).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
                    }
                }
                p.level_db = level_dbfs(&self.peer_frame);
                self.mixer.add(&self.peer_frame);
            } else {
                p.level_db = -100.0;
            }
        }
        // Mixed down outside the lock.
        drop(peers);
        let left = self.shared.chime.load(Ordering::Relaxed) as usize;
        if left > 0 {
            let start = super::chime::SAMPLES.saturating_sub(left);
            for (k, s) in self.peer_frame.iter_mut().enumerate() {
                *s = if start + k < super::chime::SAMPLES { super::chime::sample(start + k) } else { 0 };
            }
            self.mixer.add(&self.peer_frame);
            self.shared.chime.store(left.saturating_sub(FRAME) as u32, Ordering::Relaxed);
        }
        self.mixer.finish(out);
        if let Some(far) = self.far.as_mut() {
            if let Ok(chunk) = far.write_chunk_uninit(FRAME) {
                chunk.fill_from_iter(out.iter().copied());
            }
        }
    }
}

/// The engine thread's state.
struct Loop {
    shared: Arc<Shared>,
    cap: rtrb::Consumer<i16>,
    far: rtrb::Consumer<i16>,
    ring: Option<(rtrb::Producer<i16>, Playout)>,
    enc: Encoder,
    stop: Arc<AtomicBool>,
    outbox: std::sync::mpsc::SyncSender<Arc<OutFrame>>,
    signals: Arc<Signals>,
}

fn run(l: Loop) {
    let Loop { shared, mut cap, mut far, mut ring, mut enc, stop, outbox, signals } = l;
    let mut frame = [0i16; FRAME];
    let mut out = [0i16; FRAME];
    let mut reference = Reference::new();
    let mut reference_logged = Default::default();
    let mut seq = shared.next_seq.load(Ordering::Relaxed);
    let mut ts = shared.next_ts.load(Ordering::Relaxed);
    let mut since_sent = 0u32;
    let mut gate = Gate::default();
    let mut processor = Processor::new(processing_of(shared.processing.load(Ordering::Relaxed)));
    let mut fill = Fill::new();
    // Frames left while the others' voice is playing (and may echo).
    let mut far_hot = 0u32;
    let mut frames = 0u64;
    let mut was_audio = false;
    let mut policy = Policy::new(enc.base_bps());
    let mut packets = Packetizer::default();
    let pair_from = pair_from_peers();
    let mut reports_seen = 0u64;
    let mut packet = Vec::with_capacity(1500);
    let mut post = |f: &VoiceFrame| {
        packet.clear();
        f.encode(shared.tag(), &mut packet);
        let p = Arc::new(OutFrame { packet: Bytes::copy_from_slice(&packet), captured: Instant::now() });
        if outbox.try_send(p).is_err() {
            shared.send_dropped.fetch_add(1, Ordering::Relaxed);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        while cap.slots() >= FRAME {
            take_frame(&mut cap, &mut frame);
            processor.apply(processing_of(shared.processing.load(Ordering::Relaxed)));
            // The reference first: see `reference` for why one per frame.
            let played = reference.next(&mut far);
            processor.render(played);
            far_hot = if level_dbfs(played) > FAR_HOT_DBFS { HANGOVER } else { far_hot.saturating_sub(1) };
            let prob = processor.capture(&mut frame, far_hot > 0);
            let muted = shared.muted.load(Ordering::Relaxed);
            if muted {
                frame.fill(0);
            }
            let level = level_dbfs(&frame);
            shared.input_level.store(level.to_bits(), Ordering::Relaxed);
            let decision = gate.decide(level, processor.decides_speech().then_some(prob), far_hot > 0);
            let speaking = !muted && decision.speech;
            frames += 1;
            if frames.is_multiple_of(100) {
                let e = processor.echo();
                if frames.is_multiple_of(1000) && reference.stats() != reference_logged {
                    reference_logged = reference.stats();
                    tracing::debug!(reference = ?reference_logged, delay_ms = ?e.delay_ms, erle_db = ?e.erle_db, "echo canceller");
                }
                shared.erle.store(e.erle_db.map(|v| v as f32).unwrap_or(f32::NAN).to_bits(), Ordering::Relaxed);
                shared.echo_delay.store(e.delay_ms.unwrap_or(i32::MIN), Ordering::Relaxed);
            }
            shared.speaking.store(speaking, Ordering::Relaxed);
            let flags = if speaking { FLAG_SPEAKING } else { 0 } | if muted { FLAG_MUTED } else { 0 };
            // Protection changes only when a report comes in (about once a
            // second per participant), not every frame.
            let reports = shared.reports.load(Ordering::Relaxed);
            if reports != reports_seen {
                reports_seen = reports;
                let p = policy.update(lock(&shared.peers).values().map(|p| &p.reported));
                let _ = enc.protect(p);
            }
            let copies = policy.current().copies;
            let paired_now = shared.peer_count.load(Ordering::Relaxed) >= pair_from;
            let payload = if muted { None } else { enc.encode(&frame).ok().flatten().map(Bytes::copy_from_slice) };
            // The speech decision feeds DTX (voice::gate). Still encoded
            // above, so the encoder's state runs on.
            let payload = payload.filter(|_| decision.send);
            match payload {
                Some(payload) => {
                    seq = seq.wrapping_add(1);
                    since_sent = 0;
                    was_audio = true;
                    if let Some(f) = packets.audio(ts, seq, flags, payload, copies, paired_now) {
                        post(&f);
                    }
                }
                // The first silent frame after audio is marked at once: it tells
                // the receiver's jitter buffer that the gap that follows is a
                // pause, not late packets worth waiting for. It also carries the
                // copies of the talk spurt's last frames.
                None if was_audio || since_sent >= KEEPALIVE_FRAMES => {
                    if let Some(f) = packets.flush(copies) {
                        post(&f);
                    }
                    // A keep-alive does not use up a sequence number: it is not a packet the
                    // receiver should miss.
                    post(&packets.keepalive(ts, seq, flags, copies, was_audio));
                    since_sent = 0;
                    was_audio = false;
                }
                None => since_sent += 1,
            }
            shared.packet_ms.store(if paired_now { 20 } else { 10 }, Ordering::Relaxed);
            ts = ts.wrapping_add(1);
            shared.next_seq.store(seq, Ordering::Relaxed);
            shared.next_ts.store(ts, Ordering::Relaxed);
        }
        if let Some((play, playout)) = &mut ring {
            let target = fill.target(&signals);
            shared.ring_target.store(target, Ordering::Relaxed);
            let mut queued = PLAYBACK_RING - play.slots();
            while queued < target && play.slots() >= FRAME {
                playout.render(&mut out);
                if let Ok(chunk) = play.write_chunk_uninit(FRAME) {
                    chunk.fill_from_iter(out.iter().copied());
                }
                queued += FRAME;
            }
        }
        // The backend wakes us when it moved samples; the timeout only
        // bounds the wait should a device stop calling back.
        std::thread::park_timeout(WAIT);
    }
}

/// Hands each packet to every participant: as a QUIC datagram where the
/// peer has a direct QUIC connection, else to its stream sender's queue.
///
/// Its own thread, not the engine's: a datagram send takes the QUIC
/// connection's lock, which the connection's task holds while it encrypts
/// and writes; when the scheduler parks that task mid-way (a busy machine),
/// the sender waits milliseconds, and on the engine thread that wait left
/// the speaker without its next frame (an underrun, then a playout pushed
/// 10 ms late and accelerating to catch up). One thread per call and one
/// wake per packet, not a task per participant.
fn send_loop(shared: &Shared, outbox: &std::sync::mpsc::Receiver<Arc<OutFrame>>) {
    let mut to: Vec<(PeerId, Option<mpsc::Sender<Arc<OutFrame>>>)> = Vec::new();
    while let Ok(p) = outbox.recv() {
        to.clear();
        to.extend(lock(&shared.peers).iter().map(|(peer, v)| (*peer, v.sender.clone())));
        for (peer, sender) in &to {
            // No sender task yet: the peer is still being set up.
            let Some(tx) = sender else { continue };
            if let Some(d) = &shared.datagrams {
                if d.send(peer, p.packet.clone()).is_ok() {
                    shared.sent_bytes.fetch_add(p.packet.len() as u64, Ordering::Relaxed);
                    continue;
                }
            }
            if tx.try_send(p.clone()).is_err() {
                shared.send_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
