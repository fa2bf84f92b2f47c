//! Bad input never crashes the daemon: malformed control requests, garbage on
//! the peer protocol from a raw libp2p peer, entries from non-members. Plus the
//! process rules: one daemon per home, a private socket, stale sockets
//! cleaned, a clean SIGTERM.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use apero_control::{Client, ErrorKind, Response};
use aperod::wire::{PeerRequest, PeerResponse, RefuseReason};
use common::raw::{framed, raw_peer, raw_peer_with, rpc, send_raw};
use common::{rt, wait_until, Daemon};

fn error_kind(r: &Response) -> Option<ErrorKind> {
    match r {
        Response::Error(e) => Some(e.kind),
        Response::Ok(_) => None,
    }
}

#[test]
fn malformed_control_requests_get_errors_and_the_daemon_goes_on() {
    let d = Daemon::start("alice");
    rt().block_on(async {
        let mut c = Client::connect(&d.socket(), "test").await.unwrap();
        let cases: Vec<(&str, Vec<u8>, ErrorKind)> = vec![
            ("garbage", b"\x00\xff garbage \x01\n".to_vec(), ErrorKind::BadRequest),
            ("truncated JSON", b"{\"cmd\": \"say\", \"room\": \"x\"\n".to_vec(), ErrorKind::BadRequest),
            ("unknown command", b"{\"cmd\": \"format_disk\"}\n".to_vec(), ErrorKind::BadRequest),
            ("missing field", b"{\"cmd\": \"say\"}\n".to_vec(), ErrorKind::BadRequest),
            ("wrong type", b"{\"cmd\": \"history\", \"room\": 5}\n".to_vec(), ErrorKind::BadRequest),
            (
                "10 MiB line",
                {
                    let mut v = vec![b'a'; 10 * 1024 * 1024];
                    v.push(b'\n');
                    v
                },
                ErrorKind::TooLarge,
            ),
            ("unknown room", b"{\"cmd\": \"history\", \"room\": \"nope\", \"limit\": null}\n".to_vec(), ErrorKind::NotFound),
        ];
        for (what, bytes, kind) in cases {
            let resp = c.request_raw(&bytes).await.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(error_kind(&resp), Some(kind), "{what}: {resp:?}");
        }
        // Same connection still works.
        let st = c.status().await.expect("status after bad input");
        assert!(st.dropped.bad_control >= 6, "{:?}", st.dropped);
    });

    // Before hello: refused with a clear error; wrong version: refused and closed.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    assert!(line.contains("hello_required"), "{line}");
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.write_all(b"{\"cmd\":\"hello\",\"version\":999,\"client\":\"future\"}\n").unwrap();
    let mut r = BufReader::new(&s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("version_mismatch"), "{line}");
    line.clear();
    assert_eq!(r.read_line(&mut line).unwrap(), 0, "connection closed after a version mismatch");

    // A client that connects and vanishes mid-line does not hurt either.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.write_all(b"{\"cmd\":\"hel").unwrap();
    drop(s);
    d.json(&["status"]);

    // The CLI's reader going away (`apero history ROOM | head -1`) ends it
    // quietly, in text as in JSON: no panic, no error.
    let room = d.create_room("piped");
    for i in 0..20 {
        d.json(&["say", &room, &format!("line {i}")]);
    }
    for json in [false, true] {
        let mut args = vec!["--home".to_string(), d.home().display().to_string()];
        if json {
            args.push("--json".into());
        }
        args.extend(["history".to_string(), room.clone()]);
        let mut child = std::process::Command::new(common::apero_bin())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "json={json}: {:?} {err}", out.status);
        assert!(!err.contains("panicked") && err.trim().is_empty(), "json={json}: {err}");
    }
}

