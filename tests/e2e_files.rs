//! Files: offers, verified downloads, resume after kill -9, a source whose
//! copy changed, fetching from a member who is not the sender (also while
//! that member is still fetching it), downloads that resume by themselves,
//! hostile names, and a stranger who gets no bytes.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{apero_bin, wait_until, Daemon};
use serde_json::Value;

const MIB: usize = 1024 * 1024;

fn random_file(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    // xorshift: incompressible, reproducible.
    let mut x = seed | 1;
    let mut data = vec![0u8; len];
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    std::fs::write(path, &data).unwrap();
    data
}

fn send(d: &Daemon, room: &str, path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["send", room, path.to_str().unwrap()];
    args.extend_from_slice(extra);
    d.json(&args)[0].clone()
}

fn wait_offer(d: &Daemon, room: &str, id: &str) -> Value {
    wait_until("the offer to arrive", Duration::from_secs(20), || {
        d.json(&["files", room]).as_array().unwrap().iter().find(|f| f["id"] == id).cloned()
    })
}

fn get(d: &Daemon, id: &str, dir: &Path) -> Value {
    d.json(&["get", id, "--to", dir.to_str().unwrap()])
}

fn get_err(d: &Daemon, id: &str, dir: &Path) -> (String, String) {
    d.json_err(&["get", id, "--to", dir.to_str().unwrap()])
}

