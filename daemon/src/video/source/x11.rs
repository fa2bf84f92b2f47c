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

use std::time::Instant;

use x11rb::connection::{Connection, RequestConnection};
use x11rb::errors::ReplyError;
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{Atom, AtomEnum, ConnectionExt as _, ImageFormat, ImageOrder, MapState, Window};
use x11rb::protocol::ErrorKind;
use x11rb::rust_connection::RustConnection;
use x11rb::NONE;

use super::{Available, Kind, Pick, Picture, Source, SourceError};

/// Frame rates: text on a screen stays sharp at 15, and a window the same.
const SCREEN_FPS: u32 = 15;
/// Windows smaller than this (either side) are panels, docks and tooltips.
const MIN_WINDOW: u32 = 64;
/// How much of a title property is read, in 32-bit units.
const TITLE_LONGS: u32 = 1024;

/// A rectangle, in root coordinates unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i32,
    y: i32,
    width: u32,
    height: u32,
}

impl Rect {
    fn intersect(&self, o: &Rect) -> Option<Rect> {
        let x = self.x.max(o.x);
        let y = self.y.max(o.y);
        let right = (self.x + self.width as i32).min(o.x + o.width as i32);
        let bottom = (self.y + self.height as i32).min(o.y + o.height as i32);
        (right > x && bottom > y).then(|| Rect { x, y, width: (right - x) as u32, height: (bottom - y) as u32 })
    }
}

/// Atoms the listing needs; `NONE` where the server has never heard of one
/// (no EWMH window manager has run).
struct Atoms {
    net_client_list: u32,
    net_wm_name: u32,
    utf8_string: u32,
}

impl Atoms {
    fn get(conn: &RustConnection) -> Result<Atoms, ReplyError> {
        let a = conn.intern_atom(true, b"_NET_CLIENT_LIST")?;
        let b = conn.intern_atom(true, b"_NET_WM_NAME")?;
        let c = conn.intern_atom(true, b"UTF8_STRING")?;
        Ok(Atoms { net_client_list: a.reply()?.atom, net_wm_name: b.reply()?.atom, utf8_string: c.reply()?.atom })
    }
}

struct Display {
    conn: RustConnection,
    root: Window,
    /// RandR 1.5 (monitors) is there.
    randr: bool,
}

fn connect() -> Result<Display, SourceError> {
    match std::env::var("DISPLAY") {
        Ok(d) if !d.is_empty() => {}
        _ => return Err(SourceError::NoDisplay("$DISPLAY is not set (is this an X11 session?)".into())),
    }
    let (conn, screen) = x11rb::connect(None).map_err(|e| SourceError::NoDisplay(format!("cannot reach the X server: {e}")))?;
    let root = conn.setup().roots.get(screen).map(|s| s.root).ok_or_else(|| SourceError::NoDisplay("the X server has no screen".into()))?;
    let randr = randr_15(&conn).unwrap_or(false);
    Ok(Display { conn, root, randr })
}

fn randr_15(conn: &RustConnection) -> Result<bool, ReplyError> {
    if conn.extension_information(randr::X11_EXTENSION_NAME)?.is_none() {
        return Ok(false);
    }
    let v = conn.randr_query_version(1, 5)?.reply()?;
    Ok((v.major_version, v.minor_version) >= (1, 5))
}

fn lost(e: impl std::fmt::Display) -> SourceError {
    SourceError::Capture(format!("lost the X display: {e}"))
}

impl Display {
    fn root_rect(&self) -> Result<Rect, ReplyError> {
        let g = self.conn.get_geometry(self.root)?.reply()?;
        Ok(Rect { x: 0, y: 0, width: g.width.into(), height: g.height.into() })
    }

    /// The screens: the primary monitor first (screen 0 is the one people
    /// mean), then left to right, top to bottom. Each with its RandR name
    /// (`NONE` for the whole root window), which follows it when others
    /// come and go.
    fn screens(&self) -> Result<Vec<(Rect, Atom)>, ReplyError> {
        if self.randr {
            let reply = self.conn.randr_get_monitors(self.root, true)?.reply()?;
            let mut all: Vec<_> = reply.monitors.iter().filter(|m| m.width > 0 && m.height > 0).collect();
            if !all.is_empty() {
                all.sort_by_key(|m| (!m.primary, m.x, m.y));
                return Ok(all
                    .iter()
                    .map(|m| (Rect { x: m.x.into(), y: m.y.into(), width: m.width.into(), height: m.height.into() }, m.name))
                    .collect());
            }
        }
        Ok(vec![(self.root_rect()?, NONE)])
    }

