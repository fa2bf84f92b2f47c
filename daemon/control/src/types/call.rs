//! Calls: who is in them, our devices and processing, levels and the
//! sound check.

use super::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallStatus {
    /// `None` when we are in no call.
    pub room: Option<String>,
    pub room_name: Option<String>,
    /// The channel we are in (its name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub muted: bool,
    pub backend: String,
    pub participants: Vec<Participant>,
    /// Voice bytes we sent (all peers, frame headers included) since joining.
    pub sent_bytes: u64,
    /// Times the speaker found the playback ring short since joining (each is
    /// a gap we made, not the network).
    #[serde(default)]
    pub underruns: u64,
    /// Audio per packet we send: 10 ms, or 20 in a call of five or more,
    /// where it halves the packets (0 when in no call).
    #[serde(default)]
    pub packet_ms: u32,
    /// Backend clock facts (first input/output sample times), for measurements.
    pub timing: Option<serde_json::Value>,
    /// Our microphone and speaker (`None` when in no call).
    #[serde(default)]
    pub audio: Option<AudioState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub peer_id: String,
    pub name: String,
    pub is_self: bool,
    pub speaking: bool,
    pub muted: bool,
    pub path: CallPath,
    /// What their voice came by last (`None` for ourselves or before any).
    #[serde(default)]
    pub voice_path: Option<VoicePath>,
    pub rtt_ms: Option<f64>,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    /// Estimated mouth-to-ear delay from this participant to us.
    pub latency_ms: Option<f64>,
    /// Our playback volume for them, percent (100 unless changed).
    #[serde(default = "hundred")]
    pub volume: u32,
    /// Playout counters (received, played, concealed, fec_recovered, red_recovered, accelerated[_ms],
    /// expanded[_ms], held, late, drained, bad), target_ms, level_ms, burst, their_report (docs/voice.md).
    pub stats: Option<serde_json::Value>,
    /// The channel of the call they are in (its name; `None` from a daemon
    /// without channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

fn hundred() -> u32 {
    100
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioDevicesInfo {
    pub backend: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub default_input: Option<String>,
    pub default_output: Option<String>,
    /// The devices chosen with `--input`/`--output` or `audio use` (`None`: the default).
    pub input: Option<String>,
    pub output: Option<String>,
    /// What is done to our microphone before it is sent.
    #[serde(default)]
    pub processing: AudioProcessing,
}

/// The processing of our microphone before it is sent. All on by default,
/// for a laptop without headset; a headset user can turn echo cancellation
/// off, and measurements turn everything off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioProcessing {
    pub echo_cancel: bool,
    pub noise_suppression: bool,
    pub gain_control: bool,
}

impl Default for AudioProcessing {
    fn default() -> Self {
        AudioProcessing { echo_cancel: true, noise_suppression: true, gain_control: true }
    }
}

impl AudioProcessing {
    pub const OFF: AudioProcessing = AudioProcessing { echo_cancel: false, noise_suppression: false, gain_control: false };

    pub fn any(&self) -> bool {
        self.echo_cancel || self.noise_suppression || self.gain_control
    }
}

/// How our own sound devices are doing in the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AudioState {
    /// `None` while the microphone works; else why it does not, and how to
    /// pick another (the call goes on without it: listen-only).
    pub input_error: Option<String>,
    /// `None` while the speaker works; else why not (the call goes on, unheard).
    pub output_error: Option<String>,
    pub processing: AudioProcessing,
    /// Echo return loss enhancement of the echo canceller, dB (how much of
    /// the echo it removes), once it has measured it.
    pub erle_db: Option<f64>,
    /// The echo path's delay as the canceller found it, ms.
    pub echo_delay_ms: Option<i32>,
    /// Our microphone's level after processing, dBFS.
    pub input_level_db: f64,
    /// Times the device was reopened after a loss since joining.
    pub reopened: u64,
    /// What the engine keeps queued for the sound card now, ms (it adapts
    /// to the chunks the card takes; 0 for a file backend, which has none).
    #[serde(default)]
    pub playback_buffer_ms: f64,
}

/// Where a level meter starts: -60 dBFS and below (a quiet room) is empty,
/// 0 dBFS full. The command line's meter and the window's share it.
pub const METER_FLOOR_DB: f64 = -60.0;

/// How full a level meter is for `level_db`, 0 to 1.
pub fn meter_fraction(level_db: f64) -> f64 {
    ((level_db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0)
}

/// A sound check as it runs (or `running: false` once it stopped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoundCheckState {
    pub running: bool,
    /// Whether our voice is played back to us.
    pub echo: bool,
    /// How long after we speak we hear ourselves, ms.
    pub echo_delay_ms: u32,
    /// Our microphone after processing, dBFS rounded to whole dB (-100: silence).
    pub level_db: f64,
    /// Whether the speech decision hears a voice (what a call would send).
    pub speaking: bool,
    /// Our echo as it plays, dBFS.
    pub playing_db: f64,
    pub seconds_left: u32,
    /// The devices in use (`None`: the system's default).
    pub input: Option<String>,
    pub output: Option<String>,
    /// Why the microphone or the speaker does not work (`None`: it does).
    pub input_error: Option<String>,
    pub output_error: Option<String>,
}

/// One participant's sound level, for meters and speaking rings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    pub peer_id: String,
    /// dBFS, rounded to whole dB (-100 for silence).
    pub level_db: f64,
    pub speaking: bool,
    /// Whether they muted their microphone (ours: whether we did), so
    /// clients follow a mute made elsewhere without asking.
    #[serde(default)]
    pub muted: bool,
}
