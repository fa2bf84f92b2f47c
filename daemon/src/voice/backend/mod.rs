//! Audio backends: one small trait, one file per backend, picked by name.
//!
//! A backend writes what the "microphone" hears into a lock-free ring
//! (`capture`) and plays what `playback` gives it, 48 kHz mono i16 on both
//! sides, on threads of its own. A sound card reads a second lock-free ring
//! that the engine keeps topped up, so its real-time callback never locks or
//! allocates; a clock with no device behind it (a file, nothing) renders
//! each frame when its tick comes (`Playback`).

mod cpal;
mod null;
mod paced;
mod wav;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::lock::lock;

pub use paced::Timing;

/// What a backend talks to.
pub struct Ports {
    pub capture: rtrb::Producer<i16>,
    pub playback: Playback,
    pub signals: Arc<Signals>,
}

/// Where the speaker's samples come from.
pub enum Playback {
    /// For a sound card: its callback has a hard deadline and must not wait
    /// on a lock, so it reads a ring the engine fills a little ahead; and it
    /// writes what it played, when it played it, into `played`: the echo
    /// canceller's reference must come at the device's pace, not ahead of
    /// it with the ring (AEC3 resets its delay search when the reference
    /// runs more than ~30 ms ahead of the microphone).
    Ring { ring: rtrb::Consumer<i16>, played: rtrb::Producer<i16> },
    /// For a paced backend (`Backend::pulls`): a file has no deadline, so
    /// each 10 ms tick renders its frame (pops the jitter buffers, mixes)
    /// then and there, as Chromium's fake audio output does. No ring means
    /// no pre-fill to add to the delay, and a tick that comes late (a busy
    /// machine) writes its frame late instead of playing a hole.
    Pull(Render),
}

/// Fills one 10 ms frame of playback.
pub type Render = Box<dyn FnMut(&mut [i16; crate::voice::FRAME]) + Send>;

/// What a backend tells the engine besides samples: "there is work" (it
/// pushed capture or took playback), so the engine sleeps until then instead
/// of polling; and how often the speaker found the playback ring empty.
#[derive(Default)]
pub struct Signals {
    engine: OnceLock<std::thread::Thread>,
    underruns: AtomicU64,
    /// The most samples the speaker took at once since the engine last
    /// looked (`take_pull`): how much the playback ring must hold.
    pull: AtomicUsize,
}

impl Signals {
    /// Called once by `Engine::start`, before the backend starts (and so
    /// before any wake can matter).
    pub fn set_engine(&self, t: std::thread::Thread) {
        let _ = self.engine.set(t);
    }

    /// Wakes the engine: lock-free, no allocation (an atomic and, when the
    /// engine sleeps, one futex call), so fit for an audio callback.
    pub fn wake(&self) {
        if let Some(t) = self.engine.get() {
            t.unpark();
        }
    }

    /// The device wanted samples and the ring had fewer than it asked for.
    pub fn underrun(&self) {
        self.underruns.fetch_add(1, Ordering::Relaxed);
    }

    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    /// The speaker took `samples` at once (lock-free).
    pub fn pulled(&self, samples: usize) {
        self.pull.fetch_max(samples, Ordering::Relaxed);
    }

    /// The largest pull since the last call (0: none).
    pub fn take_pull(&self) -> usize {
        self.pull.swap(0, Ordering::Relaxed)
    }
}

/// Whether the devices of a running backend work; the backend keeps it up
/// to date, the call reports it.
#[derive(Default)]
pub struct Health {
    /// (microphone, speaker): `None` when it works, else why not.
    errors: std::sync::Mutex<(Option<String>, Option<String>)>,
    /// Devices opened again after a loss.
    pub reopened: AtomicU64,
}

impl Health {
    pub fn set(&self, input: Option<String>, output: Option<String>) {
        let mut e = lock(&self.errors);
        *e = (input, output);
    }

    pub fn errors(&self) -> (Option<String>, Option<String>) {
        lock(&self.errors).clone()
    }
}

#[derive(Debug, Clone, Default)]
pub struct BackendConfig {
    pub input: Option<String>,
    pub output: Option<String>,
    pub wav_in: Option<PathBuf>,
    pub wav_out: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("unknown audio backend {0:?}; `aperod --audio ?` lists them")]
    UnknownBackend(String),
    #[error("{0}")]
    Config(String),
    #[error("audio device error: {0}")]
    Device(String),
    #[error("audio file error: {0}")]
    File(String),
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Devices {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub default_input: Option<String>,
    pub default_output: Option<String>,
}

/// Audio flowing; stops (and finishes any file) when dropped or stopped.
pub trait Running: Send {
    /// Stops audio and reports whether everything was written.
    fn stop(self: Box<Self>) -> Result<(), AudioError>;
    /// Sample clock facts, for latency measurements.
    fn timing(&self) -> Timing {
        Timing::default()
    }
    /// Device health, for a backend whose devices can come and go.
    fn health(&self) -> Option<Arc<Health>> {
        None
    }
}

pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    fn devices(&self) -> Result<Devices, AudioError>;
    fn start(&self, ports: Ports) -> Result<Box<dyn Running>, AudioError>;
    /// Whether it wants `Playback::Pull` rather than a ring.
    fn pulls(&self) -> bool {
        false
    }
}

type Constructor = fn(&BackendConfig) -> Result<Box<dyn Backend>, AudioError>;

/// The default comes first.
pub const BACKENDS: &[(&str, &str, Constructor)] = &[
    ("cpal", "the system's sound devices (ALSA/PulseAudio on Linux)", cpal::new),
    ("wav", "reads --wav-in as the microphone, writes --wav-out as the speaker (headless tests)", wav::new),
    ("null", "captures silence, discards output", null::new),
];

pub fn by_name(name: &str, config: &BackendConfig) -> Result<Box<dyn Backend>, AudioError> {
    let (_, _, make) = BACKENDS.iter().find(|(n, _, _)| *n == name).ok_or_else(|| AudioError::UnknownBackend(name.to_string()))?;
    make(config)
}

pub fn list() -> String {
    BACKENDS.iter().enumerate().map(|(i, (n, d, _))| format!("{n}{}\t{d}\n", if i == 0 { " (default)" } else { "" })).collect()
}
