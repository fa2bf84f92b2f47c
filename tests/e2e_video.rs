//! Screen sharing and cameras end to end: real daemons in a call, a real
//! X server (Xvfb) showing a known picture, real VP9/VP8 through libvpx;
//! pictures are read back with `apero share snapshot`.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use aperod::video::codec::{psnr, Rgba};
use aperod::video::source::pattern::{read_counter, Pattern};
use aperod::video::source::{Kind, Picture};
use common::xserver::XServer;
use common::{wait_in_call, wait_until, Daemon};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn member(name: &str, display: Option<&str>) -> Daemon {
    let envs: Vec<(&str, &str)> = display.map(|d| vec![("DISPLAY", d)]).unwrap_or_default();
    Daemon::start_with(name, &["--audio", "null"], &envs)
}

/// `d`'s watched streams.
fn watching(d: &Daemon) -> Vec<Value> {
    d.json(&["share", "status"])["watching"].as_array().cloned().unwrap_or_default()
}

fn wait_decoded(d: &Daemon, kind: &str, frames: u64) -> Value {
    wait_until(&format!("{} to decode {frames} {kind} frame(s)", d.name), WAIT, || {
        watching(d).into_iter().find(|w| w["kind"] == kind && w["frames_decoded"].as_u64() >= Some(frames))
    })
}

fn snapshot(d: &Daemon, file: &Path, extra: &[&str]) -> Rgba {
    let mut args = vec!["share", "snapshot", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let info = d.json(&args);
    assert_eq!(info["path"], file.to_str().unwrap());
    let img = image::open(file).unwrap().to_rgba8();
    Rgba { width: img.width(), height: img.height(), data: img.into_raw() }
}

/// Puts `p` on the whole root window of `display`.
fn show(display: &str, p: &Picture) {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt, CreateGCAux, ImageFormat};
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    // In strips: a request has a size limit.
    for top in (0..p.height).step_by(64) {
        let rows = 64.min(p.height - top);
        let start = top as usize * p.stride;
        let data = &p.data[start..start + rows as usize * p.stride];
        conn.put_image(ImageFormat::Z_PIXMAP, root, gc, p.width as u16, rows as u16, 0, top as i16, 0, 24, data).unwrap();
    }
    x11rb::wrapper::ConnectionExt::sync(&conn).unwrap();
}

/// A share of the screen reaches both viewers as sharp as the screen; the
/// sharer sees who watches; a late viewer gets a picture within a second of
/// joining; `share stop` ends it everywhere within 2 s; a member of another
/// room gets nothing.
#[test]
fn a_shared_screen_reaches_every_viewer_sharp_and_stops_everywhere() {
    let Some(x) = XServer::start("1920x1080x24", &[]) else { return };
    let dir = tempfile::tempdir().unwrap();
    // What is on the screen: the test pattern's frame 4242 (bars, a block of
    // fine "text", a frame counter).
    let mut screen = Picture::new(1, 1);
    Pattern::new(1920, 1080, 15, Kind::Screen).draw(4242, &mut screen);
    show(&x.display, &screen);

    let alice = member("alice", Some(&x.display));
    let (bob, carol, dave) = (member("bob", None), member("carol", None), member("dave", None));
    let room = alice.room_with("atelier", &[&bob, &carol]);
    // Dave shares another room with alice: connected to her, never in this call.
    let other = alice.room_with("autre", &[&dave]);
    for d in [&alice, &bob] {
        d.json(&["call", "join", &room]);
    }
    dave.json(&["call", "join", &other]);
    wait_in_call(&alice, 2, WAIT);

    let list = alice.json(&["share", "list"]);
    let screens: Vec<&Value> = list.as_array().unwrap().iter().filter(|s| s["kind"] == "screen").collect();
    assert!(!screens.is_empty(), "no screen listed: {list}");
    assert_eq!((screens[0]["width"].as_u64(), screens[0]["height"].as_u64()), (Some(1920), Some(1080)));
    assert_eq!(screens[0]["pick"], "--screen 0");
    assert!(screens[0].get("thumbnail").is_none(), "no capture unless asked");
    // The picker's thumbnail: small, of the real screen (its first bar is red).
    let list = alice.json(&["share", "list", "--thumbnails"]);
    let thumb = image::open(list[0]["thumbnail"].as_str().unwrap()).unwrap().to_rgba8();
    assert_eq!(thumb.dimensions(), (240, 135));
    let px = thumb.get_pixel(10, 20);
    assert!(px[0] > 150 && px[1] < 80 && px[2] < 80, "{px:?}");

    let st = alice.json(&["share", "start", &room, "--screen", "0"]);
    assert_eq!(st["sending"][0]["kind"], "screen", "{st}");
    // The first picture keeps to the rate; the two after it sharpen it.
    wait_decoded(&bob, "screen", 3);
    let got = snapshot(&bob, &dir.path().join("bob.png"), &[]);
    assert_eq!((got.width, got.height), (1920, 1080));
    assert_eq!(read_counter(&got.data, got.width as usize * 4), Some(4242));
    let db = psnr(&screen, &got);
    assert!(db >= 40.0, "bob's picture is {db:.1} dB from the screen");

    // Carol joins late: a picture within a second of her joining the call.
    let joined = Instant::now();
    carol.json(&["call", "join", &room]);
    let late = wait_until("carol's first picture", WAIT, || {
        watching(&carol).iter().any(|w| w["frames_decoded"].as_u64() >= Some(1)).then(|| joined.elapsed())
    });
    assert!(late < Duration::from_millis(1500), "carol waited {late:?} for a picture");
    let got = snapshot(&carol, &dir.path().join("carol.png"), &["--from", "alice"]);
    assert!(psnr(&screen, &got) >= 40.0);

    // The sharer sees who watches; dave, in another call, gets nothing.
    let viewers = wait_until("alice to list both viewers", WAIT, || {
        let st = alice.json(&["share", "status"]);
        let v: Vec<String> = st["sending"][0]["viewers"].as_array()?.iter().filter_map(|v| v["name"].as_str().map(String::from)).collect();
        (v.len() == 2).then_some(v)
    });
    assert!(viewers.contains(&"bob".to_string()) && viewers.contains(&"carol".to_string()), "{viewers:?}");
    assert!(watching(&dave).is_empty());
    let (kind, err) = dave.json_err(&["share", "snapshot", dir.path().join("dave.png").to_str().unwrap()]);
    assert_eq!(kind, "not_found", "{err}");

    // A still screen costs next to nothing.
    std::thread::sleep(Duration::from_secs(4));
    let kbps = alice.json(&["share", "status"])["sending"][0]["kbps"].as_f64().unwrap();
    assert!(kbps < 150.0, "a still screen sends {kbps:.0} kbit/s");

    let stop = Instant::now();
    alice.json(&["share", "stop"]);
    for d in [&bob, &carol] {
        wait_until(&format!("{} to see the share end", d.name), Duration::from_secs(2), || watching(d).is_empty().then_some(()));
    }
    assert!(stop.elapsed() <= Duration::from_secs(2));
    assert!(alice.json(&["share", "status"])["sending"].as_array().unwrap().is_empty());
}

