//! Channels in the window, against real daemons: who is in which channel,
//! a click that takes us into a channel (joining the call, then moving
//! within it), the chat of the channel we are in, and a host's menu on a
//! person (move, mute, make host), dragging a person onto a channel, and
//! making, renaming and deleting channels.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemons;
mod support;

use apero_control::Request;
use daemons::{wait_until, Daemon};
use egui_kittest::kittest::Queryable;
use support::{Window, SLOW};

fn code(inv: &serde_json::Value) -> String {
    inv["code"].as_str().unwrap().to_string()
}

/// Alice's room "atelier" with a second channel, "cuisine"; bob in it and
/// in its call (in general). Returns the room and cuisine's id.
fn workshop() -> (Daemon, Daemon, String, String) {
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", "atelier"])["id"].as_str().unwrap().to_string();
    bob.json(&["join", &code(&alice.json(&["invite", &room]))]);
    alice.ask(Request::ChannelCreate { room: room.clone(), name: "cuisine".into() }).unwrap();
    let cuisine = alice.channels(&room).channels.iter().find(|c| c.name == "cuisine").unwrap().id.clone();
    wait_until("bob to know cuisine", SLOW, || bob.channels(&room).channels.iter().any(|c| c.id == cuisine).then_some(()));
    bob.json(&["call", "join", &room]);
    (alice, bob, room, cuisine)
}

fn in_channel(d: &Daemon, room: &str, peer: &str) -> Option<String> {
    d.channels(room).channels.iter().find(|c| c.in_call.iter().any(|p| p == peer)).map(|c| c.id.clone())
}

fn history_in(d: &Daemon, room: &str, channel: &str) -> Vec<String> {
    match d.ask(Request::History { room: room.into(), limit: None, channel: Some(channel.into()) }) {
        Ok(apero_control::Reply::History(h)) => h.into_iter().map(|m| m.text).collect(),
        other => panic!("history: {other:?}"),
    }
}

#[test]
fn the_channels_show_who_is_where_and_a_click_takes_us_there() {
    let (alice, bob, room, cuisine) = workshop();
    let me = alice.peer_id();
    let mut w = Window::open(&alice, "en");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    w.wait_label("Channel general", SLOW);
    w.wait_label("Channel cuisine", SLOW);
    w.wait_label("bob in general", SLOW);

    // Not in the call yet: a click on cuisine joins it there.
    w.click("Channel cuisine");
    wait_until("alice in cuisine", SLOW, || (in_channel(&alice, &room, &me).as_deref() == Some(cuisine.as_str())).then_some(()));
    w.wait_label("You in cuisine", SLOW);
    assert!(w.has("bob in general"), "bob stayed in general");

    // The chat is cuisine's now: what is said there stays there.
    w.wait_label("Messages in cuisine", SLOW);
    w.type_into("Message", "le four est chaud");
    w.enter();
    wait_until("bob to get it in cuisine", SLOW, || history_in(&bob, &room, &cuisine).contains(&"le four est chaud".into()).then_some(()));
    assert!(!history_in(&bob, &room, "general").contains(&"le four est chaud".into()), "cuisine's message reached general");
    bob.json(&["say", &room, "on commence ?"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    w.h.step();
    assert!(!w.has("on commence ?"), "general's message shows in cuisine's chat");
    w.click("Messages in general");
    w.wait_label("on commence ?", SLOW);

    // In the call: a click moves us within it.
    w.click("Channel general");
    wait_until("alice back in general", SLOW, || (in_channel(&alice, &room, &me).as_deref() == Some("general")).then_some(()));
    w.wait_label("You in general", SLOW);
}

#[test]
fn a_host_moves_mutes_and_makes_a_host_from_a_persons_menu() {
    let (alice, bob, room, cuisine) = workshop();
    let bob_id = bob.peer_id();
    let mut w = Window::open(&alice, "en");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    w.wait_label("bob in general", SLOW);
    assert!(w.has("New channel"), "a host can make channels");

    w.h.get_by_label("bob in general").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Move to cuisine");
    wait_until("bob in cuisine", SLOW, || (in_channel(&bob, &room, &bob_id).as_deref() == Some(cuisine.as_str())).then_some(()));
    w.wait_label("bob in cuisine", SLOW);

    w.h.get_by_label("bob in cuisine").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Mute bob");
    wait_until("bob muted", SLOW, || (bob.json(&["call", "status"])["muted"] == true).then_some(()));

    w.h.get_by_label("bob in cuisine").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Make host");
    wait_until("bob a host", SLOW, || bob.channels(&room).me_host.then_some(()));
    w.wait_label("host", SLOW);

    // Dragged onto general: back there.
    let from = w.h.get_by_label("bob in cuisine").rect().center();
    let to = w.h.get_by_label("Channel general").rect().center();
    w.h.hover_at(from);
    w.h.step();
    w.h.drag_at(from);
    w.h.step();
    for i in 1..=6 {
        w.h.hover_at(from + (to - from) * (i as f32 / 6.0));
        w.h.step();
    }
    w.h.drop_at(to);
    w.h.step();
    w.h.step();
    wait_until("bob dragged to general", SLOW, || (in_channel(&bob, &room, &bob_id).as_deref() == Some("general")).then_some(()));
    w.wait_label("bob in general", SLOW);

    // A new channel from the window.
    w.click("New channel");
    w.type_into("Channel name", "jardin");
    w.click("Create");
    wait_until("bob to know jardin", SLOW, || bob.channels(&room).channels.iter().any(|c| c.name == "jardin").then_some(()));
    w.wait_label("Channel jardin", SLOW);

    // Renamed, then deleted, from the channel's own menu.
    w.h.get_by_label("Channel jardin").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Rename channel");
    w.wait_label("Channel name", SLOW);
    w.h.get_by_label("Channel name").focus();
    w.h.step();
    w.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    w.h.get_by_label("Channel name").type_text("potager");
    w.h.step();
    w.click("Rename");
    wait_until("bob to know potager", SLOW, || bob.channels(&room).channels.iter().any(|c| c.name == "potager").then_some(()));
    w.wait_label("Channel potager", SLOW);
    w.h.get_by_label("Channel potager").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Delete channel");
    wait_until("potager gone at bob's", SLOW, || (!bob.channels(&room).channels.iter().any(|c| c.name == "potager")).then_some(()));
    w.wait("potager gone from the window", SLOW, |h| h.query_all_by_label("Channel potager").next().is_none());
    w.h.get_by_label("Channel general").click_secondary();
    w.h.step();
    w.h.step();
    assert!(w.has("Rename channel") && !w.has("Delete channel"), "general cannot be deleted");
    w.h.key_press(egui::Key::Escape);
    w.h.step();

    // Bob's own window, in French: where he is, and a host's buttons now
    // that he is one.
    let mut b = Window::open(&bob, "fr");
    b.wait_label("Canal cuisine", SLOW);
    b.wait_label("Vous dans general", SLOW);
    assert!(b.has("Nouveau canal"), "bob is a host now");
}