fn spawn_get(d: &Daemon, id: &str, dir: &Path) -> Child {
    Command::new(apero_bin())
        .arg("--home")
        .arg(d.home())
        .args(["--json", "get", id, "--to", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn transfer(d: &Daemon, id: &str) -> Option<Value> {
    d.json(&["transfers"]).as_array().unwrap().iter().find(|t| t["id"] == id).cloned()
}

#[test]
fn a_member_gets_the_file_bit_exact_and_a_stranger_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("vidéo de l'atelier.bin");
    let data = random_file(&src, 48 * MIB, 1);
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    let offer = send(&a, &room, &src, &[]);
    let id = offer["id"].as_str().unwrap().to_string();
    assert_eq!(offer["size"], 48 * MIB);
    assert_eq!(offer["hash"], offer["id"]);

    let listed = wait_offer(&b, &room, &id);
    assert_eq!(listed["name"], "vidéo de l'atelier.bin");
    assert_eq!(listed["have"], false);
    assert_eq!(listed["sources"], 1);
    assert_eq!(listed["from_name"], "alice");

    let out = dir.path().join("bob-dl");
    let t = get(&b, &id[..10], &out);
    assert_eq!(t["state"], "done", "{t}");
    let path = PathBuf::from(t["path"].as_str().unwrap());
    assert_eq!(path, out.join("vidéo de l'atelier.bin"));
    assert!(std::fs::read(&path).unwrap() == data, "bob's copy is bit-exact");
    assert!(std::fs::read_dir(&out).unwrap().count() == 1, "no partial file left behind");
    assert_eq!(wait_offer(&b, &room, &id)["have"], true);
    // Getting it again does not download it twice; a second copy elsewhere
    // is never written over the first.
    assert_eq!(get(&b, &id, &out)["path"], t["path"]);
    // Alice learns that bob has it too.
    wait_until("bob to count as a source", Duration::from_secs(20), || (wait_offer(&a, &room, &id)["sources"] == 2).then_some(()));

    // A stranger asking alice directly for the hashes and a chunk: refused, no bytes.
    let rt = common::rt();
    rt.block_on(async {
        use aperod::files::wire::{read_frame, write_frame, FileRefusal, FileReply, FileRequest, PROTOCOL};
        let (mut control, peer) = common::raw::raw_peer(&a).await;
        let mut s = control.open_stream(peer, PROTOCOL).await.unwrap();
        for req in [
            FileRequest::Hashes { room: room.clone(), file: id.clone() },
            FileRequest::Chunk { room: room.clone(), file: id.clone(), index: 0 },
        ] {
            write_frame(&mut s, &req).await.unwrap();
            futures::AsyncWriteExt::flush(&mut s).await.unwrap();
            let reply: FileReply = read_frame(&mut s).await.unwrap().unwrap();
            assert_eq!(reply, FileReply::Refused { reason: FileRefusal::NotMember });
        }
        // Nothing follows a refusal: the next thing on the stream is the
        // reply to the next request.
        write_frame(&mut s, &FileRequest::Chunk { room: "00".repeat(16), file: id.clone(), index: 0 }).await.unwrap();
        futures::AsyncWriteExt::flush(&mut s).await.unwrap();
        let reply: FileReply = read_frame(&mut s).await.unwrap().unwrap();
        assert!(matches!(reply, FileReply::Refused { .. }));
        // Garbage: refused and counted, and the daemon goes on.
        let mut g = control.open_stream(peer, PROTOCOL).await.unwrap();
        futures::AsyncWriteExt::write_all(&mut g, &[0, 0, 0, 5, b'{', b'x', b'x', b'x', b'}']).await.unwrap();
        futures::AsyncWriteExt::flush(&mut g).await.unwrap();
        let reply: FileReply = read_frame(&mut g).await.unwrap().unwrap();
        assert_eq!(reply, FileReply::Refused { reason: FileRefusal::BadRequest });
    });
    assert!(a.dropped()["files"].as_u64().unwrap() >= 4, "{}", a.dropped());
    // A non-member daemon does not even see the offer.
    let d = Daemon::start("dave");
    assert_eq!(d.json_err(&["get", &id, "--to", "/tmp"]).0, "not_found");
    assert!(a.json(&["status"])["peer_id"].is_string(), "alice is still running");
}

#[test]
fn a_download_killed_halfway_resumes_from_its_verified_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("slides.pdf");
    let data = random_file(&src, 48 * MIB, 2);
    // Alice serves at 80 Mbit/s so that "halfway" lasts long enough to hit.
    let a = Daemon::start_with("alice", &["--upload-limit", "80000"], &[]);
    let mut b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    let id = send(&a, &room, &src, &[])["id"].as_str().unwrap().to_string();
    wait_offer(&b, &room, &id);
    let out = dir.path().join("dl");
    let mut child = spawn_get(&b, &id, &out);
    wait_until("half of the file", Duration::from_secs(60), || {
        transfer(&b, &id).filter(|t| t["done_bytes"].as_u64().unwrap() >= (20 * MIB) as u64).map(|_| ())
    });
    b.kill9();
    let _ = child.kill();
    let _ = child.wait();
    b.restart();
    let t = transfer(&b, &id).expect("the download is remembered");
    // Alice is online, so it may already have resumed by itself.
    assert!(t["state"] == "paused" || t["state"] == "running", "{t}");
    let kept = t["done_bytes"].as_u64().unwrap();
    assert!(kept >= (10 * MIB) as u64, "verified chunks survived kill -9: {t}");

    let t = get(&b, &id, &out);
    assert_eq!(t["state"], "done", "{t}");
    let fetched = t["fetched_bytes"].as_u64().unwrap();
    assert!(fetched < (48 * MIB) as u64 - kept + (4 * MIB) as u64, "the resume fetched {fetched} bytes, {kept} were already there");
    assert!(std::fs::read(t["path"].as_str().unwrap()).unwrap() == data, "bit-exact after the resume");
}

#[test]
fn a_changed_source_is_detected_and_another_member_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("photo.jpg");
    let data = random_file(&src, 6 * MIB, 3);
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let c = Daemon::start("carol");
    let room = a.room_with("atelier", &[&b, &c]);
    let offer = send(&a, &room, &src, &[]);
    let id = offer["id"].as_str().unwrap().to_string();
    assert_eq!(wait_offer(&b, &room, &id)["image"], true);
    // Carol fetches the good copy first.
    assert_eq!(get(&c, &id, &dir.path().join("carol"))["state"], "done");
    wait_until("carol to count as a source", Duration::from_secs(20), || (wait_offer(&b, &room, &id)["sources"] == 2).then_some(()));

    // Alice edits the file in place (same size).
    let mut edited = data.clone();
    edited[3 * MIB] ^= 0xff;
    std::fs::write(&src, &edited).unwrap();
    let t = get(&b, &id, &dir.path().join("bob"));
    assert_eq!(t["state"], "done", "{t}");
    assert!(std::fs::read(t["path"].as_str().unwrap()).unwrap() == data, "bob got the original, from carol");

    // With carol gone, dave gets a clear failure instead of a wrong file.
    let dv = Daemon::start("dave");
    dv.json(&["join", &a.invite(&room, &[])]);
    drop(c);
    drop(b);
    wait_offer(&dv, &room, &id);
    let (kind, msg) = get_err(&dv, &id, &dir.path().join("dave"));
    assert!(msg.contains("changed"), "{kind}: {msg}");
    assert!(!dir.path().join("dave").join("photo.jpg").exists());
}

