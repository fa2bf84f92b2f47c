//! Channels, hosts and breakout groups end to end with real daemons: voice
//! and text stay inside their channel, only hosts act (also when their
//! entries arrive late through sync), a removed member is out, and a
//! breakout with a timer moves everyone and brings them back.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::audio::{self, envelope, looped_correlation};
use common::raw::{raw_peer_with, rpc};
use common::{rt, wait_in_call, wait_until, Daemon};
use serde_json::Value;

const SPEECH: &str = "Bonsoir à tous. Today we work in small groups, then we come back together. One, two, three.";
const CALL: Duration = Duration::from_secs(20);

fn wav(name: &str, dir: &Path, input: &Path) -> (Daemon, PathBuf) {
    let out = dir.join(format!("{name}-out.wav"));
    let d = Daemon::start_with(name, &["--audio", "wav", "--wav-in", input.to_str().unwrap(), "--wav-out", out.to_str().unwrap()], &[]);
    (d, out)
}

fn channel_of(d: &Daemon) -> String {
    d.json(&["call", "status"])["channel"].as_str().unwrap_or("").to_string()
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_string()).collect()
}

#[test]
fn voice_and_text_stay_in_their_channel() {
    let dir = tempfile::tempdir().unwrap();
    let Some(speech) = audio::speech(dir.path(), SPEECH) else { return };
    let silence = dir.path().join("silence.wav");
    audio::write_silence(&silence, 2.0);
    let (a, _) = wav("alice", dir.path(), &speech);
    let (b, b_out) = wav("bob", dir.path(), &silence);
    let (c, c_out) = wav("carol", dir.path(), &silence);
    let room = a.room_with("atelier du soir", &[&b, &c]);
    a.json(&["channel", "create", &room, "Table 2"]);
    let (kind, msg) = b.json_err(&["channel", "create", &room, "mine"]);
    assert_eq!(kind, "refused");
    assert!(msg.contains("only a host") && msg.contains("alice"), "{msg}");
    wait_until("carol to know the channel", Duration::from_secs(10), || {
        let l = c.json(&["channel", "list", &room]);
        l["channels"].as_array().unwrap().iter().any(|ch| ch["name"] == "Table 2").then_some(())
    });

    a.json(&["call", "join", &room]);
    b.json(&["call", "join", &room]);
    let carol_joined = Instant::now();
    c.json(&["call", "join", &room, "--channel", "Table 2"]);
    for d in [&a, &b, &c] {
        wait_in_call(d, 3, CALL);
    }
    let st = b.json(&["call", "status"]);
    let chans: Vec<(String, String)> = st["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["channel"].as_str().unwrap_or("?").to_string()))
        .collect();
    assert!(chans.contains(&("carol".into(), "Table 2".into())) && chans.contains(&("alice".into(), "general".into())), "{chans:?}");
    std::thread::sleep(Duration::from_secs(8));

    // A host moves carol to general: she hears alice from then on.
    let moved = carol_joined.elapsed();
    a.json(&["call", "move", &room, "carol", "general"]);
    wait_until("carol to be moved", Duration::from_secs(5), || (channel_of(&c) == "general").then_some(()));
    std::thread::sleep(Duration::from_secs(8));
    for d in [&a, &b, &c] {
        d.json(&["call", "leave"]);
    }
    let reference = audio::read(&speech);
    let heard_b = audio::read(&b_out);
    let corr_b = looped_correlation(&reference, &heard_b, 100);
    // Carol's output: silence while at Table 2 (up to half a second before
    // the move), alice's speech from a second after it.
    let heard_c = audio::read(&c_out);
    let before = ((moved.as_secs_f64() - 0.5) * 48_000.0) as usize;
    let after = ((moved.as_secs_f64() + 1.0) * 48_000.0) as usize;
    assert!(heard_c.len() > after + 4 * 48_000, "carol wrote {} samples", heard_c.len());
    let loud = envelope(&heard_c[..before]).iter().filter(|&&e| e > 300.0).count();
    assert_eq!(loud, 0, "carol, in another channel, heard alice ({loud} loud blocks)");
    let corr_c = looped_correlation(&reference, &heard_c[after..], 0);
    eprintln!("alice's speech: bob (same channel) {corr_b:.3}, carol after the move {corr_c:.3}");
    assert!(corr_b > 0.6, "bob hears alice poorly: {corr_b:.3}");
    assert!(corr_c > 0.5, "carol, moved to general, hears alice poorly: {corr_c:.3}");

    // Text: each channel its own history; the room's whole history has all.
    c.json(&["say", &room, "--channel", "Table 2", "on a fini"]);
    b.json(&["say", &room, "salut général"]);
    let general = wait_until("bob's message at alice", Duration::from_secs(10), || {
        let h = a.json(&["history", &room, "--channel", "general"]);
        texts(&h).contains(&"salut général".to_string()).then_some(h)
    });
    assert!(!texts(&general).contains(&"on a fini".to_string()), "{general}");
    let table = wait_until("carol's message at alice", Duration::from_secs(10), || {
        let h = a.json(&["history", &room, "--channel", "Table 2"]);
        (!h.as_array().unwrap().is_empty()).then_some(h)
    });
    assert_eq!(texts(&table), vec!["on a fini"]);
    assert_eq!(table[0]["channel_name"], "Table 2");
    assert_eq!(texts(&a.json(&["history", &room])).len(), 2);

    // A file offered in a channel belongs to it.
    let file = dir.path().join("notes de la table 2.txt");
    std::fs::write(&file, "idées").unwrap();
    c.json(&["send", &room, "--channel", "Table 2", file.to_str().unwrap()]);
    let offered = wait_until("the offer at alice", Duration::from_secs(10), || {
        let f = a.json(&["files", &room, "--channel", "Table 2"]);
        (!f.as_array()?.is_empty()).then_some(f)
    });
    assert_eq!(offered[0]["channel_name"], "Table 2");
    assert!(a.json(&["files", &room, "--channel", "general"]).as_array().unwrap().is_empty());
}

/// A member who is no host cannot make itself one or change channels: its
/// entries are kept and ignored by every member, also one that gets them
/// later through sync.
#[test]
fn only_hosts_act_even_when_their_entries_come_late() {
    use aperod::entry::{Body, Entry};
    use aperod::wire::{PeerRequest, PeerResponse};
    let a = Daemon::start("alice");
    let room = a.create_room("club");
    let code = a.invite(&room, &[]);
    let key = libp2p::identity::Keypair::generate_ed25519();
    let me = key.public().to_peer_id().to_string();
    rt().block_on(async {
        let (mut control, peer) = raw_peer_with(&a, key.clone()).await;
        let welcome = rpc(&mut control, peer, &PeerRequest::Join { code, name: "mallory".into() }).await;
        assert!(matches!(welcome, PeerResponse::Welcome { .. }), "{welcome:?}");
        let promote = Entry::sign(&key, &room, 20, 0, Body::Role { member: me.clone(), host: true }).entry;
        let channel = Entry::sign(&key, &room, 21, 0, Body::Channel { id: "0badc0de".into(), name: Some("takeover".into()) }).entry;
        let resp = rpc(&mut control, peer, &PeerRequest::Push { room: room.clone(), entries: vec![promote, channel] }).await;
        // Stored (every member must hold the same entries), not obeyed.
        assert_eq!(resp, PeerResponse::Ack { accepted: 2 });
    });
    let l = a.json(&["channel", "list", &room]);
    assert_eq!(l["hosts"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(l["channels"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(a.dropped()["not_host"], 2);

    // Bob joins afterwards and gets those entries by sync: he ignores them too.
    let b = Daemon::start("bob");
    b.json(&["join", &a.invite(&room, &[])]);
    let lb = b.json(&["channel", "list", &room]);
    assert_eq!(lb["hosts"], l["hosts"], "{lb}");
    assert_eq!(lb["channels"].as_array().unwrap().len(), 1, "{lb}");
    // A real promotion does count, at both.
    a.json(&["room", "host", &room, "bob"]);
    wait_until("bob to be a host", Duration::from_secs(10), || b.json(&["channel", "list", &room])["me_host"].as_bool()?.then_some(()));
    b.json(&["channel", "create", &room, "Atelier"]);
    wait_until("alice to see bob's channel", Duration::from_secs(10), || {
        (a.json(&["channel", "list", &room])["channels"].as_array().unwrap().len() == 2).then_some(())
    });
    // Stepping down works while another host remains; then bob is refused.
    b.json(&["room", "unhost", &room, "bob"]);
    let (kind, msg) = b.json_err(&["channel", "delete", &room, "Atelier"]);
    assert_eq!(kind, "refused", "{msg}");
    let (kind, msg) = a.json_err(&["room", "unhost", &room, "alice"]);
    assert_eq!(kind, "refused", "the last host stays: {msg}");
}

fn find_db(home: &Path) -> PathBuf {
    for entry in walkdir(home) {
        if entry.file_name().is_some_and(|n| n == "apero.sqlite3") {
            return entry;
        }
    }
    panic!("no database under {}", home.display());
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_removed_member_is_out() {
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let c = Daemon::start("carol");
    let room = a.room_with("club", &[&b, &c]);
    let carols_code = c.invite(&room, &[]);
    c.json(&["say", &room, "bonjour"]);
    b.wait_history_len(&room, 1);
    let (kind, _) = b.json_err(&["room", "remove", &room, "carol"]);
    assert_eq!(kind, "refused", "bob is no host");
    for d in [&a, &c] {
        d.json(&["call", "join", &room]);
    }
    wait_in_call(&a, 2, CALL);
    a.json(&["room", "remove", &room, "carol"]);
    // Out of the call at once, and her daemon leaves it.
    wait_until("carol out of alice's call", Duration::from_secs(5), || {
        (a.json(&["call", "status"])["participants"].as_array()?.len() == 1).then_some(())
    });
    wait_until("carol to leave the call", Duration::from_secs(5), || c.json(&["call", "status"])["room"].is_null().then_some(()));
    // Carol's daemon is told: the room is gone from her list.
    wait_until("carol to be told", Duration::from_secs(10), || c.json(&["room", "list"]).as_array()?.is_empty().then_some(()));
    for d in [&a, &b] {
        wait_until("carol to be out of the members", Duration::from_secs(10), || {
            let m = d.json(&["room", "members", &room]);
            (!m.as_array()?.iter().any(|m| m["name"] == "carol")).then_some(())
        });
    }
    // Her code admits nobody now.
    let dave = Daemon::start("dave");
    let out = dave.cli(&["--json", "join", &carols_code, "--timeout", "8s"]);
    assert!(!out.status.success(), "carol's code still admits: {}", String::from_utf8_lossy(&out.stdout));
    // What is said afterwards never reaches her.
    a.json(&["say", &room, "après son départ"]);
    b.wait_history_len(&room, 2);
    std::thread::sleep(Duration::from_secs(2));
    let db = rusqlite::Connection::open(find_db(c.home())).unwrap();
    let n: i64 = db.query_row("SELECT COUNT(*) FROM entries WHERE text = 'après son départ'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "a removed member still gets new messages");
    // And she cannot take part in the call.
    assert!(!c.cli(&["call", "join", &room]).status.success());
}

#[test]
fn a_timed_breakout_moves_everyone_and_brings_them_back() {
    // Breakout minutes of 3 s: the warning after 3 s, the end after 6 s.
    let minute = [("APERO_BREAKOUT_MINUTE_MS", "3000")];
    let null = ["--audio", "null"];
    let dir = tempfile::tempdir().unwrap();
    let silence = dir.path().join("silence.wav");
    audio::write_silence(&silence, 2.0);
    let a = Daemon::start_with("alice", &null, &minute);
    // Erin listens on the wav backend: the one-minute chime must be in her ears.
    let erin_out = dir.path().join("erin-out.wav");
    let wav = ["--audio", "wav", "--wav-in", silence.to_str().unwrap(), "--wav-out", erin_out.to_str().unwrap()];
    let mut others: Vec<Daemon> = ["bob", "carol", "dave"].iter().map(|n| Daemon::start_with(n, &null, &minute)).collect();
    others.push(Daemon::start_with("erin", &wav, &minute));
    let room = a.room_with("atelier", &others.iter().collect::<Vec<_>>());
    for d in std::iter::once(&a).chain(&others) {
        d.json(&["call", "join", &room]);
    }
    for d in std::iter::once(&a).chain(&others) {
        wait_in_call(d, 5, CALL);
    }
    let warnings = events(&others[1], "breakout");
    let started = Instant::now();
    let info = a.json(&["breakout", "start", &room, "--groups", "2", "--minutes", "2", "--assign", "bob=2"]);
    let groups = info["breakout"]["groups"].as_array().unwrap().clone();
    assert_eq!(groups.len(), 2, "{info}");
    let sizes: Vec<usize> = groups.iter().map(|g| g["members"].as_array().unwrap().len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 4, "everyone but the host: {info}");
    let bob = others[0].peer_id();
    assert!(groups[1]["members"].as_array().unwrap().iter().any(|m| m == &Value::String(bob.clone())), "bob was placed in group 2");
    for d in &others {
        wait_until(&format!("{} in a group", d.name), Duration::from_secs(5), || channel_of(d).starts_with("Group ").then_some(()));
    }
    eprintln!("everyone in a group {:?} after the start", started.elapsed());
    assert_eq!(channel_of(&others[0]), "Group 2");
    assert_eq!(channel_of(&a), "general", "the host stays to visit");
    // Bob's group is all he hears: his call's other participants there.
    let st = others[0].json(&["call", "status"]);
    let with_bob: Vec<&Value> = st["participants"].as_array().unwrap().iter().filter(|p| p["channel"] == "Group 2").collect();
    assert_eq!(with_bob.len(), sizes[1], "{st}");
    // A broadcast reaches every group's history.
    a.json(&["breakout", "broadcast", &room, "encore deux minutes"]);
    wait_until("the broadcast at bob", Duration::from_secs(5), || {
        texts(&others[0].json(&["history", &room, "--channel", "Group 2"])).contains(&"encore deux minutes".to_string()).then_some(())
    });
    let left = a.json(&["breakout", "status", &room])["breakout"]["seconds_left"].as_u64().unwrap();
    assert!(left <= 6, "{left}");
    // The timer brings everyone back by itself.
    for d in &others {
        wait_until(&format!("{} back", d.name), Duration::from_secs(15), || (channel_of(d) == "general").then_some(()));
    }
    let back = started.elapsed();
    eprintln!("everyone back {back:?} after the start (timer 6 s)");
    assert!(back >= Duration::from_secs(5), "back too early: {back:?}");
    // A minute (here 3 s) before the end: the time left, and a chime.
    let warned = warnings.lock().unwrap().iter().any(|e| e["seconds_left"].as_u64().is_some_and(|s| s <= 3));
    assert!(warned, "carol got no one-minute warning: {:?}", warnings.lock().unwrap());

    // Without a timer, `breakout end` does it; a group member may ask for help.
    a.json(&["breakout", "start", &room, "--groups", "4"]);
    wait_until("bob in a group", Duration::from_secs(5), || channel_of(&others[0]).starts_with("Group ").then_some(()));
    others[0].json(&["breakout", "help", &room]);
    let (kind, _) = others[1].json_err(&["breakout", "end", &room]);
    assert_eq!(kind, "refused");
    a.json(&["breakout", "end", &room]);
    for d in &others {
        wait_until(&format!("{} back", d.name), Duration::from_secs(5), || (channel_of(d) == "general").then_some(()));
    }
    assert!(a.json(&["channel", "list", &room])["breakout"].is_null());
    others[3].json(&["call", "leave"]);
    // Nobody spoke: whatever erin heard loud was the chime (only the first breakout had a timer).
    let heard = envelope(&audio::read(&erin_out));
    let loud = heard.iter().filter(|&&e| e > 300.0).count();
    assert!((20..=150).contains(&loud), "the chime: {loud} loud 10 ms blocks in erin's ears (about 100 expected)");
}

/// Events of kind `kind` from `d`'s event stream, gathered on a thread.
fn events(d: &Daemon, kind: &'static str) -> std::sync::Arc<std::sync::Mutex<Vec<Value>>> {
    use std::io::{BufRead, Write};
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    s.write_all(b"{\"cmd\":\"hello\",\"version\":1,\"client\":\"test\"}\n{\"cmd\":\"subscribe\"}\n").unwrap();
    let sink = got.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(s).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["event"] == kind {
                    sink.lock().unwrap().push(v);
                }
            }
        }
    });
    got
}
