//! The sound check: the call's audio engine with nobody else in the call, so
//! a person can watch their microphone move a meter before their first call
//! and, with the echo on, hear their own voice a second later the way a
//! friend would: after processing, the Opus encoder, a jitter buffer, the
//! decoder and the speaker. Nothing is sent anywhere. The echo is one more
//! participant whose packets are our own, held back by `ECHO_DELAY`.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apero_control::{AudioProcessing, SoundCheckState, VoicePath};
use libp2p::PeerId;
use tokio::sync::mpsc;

use super::backend::{AudioError, Backend};
use super::codec::Decoder;
use super::engine::{processing_bits, Engine, OutFrame, PeerVoice, Shared};
use super::frame::{self, Packet};
use super::jitter::JitterBuffer;
use super::transport::deliver;
use crate::lock::lock;

/// Long enough to stop talking and listen, short enough to feel like an echo.
pub const ECHO_DELAY: Duration = Duration::from_secs(1);
pub const DEFAULT_SECS: u32 = 30;
pub const MAX_SECS: u32 = 300;
/// Frames held for the echo: the delay's worth and a margin; beyond it the
/// oldest go (a stalled runtime must not grow the queue without bound).
const HELD_MAX: usize = 2 * (ECHO_DELAY.as_millis() as usize / 10);
/// Between the engine's send thread and the echo task.
const QUEUE: usize = 32;

pub struct SoundCheck {
    engine: Engine,
    shared: Arc<Shared>,
    /// The echo's key among the participants: our own id (no one else can
    /// be in a call that has no room).
    me: PeerId,
    ends: Instant,
    /// Tells this check from a later one, for its watcher.
    pub serial: u64,
}

impl SoundCheck {
    pub fn start(backend: &dyn Backend, kbps: u32, processing: AudioProcessing, me: PeerId, serial: u64) -> Result<SoundCheck, AudioError> {
        let shared = Shared::new(0, None);
        shared.processing.store(processing_bits(processing), Ordering::Relaxed);
        let engine = Engine::start(backend, shared.clone(), kbps)?;
        Ok(SoundCheck { engine, shared, me, ends: Instant::now(), serial })
    }

    /// Runs `seconds` from now (0: the default; capped at `MAX_SECS`).
    pub fn run_for(&mut self, seconds: Option<u32>) {
        let s = seconds.filter(|s| *s > 0).unwrap_or(DEFAULT_SECS).min(MAX_SECS);
        self.ends = Instant::now() + Duration::from_secs(s as u64);
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.ends
    }

    pub fn echo(&self) -> bool {
        lock(&self.shared.peers).contains_key(&self.me)
    }

    /// Turns the echo on or off; needs a tokio runtime (the echo is a task).
    pub fn set_echo(&self, on: bool) -> Result<(), AudioError> {
        let mut peers = lock(&self.shared.peers);
        if !on {
            // Dropping its queue's sender ends the echo task.
            peers.remove(&self.me);
            return Ok(());
        }
        if peers.contains_key(&self.me) {
            return Ok(());
        }
        let decoder = Decoder::new().map_err(|e| AudioError::Device(format!("opus: {e}")))?;
        let mut p = PeerVoice::new(JitterBuffer::new(decoder));
        let (tx, rx) = mpsc::channel(QUEUE);
        p.sender = Some(tx);
        peers.insert(self.me, p);
        tokio::spawn(echo_back(self.shared.clone(), self.me, rx));
        Ok(())
    }

    pub fn set_processing(&self, p: AudioProcessing) {
        self.shared.processing.store(processing_bits(p), Ordering::Relaxed);
    }

    /// Moves the check to other devices (the engine is restarted on them).
    pub fn replace_engine(&mut self, backend: &dyn Backend, kbps: u32) -> Result<Engine, AudioError> {
        let engine = Engine::start(backend, self.shared.clone(), kbps)?;
        Ok(std::mem::replace(&mut self.engine, engine))
    }

    pub fn state(&self, input: Option<String>, output: Option<String>) -> SoundCheckState {
        let playing = lock(&self.shared.peers).get(&self.me).map(|p| p.level_db);
        let (input_error, output_error) = self.engine.health().map(|h| h.errors()).unwrap_or_default();
        SoundCheckState {
            running: true,
            echo: playing.is_some(),
            echo_delay_ms: ECHO_DELAY.as_millis() as u32,
            level_db: whole_db(self.shared.input_level_db()),
            speaking: self.shared.speaking.load(Ordering::Relaxed),
            playing_db: whole_db(playing.unwrap_or(-100.0)),
            seconds_left: self.ends.saturating_duration_since(Instant::now()).as_secs_f64().ceil() as u32,
            input,
            output,
            input_error,
            output_error,
        }
    }

