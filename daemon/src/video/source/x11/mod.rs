//! Screens and windows on an X11 display (Xorg, or Xwayland for X11
//! programs), through x11rb's pure-Rust connection.
//!
//! A screen is a RandR monitor (the whole root window when RandR 1.5 is
//! missing); a window is a top-level window with a title, followed as it
//! moves and resizes (and kept at its size, black where it is off the
//! screen). Pixels come through MIT-SHM when the server has it: it writes
//! the picture into a System V segment we share, and a whole 1080p grab
//! took 3–6 ms under Xvfb (region query, copy and comparison included).
//! Otherwise, or when the server is across a network, a plain GetImage
//! sends the 8 MB through the socket: 21–50 ms for the same grab.
//!
//! Only 24- and 32-bit TrueColor displays in the usual byte order give
//! BGRX; others are refused with a clear error rather than shown in wrong
//! colours.
//!
//! `find` names the screens and windows, `shm` holds the shared segment
//! (and the unsafe code it takes); the capture itself is here.

mod find;
mod shm;

use std::time::Instant;

use x11rb::connection::{Connection, RequestConnection};
use x11rb::errors::ReplyError;
use x11rb::protocol::shm::{self as xshm, ConnectionExt as _};
use x11rb::protocol::xproto::{Atom, ConnectionExt as _, ImageFormat, ImageOrder, MapState, Window};
use x11rb::protocol::ErrorKind;

use self::find::{connect, lost, Display, Rect};
use self::shm::Shm;
use super::{Available, Kind, Pick, Picture, Source, SourceError};

/// Frame rates: text on a screen stays sharp at 15, and a window the same.
const SCREEN_FPS: u32 = 15;

/// Everything on this display that can be shared; nothing when there is no
/// X display.
pub fn list() -> Vec<Available> {
    let Ok(d) = connect() else { return Vec::new() };
    let mut all = Vec::new();
    for (n, (r, _)) in d.screens().unwrap_or_default().iter().enumerate() {
        all.push(Available {
            kind: "screen",
            id: format!("--screen {n}"),
            name: format!("Screen {n} ({}×{})", r.width, r.height),
            width: r.width,
            height: r.height,
        });
    }
    for (_, t, r) in d.windows().unwrap_or_default() {
        all.push(Available { kind: "window", id: format!("--window {t}"), name: t, width: r.width, height: r.height });
    }
    all
}

pub fn open(pick: &Pick) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(open_with(pick, true)?))
}

/// What is captured.
enum Target {
    /// Its number when picked, and its RandR name.
    Screen(usize, Atom),
    Window {
        id: Window,
        title: String,
    },
}

pub struct X11Source {
    d: Display,
    target: Target,
    /// Bits per pixel of each depth the server uses, by depth.
    formats: Vec<(u8, u8)>,
    shm: Option<Shm>,
    /// MIT-SHM is there and worked (it does not across a network).
    use_shm: bool,
    /// The last picture given out, to tell whether anything changed.
    previous: Vec<u8>,
    previous_size: (u32, u32),
    next: super::Pacer,
}

/// Opens a screen or window; `shm: false` keeps to plain GetImage (for
/// measuring, and servers whose MIT-SHM misbehaves).
pub fn open_with(pick: &Pick, shm: bool) -> Result<X11Source, SourceError> {
    let d = connect()?;
    let target = match pick {
        Pick::Screen(n) => {
            let screens = d.screens().map_err(lost)?;
            let Some((_, name)) = screens.get(*n) else {
                let count = screens.len();
                let range = if count == 1 { "0".to_string() } else { format!("0–{}", count - 1) };
                return Err(SourceError::NotFound(format!("there is no screen {n}: this display has {count} ({range})")));
            };
            Target::Screen(*n, *name)
        }
        Pick::Window(wanted) => {
            let windows = d.windows().map_err(lost)?;
            let wanted_lc = wanted.to_lowercase();
            // An exact title first, so "Notes" does not pick "Release notes".
            let hit = windows
                .iter()
                .find(|(_, t, _)| t.to_lowercase() == wanted_lc)
                .or_else(|| windows.iter().find(|(_, t, _)| t.to_lowercase().contains(&wanted_lc)));
            let Some((id, title, _)) = hit else {
                return Err(SourceError::NotFound(format!("no window titled “{wanted}” is open (`apero share list` lists them)")));
            };
            Target::Window { id: *id, title: title.clone() }
        }
        _ => return Err(SourceError::Unsupported("this kind of capture on X11")),
    };
    let setup = d.conn.setup();
    if setup.image_byte_order != ImageOrder::LSB_FIRST {
        return Err(SourceError::Unsupported("capture from an X server with most-significant-byte-first pixels"));
    }
    let formats = setup.pixmap_formats.iter().map(|f| (f.depth, f.bits_per_pixel)).collect();
    let use_shm = shm && local() && d.conn.extension_information(xshm::X11_EXTENSION_NAME).map_err(lost)?.is_some();
    Ok(X11Source { d, target, formats, shm: None, use_shm, previous: Vec::new(), previous_size: (0, 0), next: super::Pacer::default() })
}

