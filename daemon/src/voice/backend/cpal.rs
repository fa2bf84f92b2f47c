//! The system's sound devices through cpal (ALSA on Linux, which PulseAudio
//! and PipeWire serve when they run).
//!
//! cpal streams are not `Send` on every platform, so one thread opens them,
//! keeps them alive and closes them. The callbacks only copy samples between
//! the device and the lock-free rings: no allocation, no lock.

use std::sync::mpsc;
use std::thread::JoinHandle;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use super::{AudioError, Backend, BackendConfig, Devices, Playback, Ports, Running};
use crate::voice::RATE;

pub struct Cpal {
    input: Option<String>,
    output: Option<String>,
}

pub fn new(config: &BackendConfig) -> Result<Box<dyn Backend>, AudioError> {
    Ok(Box::new(Cpal { input: config.input.clone(), output: config.output.clone() }))
}

fn name_of(d: &cpal::Device) -> String {
    d.description().map(|d| d.name().to_string()).unwrap_or_else(|_| d.to_string())
}

fn pick(host: &cpal::Host, wanted: Option<&str>, input: bool) -> Result<cpal::Device, AudioError> {
    let kind = if input { "input" } else { "output" };
    match wanted {
        None => if input { host.default_input_device() } else { host.default_output_device() }.ok_or_else(|| {
            AudioError::Device(format!("no default {kind} device; is a sound server running? `apero audio devices` lists devices"))
        }),
        Some(name) => {
            let devices =
                if input { host.input_devices() } else { host.output_devices() }.map_err(|e| AudioError::Device(e.to_string()))?;
            devices
                .into_iter()
                .find(|d| name_of(d) == name || d.id().map(|i| i.to_string() == name).unwrap_or(false))
                .ok_or_else(|| AudioError::Device(format!("no {kind} device called {name:?}; `apero audio devices` lists them")))
        }
    }
}

/// A 10 ms request; hosts treat it as a hint (see the audio-rig notes).
const BUFFER_FRAMES: u32 = 480;

fn config_for(device: &cpal::Device, input: bool) -> Result<cpal::StreamConfig, AudioError> {
    let default = if input { device.default_input_config() } else { device.default_output_config() }
        .map_err(|e| AudioError::Device(e.to_string()))?;
    Ok(cpal::StreamConfig { channels: default.channels().max(1), sample_rate: RATE, buffer_size: cpal::BufferSize::Fixed(BUFFER_FRAMES) })
}

fn open(input: Option<String>, output: Option<String>, ports: Ports) -> Result<(cpal::Stream, cpal::Stream), AudioError> {
    let host = cpal::default_host();
    let in_dev = pick(&host, input.as_deref(), true)?;
    let out_dev = pick(&host, output.as_deref(), false)?;
    let in_cfg = config_for(&in_dev, true)?;
    let out_cfg = config_for(&out_dev, false)?;
    let (in_ch, out_ch) = (in_cfg.channels as usize, out_cfg.channels as usize);
    let Ports { mut capture, playback, signals } = ports;
    let Playback::Ring(mut playback) = playback else {
        return Err(AudioError::Device("a sound card plays from a ring".into()));
    };
    let in_signals = signals.clone();
    let errors = std::sync::Arc::new(ErrorLog::default());
    let in_errors = errors.clone();
    let in_stream = in_dev
        .build_input_stream::<f32, _, _>(
            in_cfg,
            move |data: &[f32], _| {
                for frame in data.chunks(in_ch) {
                    let mono = frame.iter().sum::<f32>() / in_ch as f32;
                    // A full ring means the engine is behind: drop, never block.
                    let _ = capture.push((mono.clamp(-1.0, 1.0) * 32767.0) as i16);
                }
                in_signals.wake();
            },
            move |e| in_errors.note("input", e),
            None,
        )
        .map_err(|e| AudioError::Device(format!("opening {}: {e}", name_of(&in_dev))))?;
    let out_stream = out_dev
        .build_output_stream::<f32, _, _>(
            out_cfg,
            move |data: &mut [f32], _| {
                if playback.slots() < data.len() / out_ch {
                    signals.underrun();
                }
                for frame in data.chunks_mut(out_ch) {
                    let s = playback.pop().unwrap_or(0) as f32 / 32768.0;
                    frame.fill(s);
                }
                signals.wake();
            },
            move |e| errors.note("output", e),
            None,
        )
        .map_err(|e| AudioError::Device(format!("opening {}: {e}", name_of(&out_dev))))?;
    in_stream.play().map_err(|e| AudioError::Device(e.to_string()))?;
    out_stream.play().map_err(|e| AudioError::Device(e.to_string()))?;
    Ok((in_stream, out_stream))
}

/// A device that has gone away reports an error on every callback (a
/// thousand a second with ALSA): the first is logged, then one line every
/// few seconds with how many came since.
#[derive(Default)]
struct ErrorLog {
    state: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl ErrorLog {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    fn note(&self, stream: &str, e: cpal::Error) {
        let Ok(mut s) = self.state.lock() else { return };
        let (last, since) = &mut *s;
        *since += 1;
        if last.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            tracing::warn!("audio {stream} stream error: {e} ({since} since the last report)");
            *last = Some(std::time::Instant::now());
            *since = 0;
        }
    }
}

struct CpalRunning {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running for CpalRunning {
    fn stop(mut self: Box<Self>) -> Result<(), AudioError> {
        self.shutdown();
        Ok(())
    }
}

impl CpalRunning {
    fn shutdown(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
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

    fn start(&self, ports: Ports) -> Result<Box<dyn Running>, AudioError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (input, output) = (self.input.clone(), self.output.clone());
        let thread = std::thread::Builder::new()
            .name("audio-cpal".into())
            .spawn(move || match open(input, output, ports) {
                Ok(streams) => {
                    let _ = ready_tx.send(Ok(()));
                    // Returns when the sender is dropped: that is the stop signal.
                    let _ = stop_rx.recv();
                    drop(streams);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| AudioError::Device(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Box::new(CpalRunning { stop: Some(stop_tx), thread: Some(thread) })),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(AudioError::Device("the audio thread died while opening the devices".into())),
        }
    }
}