#[test]
fn a_member_gets_the_file_from_another_member_when_the_sender_is_offline() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("notes.txt");
    let data = random_file(&src, 3 * MIB + 123, 4);
    let mut a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let c = Daemon::start("carol");
    let room = a.room_with("atelier", &[&b, &c]);
    let id = send(&a, &room, &src, &[])["id"].as_str().unwrap().to_string();
    assert_eq!(get(&b, &id, &dir.path().join("bob"))["state"], "done");
    wait_until("carol to see bob as a source", Duration::from_secs(20), || (wait_offer(&c, &room, &id)["sources"] == 2).then_some(()));
    a.terminate();
    let t = get(&c, &id, &dir.path().join("carol"));
    assert_eq!(t["state"], "done", "{t}");
    assert!(std::fs::read(t["path"].as_str().unwrap()).unwrap() == data);
}

#[test]
fn hostile_names_are_saved_safely_inside_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    let out = dir.path().join("inbox");
    let names = ["../../.bashrc", "/etc/passwd", "con.txt", "two\nlines\r.txt", "..", "a/../../b"];
    let mut saved = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let src = dir.path().join(format!("src{i}"));
        random_file(&src, 1000 + i, 10 + i as u64);
        let id = send(&a, &room, &src, &["--name", name])["id"].as_str().unwrap().to_string();
        let listed = wait_offer(&b, &room, &id);
        assert!(!listed["name"].as_str().unwrap().contains('/'), "{listed}");
        let t = get(&b, &id, &out);
        assert_eq!(t["state"], "done", "{t}");
        let p = PathBuf::from(t["path"].as_str().unwrap());
        assert_eq!(p.parent(), Some(out.as_path()), "{name:?} was saved as {}", p.display());
        let file = p.file_name().unwrap().to_str().unwrap().to_string();
        assert!(!file.starts_with('.') && !file.contains("..") && !file.chars().any(char::is_control), "{file:?}");
        saved.push(file);
    }
    assert_eq!(saved[2], "_con.txt");
    assert!(!dir.path().join(".bashrc").exists() && !Path::new("/tmp/.bashrc").exists());
    // Same name twice: the second copy is `name (1).ext`.
    let (src1, src2) = (dir.path().join("x1.txt"), dir.path().join("x2.txt"));
    std::fs::write(&src1, b"one").unwrap();
    std::fs::write(&src2, b"two").unwrap();
    let one = send(&a, &room, &src1, &["--name", "same.txt"])["id"].as_str().unwrap().to_string();
    let two = send(&a, &room, &src2, &["--name", "same.txt"])["id"].as_str().unwrap().to_string();
    wait_offer(&b, &room, &two);
    assert!(get(&b, &one, &out)["path"].as_str().unwrap().ends_with("/same.txt"));
    assert!(get(&b, &two, &out)["path"].as_str().unwrap().ends_with("/same (1).txt"));
    assert_eq!(std::fs::read(out.join("same.txt")).unwrap(), b"one");
}

#[test]
fn transfers_can_be_listed_and_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.iso");
    random_file(&src, 32 * MIB, 5);
    let a = Daemon::start_with("alice", &["--upload-limit", "16000"], &[]);
    let b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    let id = send(&a, &room, &src, &[])["id"].as_str().unwrap().to_string();
    wait_offer(&b, &room, &id);
    let out = dir.path().join("dl");
    let mut child = spawn_get(&b, &id, &out);
    let t = wait_until("the transfer to run", Duration::from_secs(20), || {
        transfer(&b, &id).filter(|t| t["state"] == "running" && t["done_bytes"].as_u64().unwrap() > 0)
    });
    assert!(t["sources"].as_u64().unwrap() >= 1);
    let started = Instant::now();
    let c = b.json(&["cancel", &id[..8]]);
    assert_eq!(c["state"], "cancelled");
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = child.wait().unwrap();
    assert!(!status.success(), "`apero get` reports the cancellation");
    assert!(transfer(&b, &id).is_none());
    let left: Vec<_> = std::fs::read_dir(&out).map(|r| r.collect()).unwrap_or_default();
    assert!(left.is_empty(), "the partial file was deleted: {left:?}");
}