/// The test camera reaches a viewer at a camera's size and rate; sharing
/// outside a call is refused in words; a stranger's video stream is
/// refused and counted, and the call goes on.
#[test]
fn a_camera_reaches_a_viewer_and_strangers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (member("alice", None), member("bob", None));
    let room = alice.room_with("caméras", &[&bob]);
    let (kind, err) = alice.json_err(&["share", "start", &room, "--test-camera"]);
    assert_eq!(kind, "not_found");
    assert!(err.contains("call join"), "{err}");

    for d in [&alice, &bob] {
        d.json(&["call", "join", &room]);
    }
    wait_in_call(&alice, 2, WAIT);
    alice.json(&["share", "start", &room, "--test-camera"]);
    let w = wait_decoded(&bob, "camera", 30);
    assert_eq!((w["width"].as_u64(), w["height"].as_u64()), (Some(640), Some(360)), "{w}");
    let got = snapshot(&bob, &dir.path().join("cam.png"), &[]);
    // The frame the counter names (or a neighbour, should a cell blur).
    let n = read_counter(&got.data, got.width as usize * 4).unwrap();
    let mut want = Picture::new(1, 1);
    let db = (n.saturating_sub(2)..=n + 2)
        .map(|k| {
            Pattern::camera().draw(k, &mut want);
            psnr(&want, &got)
        })
        .fold(0.0, f64::max);
    assert!(db >= 30.0, "the camera picture is {db:.1} dB from what was sent");
    // 30 fps are sent; a CI machine running the screen test beside this one
    // decodes fewer (bench/video.py measures the rate on a quiet machine).
    let fps = wait_decoded(&bob, "camera", 60)["fps"].as_f64().unwrap();
    assert!(fps >= 10.0, "the camera arrives at {fps:.1} fps");

    // A stranger opens a video stream naming the room: refused, counted.
    let rt = common::rt();
    rt.block_on(async {
        use futures::AsyncWriteExt;
        let (mut control, peer) = common::raw::raw_peer(&bob).await;
        let mut room_bytes = [0u8; 16];
        hex::decode_to_slice(&room, &mut room_bytes).unwrap();
        let header = aperod::video::wire::Header {
            room: room_bytes,
            share: 1,
            kind: apero_control::ShareKind::Screen,
            codec: aperod::video::codec::Codec::Vp9,
            width: 640,
            height: 360,
        };
        let mut s = control.open_stream(peer, aperod::video::wire::PROTOCOL).await.unwrap();
        s.write_all(&aperod::video::wire::encode_header(&header)).await.unwrap();
        s.write_all(&[1, 0xff, 0xff, 0xff, 0xff]).await.unwrap();
        let _ = s.flush().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    wait_until("bob to count the stranger's stream", WAIT, || (bob.dropped()["video"].as_u64()? >= 1).then_some(()));
    assert_eq!(watching(&bob).len(), 1, "only alice's camera");
    assert!(wait_decoded(&bob, "camera", 90)["errors"].as_u64() == Some(0));
}
