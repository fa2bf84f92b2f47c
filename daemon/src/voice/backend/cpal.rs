//! The system's sound devices through cpal: the PulseAudio host when a
//! PulseAudio or PipeWire server answers (its sinks and sources by name, and
//! 20–24 ms through a copy loop where ALSA's pulse plugin took 26–33: the
//! audio-rig notes), else ALSA.
//!
//! cpal streams are not `Send` on every platform, so one thread (`keeper`)
//! opens them, keeps them alive and closes them. It also watches them: a
//! microphone or speaker that cannot be opened, or stops calling back (its
//! sound server died, its USB plug was pulled), is replaced by a stand-in
//! (silence in, a drain out) so the call goes on, and is tried again every
//! two seconds until it is back. The callbacks only copy samples between the
//! device and the lock-free rings: no allocation, and no lock but an
//! uncontended `try_lock` (the keeper takes it only to swap a stand-in in).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use super::{AudioError, Backend, BackendConfig, Devices, Health, Playback, Ports, Running, Signals};
use crate::voice::{FRAME, RATE};

pub struct Cpal {
    input: Option<String>,
    output: Option<String>,
}

pub fn new(config: &BackendConfig) -> Result<Box<dyn Backend>, AudioError> {
    Ok(Box::new(Cpal { input: config.input.clone(), output: config.output.clone() }))
}

/// What a person types to pick a device: PulseAudio's name for it
/// (`alsa_output.pci-0000_00_1f.3.analog-stereo`, `micA.monitor`) where
/// there is one, else the description.
fn name_of(d: &cpal::Device) -> String {
    match d.id() {
        Ok(id) if id.host() == cpal::HostId::PulseAudio => id.id().to_string(),
        _ => d.description().map(|d| d.name().to_string()).unwrap_or_else(|_| d.to_string()),
    }
}

fn matches(d: &cpal::Device, wanted: &str) -> bool {
    name_of(d) == wanted
        || d.description().map(|x| x.name() == wanted).unwrap_or(false)
        || d.id().map(|i| i.to_string() == wanted).unwrap_or(false)
}

fn hint(input: bool) -> &'static str {
    if input {
        "pick another with `apero call settings --input NAME` (`apero devices` lists them)"
    } else {
        "pick another with `apero call settings --output NAME` (`apero devices` lists them)"
    }
}

fn pick(host: &cpal::Host, wanted: Option<&str>, input: bool) -> Result<cpal::Device, String> {
    let kind = if input { "microphone" } else { "speaker" };
    // libpulse's own variables, so `PULSE_SINK=… aperod` means the same on
    // the PulseAudio host as through ALSA's pulse plugin.
    let from_env =
        (host.id() == cpal::HostId::PulseAudio).then(|| std::env::var(if input { "PULSE_SOURCE" } else { "PULSE_SINK" }).ok()).flatten();
    match wanted.map(str::to_string).or(from_env) {
        None => if input { host.default_input_device() } else { host.default_output_device() }
            .ok_or_else(|| format!("no {kind}: no default device (is a sound server running?)")),
        Some(name) => {
            let devices = if input { host.input_devices() } else { host.output_devices() }.map_err(|e| format!("no {kind}: {e}"))?;
            devices.into_iter().find(|d| matches(d, &name)).ok_or_else(|| format!("no {kind} called {name:?}"))
        }
    }
}

/// Buffer requests; hosts treat them as hints (see the audio-rig notes).
/// The microphone: 10 ms, one frame (5 ms lost 3.6 % of the input on
/// PulseAudio). The speaker: 10 ms, which PulseAudio double-buffers (20 ms
/// queued at the server); the engine's own ring holds the rest, adapting to
/// underruns. 5 ms periods saved 5 ms of latency but left the callback 5 ms
/// to answer the server: on a busy machine it starved the stream for a
/// quarter of the time (gaps in what we play, and an echo canceller whose
/// reference no longer matched what played). Longer periods write several
/// frames at once, which the canceller's reference cannot wait for (see
/// `voice::reference`).
const INPUT_FRAMES: u32 = 480;
const OUTPUT_FRAMES: u32 = 480;
/// A device that has not called back for this long is gone.
const STALL: Duration = Duration::from_millis(1500);
/// The longest a stream may take to open (a hung sound server).
const OPEN_WAIT: Duration = Duration::from_secs(2);
/// How often a missing device is tried again.
const RETRY: Duration = Duration::from_secs(2);

