//! A laptop's sound through a real PulseAudio server (shared/recipes/
//! audio-rig.md) and the cpal backend: the echo of our own voice does not
//! come back, the speaker can be switched mid-call, a call outlives its
//! sound server's restart (then `apero down` still stops at once), and the
//! sound check plays our voice back a second later.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apero_control::{Client, Event};
use common::audio::{self, PulseRig};
use common::{apero_bin, wait_in_call, wait_until, Daemon};

const SPEECH: &str = "Bonsoir tout le monde. This is apero, a group call with no server in between. \
                      Can you hear me clearly? One, two, three, four, five.";
const CALL: Duration = Duration::from_secs(20);

/// One test at a time: each runs a sound server and two daemons, and the
/// echo canceller, like a real one on a starved laptop, loses the echo's
/// delay when the two cores are shared four ways (docs/benchmarks.md).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A daemon on the rig's `mic`/`spk`.
fn on_rig(rig: &PulseRig, name: &str, mic: &str, spk: &str, extra: &[&str]) -> Daemon {
    let server = rig.server();
    let source = format!("{mic}.monitor");
    let mut args = vec!["--audio", "cpal"];
    args.extend_from_slice(extra);
    Daemon::start_with(name, &args, &[("PULSE_SERVER", &server), ("PULSE_SOURCE", &source), ("PULSE_SINK", spk)])
}

/// A daemon that says `speech` over and over (the wav backend loops it).
fn talker(dir: &Path, speech: &Path) -> Daemon {
    let out = dir.join("talker-out.wav");
    Daemon::start_with("alice", &["--audio", "wav", "--wav-in", speech.to_str().unwrap(), "--wav-out", out.to_str().unwrap()], &[])
}

fn call(a: &Daemon, b: &Daemon) -> String {
    let room = a.room_with("apéro", &[b]);
    a.json(&["call", "join", &room]);
    b.json(&["call", "join", &room]);
    wait_in_call(b, 2, CALL);
    wait_in_call(a, 2, CALL);
    room
}

/// What `sink`'s monitor hears for `secs`, in dB (RMS, full scale 0).
fn listen(rig: &PulseRig, dir: &Path, sink: &str, secs: f32) -> f64 {
    let path = dir.join(format!("{sink}-{}.wav", Instant::now().elapsed().as_nanos()));
    let rec = rig.record(&format!("{sink}.monitor"), &path);
    std::thread::sleep(Duration::from_secs_f32(secs));
    audio::rms_db(&rec.stop())
}

/// Bob's laptop plays alice back into his own microphone (40 ms, -6 dB).
/// With processing on, what comes back to alice of her own voice is at
/// least 25 dB under it; with bob's processing turned off in the same call,
/// it comes back loud (so the path is real and the first figure means
/// something).
#[test]
fn our_own_voice_does_not_come_back() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let Some(speech) = audio::speech(dir.path(), SPEECH) else { return };
    let Some(rig) = PulseRig::start() else { return };
    // Bob's microphone hears his own speaker, 6 dB down, after only the
    // sound server's own buffers: a laptop's path, without the jumps of a
    // loopback module that underruns now and then on a busy machine.
    rig.pactl(&["set-source-volume", "spkB.monitor", "-6dB"]);
    let a = on_rig(&rig, "alice", "micA", "spkA", &[]);
    let b = on_rig(&rig, "bob", "spkB", "spkB", &[]);
    call(&a, &b);
    let said = audio::rms_db(&audio::read(&speech));
    let echo = |tag: &str| {
        // The first phrase lets the canceller converge; the next three are
        // measured, each on its own, and the median counts: the rig's
        // loopback (like a real device) now and then underruns, the echo
        // moves by a few milliseconds and the canceller takes a second or
        // two to find it again, which one phrase in three may catch.
        rig.play("micA", &speech);
        let mut downs: Vec<f64> = (0..3)
            .map(|i| {
                let path = dir.path().join(format!("back-{tag}-{i}.wav"));
                let rec = rig.record("spkA.monitor", &path);
                rig.play("micA", &speech);
                std::thread::sleep(Duration::from_millis(300));
                said - audio::rms_db(&rec.stop())
            })
            .collect();
        let st = b.json(&["call", "status"]);
        eprintln!("{tag}: alice said {said:.1} dB; phrase by phrase, this much less came back: {downs:.1?}; bob's audio: {}", st["audio"]);
        downs.sort_by(f64::total_cmp);
        downs[1]
    };
    let on = echo("processing on");
    b.json(&["call", "settings", "--echo-cancel", "off", "--noise-suppression", "off", "--gain-control", "off"]);
    let off = echo("processing off");
    assert!(
        off < 20.0,
        "with processing off the echo path should send alice back to herself loudly ({off:.1} dB down): is the rig's loop there?"
    );
    assert!(on >= 25.0, "alice hears herself only {on:.1} dB down with echo cancellation on");
    let st = b.json(&["call", "status"]);
    assert!(st["audio"]["input_error"].is_null() && st["audio"]["output_error"].is_null(), "{st}");
}

