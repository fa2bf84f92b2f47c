//! Connecting to the X display and finding what it shows: the screens
//! (RandR monitors) and the titled top-level windows. Kept apart from the
//! capture so `list` and `open` share one way of naming things, and the
//! capture code reads only pixels.

use x11rb::connection::{Connection, RequestConnection};
use x11rb::errors::ReplyError;
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{Atom, AtomEnum, ConnectionExt as _, MapState, Window};
use x11rb::rust_connection::RustConnection;
use x11rb::NONE;

use crate::video::source::SourceError;

/// Windows smaller than this (either side) are panels, docks and tooltips.
const MIN_WINDOW: u32 = 64;
/// How much of a title property is read, in 32-bit units.
const TITLE_LONGS: u32 = 1024;

/// A rectangle, in root coordinates unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub(super) x: i32,
    pub(super) y: i32,
    pub(super) width: u32,
    pub(super) height: u32,
}

impl Rect {
    pub(super) fn intersect(&self, o: &Rect) -> Option<Rect> {
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

pub(super) struct Display {
    pub(super) conn: RustConnection,
    pub(super) root: Window,
    /// RandR 1.5 (monitors) is there.
    randr: bool,
}

pub(super) fn connect() -> Result<Display, SourceError> {
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

pub(super) fn lost(e: impl std::fmt::Display) -> SourceError {
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
    pub(super) fn screens(&self) -> Result<Vec<(Rect, Atom)>, ReplyError> {
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
    pub(super) fn windows(&self) -> Result<Vec<(Window, String, Rect)>, ReplyError> {
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
}