fn config_for(device: &cpal::Device, input: bool) -> Result<cpal::StreamConfig, String> {
    let default = if input { device.default_input_config() } else { device.default_output_config() }.map_err(|e| e.to_string())?;
    let frames = if input { INPUT_FRAMES } else { OUTPUT_FRAMES };
    Ok(cpal::StreamConfig { channels: default.channels().max(1), sample_rate: RATE, buffer_size: cpal::BufferSize::Fixed(frames) })
}

/// Milliseconds on one clock shared by the callbacks and the keeper.
fn now_ms(base: Instant) -> u64 {
    base.elapsed().as_millis() as u64
}

/// One direction's device as the keeper sees it.
struct Side {
    input: bool,
    stream: Option<cpal::Stream>,
    /// The last callback, on `now_ms`.
    seen: Arc<AtomicU64>,
    /// Set by the error callback when the stream cannot go on.
    broken: Arc<AtomicBool>,
    opened_at: Instant,
    tried_at: Option<Instant>,
    error: Option<String>,
    /// Opened once at least: a later open is a reopening.
    ever: bool,
}

impl Side {
    fn new(input: bool) -> Side {
        Side {
            input,
            stream: None,
            seen: Arc::new(AtomicU64::new(0)),
            broken: Arc::new(AtomicBool::new(false)),
            opened_at: Instant::now(),
            tried_at: None,
            error: None,
            ever: false,
        }
    }

    fn kind(&self) -> &'static str {
        if self.input {
            "microphone"
        } else {
            "speaker"
        }
    }

    /// Whether a stream that was opened has stopped: its error callback
    /// said so, or it has been silent too long.
    fn stalled(&self, base: Instant) -> bool {
        if self.stream.is_none() {
            return false;
        }
        if self.broken.load(Ordering::Relaxed) {
            return true;
        }
        let last = self.seen.load(Ordering::Relaxed);
        let since = if last == 0 { self.opened_at.elapsed() } else { Duration::from_millis(now_ms(base).saturating_sub(last)) };
        since > STALL
    }
}

struct Shared {
    base: Instant,
    capture: Mutex<rtrb::Producer<i16>>,
    playback: Mutex<rtrb::Consumer<i16>>,
    /// What the speaker played, as it played it: the echo canceller's reference.
    played: Mutex<rtrb::Producer<i16>>,
    signals: Arc<Signals>,
    errors: ErrorLog,
}

fn open_input(host: &cpal::Host, wanted: Option<&str>, shared: &Arc<Shared>, side: &Side) -> Result<cpal::Stream, String> {
    let dev = pick(host, wanted, true)?;
    let cfg = config_for(&dev, true).map_err(|e| format!("the microphone {}: {e}", name_of(&dev)))?;
    let ch = cfg.channels as usize;
    let (sh, seen, broken) = (shared.clone(), side.seen.clone(), side.broken.clone());
    let sh2 = shared.clone();
    let broken2 = side.broken.clone();
    let stream = dev
        .build_input_stream::<f32, _, _>(
            cfg,
            move |data: &[f32], _| {
                seen.store(now_ms(sh.base).max(1), Ordering::Relaxed);
                if let Ok(mut capture) = sh.capture.try_lock() {
                    for frame in data.chunks(ch) {
                        let mono = frame.iter().sum::<f32>() / ch as f32;
                        // A full ring means the engine is behind: drop, never block.
                        let _ = capture.push((mono.clamp(-1.0, 1.0) * 32767.0) as i16);
                    }
                }
                sh.signals.wake();
            },
            move |e| {
                if fatal(&e) {
                    broken.store(true, Ordering::Relaxed);
                }
                sh2.errors.note("input", e)
            },
            Some(OPEN_WAIT),
        )
        .map_err(|e| format!("opening the microphone {}: {e}", name_of(&dev)))?;
    stream.play().map_err(|e| {
        broken2.store(true, Ordering::Relaxed);
        format!("starting the microphone {}: {e}", name_of(&dev))
    })?;
    tracing::info!(device = %name_of(&dev), channels = ch, "microphone open");
    Ok(stream)
}

