//! "Choose a file…": the desktop's own file chooser, through the XDG
//! desktop portal (GNOME, KDE and the others provide it, on X11 and
//! Wayland alike, and it works for sandboxed apps too). On Wayland, winit
//! receives no dropped files, so without this a person could share a file
//! only by typing its path. Elsewhere (Windows, macOS, a desktop without a
//! portal) the share dialog's path field and dropping remain.

use std::path::PathBuf;

/// The files picked; empty when the person cancelled. Blocks until they
/// answer, so it runs on a thread of its own.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn pick_files(title: &str) -> Result<Vec<PathBuf>, String> {
    use std::collections::HashMap;
    use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

    let err = |e: zbus::Error| e.to_string();
    let conn = zbus::blocking::Connection::session().map_err(err)?;
    // The portal answers on a request object whose path it derives from our
    // bus name and a token we choose: listen there before asking.
    let token = format!("apero{}", std::process::id());
    let sender = conn.unique_name().map(|n| n.as_str().trim_start_matches(':').replace('.', "_")).unwrap_or_default();
    let path = format!("/org/freedesktop/portal/desktop/request/{sender}/{token}");
    let request = zbus::blocking::Proxy::new(&conn, "org.freedesktop.portal.Desktop", path.as_str(), "org.freedesktop.portal.Request")
        .map_err(err)?;
    let mut responses = request.receive_signal("Response").map_err(err)?;
    let mut options: HashMap<&str, Value<'_>> = HashMap::new();
    options.insert("handle_token", Value::from(token.as_str()));
    options.insert("multiple", Value::from(true));
    let reply = conn
        .call_method(
            Some("org.freedesktop.portal.Desktop"),
            "/org/freedesktop/portal/desktop",
            Some("org.freedesktop.portal.FileChooser"),
            "OpenFile",
            &("", title, options),
        )
        .map_err(err)?;
    let _handle: OwnedObjectPath = reply.body().deserialize().map_err(err)?;
    let answer = responses.next().ok_or("the file chooser went away")?;
    let (code, results): (u32, HashMap<String, OwnedValue>) = answer.body().deserialize().map_err(err)?;
    if code != 0 {
        return Ok(Vec::new());
    }
    let uris: Vec<String> = match results.get("uris") {
        Some(v) => Vec::<String>::try_from(v.try_clone().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    Ok(uris.iter().filter_map(|u| file_uri_path(u)).collect())
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn pick_files(_title: &str) -> Result<Vec<PathBuf>, String> {
    Err("no file chooser here yet".into())
}

/// `file:///home/z/Mes%20photos/a.jpg` → `/home/z/Mes photos/a.jpg`.
pub fn file_uri_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // Only local files: "file://host/…" names another machine.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(out).ok().map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::file_uri_path;
    use std::path::PathBuf;

    #[test]
    fn file_uris_become_paths() {
        assert_eq!(file_uri_path("file:///home/z/Mes%20photos/a.jpg"), Some(PathBuf::from("/home/z/Mes photos/a.jpg")));
        assert_eq!(file_uri_path("file:///tmp/caf%C3%A9.txt"), Some(PathBuf::from("/tmp/café.txt")));
        assert_eq!(file_uri_path("file://localhost/tmp/x"), Some(PathBuf::from("/tmp/x")));
        assert_eq!(file_uri_path("file:///tmp/100%"), Some(PathBuf::from("/tmp/100%")), "a lone % stays");
        assert_eq!(file_uri_path("file://server/share/x"), None, "another machine's file");
        assert_eq!(file_uri_path("https://example.org/x"), None);
    }
}
