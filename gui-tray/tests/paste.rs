//! A picture copied elsewhere (a screenshot, a browser) and pasted with
//! Ctrl+V into the message field is shared in the room. The clipboard is
//! a real X11 one on a private X server; its own test binary, since the
//! window reads the clipboard of this process's `DISPLAY`.
#![cfg(all(unix, not(target_os = "macos")))]
// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemons;
#[path = "../../tests/common/prereq.rs"]
mod prereq;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use daemons::{wait_until, Daemon};
use support::{Window, SLOW};

#[test]
fn a_picture_pasted_into_the_message_field_is_shared_in_the_room() {
    if prereq::which("Xvfb").is_none() {
        prereq::skip("Xvfb", "the clipboard needs an X server; scripts/test.sh installs it: apt-get install xvfb");
        return;
    }
    // -displayfd: Xvfb picks a free display and prints its number.
    let mut x = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "800x600x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut number = String::new();
    BufReader::new(x.stdout.take().unwrap()).read_line(&mut number).unwrap();
    // Only this test runs in this binary: nothing else reads the variable.
    std::env::set_var("DISPLAY", format!(":{}", number.trim()));

    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", "captures"])["id"].as_str().unwrap().to_string();
    bob.json(&["join", alice.json(&["invite", &room])["code"].as_str().unwrap()]);
    let (w, h) = (40usize, 30usize);
    let pixels: Vec<u8> = (0..w * h).flat_map(|i| [(i % 256) as u8, 100, 200, 255]).collect();
    // Kept alive: on X11 the copied picture lives as long as its owner.
    let mut clip = arboard::Clipboard::new().unwrap();
    clip.set_image(arboard::ImageData { width: w, height: h, bytes: pixels.clone().into() }).unwrap();

    let mut win = Window::open(&bob, "en");
    win.wait("the room to open", SLOW, |h| h.state().model.selected.as_deref() == Some(room.as_str()));
    win.h.step();
    win.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::V);
    win.h.step();
    let offered = wait_until("alice to see the pasted picture", SLOW, || {
        let files = alice.json(&["files", &room]);
        files.as_array()?.iter().find(|f| f["name"].as_str().is_some_and(|n| n.starts_with("pasted ") && n.ends_with(".png"))).cloned()
    });
    assert_eq!(offered["mime"], "image/png");
    // What alice downloads is the picture that was copied.
    let dir = tempfile::tempdir().unwrap();
    alice.json(&["get", offered["id"].as_str().unwrap(), "--to", dir.path().to_str().unwrap()]);
    let got = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    let img = image::open(&got).unwrap().to_rgba8();
    assert_eq!((img.width() as usize, img.height() as usize), (w, h));
    assert_eq!(img.as_raw(), &pixels);
    drop(clip);
    let _ = x.kill();
    let _ = x.wait();
}
