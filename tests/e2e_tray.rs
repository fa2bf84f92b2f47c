//! The tray end to end: real daemons, the real `apero-tray`, and a pretend
//! desktop on a private session D-Bus (tests/common/desktop.rs) that owns
//! the StatusNotifierWatcher and the notification service. The test reads
//! the tray's menu and clicks it over `com.canonical.dbusmenu`, as a panel
//! would.

mod common;
#[path = "common/desktop.rs"]
mod desktop;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{tray_bin, wait_until, Daemon};
use desktop::Desktop;

const WAIT: Duration = Duration::from_secs(30);

struct Tray {
    child: Child,
    config: tempfile::TempDir,
    log: PathBuf,
}

impl Tray {
    fn start(desktop: &Desktop, daemon: &Daemon) -> Tray {
        let config = tempfile::Builder::new().prefix("apero-tray-cfg-").tempdir().expect("tempdir");
        let log = config.path().join("tray.log");
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(tray_bin())
            .arg("--home")
            .arg(daemon.home())
            .env("DBUS_SESSION_BUS_ADDRESS", &desktop.address)
            .env("XDG_CONFIG_HOME", config.path())
            .env("RUST_LOG", "info,apero_tray=debug")
            // Keep the test away from the developer's real clipboard.
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start apero-tray");
        Tray { child, config, log }
    }

    fn settings(&self) -> String {
        std::fs::read_to_string(self.config.path().join("apero").join("tray.json")).unwrap_or_default()
    }

    fn assert_alive(&mut self) {
        assert!(self.child.try_wait().expect("wait").is_none(), "the tray exited:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("===== log of apero-tray =====\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_icon(desktop: &Desktop, icon: &str) {
    wait_until(&format!("the tray's icon to be {icon}"), WAIT, || (desktop.icon_name().as_deref() == Some(icon)).then_some(()));
}

fn wait_note(desktop: &Desktop, what: &str, f: impl Fn(&desktop::Note) -> bool) -> desktop::Note {
    wait_until(what, WAIT, || desktop.notes().into_iter().find(|n| f(n)))
}

fn click(desktop: &Desktop, label: &str, under: Option<&str>) {
    wait_until(&format!("to click {label:?} in the menu"), WAIT, || desktop.click(label, under).then_some(()));
}

#[test]
fn tray_shows_the_call_mutes_and_notifies() {
    let Some(desktop) = Desktop::start() else { return };
    let alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    let bob = Daemon::start_with("bob", &["--audio", "null"], &[]);
    let room = alice.create_room("apéro");
    bob.json(&["join", &alice.invite("apéro", &[])]);
    let mut tray = Tray::start(&desktop, &alice);

    wait_until("the tray to register with the watcher", WAIT, || desktop.item());
    wait_icon(&desktop, "user-available");
    wait_until("the room with bob online in the menu", WAIT, || desktop.menu().iter().any(|e| e.label.starts_with("apéro (2/2 online)")).then_some(()));
    let menu = desktop.menu_text();
    for expected in ["Join call", "Copy invite code", "Copy short code", "Open chat", "Notifications", "Mute", "Stop the daemon", "Quit"] {
        assert!(menu.contains(expected), "{expected:?} missing from the menu:\n{menu}");
    }
    assert!(desktop.menu().iter().any(|e| e.label == "Mute" && !e.enabled), "Mute is disabled outside a call:\n{menu}");

    // Join from the tray; bob joins too and the tray says so.
    click(&desktop, "Join call", Some("apéro"));
    wait_until("alice to be in the call", WAIT, || (alice.json(&["call", "status"])["room"] == room.as_str()).then_some(()));
    wait_icon(&desktop, "call-start");
    bob.json(&["call", "join", &room]);
    wait_note(&desktop, "a notification that bob joined", |n| n.summary == "bob joined the call" && n.body.contains("apéro"));

    click(&desktop, "Mute", None);
    wait_until("the daemon to report alice muted", WAIT, || (alice.json(&["call", "status"])["muted"] == true).then_some(()));
    wait_icon(&desktop, "microphone-sensitivity-muted");
    assert!(desktop.menu().iter().any(|e| e.label == "Unmute"), "{}", desktop.menu_text());

    bob.json(&["say", &room, "on commence à 19h ? apportez des olives"]);
    let note = wait_note(&desktop, "a notification of bob's message", |n| n.summary == "bob in apéro");
    assert_eq!(note.body, "on commence à 19h ? apportez des olives");

    // An invite: copied when there is a clipboard, shown in any case.
    click(&desktop, "Copy invite code", Some("apéro"));
    let note = wait_note(&desktop, "the invite code", |n| n.summary.contains("invite code for apéro"));
    let code = note.body.split_whitespace().find(|w| w.len() > 40).expect("the code is in the notification");
    assert!(alice.json(&["invite", "list", &room]).as_array().unwrap().iter().any(|i| i["code"] == code), "{note:?}");

    // Short codes: whatever the daemon answers (a code, or why not) is shown.
    click(&desktop, "Copy short code", Some("apéro"));
    let note = wait_note(&desktop, "an answer about the short code", |n| n.summary.contains("short code"));
    assert!(!note.body.trim().is_empty(), "{note:?}");
    eprintln!("short code: {note:?}");

    // Silence the room: saved, and bob's next message shows nothing.
    click(&desktop, "Notifications", Some("apéro"));
    wait_until("the setting to be saved", WAIT, || tray.settings().contains(&room).then_some(()));
    let before = desktop.notes().len();
    bob.json(&["say", &room, "silence please"]);
    alice.wait_history_len(&room, 2);
    bob.json(&["call", "leave"]);
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<_> = desktop.notes().into_iter().skip(before).collect();
    assert!(after.is_empty(), "a silenced room notified: {after:?}");

    click(&desktop, "Unmute", None);
    wait_until("alice unmuted", WAIT, || (alice.json(&["call", "status"])["muted"] == false).then_some(()));
    tray.assert_alive();
    eprintln!("menu layout:\n{}", desktop.menu_text());
}

#[test]
fn tray_goes_offline_with_the_daemon_and_reconnects() {
    let Some(desktop) = Desktop::start() else { return };
    let mut alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    alice.create_room("atelier");
    let mut tray = Tray::start(&desktop, &alice);
    wait_until("the tray to register with the watcher", WAIT, || desktop.item());
    wait_icon(&desktop, "user-available");

    alice.kill9();
    wait_icon(&desktop, "network-offline");
    let menu = desktop.menu_text();
    assert!(menu.contains("apero is offline") && menu.contains("Start the daemon") && !menu.contains("atelier"), "{menu}");
    tray.assert_alive();

    alice.restart();
    wait_icon(&desktop, "user-available");
    wait_until("the room back in the menu", WAIT, || desktop.menu().iter().any(|e| e.label.starts_with("atelier (")).then_some(()));

    // Quit from the menu ends the tray cleanly.
    click(&desktop, "Quit", None);
    let status = wait_until("the tray to quit", WAIT, || tray.child.try_wait().expect("wait"));
    assert!(status.success(), "{status:?}");
}
