//! Screen sharing and cameras in the window, against real daemons: a
//! friend's shared screen shows in the middle, and sharing from the window
//! (picker, banner, stop) reaches the friend's daemon.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemons;
mod support;

use daemons::{wait_until, Daemon};
use egui_kittest::kittest::Queryable;
use support::{Window, SLOW};

fn watching(d: &Daemon) -> Vec<serde_json::Value> {
    d.json(&["share", "status"])["watching"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_shared_screen_shows_in_the_middle_and_the_window_shares_a_camera() {
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", "atelier"])["id"].as_str().unwrap().to_string();
    bob.json(&["join", alice.json(&["invite", &room])["code"].as_str().unwrap()]);
    for d in [&alice, &bob] {
        d.json(&["call", "join", &room]);
    }
    wait_until("both in the call", SLOW, || (alice.json(&["call", "status"])["participants"].as_array()?.len() == 2).then_some(()));
    let mut w = Window::open(&bob, "en");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));

    // Alice shares: her screen takes the middle of bob's window.
    alice.json(&["share", "start", &room, "--test-pattern"]);
    w.wait_label("alice's screen", SLOW);
    w.wait("the picture to arrive", SLOW, |h| h.query_all_by_label("alice's screen").any(|n| n.rect().width() > 200.0));
    let picture = w.h.query_all_by_label("alice's screen").find(|n| n.rect().width() > 200.0).unwrap().rect();
    // 16:9, as the screen.
    assert!((picture.width() / picture.height() - 16.0 / 9.0).abs() < 0.05, "drawn at {picture:?}");
    w.click("1:1");
    w.click("Fit");

    // Bob turns his camera on from the window: picker, a preview only he
    // sees, then on for everyone, the banner, and alice sees it.
    w.click("Turn on my camera");
    w.click("A test camera (a moving pattern)");
    w.wait_contains("Camera preview: only you see it", SLOW);
    w.wait_label("What you share", SLOW);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(watching(&alice).is_empty() || watching(&alice).iter().all(|s| s["kind"] != "camera"), "a preview reached alice");
    w.click("Turn it on for everyone");
    w.wait_contains("Your camera is on", SLOW);
    wait_until("alice to watch bob's camera", SLOW, || watching(&alice).iter().any(|s| s["kind"] == "camera").then_some(()));
    w.wait_label("What you share", SLOW);
    // The banner's stop (the call panel has one too): either ends it.
    w.click("Turn off my camera");
    w.wait("the banner to go", SLOW, |h| h.query_all_by_label_contains("Your camera is on").next().is_none());
    wait_until("alice to stop watching the camera", SLOW, || (!watching(&alice).iter().any(|s| s["kind"] == "camera")).then_some(()));

    // Alice stops: her screen leaves bob's window.
    alice.json(&["share", "stop"]);
    w.wait("alice's screen to go", SLOW, |h| h.query_all_by_label("alice's screen").next().is_none());
}
