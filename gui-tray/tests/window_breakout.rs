//! Breakout groups from the window, against real daemons: a host opens the
//! dialog, sets the groups and the minutes, sees who would go where and
//! starts; a participant's window shows the group and the time left and
//! asks for help; the host broadcasts, then ends the breakout.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemons;
mod support;

use daemons::{wait_until, Daemon};
use egui::accesskit;
use egui_kittest::kittest::{NodeT, Queryable};
use support::{Window, SLOW};

fn code(inv: &serde_json::Value) -> String {
    inv["code"].as_str().unwrap().to_string()
}

/// What a node says: a label keeps its words in its value.
fn words(n: &egui_kittest::Node<'_>) -> String {
    let a = n.accesskit_node();
    a.label().or_else(|| a.value()).unwrap_or_default()
}

/// Sets a number field (a `DragValue`) as a screen reader does.
fn set_number(w: &mut Window, label: &str, value: f64) {
    w.wait_label(label, SLOW);
    let (target_node, target_tree) = w.h.get_by_label(label).accesskit_node().locate();
    w.h.event(egui::Event::AccessKitActionRequest(accesskit::ActionRequest {
        action: accesskit::Action::SetValue,
        target_node,
        target_tree,
        data: Some(accesskit::ActionData::NumericValue(value)),
    }));
    w.h.step();
    w.h.step();
}

#[test]
fn a_host_splits_the_call_into_groups_and_brings_everyone_back() {
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let carol = Daemon::start("carol", &[]);
    let room = alice.json(&["room", "create", "atelier"])["id"].as_str().unwrap().to_string();
    for d in [&bob, &carol] {
        d.json(&["join", &code(&alice.json(&["invite", &room]))]);
    }
    for d in [&alice, &bob, &carol] {
        d.json(&["call", "join", &room]);
    }
    wait_until("all three in alice's channels", SLOW, || {
        (alice.channels(&room).channels.iter().map(|c| c.in_call.len()).sum::<usize>() == 3).then_some(())
    });
    let mut w = Window::open(&alice, "en");
    let mut b = Window::open(&bob, "en");
    w.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    w.wait_label("carol in general", SLOW);
    assert!(!b.has("Breakout groups…"), "a participant can split the call");

    // The dialog: two groups of one, for five minutes.
    w.click("Breakout groups…");
    set_number(&mut w, "Number of groups", 2.0);
    set_number(&mut w, "Minutes", 5.0);
    w.wait_contains("Group 2: ", SLOW);
    let preview: Vec<String> = w.h.query_all_by_label_contains("Group ").map(|n| words(&n)).collect();
    assert!(preview.iter().any(|l| l.starts_with("Group 1: ") && (l.contains("bob") || l.contains("carol"))), "{preview:?}");
    assert!(!preview.iter().any(|l| l.contains("You")), "the host stays out of the groups: {preview:?}");
    w.click("Start");
    let info = wait_until("the breakout at alice's", SLOW, || alice.channels(&room).breakout);
    assert_eq!(info.groups.len(), 2);
    let left = info.seconds_left.unwrap();
    assert!((240..=300).contains(&left), "{left} s left");
    let group = wait_until("bob in his group", SLOW, || bob.channels(&room).breakout.and_then(|b| b.mine));
    wait_until("bob's call in his group", SLOW, || (bob.channels(&room).mine.as_deref() == Some(group.as_str())).then_some(()));
    w.wait_contains("2 groups · 4:", SLOW);

    // Bob's window: his group, the time left, and help.
    b.wait("bob's group and time", SLOW, |h| h.query_all_by_label_contains(" · 4:").any(|n| words(&n).contains("Group ")));
    b.wait_contains("moved you to Group ", SLOW);
    b.click("Ask for help");
    w.wait_contains("bob asks for help in Group ", SLOW);

    // A broadcast reaches bob's group, marked as such.
    w.click("Broadcast");
    w.type_into("Message to every group", "encore deux minutes");
    w.click("Send to every group");
    b.wait_contains("To every group of atelier: encore deux minutes", SLOW);
    b.wait_label("encore deux minutes", SLOW);
    assert!(b.has("📢 to every group"), "the broadcast is not marked");

    // End: everyone back in general.
    w.click("End breakout");
    wait_until("the breakout over", SLOW, || alice.channels(&room).breakout.is_none().then_some(()));
    wait_until("bob back in general", SLOW, || (bob.channels(&room).mine.as_deref() == Some("general")).then_some(()));
    w.wait("the timer gone", SLOW, |h| !h.query_all_by_label("End breakout").any(|_| true));
    b.wait_contains("moved you to general", SLOW);
}
