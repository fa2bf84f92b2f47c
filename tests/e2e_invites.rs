//! Invite codes: forged, expired, revoked and reused codes are refused, and
//! the refused daemon keeps no trace of the room; any online member admits a
//! code's holder while the inviter is away (found through the code or the
//! DHT), and a single-use code admits exactly one person even when two
//! members are asked at the same moment.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{wait_until, Daemon};

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

fn member_ids(d: &Daemon, room: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        d.json(&["room", "members", room]).as_array().unwrap().iter().map(|m| m["peer_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

fn connected_to(d: &Daemon, other: &Daemon) -> bool {
    let id = other.peer_id();
    d.json(&["status"])["peers"].as_array().unwrap().iter().any(|p| p["peer_id"] == id.as_str())
}

#[test]
fn any_member_admits_while_the_inviter_is_away() {
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let c = Daemon::start("carol");
    let m = Daemon::start("mallory");
    let room = a.room_with("apéro du jeudi", &[&b]);
    a.json(&["say", &room, "bonsoir"]);
    b.wait_history_len(&room, 1);
    wait_until("alice to be connected to bob", Duration::from_secs(20), || connected_to(&a, &b).then_some(()));
    // Made while bob is online: the codes carry his addresses, and the room
    // (bob) hears of them, and of the revocation, before `invite` returns.
    let code = a.invite(&room, &[]);
    let revoked = a.invite(&room, &[]);
    a.json(&["invite", "revoke", &revoked]);
    a.terminate();

    let start = Instant::now();
    let joined = c.json(&["join", &code, "--timeout", "20s"]);
    assert_eq!(joined["room"].as_str().unwrap(), room);
    assert!(start.elapsed() < Duration::from_secs(15), "bob admitted carol in {:?}", start.elapsed());
    assert_eq!(c.history_texts(&room), vec!["bonsoir"]);
    assert!(member_ids(&b, &room).contains(&c.peer_id()), "bob lists carol");

    let (kind, msg) = m.json_err(&["join", &revoked, "--timeout", "10s"]);
    assert_eq!(kind, "revoked", "bob knows the code was revoked: {msg}");
    assert_eq!(m.json(&["room", "list"]).as_array().unwrap().len(), 0);
    assert!(b.dropped()["refused_joins"].as_u64().unwrap() >= 1, "bob counted the refusal");

    // Alice, back, learns that carol came in with her code.
    a.restart();
    wait_until("alice to list carol", Duration::from_secs(30), || member_ids(&a, &room).contains(&c.peer_id()).then_some(()));
    let list = a.json(&["invite", "list", &room]);
    let used = list.as_array().unwrap().iter().find(|i| i["code"] == code.as_str()).unwrap();
    assert_eq!(used["uses"], 1, "{list}");
}

#[test]
fn a_joiner_finds_members_through_the_dht_when_the_code_names_only_the_inviter() {
    // A daemon in no room stands in for the public DHT (a relay is a DHT
    // server from the start; others are clients until found public).
    let boot = Daemon::start_with("dht", &["--relay"], &[]);
    let bid = boot.peer_id();
    let listen: Vec<String> =
        boot.json(&["status"])["listen"].as_array().unwrap().iter().map(|a| format!("{}/p2p/{bid}", a.as_str().unwrap())).collect();
    let mut args: Vec<&str> = Vec::new();
    for a in &listen {
        args.extend(["--bootstrap", a.as_str()]);
    }
    let mut a = Daemon::start_with("alice", &args, &[]);
    let b = Daemon::start_with("bob", &args, &[]);
    let c = Daemon::start_with("carol", &args, &[]);
    let room = a.create_room("chorale");
    // Made while alice is alone in the room: it names no one else.
    let code = a.invite(&room, &[]);
    b.json(&["join", &code]);
    a.json(&["say", &room, "répétition mardi"]);
    b.wait_history_len(&room, 1);
    // Bob announces himself at the code's rendezvous once he is in.
    wait_until("bob to announce the code in the DHT", Duration::from_secs(20), || b.log().contains("rendezvous").then_some(()));
    a.terminate();
    let joined = c.json(&["join", &code, "--timeout", "30s"]);
    assert_eq!(joined["room"].as_str().unwrap(), room);
    assert_eq!(c.history_texts(&room), vec!["répétition mardi"]);
    assert!(member_ids(&b, &room).contains(&c.peer_id()));
    assert!(c.log().contains("the DHT found a member for our code"), "carol found bob through the DHT");
}

#[test]
fn a_single_use_code_admits_exactly_one_even_when_two_members_are_asked_at_once() {
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let e = Daemon::start("eve");
    let room = a.room_with("atelier", &[&b, &e]);
    wait_until("bob and eve to be connected", Duration::from_secs(30), || connected_to(&b, &e).then_some(()));
    let codes = [a.invite(&room, &["--once"]), a.invite(&room, &["--once"])];
    let aid = a.peer_id();
    a.terminate();
    let (bid, eid) = (b.peer_id(), e.peer_id());
    let mut joiners = vec![Daemon::start("carol"), Daemon::start("dan")];
    let mut admitted = Vec::new();
    for (round, code) in codes.iter().enumerate() {
        // Each joiner asks a different member first, both at once.
        let outs: Vec<std::process::Output> = std::thread::scope(|s| {
            let hs: Vec<_> = joiners
                .iter()
                .zip([&bid, &eid])
                .map(|(j, via)| s.spawn(move || j.cli(&["--json", "join", code, "--via", via, "--timeout", "20s"])))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok: Vec<usize> = (0..2).filter(|&i| outs[i].status.success()).collect();
        assert_eq!(ok.len(), 1, "round {round}: exactly one is admitted: {:?}", outs);
        let loser = 1 - ok[0];
        let err: serde_json::Value = serde_json::from_slice(&outs[loser].stdout).unwrap();
        assert_eq!(err["error"]["kind"], "already_used", "round {round}: {err}");
        assert_eq!(joiners[loser].json(&["room", "list"]).as_array().unwrap().len(), 0, "the other keeps no trace");
        let yielded = b.log().matches("went to another joiner").count() + e.log().matches("went to another joiner").count();
        eprintln!(
            "round {round}: {} admitted, {} refused; members that yielded after asking so far: {yielded}",
            joiners[ok[0]].name, joiners[loser].name
        );
        admitted.push(joiners[ok[0]].peer_id());
        // The winner leaves the pair; the one refused tries again with someone new.
        let winner = joiners.remove(ok[0]);
        drop(winner);
        joiners.push(Daemon::start(if round == 0 { "frank" } else { "grace" }));
    }
    // Both members agree on who came in: each code admitted one person.
    let mut expected = vec![aid, bid.clone(), eid.clone()];
    expected.extend(admitted);
    expected.sort();
    for d in [&b, &e] {
        wait_until(&format!("{} to agree on the members", d.name), Duration::from_secs(30), || {
            (member_ids(d, &room) == expected).then_some(())
        });
    }
}
