//! The window's shape and manners against real daemons: every control on
//! screen from 1280×800 down to 640×400 points and at 200 %, the chat
//! that follows its end (and says when new lines came while the person
//! read above), closing the window during a call, which must never leave
//! a microphone open with nothing on screen, and the room's people.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemons;
mod support;

use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};

use daemons::{wait_until, Daemon};
use support::{Window, SLOW};

fn code(inv: &serde_json::Value) -> String {
    inv["code"].as_str().unwrap().to_string()
}

/// Alice's room, joined by Bob; both in its call. The window is Bob's.
fn two_in_a_call(room_name: &str) -> (Daemon, Daemon, String) {
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", room_name])["id"].as_str().unwrap().to_string();
    bob.json(&["join", &code(&alice.json(&["invite", &room]))]);
    alice.json(&["call", "join", &room]);
    bob.json(&["call", "join", &room]);
    wait_until("both in the call", SLOW, || (bob.json(&["call", "status"])["participants"].as_array()?.len() == 2).then_some(()));
    (alice, bob, room)
}

/// The controls a person acts on: every one whose left edge is on screen
/// must end on screen too (a chat line scrolled above is not checked, one
/// pushed off to the right is).
fn controls_inside(w: &Window, size_px: egui::Vec2, what: &str) {
    let mut seen = 0;
    for node in w.h.root().children_recursive() {
        let n = node.accesskit_node();
        if !matches!(n.role(), Role::Button | Role::TextInput | Role::ComboBox | Role::CheckBox | Role::Slider) {
            continue;
        }
        let Some(r) = n.bounding_box() else { continue };
        if r.y1 <= 0.0 || r.y0 >= f64::from(size_px.y) {
            continue; // scrolled out of a list, vertically
        }
        seen += 1;
        let label = n.label().unwrap_or_default();
        assert!(
            r.x0 >= -0.5 && r.x1 <= f64::from(size_px.x) + 0.5,
            "{what}: {label:?} ({:?}) runs off the window's {}×{} px: {r:?}",
            n.role(),
            size_px.x,
            size_px.y
        );
    }
    assert!(seen >= 4, "{what}: only {seen} controls found");
}

#[test]
fn every_control_stays_on_screen_from_1280_points_down_to_640_at_200_percent() {
    let (alice, bob, room) = two_in_a_call("une salle au nom plutôt long pour voir");
    for i in 0..30 {
        alice.json(&["say", &room, &format!("message {i}: une ligne assez longue pour aller jusqu'au bord de la fenêtre et au-delà")]);
    }
    let mut w = Window::open(&bob, "fr");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    w.wait_contains("message 29", SLOW);
    // (points, scale): a desktop, a 1280×800 screen at 200 %, a small
    // window at 100 %, and 150 %.
    for (points, scale) in [((1280.0, 800.0), 1.0), ((640.0, 400.0), 2.0), ((640.0, 400.0), 1.0), ((900.0, 560.0), 1.5)] {
        let size = egui::vec2(points.0, points.1);
        // The scale first: the harness rescales its screen to a new scale.
        w.h.set_pixels_per_point(scale);
        w.h.step();
        w.h.set_size(size);
        for _ in 0..4 {
            w.h.step();
        }
        let px = size * scale;
        let what = format!("{}×{} points at {} %", points.0, points.1, scale * 100.0);
        controls_inside(&w, px, &what);
        // The message field keeps room for a sentence, and Send is beside it.
        let field = w.h.get_by_label("Message").rect();
        let send = w.h.get_by_label("Envoyer").rect();
        assert!(field.width() / scale >= 200.0, "{what}: the message field is {} points wide", field.width() / scale);
        assert!(send.min.x >= field.max.x - 1.0 && send.max.x <= px.x, "{what}: Send {send:?}, field {field:?}");
        // The call's controls are there, and the chat's end is in view.
        assert!(w.has("Couper le micro"), "{what}: no mute button");
        let last = w.h.query_all_by_label_contains("message 29").next().unwrap().rect();
        assert!(last.max.y <= px.y && last.min.y >= 0.0, "{what}: the last message is not in view: {last:?}");
    }
}