#[test]
fn garbage_and_strangers_on_the_peer_protocol_are_dropped_and_counted() {
    let a = Daemon::start("alice");
    let room = a.create_room("club");
    a.json(&["say", &room, "members only"]);
    rt().block_on(async {
        let (mut control, peer) = raw_peer(&a).await;
        // Random bytes, a huge length prefix, valid framing with invalid JSON,
        // and a well-formed request of an unknown kind.
        let mut noise = vec![0u8; 4096];
        for (i, b) in noise.iter_mut().enumerate() {
            *b = (i * 7919 % 251) as u8;
        }
        send_raw(&mut control, peer, &noise).await;
        send_raw(&mut control, peer, &u32::MAX.to_be_bytes()).await;
        send_raw(&mut control, peer, &framed(b"{not json")).await;
        send_raw(&mut control, peer, &framed(br#"{"t":"delete_everything"}"#)).await;
        // A stranger asking for the room's history, and pushing a signed entry.
        let resp = rpc(&mut control, peer, &PeerRequest::Sync { room: room.clone(), digests: vec![] }).await;
        assert_eq!(resp, PeerResponse::Refused { reason: RefuseReason::UnknownRoom });
    });
    let dropped = wait_until("the bad frames to be counted", Duration::from_secs(10), || {
        let d = a.dropped();
        (d["bad_frames"].as_u64().unwrap() >= 3).then_some(d)
    });
    assert!(dropped["not_members"].as_u64().unwrap() >= 1, "{dropped}");
    assert_eq!(a.history_texts(&room), vec!["members only"], "the daemon still works");
}

#[test]
fn one_daemon_per_home_private_socket_stale_socket_and_sigterm() {
    let mut d = Daemon::start("alice");
    let mode = std::fs::metadata(d.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    let key_mode = std::fs::metadata(d.home().join("identity.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600, "identity key mode");
    let peer = d.peer_id();

    // A second daemon on the same home is refused, in both start modes.
    for fg in [true, false] {
        let mut cmd = std::process::Command::new(common::aperod_bin());
        cmd.arg("--home").arg(d.home()).arg("--no-mdns");
        if fg {
            cmd.arg("--foreground");
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("already running"), "clear message: {err}");
    }
    d.json(&["status"]);

    // kill -9 leaves a stale socket; the next start cleans it up and keeps the identity.
    d.kill9();
    assert!(d.socket().exists(), "a killed daemon leaves its socket");
    let out = d.cli(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not running") && err.contains("apero up"), "{err}");
    d.restart();
    assert_eq!(d.peer_id(), peer, "same identity after restart");

    // SIGTERM: clean exit, socket removed.
    let status = d.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(!d.socket().exists(), "socket removed on shutdown");
}

#[test]
fn up_and_down_manage_the_background_daemon() {
    let home = tempfile::Builder::new().prefix("apero-up-").tempdir_in("/tmp").unwrap();
    let apero = |args: &[&str]| std::process::Command::new(common::apero_bin()).arg("--home").arg(home.path()).args(args).output().unwrap();
    let out = apero(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let out = apero(&["up", "--no-mdns", "--name", "zoé", "--listen", "/ip4/127.0.0.1/tcp/0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st: serde_json::Value = serde_json::from_slice(&apero(&["--json", "status"]).stdout).unwrap();
    assert_eq!(st["name"], "zoé");
    // `up` again is harmless.
    assert!(apero(&["up"]).status.success());
    let out = apero(&["down"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!home.path().join("aperod.sock").exists());
    assert_eq!(apero(&["status"]).status.code(), Some(1));
}

/// A peer that joined legitimately still cannot forge: entries with a bad
/// signature, or signed by someone who is not a member, are dropped and
/// counted; its own valid entry is accepted.
#[test]
fn members_cannot_forge_entries() {
    use aperod::entry::{Body, Entry};
    let a = Daemon::start("alice");
    let room = a.create_room("club");
    let code = a.invite(&room, &[]);
    let key = libp2p::identity::Keypair::generate_ed25519();
    let stranger = libp2p::identity::Keypair::generate_ed25519();
    rt().block_on(async {
        let (mut control, peer) = raw_peer_with(&a, key.clone()).await;
        let welcome = rpc(&mut control, peer, &PeerRequest::Join { code, name: "raw".into() }).await;
        assert!(matches!(welcome, PeerResponse::Welcome { .. }), "{welcome:?}");
        let mut tampered = Entry::sign(&key, &room, 10, 0, Body::Message { text: "original".into(), reply_to: None, channel: None }).entry;
        tampered.body = Body::Message { text: "tampered".into(), reply_to: None, channel: None };
        let outsider =
            Entry::sign(&stranger, &room, 11, 0, Body::Message { text: "from outside".into(), reply_to: None, channel: None }).entry;
        let fake_admit = Entry::sign(
            &stranger,
            &room,
            12,
            0,
            Body::Admit { member: stranger.public().to_peer_id().to_string(), name: "x".into(), invite: None },
        )
        .entry;
        let honest = Entry::sign(&key, &room, 13, 0, Body::Message { text: "honest".into(), reply_to: None, channel: None }).entry;
        let resp =
            rpc(&mut control, peer, &PeerRequest::Push { room: room.clone(), entries: vec![tampered, outsider, fake_admit, honest] }).await;
        assert_eq!(resp, PeerResponse::Ack { accepted: 1 });
    });
    assert_eq!(a.history_texts(&room), vec!["honest"]);
    let d = a.dropped();
    assert_eq!(d["bad_signatures"], 1, "{d}");
    assert!(d["not_members"].as_u64().unwrap() >= 2, "{d}");
    assert_eq!(a.json(&["room", "members", &room]).as_array().unwrap().len(), 2, "the fake admission did not take");
}
