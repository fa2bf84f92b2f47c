//! The chat as Signal and Discord users expect it, against real daemons:
//! a picture offered in the room shows as a thumbnail (small ones come by
//! themselves) that opens large; replies, edits, reactions and deletes
//! made in the window reach the other member.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemons;
mod support;

use daemons::{wait_until, Daemon};
use egui_kittest::kittest::Queryable;
use support::{Window, SLOW};

fn code(inv: &serde_json::Value) -> String {
    inv["code"].as_str().unwrap().to_string()
}

fn pair(room_name: &str) -> (Daemon, Daemon, String) {
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", room_name])["id"].as_str().unwrap().to_string();
    bob.json(&["join", &code(&alice.json(&["invite", &room]))]);
    (alice, bob, room)
}

#[test]
fn a_picture_offered_comes_by_itself_shows_as_a_thumbnail_and_opens_large() {
    let (alice, bob, room) = pair("photos");
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("coucher de soleil.png");
    image::RgbaImage::from_fn(1200, 800, |x, y| image::Rgba([(x / 5) as u8, (y / 4) as u8, 90, 255])).save(&photo).unwrap();
    let mut w = Window::open(&bob, "en");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    alice.json(&["send", &room, photo.to_str().unwrap()]);
    // Small: no click needed; the daemon makes the thumbnail on arrival.
    let label = "Picture: coucher de soleil.png";
    w.wait_label(label, SLOW);
    let thumb = w.h.get_by_label(label).rect();
    assert!(thumb.width() <= 321.0 && thumb.height() <= 241.0 && thumb.width() > 100.0, "thumbnail drawn at {thumb:?}");
    let files = bob.json(&["files", &room]);
    let path = files[0]["thumbnail"].as_str().expect("the daemon names the thumbnail");
    let t = image::open(path).unwrap();
    assert_eq!((t.width(), t.height()), (320, 213), "made from the real picture");
    w.click(label);
    w.wait_label("coucher de soleil.png", SLOW);
    w.click("Close");
    // The sender's own card shows the picture too.
    let mut a = Window::open(&alice, "en");
    a.wait("alice's room", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    a.wait_label(label, SLOW);
}

#[test]
fn reply_edit_react_and_delete_from_the_window_reach_the_other_member() {
    let (alice, bob, room) = pair("messages");
    alice.json(&["say", &room, "on se voit jeudi ?"]);
    let mut w = Window::open(&bob, "en");
    w.wait_label("on se voit jeudi ?", SLOW);
    let history = |d: &Daemon| d.json(&["history", &room, "--json"]);
    let first = history(&alice).as_array().unwrap()[0]["id"].as_str().unwrap().to_string();

    // Reply: right click, Reply, type, Enter.
    w.h.get_by_label("on se voit jeudi ?").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Reply");
    w.wait_contains("Replying to alice", SLOW);
    w.h.get_by_label("Message").type_text("oui, à 19 h");
    w.h.step();
    w.enter();
    wait_until("alice to get the reply", SLOW, || {
        history(&alice).as_array()?.iter().find(|m| m["text"] == "oui, à 19 h").filter(|m| m["reply_to"] == first.as_str()).map(drop)
    });

    // React to alice's message.
    w.h.get_by_label("on se voit jeudi ?").click_secondary();
    w.h.step();
    w.h.step();
    w.click("🎉");
    wait_until("the reaction at alice's", SLOW, || {
        let h = history(&alice);
        let m = h.as_array()?.iter().find(|m| m["id"] == first.as_str())?;
        m["reactions"].as_array()?.iter().any(|r| r["emoji"] == "🎉").then_some(())
    });

    // Edit our reply, then delete it: alice sees both.
    w.wait_label("oui, à 19 h", SLOW);
    w.h.get_by_label("oui, à 19 h").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Edit");
    w.wait_contains("Editing your message", SLOW);
    w.h.get_by_label("Message").focus();
    w.h.step();
    w.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    w.h.get_by_label("Message").type_text("oui, à 20 h");
    w.h.step();
    w.enter();
    wait_until("the edit at alice's", SLOW, || {
        history(&alice).as_array()?.iter().any(|m| m["text"] == "oui, à 20 h" && m["edited"] == true).then_some(())
    });
    w.wait_label("oui, à 20 h", SLOW);
    assert!(w.has("(edited)"));
    w.h.get_by_label("oui, à 20 h").click_secondary();
    w.h.step();
    w.h.step();
    w.click("Delete for everyone");
    wait_until("the delete at alice's", SLOW, || {
        (!history(&alice).as_array()?.iter().any(|m| m["text"].as_str().is_some_and(|t| t.starts_with("oui")))).then_some(())
    });
    w.wait("the reply gone from the window", SLOW, |h| h.query_all_by_label("oui, à 20 h").next().is_none());
    // Alice's message is not bob's: no Edit or Delete on it.
    w.h.get_by_label("on se voit jeudi ?").click_secondary();
    w.h.step();
    w.h.step();
    assert!(w.has("Reply") && !w.has("Delete for everyone"), "bob may delete alice's message");
}