fn open_output(host: &cpal::Host, wanted: Option<&str>, shared: &Arc<Shared>, side: &Side) -> Result<cpal::Stream, String> {
    let dev = pick(host, wanted, false)?;
    let cfg = config_for(&dev, false).map_err(|e| format!("the speaker {}: {e}", name_of(&dev)))?;
    let ch = cfg.channels as usize;
    let (sh, seen, broken) = (shared.clone(), side.seen.clone(), side.broken.clone());
    let sh2 = shared.clone();
    let stream = dev
        .build_output_stream::<f32, _, _>(
            cfg,
            move |data: &mut [f32], _| {
                seen.store(now_ms(sh.base).max(1), Ordering::Relaxed);
                let wanted = data.len() / ch;
                sh.signals.pulled(wanted);
                match sh.playback.try_lock() {
                    Ok(mut playback) => {
                        if playback.slots() < wanted {
                            sh.signals.underrun();
                        }
                        let mut played = sh.played.try_lock().ok();
                        for frame in data.chunks_mut(ch) {
                            let s = playback.pop().unwrap_or(0);
                            if let Some(p) = played.as_mut() {
                                let _ = p.push(s);
                            }
                            frame.fill(s as f32 / 32768.0);
                        }
                    }
                    Err(_) => data.fill(0.0),
                }
                sh.signals.wake();
            },
            move |e| {
                if fatal(&e) {
                    broken.store(true, Ordering::Relaxed);
                }
                sh2.errors.note("output", e)
            },
            Some(OPEN_WAIT),
        )
        .map_err(|e| format!("opening the speaker {}: {e}", name_of(&dev)))?;
    stream.play().map_err(|e| format!("starting the speaker {}: {e}", name_of(&dev)))?;
    tracing::info!(device = %name_of(&dev), channels = ch, "speaker open");
    Ok(stream)
}

/// Errors after which the stream will not call back again.
fn fatal(e: &cpal::Error) -> bool {
    use cpal::ErrorKind::*;
    matches!(e.kind(), StreamInvalidated | DeviceNotAvailable | HostUnavailable | DeviceChanged)
}

/// A device that has gone away reports an error on every callback (a
/// thousand a second with ALSA): the first is logged, then one line every
/// few seconds with how many came since.
#[derive(Default)]
struct ErrorLog {
    state: Mutex<(Option<Instant>, u64)>,
}

impl ErrorLog {
    const EVERY: Duration = Duration::from_secs(5);

    fn note(&self, stream: &str, e: cpal::Error) {
        let Ok(mut s) = self.state.lock() else { return };
        let (last, since) = &mut *s;
        *since += 1;
        if last.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            tracing::warn!("audio {stream} stream error: {e} ({since} since the last report)");
            *last = Some(Instant::now());
            *since = 0;
        }
    }
}

/// The keeper's loop: (re)opens, watches, stands in; returns when `stop`
/// is dropped.
fn keep(
    input: Option<String>,
    output: Option<String>,
    shared: Arc<Shared>,
    health: Arc<Health>,
    stop: mpsc::Receiver<()>,
    ready: mpsc::Sender<()>,
) {
    let mut sides = [Side::new(true), Side::new(false)];
    // The stand-ins' clock (its start, frames done): silence pushed and
    // samples drained per 10 ms.
    let mut standin: Option<(Instant, u64)> = None;
    let mut ready = Some(ready);
    loop {
        for side in sides.iter_mut() {
            if side.stalled(shared.base) {
                let why = if side.broken.load(Ordering::Relaxed) { "it failed" } else { "it stopped calling back" };
                tracing::warn!("the {} is gone ({why}); the call goes on without it", side.kind());
                // Dropping a stream whose server died can block: on its own
                // thread, so the keeper and the call never wait on it.
                if let Some(s) = side.stream.take() {
                    let _ = std::thread::Builder::new().name("audio-close".into()).spawn(move || drop(s));
                }
                side.error = Some(format!(
                    "the {} was lost ({why}: sound server restarted or device unplugged); waiting for it to come back, or {}",
                    side.kind(),
                    hint(side.input)
                ));
                side.tried_at = Some(Instant::now());
            }
            if side.stream.is_none() && side.tried_at.is_none_or(|t| t.elapsed() >= RETRY) {
                side.tried_at = Some(Instant::now());
                side.broken.store(false, Ordering::Relaxed);
                side.seen.store(0, Ordering::Relaxed);
                side.opened_at = Instant::now();
                // A fresh host each time: a restarted sound server needs a new connection.
                let host = cpal::default_host();
                let opened = if side.input {
                    open_input(&host, input.as_deref(), &shared, side)
                } else {
                    open_output(&host, output.as_deref(), &shared, side)
                };
                match opened {
                    Ok(s) => {
                        side.stream = Some(s);
                        if side.ever {
                            health.reopened.fetch_add(1, Ordering::Relaxed);
                            tracing::info!("the {} is back", side.kind());
                        }
                        side.ever = true;
                        side.error = None;
                    }
                    // A lost device keeps its "lost" message, which says more.
                    Err(e) if side.ever => tracing::debug!("{e}"),
                    Err(e) => {
                        let e = format!("{e}; {}", hint(side.input));
                        if side.error.as_deref() != Some(&e) {
                            tracing::warn!("{e}");
                        }
                        side.error = Some(e);
                    }
                }
            }
        }
        health.set(sides[0].error.clone(), sides[1].error.clone());
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        let standing_in = sides.iter().any(|s| s.stream.is_none());
        let wait = if standing_in { Duration::from_millis(10) } else { Duration::from_millis(200) };
        match stop.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => break,
        }
        if !standing_in {
            standin = None;
            continue;
        }
        let (t0, done) = standin.get_or_insert_with(|| (Instant::now(), 0));
        let due = (t0.elapsed().as_millis() / 10) as u64;
        // Whole frames, as many as the clock says; after a stall of the
        // keeper, no more than 200 ms of catching up.
        let frames = due.saturating_sub(*done).min(20) as usize;
        *done = due;
        if frames == 0 {
            continue;
        }
        if sides[0].stream.is_none() {
            if let Ok(mut capture) = shared.capture.try_lock() {
                for _ in 0..frames * FRAME {
                    let _ = capture.push(0);
                }
            }
        }
        if sides[1].stream.is_none() {
            if let Ok(mut playback) = shared.playback.try_lock() {
                let n = (frames * FRAME).min(playback.slots());
                if let Ok(chunk) = playback.read_chunk(n) {
                    chunk.commit_all();
                }
            }
            shared.signals.pulled(FRAME);
        }
        shared.signals.wake();
    }
    for side in sides.iter_mut() {
        if let Some(s) = side.stream.take() {
            drop(s);
        }
    }
}

