//! A real-time clock for backends without a sound card: every 10 ms it takes
//! one frame from a source into the capture ring and gives one frame of
//! playback to a sink, on absolute deadlines so it never drifts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{AudioError, Playback, Ports, Running};
use crate::lock::lock;
use crate::voice::FRAME;

/// Wall-clock time of the first sample each way, in Unix nanoseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timing {
    pub first_input_ns: Option<u128>,
    pub first_output_ns: Option<u128>,
}

pub trait Source: Send + 'static {
    fn fill(&mut self, frame: &mut [i16]);
}

pub trait Sink: Send + 'static {
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError>;
    fn finish(self: Box<Self>) -> Result<(), AudioError>;
}

pub struct Paced {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), AudioError>>>,
    timing: Arc<Mutex<Timing>>,
}

fn unix_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

impl Paced {
    /// Paced backends pull (`Backend::pulls`): a ring here is the engine's mistake.
    pub fn start(mut ports: Ports, mut source: Box<dyn Source>, mut sink: Box<dyn Sink>) -> Result<Paced, AudioError> {
        let Playback::Pull(mut render) = ports.playback else {
            return Err(AudioError::Device("a paced backend renders its own playback".into()));
        };
        let stop = Arc::new(AtomicBool::new(false));
        let timing = Arc::new(Mutex::new(Timing::default()));
        let (stop2, timing2) = (stop.clone(), timing.clone());
        let thread = std::thread::Builder::new()
            .name("audio-paced".into())
            .spawn(move || {
                let mut frame = [0i16; FRAME];
                let start = Instant::now();
                let mut n: u32 = 0;
                while !stop2.load(Ordering::Relaxed) {
                    let deadline = start + Duration::from_millis(10) * n;
                    if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    source.fill(&mut frame);
                    if n == 0 {
                        lock(&timing2).first_input_ns = Some(unix_ns());
                    }
                    if let Ok(chunk) = ports.capture.write_chunk_uninit(FRAME) {
                        chunk.fill_from_iter(frame.iter().copied());
                    }
                    let mut out = [0i16; FRAME];
                    // The engine encodes this tick's capture on its thread
                    // while this one renders.
                    ports.signals.wake();
                    render(&mut out);
                    if n == 0 {
                        lock(&timing2).first_output_ns = Some(unix_ns());
                    }
                    sink.write(&out)?;
                    n = n.wrapping_add(1);
                }
                sink.finish()
            })
            .expect("spawn audio thread");
        Ok(Paced { stop, thread: Some(thread), timing })
    }
}

impl Running for Paced {
    fn stop(mut self: Box<Self>) -> Result<(), AudioError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(AudioError::Device("the audio thread panicked".into())),
            None => Ok(()),
        }
    }

    fn timing(&self) -> Timing {
        *lock(&self.timing)
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
