//! Screens and windows on macOS through ScreenCaptureKit (macOS 12.3 and
//! later), with the `screencapturekit` crate. NOT BUILT: written on a Linux
//! machine against the crate's 1.x documentation, so expect small fixes to
//! names and signatures on the first macOS build.
//!
//! ScreenCaptureKit pushes frames to a handler on its own queue, and only
//! when the content changed (idle frames carry no picture); the handler
//! keeps the newest in a slot that `grab` waits on for about one frame.
//! The first capture asks the person for the Screen Recording permission;
//! until it is given, listing finds nothing and opening says what to do.

#![cfg(target_os = "macos")]

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use screencapturekit::cv::CVPixelBufferLockFlags;
use screencapturekit::prelude::*;

use super::{Available, Kind, Pick, Picture, Source, SourceError};

const FPS: u32 = 15;
const MIN_WINDOW: f64 = 64.0;

fn denied(e: impl std::fmt::Display) -> SourceError {
    SourceError::NoDisplay(format!(
        "macOS did not allow screen recording ({e}): allow apero in System Settings → Privacy & Security → Screen Recording"
    ))
}

/// Normal, on-screen, titled windows at least 64×64 (layer 0 leaves out
/// the menu bar, the Dock and the like).
fn windows(content: &SCShareableContent) -> Vec<(SCWindow, String)> {
    content
        .windows()
        .into_iter()
        .filter(|w| w.is_on_screen() && w.window_layer() == 0)
        .filter(|w| w.frame().size.width >= MIN_WINDOW && w.frame().size.height >= MIN_WINDOW)
        .filter_map(|w| {
            let title = w.title().filter(|t| !t.trim().is_empty())?;
            Some((w, title))
        })
        .collect()
}

pub fn list() -> Vec<Available> {
    let Ok(content) = SCShareableContent::get() else { return Vec::new() };
    let mut all: Vec<Available> = content
        .displays()
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let (width, height) = (d.width() as u32, d.height() as u32);
            Available { kind: "screen", id: format!("--screen {n}"), name: format!("Screen {n} ({width}×{height})"), width, height }
        })
        .collect();
    for (w, title) in windows(&content) {
        let f = w.frame();
        all.push(Available {
            kind: "window",
            id: format!("--window {title}"),
            name: title,
            width: f.size.width as u32,
            height: f.size.height as u32,
        });
    }
    all
}

pub fn open(pick: &Pick) -> Result<Box<dyn Source>, SourceError> {
    let content = SCShareableContent::get().map_err(denied)?;
    let (filter, width, height, what, window_id) = match pick {
        Pick::Screen(n) => {
            let displays = content.displays();
            let Some(d) = displays.get(*n) else {
                return Err(SourceError::NotFound(format!("there is no screen {n}: this Mac has {}", displays.len())));
            };
            // In points, not pixels: a Retina screen is shared at its
            // "looks like" size, which is what a video call can carry.
            let filter = SCContentFilter::create().with_display(d).with_excluding_windows(&[]).build();
            (filter, d.width() as u32, d.height() as u32, format!("screen {n}"), None)
        }
        Pick::Window(wanted) => {
            let lc = wanted.to_lowercase();
            let all = windows(&content);
            let hit = all.iter().find(|w| w.1.to_lowercase() == lc).or_else(|| all.iter().find(|w| w.1.to_lowercase().contains(&lc)));
            let Some((w, title)) = hit else {
                return Err(SourceError::NotFound(format!("no window titled “{wanted}” is open (`apero share list` lists them)")));
            };
            let f = w.frame();
            let filter = SCContentFilter::create().with_window(w).build();
            (filter, f.size.width as u32, f.size.height as u32, format!("window “{title}”"), Some(w.window_id()))
        }
        _ => return Err(SourceError::Unsupported("this kind of capture on macOS")),
    };
    let config = SCStreamConfiguration::new()
        .with_width(width)
        .with_height(height)
        .with_pixel_format(PixelFormat::BGRA)
        .with_minimum_frame_interval(&CMTime::new(1, FPS as i32))
        .with_shows_cursor(true);
    let slot: Slot = Arc::new((Mutex::new(Latest::default()), Condvar::new()));
    let mut stream = SCStream::new(&filter, &config);
    stream.add_output_handler(Handler { slot: slot.clone() }, SCStreamOutputType::Screen);
    stream.start_capture().map_err(denied)?;
    Ok(Box::new(Capture { stream, slot, seen: 0, what, window_id, last_frame: Instant::now() }))
}

