//! "Choose a file…" against a file chooser portal on a private session
//! bus: the stand-in answers as xdg-desktop-portal does (a Request object
//! at the path derived from the caller's name and token, then its Response
//! signal), and the window's picker turns the URIs into paths. One test in
//! this binary: it points the process's session bus at the private one.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The portal is a freedesktop.org service: Linux and the BSDs.
#![cfg(all(unix, not(target_os = "macos")))]

#[path = "../../tests/common/prereq.rs"]
mod prereq;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

struct Chooser {
    /// What the person "picks"; `None`: they cancel.
    uris: Option<Vec<String>>,
}

#[zbus::interface(name = "org.freedesktop.portal.FileChooser")]
impl Chooser {
    async fn open_file(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        _parent: &str,
        title: &str,
        options: HashMap<String, OwnedValue>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        assert_eq!(title, "Share a file");
        assert_eq!(options.get("multiple").and_then(|v| bool::try_from(v).ok()), Some(true));
        let token = options.get("handle_token").and_then(|v| String::try_from(v.try_clone().ok()?).ok()).expect("a handle_token");
        let sender = header.sender().expect("a sender").to_string();
        let path = format!("/org/freedesktop/portal/desktop/request/{}/{token}", sender.trim_start_matches(':').replace('.', "_"));
        let (code, results) = match &self.uris {
            Some(u) => (0u32, HashMap::from([("uris".to_string(), Value::from(u.clone()))])),
            None => (1u32, HashMap::new()),
        };
        let at = ObjectPath::try_from(path.as_str()).expect("path");
        conn.emit_signal(Some(sender.as_str()), &at, "org.freedesktop.portal.Request", "Response", &(code, results)).await?;
        Ok(OwnedObjectPath::from(at))
    }
}

#[test]
fn choose_a_file_goes_through_the_desktop_portal() {
    if prereq::which("dbus-daemon").is_none() {
        return prereq::skip("dbus-daemon", "the file chooser is a D-Bus portal (scripts/test.sh installs `dbus`)");
    }
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut address = String::new();
    BufReader::new(bus.stdout.take().unwrap()).read_line(&mut address).unwrap();
    let address = address.trim().to_string();
    assert!(!address.is_empty(), "dbus-daemon printed no address");
    // SAFETY of the process: this binary holds this one test.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);

    let serve = |uris: Option<Vec<String>>| {
        zbus::blocking::connection::Builder::address(address.as_str())
            .unwrap()
            .serve_at("/org/freedesktop/portal/desktop", Chooser { uris })
            .unwrap()
            .name("org.freedesktop.portal.Desktop")
            .unwrap()
            .build()
            .unwrap()
    };
    let portal = serve(Some(vec!["file:///home/zo%C3%A9/Mes%20photos/a.jpg".into(), "file:///tmp/plan.pdf".into()]));
    let picked = apero_window::picker::pick_files("Share a file").expect("the portal answers");
    assert_eq!(picked, [PathBuf::from("/home/zoé/Mes photos/a.jpg"), PathBuf::from("/tmp/plan.pdf")]);
    drop(portal);

    // Cancelled: nothing picked, no error.
    let portal = serve(None);
    assert_eq!(apero_window::picker::pick_files("Share a file").expect("the portal answers"), Vec::<PathBuf>::new());
    drop(portal);

    // No portal at all: an error, which the window turns into "type the path".
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(apero_window::picker::pick_files("Share a file").is_err());
    let _ = bus.kill();
    let _ = bus.wait();
}