/// On a slow uplink (800 kbit/s, an ADSL line's) a 1 MiB chunk takes ten
/// seconds: the progress moves within it, told by events as it goes.
#[test]
fn a_slow_download_shows_progress_within_a_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("photos.zip");
    random_file(&src, 2 * MIB, 9);
    let a = Daemon::start_with("alice", &["--upload-limit", "800"], &[]);
    let b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    let id = send(&a, &room, &src, &[])["id"].as_str().unwrap().to_string();
    wait_offer(&b, &room, &id);
    let out = dir.path().join("dl");
    let mut child = spawn_get(&b, &id, &out);
    let mut seen = Vec::new();
    wait_until("partial progress before the first chunk is done", Duration::from_secs(8), || {
        let t = transfer(&b, &id)?;
        let (done, partial) = (t["done_bytes"].as_u64()?, t["partial_bytes"].as_u64()?);
        seen.push(partial);
        (done == 0 && partial > 100_000).then_some(())
    });
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress within a chunk only grows: {seen:?}");
    b.json(&["cancel", &id[..8]]);
    let _ = child.wait();
}

#[test]
fn a_download_yields_to_a_call_on_either_end() {
    let dir = tempfile::tempdir().unwrap();
    let a = Daemon::start_with("alice", &["--audio", "null"], &[]);
    let b = Daemon::start_with("bob", &["--audio", "null"], &[]);
    let room = a.room_with("atelier", &[&b]);
    // First the sender is in a call (bob learns it from her answers), then
    // the downloader.
    for (k, caller) in [&a, &b].into_iter().enumerate() {
        let src = dir.path().join(format!("talk{k}.mp4"));
        // (xorshift seeds differ in more than the low bit.)
        let data = random_file(&src, 16 * MIB, 40 + 2 * k as u64);
        let id = send(&a, &room, &src, &[])["id"].as_str().unwrap().to_string();
        wait_offer(&b, &room, &id);
        caller.json(&["call", "join", &room]);
        let mut child = spawn_get(&b, &id, &dir.path().join("dl"));
        let t = wait_until("the download to yield to the call", Duration::from_secs(20), || {
            transfer(&b, &id).filter(|t| t["state"] == "running" && t["paced_bps"].as_u64().unwrap_or(0) > 0)
        });
        println!("{} in the call: bob asks for {} B/s", caller.name, t["paced_bps"]);
        assert!(child.wait().unwrap().success());
        let done = transfer(&b, &id).unwrap();
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(std::fs::read(done["path"].as_str().unwrap()).unwrap(), data, "bit-exact through the pacing");
        caller.json(&["call", "leave"]);
    }
}

