//! Chat end to end: invites chained through members, history that every
//! member keeps and syncs, one total order, and durability across kill -9.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{wait_until, Daemon};

#[test]
fn three_members_chat_sync_and_agree_on_order() {
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let c = Daemon::start("carol");
    let room = a.create_room("apero");
    a.json(&["say", "apero", "bonsoir"]);

    let joined = b.json(&["join", &a.invite("apero", &[])]);
    assert_eq!(joined["room"], room.as_str());
    assert_eq!(joined["name"], "apero");
    // `join` returns after the history arrived.
    assert_eq!(b.history_texts(&room), vec!["bonsoir"]);

    b.json(&["say", &room, "salut alice"]);
    a.wait_history_len(&room, 2);
    a.json(&["say", &room, "salut bob"]);
    b.wait_history_len(&room, 3);

    // Bob invites Carol: any member can invite.
    c.json(&["join", &b.invite(&room, &[])]);
    assert_eq!(c.history_texts(&room), vec!["bonsoir", "salut alice", "salut bob"], "carol gets the full history at once");

    // Concurrent writes from all three.
    for i in 0..5 {
        a.json(&["say", &room, &format!("a{i}")]);
        b.json(&["say", &room, &format!("b{i}")]);
        c.json(&["say", &room, &format!("c{i}")]);
    }
    let total = 3 + 15;
    for d in [&a, &b, &c] {
        d.wait_history_len(&room, total);
    }
    let order = a.history_ids(&room);
    assert_eq!(order.len(), total);
    assert_eq!(b.history_ids(&room), order, "bob shows the same order as alice");
    assert_eq!(c.history_ids(&room), order, "carol shows the same order as alice");

    // Everyone knows everyone, with names.
    let members = c.json(&["room", "members", &room]);
    let mut names: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let list = a.json(&["room", "list"]);
    assert_eq!(list[0]["members"], 3);

    // status lists the connected peers with the documented fields.
    let st = c.json(&["status"]);
    assert_eq!(st["rooms"], 1);
    wait_until("carol to connect to alice directly", Duration::from_secs(20), || {
        let st = c.json(&["status"]);
        st["peers"].as_array().unwrap().iter().any(|p| p["peer_id"] == a.peer_id().as_str() && p["path"] == "direct").then_some(())
    });
    let p = &c.json(&["status"])["peers"][0];
    for field in ["peer_id", "name", "path", "addr", "rtt_ms"] {
        assert!(p.get(field).is_some(), "status peer lacks {field}: {p}");
    }
}

#[test]
fn killed_member_comes_back_with_everything() {
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("soirée", &[&b]);
    // Acknowledged messages survive kill -9 right after the acknowledgement.
    for i in 0..10 {
        a.json(&["say", &room, &format!("before {i}")]);
    }
    a.kill9();
    b.json(&["say", &room, "while alice was away"]);
    a.restart();
    let h = a.wait_history_len(&room, 11);
    for i in 0..10 {
        assert!(h.contains(&format!("before {i}")), "alice lost her own message {i}: {h:?}");
    }
    assert!(h.contains(&"while alice was away".to_string()), "alice did not catch up: {h:?}");
    b.wait_history_len(&room, 11);
    assert_eq!(a.history_ids(&room), b.history_ids(&room));
}

