//! Where pictures come from, behind one small trait (as the audio
//! backends): a screen or a window on X11, a camera through V4L2, a moving
//! test pattern. Nothing is opened before the person picks one ([`open`]):
//! listing ([`list`]) reads names and sizes, never pixels.

use std::time::Instant;

#[cfg(target_os = "macos")]
pub mod macos;
pub mod pattern;
#[cfg(target_os = "linux")]
pub mod v4l2;
#[cfg(target_os = "windows")]
pub mod windows;
#[cfg(target_os = "linux")]
pub mod x11;

/// One captured picture, 32-bit BGRX rows (what X11 and most capturers
/// give), `stride` bytes apart.
#[derive(Debug, Clone)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub data: Vec<u8>,
    pub captured: Instant,
}

impl Picture {
    pub fn new(width: u32, height: u32) -> Picture {
        let stride = width as usize * 4;
        Picture { width, height, stride, data: vec![0; stride * height as usize], captured: Instant::now() }
    }

    /// A small RGBA copy (every n-th pixel, at most `max_w` wide), for the
    /// self-view and the picker's thumbnails.
    pub fn small(&self, max_w: u32) -> Rgba {
        let step = self.width.div_ceil(max_w).max(1) as usize;
        let (w, h) = (self.width as usize / step, self.height as usize / step);
        let mut data = Vec::with_capacity(w * h * 4);
        for y in 0..h {
            let row = &self.data[y * step * self.stride..];
            for x in 0..w {
                let px = &row[x * step * 4..x * step * 4 + 4];
                data.extend_from_slice(&[px[2], px[1], px[0], 255]);
            }
        }
        Rgba { width: w as u32, height: h as u32, data }
    }

    /// Makes this picture `width`×`height`, reusing its buffer.
    pub fn resize(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        self.stride = width as usize * 4;
        self.data.resize(self.stride * height as usize, 0);
    }
}

/// A picture in RGBA rows without padding: what a viewer makes of a
/// decoded frame for the window and snapshots, and the self-view.
#[derive(Debug, Clone, Default)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// What a source shows: screens keep their resolution and lower their frame
/// rate first; cameras keep their frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Screen,
    Camera,
}

/// What the person picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// A whole screen (monitor), numbered from 0.
    Screen(usize),
    /// The first window whose title contains this (case-insensitive).
    Window(String),
    /// A camera by name (part of it), or the first one.
    Camera(Option<String>),
    /// A moving test pattern at 1920×1080 (screen) for tests and for
    /// checking a setup.
    TestPattern,
    /// The same pattern at a camera's 640×360.
    TestCamera,
}

/// One thing that can be shared, as `apero share list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    pub kind: &'static str,
    /// What to pass to `share start` (`--screen 0`, `--window TITLE`, ...).
    pub id: String,
    pub name: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no display to capture: {0}")]
    NoDisplay(String),
    #[error("{0}")]
    NotFound(String),
    #[error("capture failed: {0}")]
    Capture(String),
    #[error("{0} is not supported on this system")]
    Unsupported(&'static str),
}

/// A running capture. `grab` fills `into` with the newest picture, blocking
/// at most about one frame's time; it returns `false` when the picture did
/// not change since the last grab (the encoder then has nothing to do).
pub trait Source: Send {
    fn kind(&self) -> Kind;
    /// What the person picked, in words ("screen 0", "window “Slides”").
    fn describe(&self) -> String;
    /// The frame rate it is worth asking for.
    fn max_fps(&self) -> u32;
    fn grab(&mut self, into: &mut Picture) -> Result<bool, SourceError>;
}

/// Keeps a capturer to its frame rate: `wait` sleeps until the next tick,
/// and a late grab does not make the next one early.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    next: Instant,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer { next: Instant::now() }
    }
}

impl Pacer {
    pub fn wait(&mut self, fps: u32) {
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        }
        self.next = self.next.max(now) + std::time::Duration::from_secs(1) / fps.max(1);
    }
}

/// Everything that can be shared now.
pub fn list() -> Vec<Available> {
    let mut all = Vec::new();
    #[cfg(target_os = "linux")]
    {
        all.extend(x11::list());
        all.extend(v4l2::list());
    }
    #[cfg(target_os = "windows")]
    all.extend(windows::list());
    #[cfg(target_os = "macos")]
    all.extend(macos::list());
    all.push(Available { kind: "test", id: "--test-pattern".into(), name: "Test pattern".into(), width: 1920, height: 1080 });
    all
}

/// Opens what the person picked.
pub fn open(pick: &Pick) -> Result<Box<dyn Source>, SourceError> {
    match pick {
        Pick::TestPattern => Ok(Box::new(pattern::Pattern::screen())),
        Pick::TestCamera => Ok(Box::new(pattern::Pattern::camera())),
        #[cfg(target_os = "linux")]
        Pick::Screen(_) | Pick::Window(_) => x11::open(pick),
        #[cfg(target_os = "linux")]
        Pick::Camera(name) => v4l2::open(name.as_deref()),
        #[cfg(target_os = "windows")]
        Pick::Screen(_) | Pick::Window(_) => windows::open(pick),
        #[cfg(target_os = "macos")]
        Pick::Screen(_) | Pick::Window(_) => macos::open(pick),
        #[cfg(not(target_os = "linux"))]
        Pick::Camera(_) => Err(SourceError::Unsupported("camera capture")),
    }
}
