//! The window against real daemons, driven headless through its
//! accessibility tree (`egui_kittest`): the names a screen reader reads are
//! the ones clicked and typed into here. The other side of each exchange is
//! another daemon, played with the `apero` command.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemons;
mod support;

use std::time::{Duration, Instant};

use apero_window::{AperoApp, Options, Target};
use daemons::{wait_until, Daemon};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use support::{Window, SLOW};

fn code(inv: &serde_json::Value) -> String {
    inv["code"].as_str().unwrap().to_string()
}

fn history_has(d: &Daemon, room: &str, text: &str) -> bool {
    d.json(&["history", room]).as_array().unwrap().iter().any(|m| m["text"] == text)
}

#[test]
fn join_with_a_long_code_then_chat_and_files_both_ways() {
    // 4 Mbit/s: a 3 MiB file takes seconds, so the progress is seen.
    let alice = Daemon::start("alice", &["--upload-limit", "4000"]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", "Apéro du jeudi"])["id"].as_str().unwrap().to_string();
    let long = code(&alice.json(&["invite", &room]));
    let mut w = Window::open(&bob, "en");
    w.wait_label("You are in no room yet. Create one, or join a friend's with the code they sent you.", SLOW);

    // A wrong code gets words a person understands.
    w.click("Join with a code");
    w.type_into("Invite code", "this-is-not-a-code");
    w.click("Join");
    w.wait_label("This code is not valid. Check it and try again.", SLOW);

    w.h.get_by_label("Invite code").focus();
    w.h.step();
    w.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    w.h.get_by_label("Invite code").type_text(&long);
    w.h.step();
    w.enter();
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    assert!(w.has("Apéro du jeudi"));

    // Bob writes in the window; alice's daemon has it.
    w.type_into("Message", "bonsoir depuis la fenêtre");
    w.enter();
    wait_until("alice to get bob's message", SLOW, || history_has(&alice, &room, "bonsoir depuis la fenêtre").then_some(()));
    // Alice writes; the window shows it, its link clickable.
    alice.json(&["say", &room, "salut bob, regarde https://example.org/plan"]);
    w.wait_contains("salut bob, regarde", SLOW);
    w.wait_label("https://example.org/plan", Duration::from_secs(5));

    // Alice offers a file: the window offers to download it, shows the
    // progress, then the file is on bob's disk, whole.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("photos.bin");
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    alice.json(&["send", &room, src.to_str().unwrap()]);
    w.wait_contains("photos.bin", SLOW);
    w.click("Download");
    w.wait("the progress bar", SLOW, |h| {
        h.query_all_by_role(egui::accesskit::Role::ProgressIndicator).next().is_some()
            || h.query_all_by_label("Downloaded").next().is_some()
    });
    let saw_progress = w.h.query_all_by_role(egui::accesskit::Role::ProgressIndicator).next().is_some();
    w.wait_label("Downloaded", SLOW);
    assert!(saw_progress, "the download finished before any progress was shown");
    let t = bob.json(&["transfers"]);
    let path = t.as_array().unwrap().iter().find(|t| t["name"] == "photos.bin").unwrap()["path"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read(&path).unwrap(), data, "the downloaded file differs");
    assert!(w.has("Open folder"));

    // Bob shares a file through the dialog; alice's daemon lists it.
    let mine = dir.path().join("recette.txt");
    std::fs::write(&mine, "3 tomates, 1 oignon").unwrap();
    w.click("Share a file");
    w.type_into("File to share", mine.to_str().unwrap());
    w.click("Share");
    wait_until("alice to see bob's file", SLOW, || {
        alice.json(&["files", &room]).as_array().unwrap().iter().any(|f| f["name"] == "recette.txt").then_some(())
    });
}

#[test]
fn join_with_a_short_code_typed_in_the_dialog_and_a_call_with_mute() {
    // The short code is found in the DHT: both daemons start from a third.
    let boot = Daemon::start("boot", &["--relay"]);
    let b = boot.bootstrap_args();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let alice = Daemon::start("alice", &b);
    let bob = Daemon::start("bob", &b);
    let room = alice.json(&["room", "create", "atelier"])["id"].as_str().unwrap().to_string();
    let short = code(&alice.json(&["invite", &room, "--short"]));
    assert!(short.split('-').count() == 3, "not a short code: {short}");
    let mut w = Window::open(&bob, "en");
    // Online and drawn before the first click (a panel's first frame only sizes it).
    w.wait_label("Rooms", SLOW);
    w.click("Join with a code");
    // A mistyped number: within 15 s the window says no room has these
    // words (not that the friend cannot be reached), and the words typed
    // next clear it.
    let (_, words) = short.split_once('-').unwrap();
    let wrong = format!("{}-{words}", if short.starts_with("999-") { "998" } else { "999" });
    w.type_into("Invite code", &wrong);
    let asked = Instant::now();
    w.click("Join");
    let said = "No room was found for these words. Check the number and the words with your friend, then try again.";
    w.wait_label(said, SLOW);
    assert!(asked.elapsed() < Duration::from_secs(15), "the mistyped code took {:?}", asked.elapsed());
    w.h.get_by_label("Invite code").focus();
    w.h.step();
    w.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    w.h.get_by_label("Invite code").type_text(&short);
    w.h.step();
    w.h.step();
    assert!(!w.has(said), "the old error stays while the person types");
    w.click("Join");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));

    // The call: join and mute in the window; the daemon agrees.
    w.click("Join the call");
    w.wait_label("Leave the call", SLOW);
    assert_eq!(bob.json(&["call", "status"])["room"], room.as_str());
    let unmuted_at = w.h.get_by_label("Mute").rect();
    w.click("Mute");
    wait_until("bob's daemon to be muted", SLOW, || (bob.json(&["call", "status"])["muted"] == true).then_some(()));
    w.wait_label("Unmute", SLOW);
    w.h.step();
    assert_eq!(w.h.get_by_label("Unmute").rect(), unmuted_at, "the mute button moved when pressed");
    // Alice comes into the call: the window sees her.
    alice.json(&["call", "join", &room]);
    w.wait_label("2 people in the call", SLOW);
    w.wait_label("alice", SLOW);
    w.click("Unmute");
    wait_until("bob's daemon to be unmuted", SLOW, || (bob.json(&["call", "status"])["muted"] == false).then_some(()));
    w.wait_label("Mute", SLOW);
    // Muted elsewhere (the tray, the CLI): the window follows by itself.
    bob.json(&["mute"]);
    w.wait_label("Unmute", SLOW);
    // The global shortcut's command: toggles.
    assert_eq!(bob.json(&["mute", "--toggle"])["muted"], false);
    w.wait_label("Mute", SLOW);
    assert_eq!(bob.json(&["mute", "--toggle"])["muted"], true);
    w.wait_label("Unmute", SLOW);
    w.click("Unmute");
    w.wait_label("Mute", SLOW);
    w.click("Leave the call");
    wait_until("bob to leave the call", SLOW, || bob.json(&["call", "status"])["room"].is_null().then_some(()));
}

