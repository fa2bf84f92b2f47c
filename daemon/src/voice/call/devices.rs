//! Sound devices, audio processing and per-participant volumes: what a
//! person changes while a call or sound check runs, kept for the next run.

use std::sync::atomic::Ordering;

use apero_control::{AudioDevicesInfo, CallStatus};
use libp2p::PeerId;

use super::{audio, Calls};
use crate::error::{ServiceError, ServiceResult};
use crate::voice::backend;
use crate::voice::engine::{lock, processing_bits, Engine};
use crate::voice::kept;

/// The settings `call settings` may change; `None` leaves one as it is.
#[derive(Debug, Default)]
pub struct SettingsChange {
    pub input: Option<String>,
    pub output: Option<String>,
    pub echo_cancel: Option<bool>,
    pub noise_suppression: Option<bool>,
    pub gain_control: Option<bool>,
}

impl Calls {
    pub fn audio_devices(&self) -> ServiceResult<AudioDevicesInfo> {
        let config = lock(&self.config).clone();
        let b = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
        let d = b.devices().map_err(audio("cannot list sound devices"))?;
        Ok(AudioDevicesInfo {
            backend: config.backend,
            inputs: d.inputs,
            outputs: d.outputs,
            default_input: d.default_input,
            default_output: d.default_output,
            input: config.audio.input,
            output: config.audio.output,
            processing: config.processing,
        })
    }

    /// `call settings`: devices move at once (the call stays), processing
    /// changes within a frame.
    pub async fn settings(&self, change: SettingsChange) -> ServiceResult<AudioDevicesInfo> {
        let processing = {
            let mut config = lock(&self.config);
            let p = &mut config.processing;
            if let Some(v) = change.echo_cancel {
                p.echo_cancel = v;
            }
            if let Some(v) = change.noise_suppression {
                p.noise_suppression = v;
            }
            if let Some(v) = change.gain_control {
                p.gain_control = v;
            }
            *p
        };
        if change.echo_cancel.is_some() || change.noise_suppression.is_some() || change.gain_control.is_some() {
            kept::save_processing(&self.deps.store, processing);
        }
        if let Some(call) = lock(&self.local).as_ref() {
            call.shared.processing.store(processing_bits(processing), Ordering::Relaxed);
        }
        if let Some(check) = lock(&self.check).as_ref() {
            check.set_processing(processing);
        }
        if change.input.is_some() || change.output.is_some() {
            return self.audio_use(change.input, change.output).await;
        }
        self.audio_devices()
    }

    /// Our playback volume for one participant of our call.
    pub async fn set_volume(&self, peer: &str, percent: u32) -> ServiceResult<CallStatus> {
        if percent > 400 {
            return Err(ServiceError::BadRequest(format!("volume {percent}% is out of range: 0 to 400")));
        }
        let peer: PeerId = peer.parse().map_err(|_| ServiceError::BadRequest(format!("{peer:?} is not a peer id")))?;
        {
            let local = lock(&self.local);
            let call =
                local.as_ref().ok_or_else(|| ServiceError::NotFound("you are in no call; join one with `apero call join ROOM`".into()))?;
            let mut peers = lock(&call.shared.peers);
            let p = peers
                .get_mut(&peer)
                .ok_or_else(|| ServiceError::NotFound(format!("{peer} is not in your call; `apero call status` lists who is")))?;
            p.volume = percent;
        }
        kept::save_volume(&self.deps.store, &peer, percent);
        self.status().await
    }

    /// Switches devices; a running call moves to them at once.
    pub async fn audio_use(&self, input: Option<String>, output: Option<String>) -> ServiceResult<AudioDevicesInfo> {
        let (input_changed, output_changed) = (input.is_some(), output.is_some());
        {
            let mut config = lock(&self.config);
            if input.is_some() {
                config.audio.input = input;
            }
            if output.is_some() {
                config.audio.output = output;
            }
            kept::save_devices(
                &self.deps.store,
                config.audio.input.as_deref().filter(|_| input_changed),
                config.audio.output.as_deref().filter(|_| output_changed),
            );
        }
        // A running call or sound check moves to the new devices at once.
        if lock(&self.local).is_none() && lock(&self.check).is_none() {
            return self.audio_devices();
        }
        let config = lock(&self.config).clone();
        let backend = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
        let mut old = Vec::new();
        if let Some(call) = lock(&self.local).as_mut() {
            let engine =
                Engine::start(backend.as_ref(), call.shared.clone(), self.deps.kbps).map_err(audio("cannot open the new devices"))?;
            old.push(std::mem::replace(&mut call.engine, engine));
            tracing::info!(room = %call.room, "switched audio devices during the call");
        }
        if let Some(check) = lock(&self.check).as_mut() {
            old.push(check.replace_engine(backend.as_ref(), self.deps.kbps).map_err(audio("cannot open the new devices"))?);
        }
        for engine in old {
            let _ = tokio::task::spawn_blocking(move || engine.stop()).await;
        }
        self.audio_devices()
    }
}