/// `call settings --output` moves bob's sound to another speaker without
/// leaving the call.
#[test]
fn switching_the_speaker_keeps_the_call() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let Some(speech) = audio::speech(dir.path(), SPEECH) else { return };
    let Some(rig) = PulseRig::start() else { return };
    rig.add_sink("spkC");
    let a = talker(dir.path(), &speech);
    let b = on_rig(&rig, "bob", "micB", "spkB", &[]);
    call(&a, &b);
    std::thread::sleep(Duration::from_secs(1));
    let before = listen(&rig, dir.path(), "spkB", 3.0);
    let devices = b.json(&["devices"]);
    assert!(devices["outputs"].as_array().unwrap().iter().any(|o| o == "spkC"), "bob lists the new speaker: {devices}");
    let set = b.json(&["call", "settings", "--output", "spkC"]);
    assert_eq!(set["output"], "spkC");
    std::thread::sleep(Duration::from_secs(1));
    let path_b = dir.path().join("after-b.wav");
    let path_c = dir.path().join("after-c.wav");
    let (rec_b, rec_c) = (rig.record("spkB.monitor", &path_b), rig.record("spkC.monitor", &path_c));
    std::thread::sleep(Duration::from_secs(3));
    let (after_b, after_c) = (audio::rms_db(&rec_b.stop()), audio::rms_db(&rec_c.stop()));
    eprintln!("bob's old speaker {before:.1} dB before, {after_b:.1} dB after; new speaker {after_c:.1} dB");
    assert!(before > -45.0, "bob heard alice before the switch ({before:.1} dB)");
    assert!(after_c > -45.0, "bob hears alice on the new speaker ({after_c:.1} dB)");
    assert!(after_b < after_c - 30.0, "the old speaker went quiet ({after_b:.1} dB against {after_c:.1})");
    let st = wait_in_call(&b, 2, CALL);
    assert_eq!(st["room"], a.json(&["call", "status"])["room"], "still the same call: {st}");
}