/// Whether $DISPLAY names a server on this machine: MIT-SHM is for those
/// only (`localhost:10`, as SSH forwards it, is a server elsewhere).
fn local() -> bool {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    let host = display.rsplit_once(':').map_or("", |(host, _)| host);
    host.is_empty() || host == "unix" || host.starts_with('/')
}

/// Where the next picture is: `src` in `drawable`'s coordinates lands at
/// (`dx`, `dy`) of a `width`×`height` picture (a window partly off the
/// screen keeps its size, black where it cannot be seen).
struct Region {
    drawable: Window,
    src: Rect,
    dx: u32,
    dy: u32,
    width: u32,
    height: u32,
}

fn closed(e: ReplyError) -> SourceError {
    match e {
        ReplyError::X11Error(ref x) if matches!(x.error_kind, ErrorKind::Window | ErrorKind::Drawable) => {
            SourceError::NotFound("the shared window was closed".into())
        }
        e => lost(e),
    }
}

impl X11Source {
    /// Whether pictures come through MIT-SHM.
    pub fn uses_shm(&self) -> bool {
        self.use_shm
    }

    /// Where to read now; `None` while a window is hidden (minimised, on
    /// another desktop) or wholly off the screen.
    fn region(&self) -> Result<Option<Region>, SourceError> {
        match &self.target {
            Target::Screen(n, name) => {
                let screens = self.d.screens().map_err(lost)?;
                let Some((r, _)) = screens.iter().find(|(_, m)| m == name) else {
                    return Err(SourceError::NotFound(format!("screen {n} was disconnected")));
                };
                Ok(Some(Region { drawable: self.d.root, src: *r, dx: 0, dy: 0, width: r.width, height: r.height }))
            }
            Target::Window { id, .. } => {
                let c = &self.d.conn;
                // Four questions, one round trip.
                let attrs = c.get_window_attributes(*id).map_err(lost)?;
                let geometry = c.get_geometry(*id).map_err(lost)?;
                let origin = c.translate_coordinates(*id, self.d.root, 0, 0).map_err(lost)?;
                let root = c.get_geometry(self.d.root).map_err(lost)?;
                let attrs = attrs.reply().map_err(closed)?;
                let g = geometry.reply().map_err(closed)?;
                let origin = origin.reply().map_err(closed)?;
                let root = root.reply().map_err(lost)?;
                if attrs.map_state != MapState::VIEWABLE {
                    return Ok(None);
                }
                let (width, height) = (u32::from(g.width), u32::from(g.height));
                let on_root = Rect { x: origin.dst_x.into(), y: origin.dst_y.into(), width, height };
                let screen = Rect { x: 0, y: 0, width: root.width.into(), height: root.height.into() };
                // GetImage refuses any part of a window beyond the screen.
                let Some(v) = on_root.intersect(&screen) else { return Ok(None) };
                let (dx, dy) = ((v.x - on_root.x) as u32, (v.y - on_root.y) as u32);
                let src = Rect { x: dx as i32, y: dy as i32, width: v.width, height: v.height };
                Ok(Some(Region { drawable: *id, src, dx, dy, width, height }))
            }
        }
    }

    fn check_depth(&self, depth: u8) -> Result<(), SourceError> {
        let bpp = self.formats.iter().find(|(d, _)| *d == depth).map(|(_, b)| *b);
        if matches!(depth, 24 | 32) && bpp == Some(32) {
            Ok(())
        } else {
            Err(SourceError::Capture(format!(
                "the display's pixels are {depth}-bit ({} bits each): only 24- and 32-bit colour is supported",
                bpp.unwrap_or(0)
            )))
        }
    }