#[test]
fn the_chat_follows_its_end_and_says_when_new_lines_came_below() {
    let (alice, bob, room) = two_in_a_call("suivi");
    for i in 0..40 {
        alice.json(&["say", &room, &format!("ligne {i}")]);
    }
    let mut w = Window::open(&bob, "en");
    w.h.set_size(egui::vec2(900.0, 560.0));
    w.wait_contains("ligne 39", SLOW);
    let in_view = |w: &Window, text: &str| {
        w.h.query_all_by_label(text).next().is_some_and(|n| {
            let r = n.rect();
            r.min.y >= 0.0 && r.max.y <= 560.0
        })
    };
    w.wait("the end of the chat in view", SLOW, |h| h.query_all_by_label("ligne 39").next().is_some_and(|n| n.rect().max.y <= 560.0));
    // Leaving the call changes the panels: the chat stays at its end.
    w.click("Leave the call");
    wait_until("bob out of the call", SLOW, || bob.json(&["call", "status"])["room"].is_null().then_some(()));
    for _ in 0..4 {
        w.h.step();
    }
    assert!(in_view(&w, "ligne 39"), "after leaving the call the chat's end is out of view");
    // A new line while at the end: shown at once.
    alice.json(&["say", &room, "ligne 40"]);
    w.wait("the new line in view", SLOW, |h| h.query_all_by_label("ligne 40").next().is_some_and(|n| n.rect().max.y <= 560.0));
    // Scrolled up to read: a new line does not move the chat, a marker says it came.
    for _ in 0..4 {
        w.h.step();
    }
    let chat = w.h.get_by_label("ligne 40").rect().center();
    w.h.hover_at(chat);
    w.h.step();
    for _ in 0..5 {
        w.h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Page,
            delta: egui::vec2(0.0, 1.0),
            phase: egui::TouchPhase::Move,
            modifiers: Default::default(),
        });
        w.h.step();
    }
    // The wheel's smooth scrolling runs on the frames' clock.
    for _ in 0..60 {
        w.h.step();
    }
    assert!(!in_view(&w, "ligne 40"), "the wheel did not scroll up");
    alice.json(&["say", &room, "ligne 41"]);
    w.wait_label("↓ New messages", SLOW);
    assert!(!in_view(&w, "ligne 41"), "the chat jumped while the person read above");
    w.click("↓ New messages");
    w.wait("the end in view again", SLOW, |h| h.query_all_by_label("ligne 41").next().is_some_and(|n| n.rect().max.y <= 560.0));
    assert!(!w.has("↓ New messages"));
}

/// What the window asked of the window manager in the last frame.
fn commands(w: &Window) -> Vec<egui::ViewportCommand> {
    w.h.output().viewport_output.get(&egui::ViewportId::ROOT).map(|v| v.commands.clone()).unwrap_or_default()
}

/// Plays the window manager's close button; returns what the window
/// answered over the next frames.
fn press_close(w: &mut Window) -> Vec<egui::ViewportCommand> {
    w.h.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().events.push(egui::ViewportEvent::Close);
    let mut seen = Vec::new();
    for _ in 0..3 {
        w.h.step();
        seen.extend(commands(w));
    }
    seen
}

