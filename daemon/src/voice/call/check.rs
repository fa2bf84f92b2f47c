//! The sound check's glue to the call service: it shares the devices and
//! settings with calls, so it is started, stopped and watched from here.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use apero_control::{Event, SoundCheckState};

use super::watch::{Resend, WATCH_EVERY};
use super::{audio, stopped_cleanly, Calls};
use crate::error::{ServiceError, ServiceResult};
use crate::voice::backend;
use crate::voice::engine::lock;
use crate::voice::soundcheck::{self, SoundCheck};

impl Calls {
    /// Starts the sound check, or changes the running one (echo on or off,
    /// and `seconds` more from now).
    pub async fn sound_check(self: &Arc<Self>, echo: bool, seconds: Option<u32>) -> ServiceResult<SoundCheckState> {
        if let Some(room) = lock(&self.local).as_ref().map(|c| c.room.clone()) {
            let name = self.deps.store.room(&room).ok().flatten().map(|r| r.name).unwrap_or(room);
            return Err(ServiceError::Refused(format!(
                "you are in the call of {name:?}: your microphone's level shows in `apero call status`; leave the call (`apero call leave`) to test it alone"
            )));
        }
        let config = lock(&self.config).clone();
        let started = {
            let mut check = lock(&self.check);
            match check.as_mut() {
                Some(c) => {
                    c.run_for(seconds);
                    c.set_echo(echo).map_err(audio("cannot start the echo"))?;
                    None
                }
                None => {
                    let backend = backend::by_name(&config.backend, &config.audio).map_err(audio("the audio backend"))?;
                    let serial = self.serials.fetch_add(1, Ordering::Relaxed) + 1;
                    let mut c = SoundCheck::start(backend.as_ref(), self.deps.kbps, config.processing, self.peer_id, serial)
                        .map_err(audio("cannot start audio"))?;
                    c.run_for(seconds);
                    c.set_echo(echo).map_err(audio("cannot start the echo"))?;
                    *check = Some(c);
                    Some(serial)
                }
            }
        };
        if let Some(serial) = started {
            tracing::info!(echo, "sound check started");
            tokio::spawn(watch_check(Arc::downgrade(self), serial));
        }
        Ok(self.check_state())
    }

    /// Stops the sound check (nothing to do when none runs).
    pub async fn sound_check_stop(&self) -> ServiceResult<SoundCheckState> {
        let Some(check) = lock(&self.check).take() else { return Ok(self.check_state()) };
        let stopped = tokio::task::spawn_blocking(move || check.stop()).await;
        let state = self.check_state();
        self.deps.events.emit(Event::SoundCheck { state: state.clone() });
        tracing::info!("sound check stopped");
        stopped_cleanly(stopped).map(|()| state)
    }

    fn check_state(&self) -> SoundCheckState {
        let (input, output) = {
            let c = lock(&self.config);
            (c.audio.input.clone(), c.audio.output.clone())
        };
        match lock(&self.check).as_ref() {
            Some(c) => c.state(input, output),
            None => soundcheck::stopped(input, output),
        }
    }

    /// One tick of the check `serial`'s watcher: `false` once it is over.
    async fn check_tick(&self, serial: u64, last: &mut Resend<SoundCheckState>) -> bool {
        let expired = match lock(&self.check).as_ref() {
            Some(c) if c.serial == serial => c.expired(),
            _ => return false,
        };
        if expired {
            if let Err(e) = self.sound_check_stop().await {
                tracing::warn!("{e}");
            }
            return false;
        }
        let state = self.check_state();
        if last.due(&state) {
            self.deps.events.emit(Event::SoundCheck { state });
        }
        true
    }
}

/// Runs while the sound check `serial` does; stops it when its time is up.
async fn watch_check(calls: Weak<Calls>, serial: u64) {
    let mut last = Resend::default();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(calls) = calls.upgrade() else { return };
        if !calls.check_tick(serial, &mut last).await {
            return;
        }
    }
}
