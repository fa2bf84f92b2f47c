//! Invite codes: forged, expired, revoked and reused codes are refused, and
//! the refused daemon keeps no trace of the room.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Daemon;

/// The refused daemon must know nothing of the room: not listed, no history,
/// not addressable by id.
fn assert_no_trace(d: &Daemon, room: &str) {
    assert_eq!(d.json(&["room", "list"]).as_array().unwrap().len(), 0, "{} lists a room", d.name);
    let (kind, _) = d.json_err(&["history", room]);
    assert_eq!(kind, "not_found");
    assert!(!d.log().contains("soirée secrète"), "{}'s log mentions the room's name", d.name);
}

fn flip_char(code: &str, at: usize) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    chars[at] = if chars[at] == '2' { '3' } else { '2' };
    chars.into_iter().collect()
}

#[test]
fn bad_codes_are_refused_and_leave_no_trace() {
    let a = Daemon::start("alice");
    let m = Daemon::start("mallory");
    let room = a.create_room("soirée secrète");
    a.json(&["say", &room, "not for mallory"]);

    // Forged: one character changed, at the start, the middle and the end.
    let code = a.invite(&room, &[]);
    for at in [3, code.len() / 2, code.len() - 2] {
        let (kind, msg) = m.json_err(&["join", &flip_char(&code, at)]);
        assert_eq!(kind, "invalid_code", "position {at}: {msg}");
    }
    // Garbage and a truncated code.
    assert_eq!(m.json_err(&["join", "hello-world!"]).0, "invalid_code");
    assert_eq!(m.json_err(&["join", &code[..code.len() / 2]]).0, "invalid_code");

    // Expired: --ttl 1s, then wait 2 s.
    let short = a.invite(&room, &["--ttl", "1s"]);
    std::thread::sleep(Duration::from_secs(2));
    let (kind, msg) = m.json_err(&["join", &short]);
    assert_eq!(kind, "expired", "{msg}");

    // Revoked, by code and by id.
    let revoked = a.invite(&room, &[]);
    a.json(&["invite", "revoke", &revoked]);
    let (kind, msg) = m.json_err(&["join", &revoked]);
    assert_eq!(kind, "revoked", "{msg}");
    let inv = a.json(&["invite", &room]);
    a.json(&["invite", "revoke", inv["id"].as_str().unwrap()]);
    assert_eq!(m.json_err(&["join", inv["code"].as_str().unwrap()]).0, "revoked");
    let listed = a.json(&["invite", "list", &room]);
    assert!(listed.as_array().unwrap().iter().filter(|i| i["revoked"] == true).count() >= 2);

    assert_no_trace(&m, &room);
    let dropped = a.dropped();
    assert!(dropped["refused_joins"].as_u64().unwrap() >= 2, "refusals are counted: {dropped}");
    // The room is intact for its member.
    assert_eq!(a.history_texts(&room), vec!["not for mallory"]);
}

#[test]
fn single_use_code_admits_one_person() {
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let m = Daemon::start("mallory");
    let room = a.create_room("soirée secrète");
    let once = a.invite(&room, &["--once"]);
    b.json(&["join", &once]);
    let (kind, msg) = m.json_err(&["join", &once]);
    assert_eq!(kind, "already_used", "{msg}");
    assert_no_trace(&m, &room);
    let list = a.json(&["invite", "list", &room]);
    assert_eq!(list[0]["uses"], 1);
    assert_eq!(list[0]["once"], true);
}

#[test]
fn unreachable_inviter_gives_up_with_a_clear_message() {
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.create_room("soirée secrète");
    let code = a.invite(&room, &[]);
    a.kill9();
    let start = std::time::Instant::now();
    let (kind, msg) = b.json_err(&["join", &code, "--timeout", "3s"]);
    assert_eq!(kind, "unreachable", "{msg}");
    assert!(msg.contains("offline"), "the message says why: {msg}");
    assert!(start.elapsed() < Duration::from_secs(20), "gave up in time");
    assert_no_trace(&b, &room);
}

#[test]
fn joining_twice_or_with_own_code_is_explained() {
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.create_room("club");
    let code = a.invite(&room, &[]);
    assert_eq!(a.json_err(&["join", &code]).0, "bad_request");
    b.json(&["join", &code]);
    assert_eq!(b.json_err(&["join", &code]).0, "already_member");
}