/// A member that restarts must hear what is said right after, at once
/// (issue 16). It used not to, about one restart in four: the other side
/// still held the QUIC connection of the member's previous run (a dead port
/// answers nothing), saw the new connection as a second one (no "connected"
/// event, so no sync), and half of its requests went down the dead
/// connection until that timed out. Now a new direct connection replaces a
/// peer's older ones and counts as the peer coming back.
#[test]
fn a_restarted_member_gets_what_is_said_right_after_at_once() {
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("apéro", &[&b]);
    let listen = |d: &Daemon| {
        let mut l: Vec<String> =
            d.json(&["status"])["listen"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
        l.sort();
        l
    };
    let before = listen(&a);
    let mut worst = Duration::ZERO;
    for i in 0..4 {
        // The connection a restart leaves behind is old by then, as in life.
        std::thread::sleep(Duration::from_millis(2500));
        a.kill9();
        a.restart();
        // Back on the same ports, so the addresses bob keeps still work.
        assert_eq!(listen(&a), before, "restart {i}: alice listens where she did");
        let text = format!("right after restart {i}");
        b.json(&["say", &room, &text]);
        let said = std::time::Instant::now();
        wait_until("alice to get the message", Duration::from_secs(40), || a.history_texts(&room).contains(&text).then_some(()));
        eprintln!("restart {i}: alice had bob's message after {:?}", said.elapsed());
        worst = worst.max(said.elapsed());
    }
    // The goal is 1 s; the bound leaves room for a loaded CI machine and
    // still catches the 25 s a dead connection used to cost.
    assert!(worst < Duration::from_secs(3), "a message said right after a restart took {worst:?}");
}

#[test]
fn late_member_gets_history_from_any_online_member() {
    // Alice writes, then goes away for good; Carol, invited by Bob, still
    // gets Alice's messages from Bob.
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let c = Daemon::start("carol");
    let room = a.room_with("atelier", &[&b]);
    a.json(&["say", &room, "slides are ready"]);
    b.wait_history_len(&room, 1);
    a.kill9();
    c.json(&["join", &b.invite(&room, &[])]);
    assert_eq!(c.history_texts(&room), vec!["slides are ready"]);
    assert_eq!(c.history_ids(&room), b.history_ids(&room));
}

#[test]
fn leave_is_announced_and_limits_hold() {
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("club", &[&b]);

    let (kind, msg) = a.json_err(&["say", &room, &"x".repeat(16 * 1024 + 1)]);
    assert_eq!(kind, "too_large", "{msg}");
    a.json(&["say", &room, &"y".repeat(16 * 1024)]);
    b.wait_history_len(&room, 1);

    let (kind, _) = a.json_err(&["say", "no-such-room", "hello"]);
    assert_eq!(kind, "not_found");

    b.json(&["room", "leave", &room]);
    assert_eq!(b.json(&["room", "list"]).as_array().unwrap().len(), 0);
    wait_until("alice to see bob leave", Duration::from_secs(15), || {
        (a.json(&["room", "members", &room]).as_array().unwrap().len() == 1).then_some(())
    });
}

/// A leave made while every other member is away still reaches the room
/// (issue 16): the leaver keeps dialing the room's members until one holds
/// its leave, and from that member anti-entropy carries it to the others.
/// Alice keeps her port across restarts; bob and carol do not, so bob's
/// leave can only reach alice if bob dials her.
#[test]
fn a_leave_made_while_everyone_is_away_reaches_the_room() {
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let quic = format!("/ip4/127.0.0.1/udp/{port}/quic-v1");
    let tcp = format!("/ip4/127.0.0.1/tcp/{port}");
    let mut a = Daemon::start_with("alice", &["--listen", &quic, "--listen", &tcp], &[]);
    let mut b = Daemon::start("bob");
    let mut c = Daemon::start("carol");
    let room = a.room_with("club", &[&b, &c]);
    a.json(&["say", &room, "see you"]);
    c.wait_history_len(&room, 1);
    b.wait_history_len(&room, 1);
    a.terminate();
    c.terminate();
    b.json(&["room", "leave", &room]);
    b.terminate();

    a.restart();
    b.restart();
    wait_until("alice to learn that bob left", Duration::from_secs(30), || {
        (a.json(&["room", "members", &room]).as_array().unwrap().len() == 2).then_some(())
    });
    // Bob is gone for good; carol learns it from alice.
    b.terminate();
    c.restart();
    wait_until("carol to learn that bob left", Duration::from_secs(30), || {
        let m = c.json(&["room", "members", &room]);
        let names: Vec<_> = m.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap_or("").to_string()).collect();
        (names.len() == 2 && !names.contains(&"bob".to_string())).then_some(())
    });
}