/// A peer that opens file and voice streams as fast as it can and never uses
/// them does not cost a member's download a single stream: the flood's
/// excess is reset and counted in `status` (by the file service past its 16
/// streams per peer, by the node's inbound queue past 32 voice streams per
/// connection), and the download completes bit-exact.
#[test]
fn a_stream_flood_next_to_a_download_loses_no_legitimate_stream() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("atelier.bin");
    let data = random_file(&src, 24 * MIB, 7);
    let a = Daemon::start("alice");
    let b = Daemon::start("bob");
    let room = a.room_with("atelier", &[&b]);
    let id = send(&a, &room, &src, &[])["id"].as_str().unwrap().to_string();
    wait_offer(&b, &room, &id);

    let rt = common::rt();
    let (control, peer) = rt.block_on(common::raw::raw_peer(&a));
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicU64::new(0));
    // Streams opened and held, never written to, replaced as alice resets them.
    let flood = {
        let (stop, opened, mut control) = (stop.clone(), opened.clone(), control.clone());
        rt.spawn(async move {
            let mut held = Vec::new();
            let protocols = [aperod::files::wire::PROTOCOL, aperod::voice::transport::PROTOCOL];
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if let Ok(s) = control.open_stream(peer, protocols[n % 2].clone()).await {
                    opened.fetch_add(1, Ordering::Relaxed);
                    held.push(s);
                    if held.len() > 200 {
                        held.remove(0);
                    }
                }
            }
        })
    };
    wait_until("the flood to get going", Duration::from_secs(20), || (opened.load(Ordering::Relaxed) >= 100).then_some(()));
    let out = dir.path().join("bob-dl");
    let t = get(&b, &id, &out);
    stop.store(true, Ordering::Relaxed);
    rt.block_on(flood).unwrap();
    drop(control);
    assert_eq!(t["state"], "done", "{t}");
    assert!(std::fs::read(t["path"].as_str().unwrap()).unwrap() == data, "bob's copy is bit-exact");
    let dropped = a.dropped();
    eprintln!("the flood opened {} streams; alice dropped {dropped}", opened.load(Ordering::Relaxed));
    let refused = dropped["refused_streams"].as_u64().unwrap();
    assert!(refused > 0, "voice streams past the connection's cap are refused and counted: {dropped}");
    assert!(dropped["files"].as_u64().unwrap() > 0, "file streams past the service's 16 per peer are refused and counted: {dropped}");
    assert!(a.json(&["status"])["peer_id"].is_string(), "alice is still running");
}

#[test]
fn a_file_spreads_from_a_member_still_fetching_it_and_paused_downloads_resume_by_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("film.mkv");
    let data = random_file(&src, 24 * MIB, 5);
    // Alice serves at 16 Mbit/s so that bob is midway when she goes.
    let mut a = Daemon::start_with("alice", &["--upload-limit", "16000"], &[]);
    let b = Daemon::start("bob");
    let c = Daemon::start("carol");
    let room = a.room_with("ciné-club", &[&b, &c]);
    let id = send(&a, &room, &src, &[])["id"].as_str().unwrap().to_string();
    wait_offer(&b, &room, &id);
    wait_offer(&c, &room, &id);
    let (bdir, cdir) = (dir.path().join("bob"), dir.path().join("carol"));
    let mut bget = spawn_get(&b, &id, &bdir);
    wait_until("bob to have a third of the file", Duration::from_secs(60), || {
        transfer(&b, &id).filter(|t| t["done_bytes"].as_u64().unwrap() >= (8 * MIB) as u64).map(|_| ())
    });
    a.kill9();
    let _ = bget.wait();
    let t = wait_until("bob's download to pause", Duration::from_secs(30), || transfer(&b, &id).filter(|t| t["state"] == "paused"));
    let bob_has = t["done_bytes"].as_u64().unwrap();
    assert!(bob_has < (24 * MIB) as u64, "bob is only partway: {t}");

    // Only bob is online, with part of the file: carol gets exactly that part.
    let out = c.cli(&["--json", "get", &id, "--to", cdir.to_str().unwrap()]);
    assert!(!out.status.success(), "carol cannot finish without alice: {}", String::from_utf8_lossy(&out.stdout));
    let t = transfer(&c, &id).unwrap();
    assert_eq!(t["state"], "paused", "{t}");
    assert_eq!(t["done_bytes"].as_u64().unwrap(), bob_has, "carol got every chunk bob had verified: {t}");
    let visible: Vec<_> =
        std::fs::read_dir(&cdir).unwrap().filter_map(|e| e.ok()).filter(|e| !e.file_name().to_string_lossy().starts_with('.')).collect();
    assert!(visible.is_empty(), "no partial file in place of the real one: {visible:?}");

    // Alice comes back: both downloads resume by themselves and finish.
    a.restart();
    for d in [&b, &c] {
        let t = wait_until(&format!("{}'s download to finish by itself", d.name), Duration::from_secs(90), || {
            transfer(d, &id).filter(|t| t["state"] == "done")
        });
        assert!(std::fs::read(t["path"].as_str().unwrap()).unwrap() == data, "{}: bit-exact", d.name);
    }
}