    /// Reads `r` into `into`; `Ok(false)` when the window went away between
    /// the questions and the picture (the next grab tells which).
    fn read(&mut self, r: &Region, into: &mut Picture) -> Result<bool, SourceError> {
        let bytes = r.src.width as usize * r.src.height as usize * 4;
        let (x, y, w, h) = (r.src.x as i16, r.src.y as i16, r.src.width as u16, r.src.height as u16);
        let is_window = matches!(self.target, Target::Window { .. });
        let benign = |e: &ReplyError| is_window && matches!(e, ReplyError::X11Error(x) if x.error_kind == ErrorKind::Match);
        if self.use_shm && self.shm.as_ref().is_none_or(|s| s.size < bytes) {
            self.shm = None;
            self.shm = Shm::new(&self.d.conn, bytes);
            self.use_shm = self.shm.is_some();
        }
        let conn = &self.d.conn;
        match self.shm.as_ref().filter(|_| self.use_shm) {
            Some(seg) => {
                let reply = conn.shm_get_image(r.drawable, x, y, w, h, !0, ImageFormat::Z_PIXMAP.into(), seg.seg, 0).map_err(lost)?.reply();
                let reply = match reply {
                    Ok(reply) => reply,
                    Err(e) if benign(&e) => return Ok(false),
                    Err(e) => return Err(if is_window { closed(e) } else { lost(e) }),
                };
                self.check_depth(reply.depth)?;
                blit(seg.pixels(bytes), r, into);
            }
            None => {
                let reply = match conn.get_image(ImageFormat::Z_PIXMAP, r.drawable, x, y, w, h, !0).map_err(lost)?.reply() {
                    Ok(reply) => reply,
                    Err(e) if benign(&e) => return Ok(false),
                    Err(e) => return Err(if is_window { closed(e) } else { lost(e) }),
                };
                self.check_depth(reply.depth)?;
                if reply.data.len() < bytes {
                    return Err(SourceError::Capture(format!("the X server sent {} bytes for a {w}×{h} picture", reply.data.len())));
                }
                blit(&reply.data, r, into);
            }
        }
        Ok(true)
    }
}

/// Copies rows of `src` (`r.src.width` pixels each) to their place in
/// `into`, black around them.
fn blit(src: &[u8], r: &Region, into: &mut Picture) {
    into.resize(r.width, r.height);
    if r.dx != 0 || r.dy != 0 || r.src.width != r.width || r.src.height != r.height {
        into.data.fill(0);
    }
    let row = r.src.width as usize * 4;
    if r.dx == 0 && row == into.stride {
        let start = r.dy as usize * into.stride;
        into.data[start..start + row * r.src.height as usize].copy_from_slice(&src[..row * r.src.height as usize]);
        return;
    }
    for (i, line) in src.chunks_exact(row).take(r.src.height as usize).enumerate() {
        let o = (r.dy as usize + i) * into.stride + r.dx as usize * 4;
        into.data[o..o + row].copy_from_slice(line);
    }
}

impl Source for X11Source {
    fn kind(&self) -> Kind {
        Kind::Screen
    }

    fn describe(&self) -> String {
        match &self.target {
            Target::Screen(n, _) => format!("screen {n}"),
            Target::Window { title, .. } => format!("window “{title}”"),
        }
    }

    fn max_fps(&self) -> u32 {
        SCREEN_FPS
    }

    fn grab(&mut self, into: &mut Picture) -> Result<bool, SourceError> {
        self.next.wait(SCREEN_FPS);
        let Some(r) = self.region()? else { return Ok(false) };
        if !self.read(&r, into)? {
            return Ok(false);
        }
        into.captured = Instant::now();
        let size = (into.width, into.height);
        if size == self.previous_size && into.data == self.previous {
            return Ok(false);
        }
        self.previous.clone_from(&into.data);
        self.previous_size = size;
        Ok(true)
    }
}

impl Drop for X11Source {
    fn drop(&mut self) {
        if let Some(s) = self.shm.take() {
            // The server lets go of it at the detach (or when we hang up).
            let _ = self.d.conn.shm_detach(s.seg);
            let _ = self.d.conn.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partly_hidden_window_keeps_its_size() {
        let mut p = Picture::new(1, 1);
        let r = Region { drawable: 0, src: Rect { x: 1, y: 0, width: 3, height: 2 }, dx: 1, dy: 1, width: 4, height: 3 };
        let src: Vec<u8> = (0..24).collect();
        blit(&src, &r, &mut p);
        assert_eq!(&p.data[0..16], &[0; 16]);
        assert_eq!(&p.data[16..20], &[0; 4]);
        assert_eq!(&p.data[20..32], &src[0..12]);
        assert_eq!(&p.data[36..48], &src[12..24]);
    }
}