/// The sound server dies under a call and comes back: bob's call goes on,
/// says what it lost (status and an event), and plays again by itself. With
/// the server dead again, `apero down` stops him within 2 s.
#[test]
fn a_call_outlives_its_sound_server() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let Some(speech) = audio::speech(dir.path(), SPEECH) else { return };
    let Some(rig) = PulseRig::start() else { return };
    let a = talker(dir.path(), &speech);
    let mut b = on_rig(&rig, "bob", "micB", "spkB", &[]);
    call(&a, &b);
    std::thread::sleep(Duration::from_secs(1));
    let before = listen(&rig, dir.path(), "spkB", 2.0);
    assert!(before > -45.0, "bob heard alice at first ({before:.1} dB)");

    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let (socket, seen) = (b.socket(), events.clone());
    std::thread::spawn(move || {
        common::rt().block_on(async {
            let Ok(c) = Client::connect(&socket, "test").await else { return };
            let Ok(mut stream) = c.subscribe().await else { return };
            while let Ok(Some(e)) = stream.next().await {
                if matches!(e, Event::AudioDevice { .. }) {
                    seen.lock().unwrap().push(e);
                }
            }
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    rig.kill();
    let lost = wait_until("bob to report his lost devices", Duration::from_secs(10), || {
        let st = b.json(&["call", "status"]);
        let au = &st["audio"];
        (au["input_error"].is_string() && au["output_error"].is_string()).then_some(st)
    });
    eprintln!("while the server is down: {}", lost["audio"]);
    assert_eq!(lost["participants"].as_array().unwrap().len(), 2, "bob is still in the call: {lost}");
    assert!(lost["audio"]["output_error"].as_str().unwrap().contains("call settings"), "the message says how to pick another device");
    wait_until("an event about the lost devices", Duration::from_secs(5), || {
        events.lock().unwrap().iter().any(|e| matches!(e, Event::AudioDevice { output_error: Some(_), .. })).then_some(())
    });

    rig.launch().expect("the sound server starts again");
    let back = wait_until("bob's devices to come back", Duration::from_secs(15), || {
        let st = b.json(&["call", "status"]);
        let au = &st["audio"];
        (au["input_error"].is_null() && au["output_error"].is_null()).then_some(st)
    });
    assert!(back["audio"]["reopened"].as_u64().unwrap() >= 1, "{back}");
    wait_until("an event about the devices being back", Duration::from_secs(5), || {
        events.lock().unwrap().iter().any(|e| matches!(e, Event::AudioDevice { input_error: None, output_error: None })).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    let after = listen(&rig, dir.path(), "spkB", 2.0);
    eprintln!("bob's speaker: {before:.1} dB before, {after:.1} dB after the restart");
    assert!(after > -45.0, "bob hears alice again after the restart ({after:.1} dB)");

    rig.kill();
    std::thread::sleep(Duration::from_millis(500));
    let down = b.cli(&["down"]);
    assert!(down.status.success(), "apero down: {}", String::from_utf8_lossy(&down.stderr));
    let took = b.exited_within(Duration::from_secs(10));
    eprintln!("bob stopped {took:?} after `apero down` with his sound server dead");
    assert!(took <= Duration::from_secs(2), "bob took {took:?} to stop");
}

/// With no sound server at all, joining a call still works: listen-only,
/// and the status says which device is missing and how to pick one.
#[test]
fn joining_without_a_sound_server_still_joins() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let Some(speech) = audio::speech(dir.path(), SPEECH) else { return };
    let nowhere = format!("unix:{}/no-such-server", dir.path().display());
    let a = talker(dir.path(), &speech);
    let b =
        Daemon::start_with("bob", &["--audio", "cpal"], &[("PULSE_SERVER", &nowhere), ("XDG_RUNTIME_DIR", dir.path().to_str().unwrap())]);
    let room = a.room_with("apéro", &[&b]);
    a.json(&["call", "join", &room]);
    let st = b.json(&["call", "join", &room]);
    eprintln!("bob's audio with no server: {}", st["audio"]);
    assert!(st["audio"]["input_error"].as_str().is_some_and(|e| e.contains("--input")), "{st}");
    assert!(st["audio"]["output_error"].as_str().is_some_and(|e| e.contains("--output")), "{st}");
    wait_in_call(&a, 2, CALL);
    let text = String::from_utf8_lossy(&b.cli(&["call", "status"]).stdout).to_string();
    assert!(text.contains("Microphone:") && text.contains("Speaker:"), "the human status says it too: {text}");
}

/// `apero sound-check --echo` on a real sound server: what bob says into
/// his microphone comes out of his own speaker about a second later (the
/// delay measured between the two, recorded together), the summary says his
/// microphone works; joining a call ends the check, and a check is refused
/// during a call.
#[test]
fn the_sound_check_plays_our_voice_back_a_second_later() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let Some(speech) = audio::speech(dir.path(), "Bonsoir tout le monde. One, two, three.") else { return };
    let Some(rig) = PulseRig::start() else { return };
    let b = on_rig(&rig, "bob", "micB", "spkB", &[]);
    let room = b.create_room("solo");
    let home = b.home().to_path_buf();
    let started = Instant::now();
    let check = std::thread::spawn(move || {
        std::process::Command::new(apero_bin())
            .arg("--home")
            .arg(home)
            .args(["--json", "sound-check", "--echo", "--seconds", "60"])
            .output()
    });
    std::thread::sleep(Duration::from_secs(1));
    let (mic_path, spk_path) = (dir.path().join("mic.wav"), dir.path().join("spk.wav"));
    let (mic, spk) = (rig.record("micB.monitor", &mic_path), rig.record("spkB.monitor", &spk_path));
    std::thread::sleep(Duration::from_millis(300));
    rig.play("micB", &speech);
    std::thread::sleep(Duration::from_millis(2500));
    let (said, heard) = (mic.stop(), spk.stop());
    let reference = audio::read(&speech);
    let (at_mic, c_mic) = audio::best_lag(&reference, &said);
    let (at_spk, c_spk) = audio::best_lag(&reference, &heard);
    let delay_ms = (at_spk as f64 - at_mic as f64) * 10.0;
    eprintln!(
        "said at {at_mic}0 ms (r={c_mic:.2}), heard back at {at_spk}0 ms (r={c_spk:.2}, {:.1} dB): {delay_ms} ms later",
        audio::rms_db(&heard)
    );
    assert!(c_mic > 0.8, "the recording of bob's microphone has the speech (r={c_mic:.2})");
    assert!(c_spk > 0.6, "bob's speaker plays his speech back (r={c_spk:.2})");
    assert!((950.0..=1400.0).contains(&delay_ms), "bob hears himself {delay_ms} ms later; a second was meant");

    b.json(&["call", "join", &room]);
    let out = check.join().unwrap().unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "apero sound-check: {}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(30), "joining the call ended the check ({took:?})");
    let sum: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("the check's summary: {sum}");
    assert_eq!(sum["heard_speech"], true, "{sum}");
    assert_eq!(sum["echo"], true, "{sum}");
    assert!(sum["loudest_db"].as_f64().unwrap() > -40.0, "{sum}");
    assert!(sum["echo_played_db"].as_f64().unwrap() > -40.0, "{sum}");
    assert!(sum["input_error"].is_null() && sum["output_error"].is_null(), "{sum}");
    let (kind, message) = b.json_err(&["sound-check", "--seconds", "2"]);
    assert_eq!(kind, "refused", "{message}");
    assert!(message.contains("call leave"), "the refusal says what to do: {message}");
}
