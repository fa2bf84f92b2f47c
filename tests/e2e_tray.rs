//! The tray end to end: real daemons, the real `apero-tray`, and a pretend
//! desktop on a private session D-Bus (tests/common/desktop.rs) that owns
//! the StatusNotifierWatcher and the notification service. The test reads
//! the tray's menu and clicks it over `com.canonical.dbusmenu`, as a panel
//! would.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/desktop.rs"]
mod desktop;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::xserver::XServer;
use common::{tray_bin, wait_until, Daemon};
use desktop::Desktop;

const WAIT: Duration = Duration::from_secs(30);

struct Tray {
    child: Child,
    config: tempfile::TempDir,
    log: PathBuf,
}

impl Tray {
    fn start(desktop: &Desktop, home: &Path) -> Tray {
        Tray::start_on(desktop, home, None)
    }

    /// With `display`: on that X server (the mute shortcut grabs its key there).
    fn start_on(desktop: &Desktop, home: &Path, display: Option<&str>) -> Tray {
        let config = tempfile::Builder::new().prefix("apero-tray-cfg-").tempdir().expect("tempdir");
        let log = config.path().join("tray.log");
        let file = std::fs::File::create(&log).expect("log");
        let mut cmd = Command::new(tray_bin());
        cmd.arg("--home")
            .arg(home)
            .env("DBUS_SESSION_BUS_ADDRESS", &desktop.address)
            .env("XDG_CONFIG_HOME", config.path())
            .env("RUST_LOG", "info,apero_tray=debug")
            // The labels and notifications looked for are English, on a
            // French machine too (no window settings in this config home).
            .env("LANGUAGE", "en")
            // Keep the test away from the developer's real clipboard.
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file);
        if let Some(d) = display {
            cmd.env("DISPLAY", d);
        }
        let child = cmd.spawn().expect("start apero-tray");
        Tray { child, config, log }
    }

    fn settings(&self) -> String {
        std::fs::read_to_string(self.config.path().join("apero").join("tray.json")).unwrap_or_default()
    }

    fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().expect("wait").is_none(),
            "the tray exited:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        if std::thread::panicking() {
            common::failure::print_log("log of apero-tray", &std::fs::read_to_string(&self.log).unwrap_or_default());
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

/// Longer than the tray takes to show a gathered batch once quiet.
fn catchup_quiet() -> Duration {
    Duration::from_secs(2)
}

fn click(desktop: &Desktop, label: &str, under: Option<&str>) {
    wait_until(&format!("to click {label:?} in the menu"), WAIT, || desktop.click(label, under).then_some(()));
}

