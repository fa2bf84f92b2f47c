//! The desktop's light or dark preference. Windows and macOS tell winit
//! (and so egui) by themselves; on Linux winit does not read it, so we ask
//! the XDG desktop portal, the one place GNOME, KDE and the others publish
//! it (`org.freedesktop.appearance color-scheme`: 1 dark, 2 light, 0 none).

/// `Some(true)` for dark, `Some(false)` for light, `None` when the desktop
/// says nothing (egui then follows winit, which falls back to dark).
#[cfg(all(unix, not(target_os = "macos")))]
pub fn system() -> Option<bool> {
    let conn = zbus::blocking::Connection::session().ok()?;
    let reply = conn
        .call_method(
            Some("org.freedesktop.portal.Desktop"),
            "/org/freedesktop/portal/desktop",
            Some("org.freedesktop.portal.Settings"),
            "ReadOne",
            &("org.freedesktop.appearance", "color-scheme"),
        )
        .ok()?;
    let value: zbus::zvariant::OwnedValue = reply.body().deserialize().ok()?;
    scheme(u32::try_from(value).ok()?)
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn system() -> Option<bool> {
    None
}

#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn scheme(v: u32) -> Option<bool> {
    match v {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn portal_values_map_to_themes() {
        assert_eq!(super::scheme(1), Some(true));
        assert_eq!(super::scheme(2), Some(false));
        assert_eq!(super::scheme(0), None);
        assert_eq!(super::scheme(7), None);
    }
}