/// `apero chat` reads lines from a plain pipe and prints new messages live.
#[test]
fn chat_sends_typed_lines_and_shows_new_messages() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("live", &[&b]);
    a.json(&["say", &room, "earlier"]);
    b.wait_history_len(&room, 1);

    let mut chat = Command::new(common::apero_bin())
        .arg("--home")
        .arg(b.home())
        .args(["chat", "live"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("apero chat");
    let mut stdin = chat.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = chat.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let expect = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("chat never printed {needle:?}"),
            }
        }
    };
    expect("alice: earlier");
    writeln!(stdin, "typed by bob").unwrap();
    a.wait_history_len(&room, 2);
    expect("bob: typed by bob");
    a.json(&["say", &room, "live from alice"]);
    expect("alice: live from alice");
    writeln!(stdin, "/quit").unwrap();
    let st = chat.wait().unwrap();
    assert!(st.success());
}

/// The same in a real terminal, through tmux.
#[test]
fn chat_works_in_a_terminal() {
    if common::which("tmux").is_none() {
        return common::skip("tmux", "it plays the terminal (scripts/test.sh installs it when root)");
    }
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("tty", &[&b]);
    let session = format!("apero-test-{}", std::process::id());
    let cmd = format!("{} --home {} chat tty", common::apero_bin().display(), b.home().display());
    let tmux = |args: &[&str]| Command::new("tmux").args(args).output().expect("tmux");
    let _ = tmux(&["kill-session", "-t", &session]);
    assert!(tmux(&["new-session", "-d", "-s", &session, "-x", "160", "-y", "40", &cmd]).status.success());
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).to_string();
    wait_until("the chat header", Duration::from_secs(15), || screen().contains("Type a message").then_some(()));
    tmux(&["send-keys", "-t", &session, "hello from a terminal", "Enter"]);
    a.wait_history_len(&room, 1);
    a.json(&["say", &room, "hello terminal"]);
    wait_until("alice's message on bob's screen", Duration::from_secs(15), || screen().contains("alice: hello terminal").then_some(()));
    let _ = tmux(&["kill-session", "-t", &session]);
}

use std::process::Command;

/// `apero name` and `call settings` are kept: friends see the new name on
/// old and new messages and in the member list, and both survive a restart.
#[test]
fn a_new_name_and_call_settings_outlive_a_restart() {
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    a.json(&["say", &room, "before the new name"]);
    b.wait_history_len(&room, 1);

    let bad = a.json_err(&["name", "  "]);
    assert_eq!(bad.0, "bad_request", "{bad:?}");
    let long = "x".repeat(65);
    assert_eq!(a.json_err(&["name", &long]).0, "too_large");

    let r = a.json(&["name", "Alice Martin"]);
    assert_eq!((r["name"].as_str(), r["rooms"].as_u64()), (Some("Alice Martin"), Some(1)), "{r}");
    assert_eq!(a.json(&["name"])["name"], "Alice Martin");
    assert_eq!(a.json(&["status"])["name"], "Alice Martin");
    let alice = a.peer_id();
    wait_until("bob to see alice's new name on her old message", Duration::from_secs(20), || {
        let h = b.json(&["history", &room]);
        (h[0]["author_name"] == "Alice Martin").then_some(())
    });
    let members = b.json(&["room", "members", &room]);
    let m = members.as_array().unwrap().iter().find(|m| m["peer_id"] == alice.as_str()).unwrap().clone();
    assert_eq!(m["name"], "Alice Martin", "{members}");

    a.json(&["call", "settings", "--gain-control", "off", "--noise-suppression", "off"]);
    a.kill9();
    a.without_name_flag();
    a.restart();
    assert_eq!(a.json(&["name"])["name"], "Alice Martin", "the name is kept");
    let p = &a.json(&["call", "settings"])["processing"];
    assert_eq!(
        (p["echo_cancel"].as_bool(), p["noise_suppression"].as_bool(), p["gain_control"].as_bool()),
        (Some(true), Some(false), Some(false)),
        "{p}"
    );
    a.json(&["say", &room, "after the restart"]);
    wait_until("bob to get alice's message under her new name", Duration::from_secs(20), || {
        let h = b.json(&["history", &room]);
        h.as_array().unwrap().iter().any(|m| m["text"] == "after the restart" && m["author_name"] == "Alice Martin").then_some(())
    });
}

