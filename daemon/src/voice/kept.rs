//! Call settings the person changed at run time (`apero call settings`, the
//! window's Settings, a per-person volume) are kept in the database's
//! `meta` table and come back after a restart, as in any desktop tool.
//!
//! Precedence: defaults < config file < what was kept < this run's
//! environment and flags (`--audio-processing`, `--input`, `--output`,
//! which a bench or a test sets on purpose: they are "pinned" and win, and
//! are not written back).

use std::collections::HashMap;

use apero_control::AudioProcessing;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use super::backend::BackendConfig;
use crate::store::{log_error, Store};

const PROCESSING: &str = "call.processing";
const INPUT: &str = "call.input";
const OUTPUT: &str = "call.output";
const VOLUME: &str = "call.volume.";

/// Which voice settings this run's environment or flags set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinned {
    pub processing: bool,
    pub input: bool,
    pub output: bool,
}

/// Lays what was kept over the processing and devices, where not pinned.
pub fn restore(store: &Store, pinned: Pinned, processing: &mut AudioProcessing, audio: &mut BackendConfig) {
    let kept: HashMap<String, String> = match store.meta("call.") {
        Ok(rows) => rows.into_iter().collect(),
        Err(e) => return tracing::warn!("cannot read the kept call settings: {e}"),
    };
    if !pinned.processing {
        if let Some(p) = kept.get(PROCESSING).and_then(|v| serde_json::from_str::<AudioProcessing>(v).ok()) {
            *processing = p;
        }
    }
    // An empty value: the system default was chosen again.
    let device = |key: &str| kept.get(key).map(|v| Some(v.clone()).filter(|v| !v.is_empty()));
    if !pinned.input {
        if let Some(d) = device(INPUT) {
            audio.input = d;
        }
    }
    if !pinned.output {
        if let Some(d) = device(OUTPUT) {
            audio.output = d;
        }
    }
    tracing::info!(?processing, input = ?audio.input, output = ?audio.output, "call settings");
}

pub fn save_processing(store: &Store, p: AudioProcessing) {
    if let Ok(v) = serde_json::to_string(&p) {
        log_error(store.set_meta(PROCESSING, &v));
    }
}

pub fn save_devices(store: &Store, input: Option<&str>, output: Option<&str>) {
    if let Some(i) = input {
        log_error(store.set_meta(INPUT, i));
    }
    if let Some(o) = output {
        log_error(store.set_meta(OUTPUT, o));
    }
}

/// Our playback volume for a person, percent (100 when never changed).
pub fn volume(store: &Store, peer: &PeerId) -> u32 {
    store.meta(&format!("{VOLUME}{peer}")).ok().and_then(|rows| rows.into_iter().next()).and_then(|(_, v)| v.parse().ok()).unwrap_or(100)
}

pub fn save_volume(store: &Store, peer: &PeerId, percent: u32) {
    log_error(store.set_meta(&format!("{VOLUME}{peer}"), &percent.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Config {
        processing: AudioProcessing,
        audio: BackendConfig,
    }

    fn config() -> Config {
        Config { processing: AudioProcessing::default(), audio: BackendConfig::default() }
    }

    fn restore(store: &Store, pinned: Pinned, c: &mut Config) {
        super::restore(store, pinned, &mut c.processing, &mut c.audio);
    }

    #[test]
    fn kept_settings_come_back_unless_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let mut c = config();
        restore(&store, Pinned::default(), &mut c);
        assert_eq!(c.processing, AudioProcessing::default(), "nothing kept yet");
        save_processing(&store, AudioProcessing { gain_control: false, ..AudioProcessing::default() });
        save_devices(&store, Some("USB Headset"), None);
        let peer = PeerId::random();
        save_volume(&store, &peer, 150);
        let mut c = config();
        restore(&store, Pinned::default(), &mut c);
        assert!(!c.processing.gain_control && c.processing.echo_cancel);
        assert_eq!(c.audio.input.as_deref(), Some("USB Headset"));
        assert_eq!(c.audio.output, None);
        assert_eq!(volume(&store, &peer), 150);
        assert_eq!(volume(&store, &PeerId::random()), 100);
        let mut c = config();
        c.processing = AudioProcessing::OFF;
        restore(&store, Pinned { processing: true, input: true, output: false }, &mut c);
        assert_eq!(c.processing, AudioProcessing::OFF, "a flag wins for this run");
        assert_eq!(c.audio.input, None);
        save_devices(&store, Some(""), None);
        let mut c = config();
        restore(&store, Pinned::default(), &mut c);
        assert_eq!(c.audio.input, None, "the system default chosen again");
    }
}