#[test]
fn tray_shows_the_call_mutes_and_notifies() {
    let Some(desktop) = Desktop::start() else { return };
    let alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    let bob = Daemon::start_with("bob", &["--audio", "null"], &[]);
    let room = alice.room_with("apéro", &[&bob]);
    let mut tray = Tray::start(&desktop, alice.home());

    wait_until("the tray to register with the watcher", WAIT, || desktop.item());
    wait_icon(&desktop, "user-available");
    wait_until("the room with bob online in the menu", WAIT, || {
        desktop.menu().iter().any(|e| e.label.starts_with("apéro (2/2 online)")).then_some(())
    });
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
    assert!(desktop.menu().iter().any(|e| e.label == "Notifications" && e.checked == Some(true)), "{}", desktop.menu_text());
    click(&desktop, "Notifications", Some("apéro"));
    wait_until("the setting to be saved", WAIT, || tray.settings().contains(&room).then_some(()));
    wait_until("the checkmark to go", WAIT, || {
        desktop.menu().iter().any(|e| e.label == "Notifications" && e.checked == Some(false)).then_some(())
    });
    let before = desktop.notes().len();
    bob.json(&["say", &room, "silence please"]);
    alice.wait_history_len(&room, 2);
    bob.json(&["call", "leave"]);
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<_> = desktop.notes().into_iter().skip(before).collect();
    assert!(after.is_empty(), "a silenced room notified: {after:?}");

    // The window switches notifications in the same file: the tray follows
    // at the next event, without a restart.
    std::fs::write(tray.config.path().join("apero").join("tray.json"), br#"{"silent_rooms": []}"#).unwrap();
    bob.json(&["say", &room, "on the air again"]);
    wait_note(&desktop, "the message once the window turned notifications back on", |n| n.body.contains("on the air again"));
    wait_until("the checkmark to come back", WAIT, || {
        desktop.menu().iter().any(|e| e.label == "Notifications" && e.checked == Some(true)).then_some(())
    });

    click(&desktop, "Unmute", None);
    wait_until("alice unmuted", WAIT, || (alice.json(&["call", "status"])["muted"] == false).then_some(()));
    tray.assert_alive();
    eprintln!("menu layout:\n{}", desktop.menu_text());
}

/// While we share our screen, the tray's menu says so first thing and
/// offers to stop it; the stop reaches the daemon.
#[test]
fn tray_shows_a_share_and_stops_it() {
    let Some(desktop) = Desktop::start() else { return };
    let alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    let bob = Daemon::start_with("bob", &["--audio", "null"], &[]);
    let room = alice.room_with("atelier", &[&bob]);
    for d in [&alice, &bob] {
        d.json(&["call", "join", &room]);
    }
    let mut tray = Tray::start(&desktop, alice.home());
    wait_icon(&desktop, "call-start");
    alice.json(&["share", "start", &room, "--test-pattern"]);
    let stop = "Stop sharing (screen and camera)";
    wait_until("the menu to offer to stop sharing", WAIT, || desktop.menu().iter().any(|e| e.label == stop).then_some(()));
    let menu = desktop.menu_text();
    assert!(menu.contains("sharing your screen"), "{menu}");
    click(&desktop, stop, None);
    wait_until("the share to stop", WAIT, || alice.json(&["share", "status"])["sending"].as_array()?.is_empty().then_some(()));
    wait_until("the item to go", WAIT, || (!desktop.menu().iter().any(|e| e.label == stop)).then_some(()));
    tray.assert_alive();
}

#[test]
fn tray_goes_offline_with_the_daemon_and_reconnects() {
    let Some(desktop) = Desktop::start() else { return };
    let mut alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    let bob = Daemon::start_with("bob", &["--audio", "null"], &[]);
    let room = alice.room_with("atelier", &[&bob]);
    let mut tray = Tray::start(&desktop, alice.home());
    wait_until("the tray to register with the watcher", WAIT, || desktop.item());
    wait_icon(&desktop, "user-available");

    alice.kill9();
    wait_icon(&desktop, "network-offline");
    let menu = desktop.menu_text();
    assert!(menu.contains("apero is offline") && menu.contains("Start the daemon") && !menu.contains("atelier"), "{menu}");
    tray.assert_alive();

    // Bob writes while alice's daemon is down: her daemon gets it by sync
    // once back, and her tray, back within a second (it watches the
    // socket), shows it as one summary, not three notifications.
    for text in ["tu es là ?", "on commence sans toi", "rappelle-moi"] {
        bob.json(&["say", &room, text]);
    }
    let before = desktop.notes().len();
    alice.restart();
    let back = std::time::Instant::now();
    wait_icon(&desktop, "user-available");
    let took = back.elapsed();
    eprintln!("the tray was back {took:?} after the daemon answered");
    assert!(took < Duration::from_secs(1), "the tray took {took:?} to reconnect");
    wait_until("the room back in the menu", WAIT, || desktop.menu().iter().any(|e| e.label.starts_with("atelier (")).then_some(()));
    let note =
        wait_note(&desktop, "a summary of what bob wrote while alice was away", |n| n.summary.starts_with("3 new while apero was away"));
    assert!(note.summary.contains("atelier") && note.body.contains("bob: tu es là ?"), "{note:?}");
    std::thread::sleep(catchup_quiet());
    let after: Vec<_> = desktop.notes().into_iter().skip(before).collect();
    assert_eq!(after.len(), 1, "one notification for the three messages: {after:?}");

    // Stopping the daemon from the menu stops it for real.
    click(&desktop, "Stop the daemon", None);
    wait_icon(&desktop, "network-offline");
    wait_until("the daemon to stop answering", WAIT, || (!alice.cli(&["status"]).status.success()).then_some(()));
    tray.assert_alive();

    // Quit from the menu ends the tray cleanly.
    click(&desktop, "Quit", None);
    let status = wait_until("the tray to quit", WAIT, || tray.child.try_wait().expect("wait"));
    assert!(status.success(), "{status:?}");
}

/// Someone speaking turns the icon into the speaking one (bob speaks from a
/// WAV file through the `wav` backend; alice listens on `null`).
#[test]
fn tray_shows_when_someone_speaks() {
    let Some(desktop) = Desktop::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(speech) = common::audio::speech(dir.path(), "Bonsoir, on commence quand tout le monde est là. Apportez des olives.") else {
        return;
    };
    let out = dir.path().join("bob-out.wav");
    let alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    let bob = Daemon::start_with("bob", &["--audio", "wav", "--wav-in", speech.to_str().unwrap(), "--wav-out", out.to_str().unwrap()], &[]);
    let room = alice.room_with("apéro", &[&bob]);
    let _tray = Tray::start(&desktop, alice.home());
    wait_icon(&desktop, "user-available");
    alice.json(&["call", "join", &room]);
    wait_icon(&desktop, "call-start");
    bob.json(&["call", "join", &room]);
    wait_icon(&desktop, "audio-input-microphone-high");
    // Speech has pauses: wait for a moment the tooltip names the speaker.
    wait_until("the tooltip to name bob as speaking", WAIT, || {
        format!("{:?}", desktop.item_property("ToolTip")).contains("speaking: bob").then_some(())
    });
}

/// At login the tray may start before the panel and before the daemon:
/// it waits for both and then shows up, online.
#[test]
fn tray_started_before_the_panel_and_the_daemon_shows_up_later() {
    let Some(desktop) = Desktop::bus_only() else { return };
    let mut alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    alice.kill9();
    let mut tray = Tray::start(&desktop, alice.home());
    std::thread::sleep(Duration::from_secs(1));
    tray.assert_alive();
    assert!(desktop.item().is_none());
    desktop.serve();
    wait_until("the tray to register once the watcher appears", WAIT, || desktop.item());
    wait_icon(&desktop, "network-offline");
    alice.restart();
    wait_icon(&desktop, "user-available");
    tray.assert_alive();
}

/// Not the daemon: a hostile socket where the daemon should be, answering
/// the tray's requests correctly but streaming garbage among its events.
/// The tray must skip what it cannot read, act on what follows, and go
/// offline, not down, when the connection drops.
#[test]
fn tray_survives_garbage_in_the_event_stream() {
    use apero_control::{CallStatus, Dropped, Event, HelloReply, MessageInfo, Reply, Response, RoomInfo, Status};

    let Some(desktop) = Desktop::start() else { return };
    let home = tempfile::Builder::new().prefix("apero-hostile-").tempdir_in("/tmp").expect("tempdir");
    let listener = UnixListener::bind(home.path().join("aperod.sock")).expect("bind");
    let answer = |cmd: &str| -> String {
        let reply = match cmd {
            "hello" => Reply::Hello(HelloReply { version: apero_control::PROTOCOL_VERSION, daemon: "hostile".into() }),
            "subscribe" => Reply::Subscribed,
            "status" => Reply::Status(Status {
                peer_id: "id-me".into(),
                name: "me".into(),
                version: "0".into(),
                pid: 1,
                home: "/nowhere".into(),
                listen: vec![],
                peers: vec![],
                rooms: 1,
                dropped: Dropped::default(),
                nat: Default::default(),
                external: vec![],
                relays: vec![],
                relaying: apero_control::Relaying::Off,
                tasks: 0,
                proxy: None,
            }),
            "room_list" => {
                Reply::Rooms(vec![RoomInfo { id: "r1".into(), name: "salon".into(), members: 2, online: 2, call: 0, in_call: false }])
            }
            _ => Reply::Call(CallStatus {
                room: None,
                room_name: None,
                channel: None,
                muted: false,
                backend: "none".into(),
                participants: vec![],
                sent_bytes: 0,
                underruns: 0,
                packet_ms: 0,
                timing: None,
                audio: None,
            }),
        };
        serde_json::to_string(&Response::Ok(reply)).unwrap() + "\n"
    };
    let message = Event::Message {
        room: "r1".into(),
        message: MessageInfo {
            id: "m1".into(),
            room: "r1".into(),
            author: "id-bob".into(),
            author_name: "bob".into(),
            text: "still there?".into(),
            time: 0,
            lamport: 1,
            ..Default::default()
        },
    };
    let garbage =
        ["not json at all", "{\"event\":\"from_a_future_version\",\"x\":1}", "{\"event\":\"message\",\"room\":5}", "\u{0}\u{1}\u{2}", "[]"];
    let server = std::thread::spawn(move || {
        // Connections, in the tray's order: events first, then requests.
        let mut conns: Vec<UnixStream> = Vec::new();
        for stream in listener.incoming().take(2) {
            let stream = stream.expect("accept");
            let mut writer = stream.try_clone().unwrap();
            conns.push(stream.try_clone().unwrap());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                    let cmd = v["cmd"].as_str().unwrap_or("").to_string();
                    if writer.write_all(answer(&cmd).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        let mut events = conns[0].try_clone().unwrap();
        for g in garbage {
            events.write_all(format!("{g}\n").as_bytes()).unwrap();
        }
        events.write_all(format!("{}\n", serde_json::to_string(&message).unwrap()).as_bytes()).unwrap();
        std::thread::sleep(Duration::from_secs(2));
        for c in &conns {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    });
    let mut tray = Tray::start(&desktop, home.path());
    wait_until("the tray to register with the watcher", WAIT, || desktop.item());
    wait_note(&desktop, "the message after the garbage", |n| n.summary == "bob in salon" && n.body == "still there?");
    server.join().unwrap();
    wait_icon(&desktop, "network-offline");
    tray.assert_alive();
}

/// Ctrl+Alt+M, pressed anywhere on the (X11) desktop, mutes and unmutes the
/// call through the tray; outside a call it says so.
#[test]
fn the_mute_shortcut_works_from_anywhere() {
    let Some(desktop) = Desktop::start() else { return };
    let Some(x) = XServer::start("640x480x24", &["xdotool"]) else { return };
    let alice = Daemon::start_with("alice", &["--audio", "null"], &[]);
    let room = alice.create_room("apéro");
    let tray = Tray::start_on(&desktop, alice.home(), Some(&x.display));
    wait_until("the tray to take the shortcut", WAIT, || {
        std::fs::read_to_string(&tray.log).unwrap_or_default().contains("mutes and unmutes the call").then_some(())
    });
    wait_icon(&desktop, "user-available");
    x.press("ctrl+alt+m");
    wait_note(&desktop, "the note that the shortcut needs a call", |n| n.summary == "Not in a call");

    alice.json(&["call", "join", &room]);
    x.press("ctrl+alt+m");
    wait_until("the shortcut to mute alice", WAIT, || (alice.json(&["call", "status"])["muted"] == true).then_some(()));
    x.press("ctrl+alt+m");
    wait_until("the shortcut to unmute alice", WAIT, || (alice.json(&["call", "status"])["muted"] == false).then_some(()));
}