#[test]
fn closing_during_a_call_asks_and_remembers_and_never_hides_an_open_microphone() {
    let (_alice, bob, room) = two_in_a_call("fermeture");
    let cfg = tempfile::tempdir().unwrap();
    let settings = cfg.path().join("window.json");
    let opts = || apero_window::Options { settings_path: Some(settings.clone()), ..Window::options(&bob, "en") };
    let mut w = Window::with(opts());
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    w.wait("the call", SLOW, |h| h.state().model.call_room() == Some(room.as_str()));

    // Asked, and the close held back until the person answers.
    let said = press_close(&mut w);
    assert!(said.contains(&egui::ViewportCommand::CancelClose), "the close was not held back: {said:?}");
    w.wait_label("You are still in a call", SLOW);
    w.click("Cancel");
    assert!(!w.has("You are still in a call"));
    assert_eq!(bob.json(&["call", "status"])["room"], room.as_str(), "cancel keeps the call");

    // "Keep talking", remembered: a tray already runs (its lock is held
    // here), so none is started, and the window closes; the call goes on.
    let lock = apero_window::tray::hold(&apero_window::tray::lock_path(&bob.socket())).unwrap().unwrap();
    press_close(&mut w);
    w.wait_label("You are still in a call", SLOW);
    w.click("Remember my choice");
    w.h.get_by_label("Keep talking in the background").click();
    let mut said = Vec::new();
    for _ in 0..3 {
        w.h.step();
        said.extend(commands(&w));
    }
    assert!(said.contains(&egui::ViewportCommand::Close), "the window did not close: {said:?}");
    assert_eq!(bob.json(&["call", "status"])["room"], room.as_str(), "keep talking left the call");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&settings).unwrap()).unwrap();
    assert_eq!(saved["close_in_call"], "keep");
    drop(w);

    // The next window does as remembered, without asking.
    let mut w = Window::with(opts());
    w.wait("the call", SLOW, |h| h.state().model.call_room() == Some(room.as_str()));
    let said = press_close(&mut w);
    assert!(!said.contains(&egui::ViewportCommand::CancelClose) && !w.has("You are still in a call"), "asked again: {said:?}");
    drop(w);
    drop(lock);

    // "Leave the call and close": the daemon leaves the call, then the window closes.
    std::fs::remove_file(&settings).unwrap();
    let mut w = Window::with(opts());
    w.wait("the call", SLOW, |h| h.state().model.call_room() == Some(room.as_str()));
    press_close(&mut w);
    w.click("Leave the call and close");
    wait_until("bob to leave the call", SLOW, || bob.json(&["call", "status"])["room"].is_null().then_some(()));
    let mut closed = false;
    for _ in 0..200 {
        w.h.step();
        if commands(&w).contains(&egui::ViewportCommand::Close) {
            closed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(closed, "the window did not close after leaving the call");
}

#[test]
fn the_people_list_follows_who_joins_and_leaves() {
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let carol = Daemon::start("carol", &[]);
    let room = alice.json(&["room", "create", "les gens"])["id"].as_str().unwrap().to_string();
    bob.json(&["join", &code(&alice.json(&["invite", &room]))]);
    let mut w = Window::open(&bob, "en");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    w.wait_label("People (2/2 online)", SLOW);
    assert!(w.has("alice") && w.has("You"));
    carol.json(&["join", &code(&alice.json(&["invite", &room]))]);
    w.wait_label("carol", SLOW);
    w.wait_label("People (3/3 online)", SLOW);
    // In the call, a right click on a name mutes them for us.
    alice.json(&["call", "join", &room]);
    bob.json(&["call", "join", &room]);
    w.wait("alice in bob's call", SLOW, |h| h.state().model.call.as_ref().is_some_and(|c| c.participants.len() == 2));
    w.h.query_all_by_label("alice").last().unwrap().click_secondary();
    w.h.step();
    w.h.step();
    w.click("Mute for me");
    let alice_id = alice.peer_id();
    wait_until("alice muted for bob", SLOW, || {
        bob.json(&["call", "status"])["participants"]
            .as_array()?
            .iter()
            .any(|p| p["peer_id"] == alice_id.as_str() && p["volume"] == 0)
            .then_some(())
    });
    carol.json(&["room", "leave", &room]);
    w.wait("carol gone from the list", SLOW, |h| h.query_all_by_label("carol").next().is_none());
}

#[test]
fn every_tab_stop_shows_where_the_keyboard_is() {
    let (_alice, bob, room) = two_in_a_call("clavier");
    let mut w = Window::open(&bob, "en");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    w.h.step();
    let mut stops = 0;
    for _ in 0..25 {
        w.h.key_press(egui::Key::Tab);
        w.h.step();
        w.h.step();
        let Some(focused) = w.h.root().children_recursive().find(|n| n.accesskit_node().is_focused()) else { continue };
        let r = focused.accesskit_node().bounding_box().unwrap();
        let label = focused.accesskit_node().label().unwrap_or_default();
        let ring = w.h.output().shapes.iter().any(|c| match &c.shape {
            egui::Shape::Rect(s) => {
                s.stroke.color == apero_window::ui::FOCUS_RING
                    && s.rect.min.x <= r.x0 as f32
                    && s.rect.min.y <= r.y0 as f32
                    && s.rect.max.x >= r.x1 as f32
                    && s.rect.max.y >= r.y1 as f32
            }
            _ => false,
        });
        assert!(ring, "no focus ring around {label:?} ({:?})", focused.accesskit_node().role());
        stops += 1;
    }
    assert!(stops >= 10, "Tab reached only {stops} controls");
}