#[test]
fn the_window_says_when_the_daemon_is_gone_and_recovers_in_french() {
    let mut bob = Daemon::start("bob", &[]);
    bob.json(&["room", "create", "cuisine"]);
    let cfg = tempfile::tempdir().unwrap();
    let notes = cfg.path().join("tray.json");
    let mut w = Window::with(Options { notifications_path: Some(notes.clone()), ..Window::options(&bob, "fr") });
    w.wait_label("cuisine", SLOW);
    assert!(w.has("Rejoindre avec un code"), "the window speaks French");
    assert!(w.has("Salons"));
    w.click("Inviter");
    w.click("Créer un code");
    w.wait_label("Copier", SLOW);
    let made = w.h.state().model.invite.clone().expect("an invite");
    assert_eq!(made.code.split('-').count(), 3, "a short code by default: {}", made.code);
    w.click("Fermer");

    // Réglages: the room's notifications off, in the tray's file.
    w.click("Réglages");
    w.wait_label("Me prévenir des messages, appels et fichiers dans :", SLOW);
    // The devices' list comes a moment later and moves the dialog's middle.
    w.wait("the devices", SLOW, |h| h.state().model.devices.is_some());
    // As `click` does: let the new dialog settle first.
    w.h.step();
    w.h.step();
    w.h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "cuisine").click();
    w.h.step();
    w.h.step();
    let silent = std::fs::read_to_string(&notes).unwrap_or_default();
    let id = bob.json(&["room", "list"])[0]["id"].as_str().unwrap().to_string();
    assert!(silent.contains(&id), "the room is not silenced in the tray's file: {silent}");
    w.click("Fermer");

    bob.kill9();
    w.wait_label("Le service d'apero ne tourne pas : vous ne pouvez pas encore parler ni écrire.", SLOW);
    assert!(w.h.query_all_by_label_contains("aperod.sock").next().is_none(), "the page speaks of sockets");
    assert!(w.has("Lancer apero"));
    bob.spawn();
    w.wait_label("cuisine", SLOW);
    assert!(!w.has("Le service d'apero ne tourne pas : vous ne pouvez pas encore parler ni écrire."));
}

