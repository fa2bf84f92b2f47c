//! Screen sharing and cameras: what can be shared, what we send and watch.

use serde::{Deserialize, Serialize};

/// What a share shows: screens keep their resolution and lower their frame
/// rate first, cameras the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareKind {
    Screen,
    Camera,
}

impl std::fmt::Display for ShareKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShareKind::Screen => "screen",
            ShareKind::Camera => "camera",
        })
    }
}

/// What the person picked to share. Nothing is captured before a pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShareSource {
    /// A whole screen, numbered from 0 as `share list` shows them.
    Screen { index: usize },
    /// The first window whose title contains this (any case).
    Window { title: String },
    /// A camera by (part of) its name, or the first one.
    Camera { name: Option<String> },
    /// A moving 1920×1080 test pattern, shared as a screen.
    TestPattern,
    /// The same pattern at 640×360, shared as a camera.
    TestCamera,
}

impl ShareSource {
    pub fn kind(&self) -> ShareKind {
        match self {
            ShareSource::Camera { .. } | ShareSource::TestCamera => ShareKind::Camera,
            _ => ShareKind::Screen,
        }
    }
}

/// One thing `share list` offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareableInfo {
    /// "screen", "window", "camera" or "test".
    pub kind: String,
    /// The `share start` flag that picks it (`--screen 0`, `--window TITLE`).
    pub pick: String,
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// A PNG of it, about 240 pixels wide, when asked for (`ShareList`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
}

/// A member who receives one of our streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewerInfo {
    pub peer_id: String,
    pub name: Option<String>,
    /// Frames the viewer says it decoded.
    pub frames_decoded: u64,
    /// Frames not sent to this viewer because its link was behind.
    pub skipped: u64,
}

/// A stream we send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentStream {
    pub kind: ShareKind,
    pub room: String,
    /// What is shared, in words ("screen 0", "window “Slides”").
    pub source: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Frames encoded per second over the last seconds (0 while nothing moves).
    pub fps: f64,
    /// What the encoder produced, kbit/s over the last seconds.
    pub kbps: f64,
    pub frames: u64,
    pub keyframes: u64,
    pub viewers: Vec<ViewerInfo>,
    /// Seen only by us so far (a preview): nothing is sent.
    #[serde(default)]
    pub preview: bool,
}

/// A stream we watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchedStream {
    pub peer_id: String,
    pub name: Option<String>,
    pub kind: ShareKind,
    pub room: String,
    pub width: u32,
    pub height: u32,
    pub frames_decoded: u64,
    pub fps: f64,
    pub kbps: f64,
    /// Capture to decoded picture, median of the last frames: meaningful
    /// only when both clocks agree (one machine, or synchronised clocks).
    pub latency_ms: Option<f64>,
    /// Frames that could not be decoded (a keyframe was asked for each).
    pub errors: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShareStatus {
    pub sending: Vec<SentStream>,
    pub watching: Vec<WatchedStream>,
}

/// Where `share snapshot` wrote the picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub path: String,
    pub peer_id: String,
    pub kind: ShareKind,
    pub width: u32,
    pub height: u32,
    /// How old the picture was when written, in ms since it was decoded.
    pub age_ms: u64,
}

/// The latest picture of a stream, written by the daemon as raw RGBA rows
/// (`width * 4` bytes each, no header) to `path`, a file in the daemon's
/// runtime directory that only this user can read. A new picture replaces
/// the file atomically (written aside, then renamed), so a reader never
/// sees half of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameInfo {
    pub path: String,
    /// Grows with each new picture: ask again with `after` set to it.
    pub serial: u64,
    pub width: u32,
    pub height: u32,
}