#[derive(Default)]
struct Latest {
    picture: Option<Picture>,
    /// Counts frames, so `grab` knows whether it has seen this one.
    seq: u64,
}

type Slot = Arc<(Mutex<Latest>, Condvar)>;

struct Handler {
    slot: Slot,
}

impl SCStreamOutputTrait for Handler {
    fn did_output_sample_buffer(&self, sample: CMSampleBuffer, kind: SCStreamOutputType) {
        if !matches!(kind, SCStreamOutputType::Screen) {
            return;
        }
        // Idle frames (nothing changed) have no image buffer.
        let Some(buffer) = sample.image_buffer() else { return };
        let Ok(pixels) = buffer.lock(CVPixelBufferLockFlags::READ_ONLY) else { return };
        let (w, h, pitch) = (pixels.width(), pixels.height(), pixels.bytes_per_row());
        let src = pixels.as_slice();
        let (lock, ready) = &*self.slot;
        let Ok(mut latest) = lock.lock() else { return };
        let p = latest.picture.get_or_insert_with(|| Picture::new(1, 1));
        p.resize(w as u32, h as u32);
        let row = w * 4;
        for (y, out) in p.data.chunks_exact_mut(p.stride).enumerate() {
            if let Some(line) = src.get(y * pitch..y * pitch + row) {
                out[..row].copy_from_slice(line);
            }
        }
        p.captured = Instant::now();
        latest.seq += 1;
        ready.notify_all();
    }
}

fn poisoned<T>(_: T) -> SourceError {
    SourceError::Capture("the capture handler panicked".into())
}

struct Capture {
    stream: SCStream,
    slot: Slot,
    seen: u64,
    what: String,
    window_id: Option<u32>,
    last_frame: Instant,
}

// SAFETY: SCStream holds a reference to an Objective-C SCStream, which
// ScreenCaptureKit lets any thread stop and release; `grab` and drop use it
// from one thread at a time.
#[allow(unsafe_code)]
unsafe impl Send for Capture {}

impl Source for Capture {
    fn kind(&self) -> Kind {
        Kind::Screen
    }
    fn describe(&self) -> String {
        self.what.clone()
    }
    fn max_fps(&self) -> u32 {
        FPS
    }

    fn grab(&mut self, into: &mut Picture) -> Result<bool, SourceError> {
        let (lock, ready) = &*self.slot;
        let latest = lock.lock().map_err(poisoned)?;
        let (latest, _) = ready.wait_timeout_while(latest, Duration::from_secs(1) / FPS, |l| l.seq == self.seen).map_err(poisoned)?;
        if latest.seq == self.seen {
            drop(latest);
            // A still window sends nothing; a closed one too. Ask now and then.
            if let Some(id) = self.window_id.filter(|_| self.last_frame.elapsed() > Duration::from_secs(2)) {
                self.last_frame = Instant::now();
                let open = SCShareableContent::get().map(|c| c.windows().iter().any(|w| w.window_id() == id)).unwrap_or(true);
                if !open {
                    return Err(SourceError::NotFound("the shared window was closed".into()));
                }
            }
            return Ok(false);
        }
        self.seen = latest.seq;
        self.last_frame = Instant::now();
        if let Some(p) = &latest.picture {
            into.resize(p.width, p.height);
            into.data.copy_from_slice(&p.data);
            into.captured = p.captured;
        }
        Ok(true)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.stream.stop_capture();
    }
}