    /// The top-level windows to offer: the window manager's client list,
    /// else the root's children (or the titled window inside each, when
    /// they are a window manager's frames).
    fn windows(&self) -> Result<Vec<(Window, String, Rect)>, ReplyError> {
        let atoms = Atoms::get(&self.conn)?;
        let mut clients = Vec::new();
        if atoms.net_client_list != NONE {
            let reply = self.conn.get_property(false, self.root, atoms.net_client_list, AtomEnum::WINDOW, 0, 4096)?.reply()?;
            clients = reply.value32().map(|v| v.collect()).unwrap_or_default();
        }
        let from_wm = !clients.is_empty();
        if !from_wm {
            clients = self.conn.query_tree(self.root)?.reply()?.children;
        }
        let mut found = Vec::new();
        for w in clients {
            // A window may close while we look: skip it, but give up on a
            // lost connection.
            match self.offered(w, &atoms, !from_wm) {
                Ok(Some(x)) => found.push(x),
                Ok(None) | Err(ReplyError::X11Error(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    /// `w`'s title and size, if it is shown, big enough and titled.
    fn offered(&self, w: Window, atoms: &Atoms, look_inside: bool) -> Result<Option<(Window, String, Rect)>, ReplyError> {
        let attrs = self.conn.get_window_attributes(w)?.reply()?;
        if attrs.map_state != MapState::VIEWABLE || (look_inside && attrs.override_redirect) {
            return Ok(None);
        }
        let g = self.conn.get_geometry(w)?.reply()?;
        let rect = Rect { x: g.x.into(), y: g.y.into(), width: g.width.into(), height: g.height.into() };
        if rect.width < MIN_WINDOW || rect.height < MIN_WINDOW {
            return Ok(None);
        }
        if let Some(t) = title(&self.conn, w, atoms)? {
            return Ok(Some((w, t, rect)));
        }
        if look_inside {
            // A frame of a window manager that keeps no client list: the
            // client is the titled child, shown when the frame is.
            for c in self.conn.query_tree(w)?.reply()?.children {
                let g = self.conn.get_geometry(c)?.reply()?;
                let rect = Rect { x: g.x.into(), y: g.y.into(), width: g.width.into(), height: g.height.into() };
                if rect.width < MIN_WINDOW || rect.height < MIN_WINDOW {
                    continue;
                }
                if let Some(t) = title(&self.conn, c, atoms)? {
                    return Ok(Some((c, t, rect)));
                }
            }
        }
        Ok(None)
    }
}

/// `_NET_WM_NAME` (UTF-8), else `WM_NAME` (Latin-1), on one line.
fn title(conn: &RustConnection, w: Window, atoms: &Atoms) -> Result<Option<String>, ReplyError> {
    let mut text = None;
    if atoms.net_wm_name != NONE && atoms.utf8_string != NONE {
        let r = conn.get_property(false, w, atoms.net_wm_name, atoms.utf8_string, 0, TITLE_LONGS)?.reply()?;
        if r.format == 8 && !r.value.is_empty() {
            text = Some(String::from_utf8_lossy(&r.value).into_owned());
        }
    }
    if text.is_none() {
        let r = conn.get_property(false, w, AtomEnum::WM_NAME, AtomEnum::ANY, 0, TITLE_LONGS)?.reply()?;
        if r.format == 8 && !r.value.is_empty() {
            text = Some(if r.type_ == u32::from(AtomEnum::STRING) {
                r.value.iter().map(|&b| char::from(b)).collect()
            } else {
                String::from_utf8_lossy(&r.value).into_owned()
            });
        }
    }
    Ok(text
        .map(|t| t.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string())
        .filter(|t| !t.is_empty()))
}

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
    let use_shm = shm && local() && d.conn.extension_information(shm::X11_EXTENSION_NAME).map_err(lost)?.is_some();
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

/// A System V shared-memory segment the X server writes pictures into.
struct Shm {
    seg: shm::Seg,
    addr: *mut libc::c_void,
    size: usize,
}

// SAFETY: the mapping is private to this struct (no other Rust value points
// into it) and has no tie to the thread that made it.
#[allow(unsafe_code)]
unsafe impl Send for Shm {}

impl Shm {
    /// A segment of `size` bytes attached to us and to the server, or `None`
    /// when either cannot (a server across the network, a limit on segments).
    fn new(conn: &RustConnection, size: usize) -> Option<Shm> {
        // SAFETY: plain system call; a new private segment, no memory of ours.
        #[allow(unsafe_code)]
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return None;
        }
        // SAFETY: `id` is the segment just made; a null address lets the
        // kernel choose where it goes.
        #[allow(unsafe_code)]
        let addr = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        let attached = addr as isize != -1;
        let seg = if attached { conn.generate_id().ok() } else { None };
        let shared = seg.is_some_and(|seg| conn.shm_attach(seg, id as u32, false).ok().and_then(|c| c.check().ok()).is_some());
        // Marked for removal now: it goes when the last of us and the server
        // lets go, even if we crash (Linux still lets the attached use it).
        // SAFETY: plain system call on our segment; no buffer is passed.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        match seg {
            Some(seg) if shared => Some(Shm { seg, addr, size }),
            _ => {
                if attached {
                    // SAFETY: `addr` came from shmat above and nothing uses it.
                    #[allow(unsafe_code)]
                    let _ = unsafe { libc::shmdt(addr) };
                }
                None
            }
        }
    }

    /// The first `len` bytes, as the server left them.
    fn pixels(&self, len: usize) -> &[u8] {
        assert!(len <= self.size);
        // SAFETY: `addr` maps `size` bytes for as long as `self` lives. The
        // server writes them only while answering a ShmGetImage, and the
        // caller reads after that answer came, before asking again.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.addr.cast::<u8>(), len)
        }
    }
}

impl Drop for Shm {
    fn drop(&mut self) {
        // SAFETY: `addr` came from shmat, and nothing borrows it (`pixels`
        // borrows `self`).
        #[allow(unsafe_code)]
        let _ = unsafe { libc::shmdt(self.addr) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangles_clip_to_the_screen() {
        let screen = Rect { x: 0, y: 0, width: 1920, height: 1080 };
        let w = Rect { x: -100, y: 1000, width: 400, height: 300 };
        assert_eq!(w.intersect(&screen), Some(Rect { x: 0, y: 1000, width: 300, height: 80 }));
        assert_eq!(Rect { x: 1920, y: 0, width: 10, height: 10 }.intersect(&screen), None);
    }

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