    pub fn stop(self) -> Result<(), AudioError> {
        lock(&self.shared.peers).clear();
        self.engine.stop()
    }
}

/// The state of a check that is not running.
pub fn stopped(input: Option<String>, output: Option<String>) -> SoundCheckState {
    SoundCheckState {
        running: false,
        echo: false,
        echo_delay_ms: ECHO_DELAY.as_millis() as u32,
        level_db: -100.0,
        speaking: false,
        playing_db: -100.0,
        seconds_left: 0,
        input,
        output,
        input_error: None,
        output_error: None,
    }
}

fn whole_db(db: f32) -> f64 {
    db.round().max(-100.0) as f64
}

/// Holds each of our packets `ECHO_DELAY` after it was captured, then hands
/// it to the echo's jitter buffer as if it had come over the network.
async fn echo_back(shared: Arc<Shared>, me: PeerId, mut rx: mpsc::Receiver<Arc<OutFrame>>) {
    let mut held: VecDeque<Arc<OutFrame>> = VecDeque::new();
    loop {
        let due = held.front().map(|f| tokio::time::Instant::from_std(f.captured + ECHO_DELAY));
        tokio::select! {
            f = rx.recv() => match f {
                Some(f) => {
                    if held.len() >= HELD_MAX {
                        held.pop_front();
                    }
                    held.push_back(f);
                }
                None => return,
            },
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                let Some(f) = held.pop_front() else { continue };
                // Our own packets: a decode error would be a bug in the encoder side.
                match frame::decode(&f.packet) {
                    Ok((_, Packet::Voice(v))) => {
                        if !deliver(&shared, &me, v, VoicePath::Datagram) {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("sound check: our own packet does not decode: {e}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::backend::{by_name, BackendConfig};

    /// A tone into the wav backend's microphone comes back out of its
    /// speaker about a second later, through Opus and the jitter buffer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_echo_plays_our_voice_back_a_second_later() {
        let dir = tempfile::tempdir().unwrap();
        let wav_in = dir.path().join("in.wav");
        let wav_out = dir.path().join("out.wav");
        // Silence, then 1 s of a 440 Hz tone at about -12 dBFS, then silence.
        let spec = hound::WavSpec { channels: 1, sample_rate: 48_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut w = hound::WavWriter::create(&wav_in, spec).unwrap();
        for i in 0..48_000 * 4 {
            let t = i as f32 / 48_000.0;
            let on = (0.5..1.5).contains(&t);
            let s = if on { (t * 440.0 * std::f32::consts::TAU).sin() * 8000.0 } else { 0.0 };
            w.write_sample(s as i16).unwrap();
        }
        w.finalize().unwrap();
        let config = BackendConfig { wav_in: Some(wav_in), wav_out: Some(wav_out.clone()), ..Default::default() };
        let backend = by_name("wav", &config).unwrap();
        let off = AudioProcessing { echo_cancel: false, noise_suppression: false, gain_control: false };
        let mut check = SoundCheck::start(backend.as_ref(), 0, off, PeerId::random(), 1).unwrap();
        check.run_for(None);
        check.set_echo(true).unwrap();
        let mut heard_ourselves = false;
        let mut max_level = -100.0f64;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let s = check.state(None, None);
            assert!(s.running && s.echo);
            max_level = max_level.max(s.level_db);
            heard_ourselves |= s.playing_db > -30.0;
        }
        tokio::task::spawn_blocking(move || check.stop()).await.unwrap().unwrap();
        assert!(max_level > -20.0, "the meter moved with the tone: {max_level} dBFS");
        assert!(heard_ourselves, "the echo was played");
        // Where the tone comes out: its onset in the speaker's file.
        let out: Vec<i16> = hound::WavReader::open(&wav_out).unwrap().into_samples().map(|s| s.unwrap()).collect();
        let onset = out.chunks(480).position(|c| crate::voice::mix::level_dbfs(c) > -30.0);
        let onset_ms = onset.expect("the tone came out of the speaker") as f64 * 10.0;
        assert!((1450.0..1800.0).contains(&onset_ms), "the tone went in at 500 ms and came out at {onset_ms} ms");
    }
}