struct CpalRunning {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    health: Arc<Health>,
}

/// How long `stop` waits for the devices to close: a daemon whose sound
/// server died must still stop at once.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

impl Running for CpalRunning {
    fn stop(mut self: Box<Self>) -> Result<(), AudioError> {
        self.shutdown();
        Ok(())
    }

    fn health(&self) -> Option<Arc<Health>> {
        Some(self.health.clone())
    }
}

impl CpalRunning {
    fn shutdown(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let (done_tx, done_rx) = mpsc::channel();
            let _ = std::thread::Builder::new().name("audio-join".into()).spawn(move || {
                let _ = t.join();
                let _ = done_tx.send(());
            });
            if done_rx.recv_timeout(CLOSE_WAIT).is_err() {
                tracing::warn!("the sound devices did not close within {CLOSE_WAIT:?}; leaving them behind");
            }
        }
    }
}

impl Drop for CpalRunning {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Backend for Cpal {
    fn name(&self) -> &'static str {
        "cpal"
    }

    fn devices(&self) -> Result<Devices, AudioError> {
        let host = cpal::default_host();
        let inputs = host.input_devices().map(|it| it.map(|d| name_of(&d)).collect()).unwrap_or_default();
        let outputs = host.output_devices().map(|it| it.map(|d| name_of(&d)).collect()).unwrap_or_default();
        Ok(Devices {
            inputs,
            outputs,
            default_input: host.default_input_device().map(|d| name_of(&d)),
            default_output: host.default_output_device().map(|d| name_of(&d)),
        })
    }

    /// Never fails for want of a device: what cannot be opened is stood in
    /// for and reported through `health`.
    fn start(&self, ports: Ports) -> Result<Box<dyn Running>, AudioError> {
        let Ports { capture, playback, signals } = ports;
        let Playback::Ring { ring: playback, played } = playback else {
            return Err(AudioError::Device("a sound card plays from a ring".into()));
        };
        let shared = Arc::new(Shared {
            base: Instant::now(),
            capture: Mutex::new(capture),
            playback: Mutex::new(playback),
            played: Mutex::new(played),
            signals,
            errors: ErrorLog::default(),
        });
        let health = Arc::new(Health::default());
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let (input, output, h) = (self.input.clone(), self.output.clone(), health.clone());
        let thread = std::thread::Builder::new()
            .name("audio-cpal".into())
            .spawn(move || keep(input, output, shared, h, stop_rx, ready_tx))
            .map_err(|e| AudioError::Device(e.to_string()))?;
        // The first opening decides what `call join` reports; each open is
        // bounded (OPEN_WAIT), so is this.
        let _ = ready_rx.recv_timeout(OPEN_WAIT * 3);
        Ok(Box::new(CpalRunning { stop: Some(stop_tx), thread: Some(thread), health }))
    }
}