/// A second launch of the window (the tray's "Open chat", the applications
/// menu) hands its room, then its code, to the open window; Settings picks
/// another microphone (the daemon has it) and shows the sound check while
/// open; a room is left from its page.
#[test]
fn later_launches_go_to_the_open_window_and_settings_pick_the_microphone() {
    let bob = Daemon::start("bob", &[]);
    bob.json(&["room", "create", "apéro"]);
    let atelier = bob.json(&["room", "create", "atelier"])["id"].as_str().unwrap().to_string();
    let mut w = Window::open(&bob, "en");
    let sock = apero_window::instance::socket_path(&bob.socket());
    let apero_window::instance::Claim::First(listener) = apero_window::instance::claim(&sock, &Default::default()).unwrap() else {
        panic!("no window was open yet")
    };
    let ctx = w.h.ctx.clone();
    w.h.state_mut().serve_later_launches(listener, &ctx);
    w.wait_label("Rooms", SLOW);
    let second = |raise: apero_window::instance::Raise| {
        assert!(matches!(apero_window::instance::claim(&sock, &raise).unwrap(), apero_window::instance::Claim::Forwarded));
    };
    second(apero_window::instance::Raise { room: Some("atelier".into()), join: None });
    w.wait("the second launch's room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(atelier.as_str()));
    second(apero_window::instance::Raise { room: None, join: Some("7-guitar-orbit".into()) });
    w.wait_label("Invite code", SLOW);
    w.wait_contains("7-guitar-orbit", SLOW);
    w.h.key_press(egui::Key::Escape);
    w.h.step();
    w.h.step();

    w.click("Settings");
    w.h.step();
    w.h.step();
    assert!(w.has("Microphone level"));
    w.wait("the sound check to run", SLOW, |h| h.state().model.sound_check.as_ref().is_some_and(|s| s.running));
    w.h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Microphone").click();
    w.h.step();
    w.h.step();
    w.click("silence");
    wait_until("the daemon to use the microphone picked", SLOW, || (bob.json(&["devices"])["input"] == "silence").then_some(()));
    // A new name, from Settings: the daemon has it, and so does the header.
    w.h.get_by_label("Your name").focus();
    w.h.step();
    w.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    w.h.get_by_label("Your name").type_text("Robert");
    w.h.step();
    w.click("Change");
    wait_until("the daemon to take the new name", SLOW, || (bob.json(&["name"])["name"] == "Robert").then_some(()));
    w.wait_contains("You are Robert", SLOW);
    w.click("Close");
    w.wait("the sound check to stop with Settings", SLOW, |h| h.state().model.sound_check.as_ref().is_some_and(|s| !s.running));

    w.click("Leave room");
    // The page's button, then the dialog's (the last one in the tree).
    w.h.step();
    w.h.step();
    w.h.query_all_by_label("Leave room").last().unwrap().click();
    w.h.step();
    wait_until("bob to leave the room", SLOW, || {
        (!bob.json(&["room", "list"]).as_array().unwrap().iter().any(|r| r["id"] == atelier.as_str())).then_some(())
    });
    w.wait("the room to go from the window", SLOW, |h| h.state().model.room(&atelier).is_none());
}

/// 48 kHz mono 16-bit: a second of a 440 Hz tone at -12 dBFS, then half a
/// second of silence (the wav backend loops it as the microphone).
fn write_tone(path: &std::path::Path) {
    let samples: Vec<i16> = (0..72_000)
        .map(|i| if i < 48_000 { ((i as f32 / 48_000.0) * 440.0 * std::f32::consts::TAU).sin() * 8000.0 } else { 0.0 } as i16)
        .collect();
    let data = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    // PCM, one channel, 48 kHz, 96000 bytes a second, 2-byte frames, 16 bits.
    for (v, n) in [(16u32, 4), (1, 2), (1, 2), (48_000, 4), (96_000, 4), (2, 2), (16, 2)] {
        b.extend_from_slice(&v.to_le_bytes()[..n]);
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// The first start: the name, then the microphone page (the meter follows
/// the microphone, "Test my microphone" plays it back, Continue stops the
/// check), then the invitation to create a room.
#[test]
fn the_first_start_asks_for_a_name_checks_the_microphone_then_offers_to_create_a_room() {
    let home = tempfile::Builder::new().prefix("apero-wnew-").tempdir_in("/tmp").unwrap();
    // Whatever happens, the daemon the window started stops with the test.
    struct Down(std::path::PathBuf);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = std::process::Command::new(daemons::bin("apero")).arg("--home").arg(&self.0).arg("down").output();
        }
    }
    let _down = Down(home.path().to_path_buf());
    let sound = tempfile::tempdir().unwrap();
    let (tone, out) = (sound.path().join("tone.wav"), sound.path().join("out.wav"));
    write_tone(&tone);
    let mut args: Vec<String> =
        ["--no-mdns", "--bootstrap", "none", "--listen", "/ip4/127.0.0.1/tcp/0", "--audio-processing", "off"].map(String::from).to_vec();
    args.extend(["--audio".into(), "wav".into(), "--wav-in".into(), tone.display().to_string()]);
    args.extend(["--wav-out".into(), out.display().to_string()]);
    let mut w = Window::with(Options {
        target: Target {
            socket: apero_control::socket_path_in(home.path()),
            home: Some(home.path().to_path_buf()),
            start_daemon: true,
            daemon_args: args,
            daemon_program: Some(daemons::bin("aperod")),
        },
        language: Some("en".into()),
        open_room: None,
        open_join: None,
        settings_path: None,
        notifications_path: None,
    });
    w.wait_label("Welcome to apero", SLOW);
    w.h.get_by_label("What should your friends call you?").focus();
    w.h.step();
    w.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    w.h.get_by_label("What should your friends call you?").type_text("Zoé");
    w.h.step();
    w.click("Continue");
    w.wait_label("Your microphone and speaker", SLOW);
    assert!(w.has("Microphone level"), "the meter has its name");
    w.wait("the meter to follow the microphone", SLOW, |h| {
        h.state().model.sound_check.as_ref().is_some_and(|s| s.running && s.level_db > -20.0)
    });
    let asked = Instant::now();
    w.click("Test my microphone");
    w.wait("our voice to be played back", SLOW, |h| {
        h.state().model.sound_check.as_ref().is_some_and(|s| s.running && s.echo && s.playing_db > -20.0)
    });
    eprintln!("heard ourselves back {:?} after asking", asked.elapsed());
    assert!(asked.elapsed() >= Duration::from_millis(950), "the echo comes a second later, not at once");
    assert!(w.has("Stop the test"));
    w.click("Continue");
    w.wait("the check to stop", SLOW, |h| h.state().model.sound_check.as_ref().is_some_and(|s| !s.running));
    w.wait_label("You are Zoé", SLOW);
    w.click("New room");
    w.type_into("Room name", "Chez Zoé");
    w.enter();
    w.wait("the new room to open", SLOW, |h| h.state().model.selected.is_some());
    assert!(w.has("Chez Zoé"));
    let out =
        std::process::Command::new(daemons::bin("apero")).arg("--home").arg(home.path()).args(["--json", "room", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Chez Zoé"), "the daemon has no such room");
}

/// Everything by keyboard, at 200 % on a 1920×1080 screen (960×540 points):
/// Tab to "Join with a code", Enter, type the code, Enter; Tab to the
/// message box, type, Enter.
#[test]
fn a_room_can_be_joined_and_used_by_keyboard_alone_at_twice_the_size() {
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", "clavier"])["id"].as_str().unwrap().to_string();
    let long = code(&alice.json(&["invite", &room]));
    let opts = Options {
        target: Target {
            socket: bob.socket(),
            home: Some(bob.home().to_path_buf()),
            start_daemon: false,
            daemon_args: Vec::new(),
            daemon_program: None,
        },
        language: Some("en".into()),
        open_room: None,
        open_join: None,
        settings_path: None,
        notifications_path: None,
    };
    let h = Harness::builder()
        .with_size(egui::vec2(960.0, 540.0))
        .with_pixels_per_point(2.0)
        .build_eframe(move |cc| AperoApp::new(&cc.egui_ctx, opts));
    let mut w = Window { h };
    w.wait_label("Rooms", SLOW);
    let focused = |w: &Window, label: &str| w.h.query_all_by_label(label).any(|n| n.is_focused());
    let tab_to = |w: &mut Window, label: &str| {
        for _ in 0..40 {
            if focused(w, label) {
                return;
            }
            w.h.key_press(egui::Key::Tab);
            w.h.step();
        }
        panic!("Tab never reached {label:?}");
    };
    tab_to(&mut w, "Join with a code");
    w.enter();
    w.wait_label("Invite code", SLOW);
    w.h.step();
    assert!(focused(&w, "Invite code"), "the dialog puts the cursor in the code field");
    w.h.get_by_label("Invite code").type_text(&long);
    w.h.step();
    w.enter();
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    // The room opens with the cursor in its message field: join and send
    // take two keys after the dialog opens (Enter, Enter) besides the typing.
    w.h.step();
    assert!(focused(&w, "Message"), "the message field is not focused after joining");
    w.h.get_by_label("Message").type_text("tout au clavier");
    w.h.step();
    w.enter();
    wait_until("alice to get the message", SLOW, || history_has(&alice, &room, "tout au clavier").then_some(()));
    // At twice the size the message box and the call button are still on
    // the screen (the tree's rectangles are in pixels: 1920×1080).
    for label in ["Message", "Join the call"] {
        let r = w.h.get_by_label(label).rect();
        assert!(r.min.x >= 0.0 && r.min.y >= 0.0 && r.max.x <= 1920.0 && r.max.y <= 1080.0, "{label} is off screen: {r:?}");
    }
}