/// Every file of a daemon's database (the file, its WAL, its journal).
fn database_files(d: &Daemon) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![d.home().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("apero.sqlite3")) {
                out.push(p);
            }
        }
    }
    assert!(!out.is_empty(), "no database under {}", d.home().display());
    out
}

/// Replies, edits, reactions and deletes between two daemons, and a delete
/// made while bob was away reaching him when he is back: gone from his
/// history and from the bytes of his database.
#[test]
fn replies_edits_reactions_and_deletes_reach_every_member() {
    let a = Daemon::start("alice");
    let mut b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    let secret = "la recette secrète du gâteau 4217";
    let first = a.json(&["say", &room, secret]);
    let id = first["id"].as_str().unwrap().to_string();
    b.wait_history_len(&room, 1);

    let reply = b.json(&["say", &room, "@Alice envoie-la encore", "--reply-to", &id[..8]]);
    assert_eq!(reply["reply_to"], id.as_str(), "a prefix names the message");
    let seen = wait_until("alice to get bob's reply", Duration::from_secs(30), || {
        let h = a.json(&["history", &room]);
        (h.as_array().unwrap().len() == 2).then_some(h)
    });
    assert_eq!(seen[1]["reply_to"], id.as_str());
    assert_eq!(seen[1]["mentions_me"], true, "@Alice names alice");
    assert_eq!(seen[0]["mentions_me"], false);

    let edited_text = "la recette secrète, version corrigée 4217";
    let edited = a.json(&["edit", &room, &id, edited_text]);
    assert_eq!((edited["text"].as_str(), edited["edited"].as_bool()), (Some(edited_text), Some(true)));
    let reacted = b.json(&["react", &room, &id, "🎉"]);
    assert_eq!(reacted["reactions"][0]["emoji"], "🎉");
    assert_eq!(reacted["reactions"][0]["mine"], true);
    wait_until("bob to see the edit and alice the reaction", Duration::from_secs(30), || {
        let hb = b.json(&["history", &room]);
        let ha = a.json(&["history", &room]);
        (hb[0]["text"] == edited_text && hb[0]["edited"] == true && ha[0]["reactions"][0]["members"][0] == b.peer_id().as_str())
            .then_some(())
    });

    // Only the author may edit or delete; bad input gets a clear answer.
    let (kind, msg) = b.json_err(&["delete", &room, &id]);
    assert_eq!(kind, "refused", "{msg}");
    assert!(msg.contains("only its author"), "{msg}");
    assert_eq!(b.json_err(&["edit", &room, &id, "pwned"]).0, "refused");
    assert_eq!(b.json_err(&["react", &room, &id, "🍆"]).0, "bad_request");
    assert_eq!(b.json_err(&["delete", &room, "ffffffff"]).0, "not_found");
    assert_eq!(a.history_texts(&room)[0], edited_text);

    // Bob is away while alice deletes; the delete reaches him when he is back.
    b.terminate();
    a.json(&["delete", &room, &id]);
    assert_eq!(a.history_texts(&room), ["@Alice envoie-la encore"]);
    b.restart();
    wait_until("bob to hear of the delete", Duration::from_secs(60), || {
        (b.history_texts(&room) == ["@Alice envoie-la encore"]).then_some(())
    });
    let h = b.json(&["history", &room]);
    assert_eq!(h[0]["reply_to"], id.as_str(), "a reply keeps naming what it answered");
    let text = b.cli(&["history", &room]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("(an earlier or deleted message)") && !text.contains("4217"), "{text}");

    b.terminate();
    for f in database_files(&b) {
        let bytes = std::fs::read(&f).unwrap();
        for gone in ["secrète du gâteau", "version corrigée"] {
            assert!(!bytes.windows(gone.len()).any(|w| w == gone.as_bytes()), "{gone:?} is still in {}", f.display());
        }
    }
}
