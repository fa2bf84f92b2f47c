use bytes::Bytes;

use super::playout::{ACCELERATE_SPEECH_MS, MARGIN_MS};
use super::store::MAX_BUFFERED;
use super::*;
use crate::voice::codec::Encoder;
use crate::voice::frame::{Redundant, VoiceFrame, FLAG_PAIR};
use crate::voice::redundancy::Packetizer;

/// A voiced, speech-like signal: harmonics of a slowly gliding pitch.
fn voiced(i: usize) -> [i16; FRAME] {
    let mut f = [0i16; FRAME];
    for (k, s) in f.iter_mut().enumerate() {
        let t = (i * FRAME + k) as f64 / 48_000.0;
        let pitch = 140.0 + 20.0 * (t * 0.7).sin();
        let phase = std::f64::consts::TAU * pitch * t;
        *s = ((phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin()) * 6000.0) as i16;
    }
    f
}

/// `n` frames of speech packetized as the engine does, each packet with
/// up to `copies` copies of the previous ones; `paired`: 20 ms packets.
fn speech(n: u32, copies: u8, paired: bool) -> Vec<VoiceFrame> {
    let mut enc = Encoder::new(0).unwrap();
    let mut p = Packetizer::default();
    (0..n)
        .filter_map(|i| {
            let payload = Bytes::copy_from_slice(enc.encode(&voiced(i as usize)).unwrap().unwrap());
            p.audio(i, i, FLAG_SPEAKING, payload, copies, paired)
        })
        .collect()
}

/// `n` packets of speech, one frame each.
fn packets(n: u32, copies: u8) -> Vec<VoiceFrame> {
    speech(n, copies, false)
}

/// The same speech in 20 ms packets (two frames each), as a big call sends it.
fn paired_packets(n: u32, copies: u8) -> Vec<VoiceFrame> {
    speech(n, copies, true)
}

/// Delivers `(arrival ms, packet)` in arrival order and pops every 10 ms
/// (at +5 ms), like the engine does; returns the buffer.
fn play(mut arrivals: Vec<(f64, VoiceFrame)>, until_ms: f64) -> JitterBuffer {
    let mut jb = JitterBuffer::new(Decoder::new().unwrap());
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut it = arrivals.into_iter().peekable();
    let mut out = [0; FRAME];
    let mut t = 0.0;
    while t < until_ms {
        while it.peek().is_some_and(|(at, _)| *at <= t) {
            let (at, p) = it.next().unwrap();
            jb.push(p, at);
        }
        jb.pop(t + 5.0, &mut out);
        t += 10.0;
    }
    jb
}

fn on_time(ps: Vec<VoiceFrame>, lost: impl Fn(u32) -> bool) -> Vec<(f64, VoiceFrame)> {
    ps.into_iter().filter(|p| !lost(p.seq)).map(|p| (p.ts as f64 * 10.0 + 40.0, p)).collect()
}

#[test]
fn steady_stream_plays_everything() {
    let jb = play(on_time(packets(300, 0), |_| false), 3500.0);
    assert!(jb.stats.played >= 295, "{:?}", jb.stats);
    assert_eq!(jb.stats.concealed + jb.stats.fec_recovered + jb.stats.red_recovered, 0, "{:?}", jb.stats);
    assert_eq!(jb.stats.drained, 0);
    // Nothing to catch up on a steady path: the buffer stays small.
    assert!(jb.level_ms() <= 30.0, "level {}", jb.level_ms());
}

#[test]
fn without_redundancy_a_lost_packet_is_rebuilt_from_fec() {
    // 1 % of loss for the first report (the playout then waits one frame
    // more, for the FEC in the next packet), then 10 %.
    let lost = |s: u32| s == 55 || (s % 10 == 5 && s > 210 && s < 380);
    let jb = play(on_time(packets(400, 0), lost), 4500.0);
    let n = (0..400).filter(|&s| lost(s)).count() as u64;
    assert_eq!(jb.stats.fec_recovered + jb.stats.concealed, n, "{:?}", jb.stats);
    assert!(jb.stats.fec_recovered >= n - 1, "{:?}", jb.stats);
    assert_eq!(jb.stats.red_recovered, 0);
}

#[test]
fn paired_frames_play_whole_and_are_not_taken_for_loss() {
    let ps = paired_packets(300, 0);
    assert_eq!(ps.len(), 150);
    assert!(ps.iter().all(|p| p.flags & FLAG_PAIR != 0 && p.redundant.len() == 1));
    let jb = play(on_time(ps, |_| false), 3500.0);
    assert!(jb.stats.played >= 295, "{:?}", jb.stats);
    assert_eq!(jb.stats.concealed + jb.stats.fec_recovered + jb.stats.red_recovered, 0, "{:?}", jb.stats);
    assert_eq!(jb.loss_pct, 0.0);
    // The first frame of each pair waits 10 ms for the second: no more.
    assert!(jb.target_ms() <= 30.0, "target {}", jb.target_ms());
}

/// 20 ms packets with a copy of the packet before: a packet lost alone
/// comes back whole (both its frames) from the next one.
#[test]
fn a_lost_pair_comes_back_from_the_next_packet() {
    // Packets are named by their primary's seq (odd numbers).
    let lost = |s: u32| [101u32, 161, 221, 281, 341].contains(&s);
    let jb = play(on_time(paired_packets(500, 1), lost), 5500.0);
    assert_eq!(jb.stats.red_recovered, 10, "{:?}", jb.stats);
    assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, 0, "{:?}", jb.stats);
    // Two frames lost in a row, once a second: what the sender is told.
    assert!(jb.report().burst() >= 1.5, "{:?}", jb.report());
}

/// Random independent loss (every 7th-ish packet, seeded), one copy:
/// every lost frame comes back whole from the copy in the next packet.
#[test]
fn random_loss_with_one_copy_is_fully_recovered() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut lost_set = std::collections::HashSet::new();
    for s in 50..450u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // ~6 % loss, never two in a row (that is the burst test's job).
        if x % 100 < 6 && !lost_set.contains(&(s - 1)) {
            lost_set.insert(s);
        }
    }
    let jb = play(on_time(packets(500, 1), |s| lost_set.contains(&s)), 5500.0);
    let n = lost_set.len() as u64;
    assert!(n > 15);
    assert_eq!(jb.stats.red_recovered, n, "{:?}", jb.stats);
    assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, 0, "{:?}", jb.stats);
}

/// Bursts of 1 to 4 with two copies (1 and 3 back): bursts up to three
/// come back whole from the copies; of a burst of four the oldest frame
/// is older than any copy, and concealed.
#[test]
fn bursts_of_one_to_four_with_two_copies() {
    let bursts = [(100u32, 1u32), (150, 2), (200, 3), (250, 4), (300, 1), (350, 3), (400, 2), (450, 4)];
    let lost = |s: u32| bursts.iter().any(|&(at, len)| s >= at && s < at + len);
    let jb = play(on_time(packets(550, 2), lost), 6000.0);
    let red: u64 = bursts.iter().map(|&(_, len)| u64::from(len.min(3))).sum();
    let fours = bursts.iter().filter(|&&(_, len)| len >= 4).count() as u64;
    assert_eq!(jb.stats.red_recovered, red, "{:?}", jb.stats);
    assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, fours, "{:?}", jb.stats);
}

/// A burst of five: the copies reach three deep, two frames are concealed.
#[test]
fn a_burst_of_five_loses_two_frames() {
    let lost = |s: u32| (200..205).contains(&s);
    let jb = play(on_time(packets(400, 2), lost), 4500.0);
    assert_eq!(jb.stats.red_recovered, 3, "{:?}", jb.stats);
    assert_eq!(jb.stats.concealed + jb.stats.fec_recovered, 2, "{:?}", jb.stats);
}

/// Reordering by up to 30 ms with no loss: the target grows to cover it
/// and (almost) every packet is played from itself, none dropped whole.
#[test]
fn reordering_raises_the_target_and_nothing_is_lost() {
    let mut x = 7u64;
    let arrivals: Vec<(f64, VoiceFrame)> = packets(600, 0)
        .into_iter()
        .map(|p| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let extra = (x >> 33) as f64 / (1u64 << 31) as f64 * 30.0;
            (p.ts as f64 * 10.0 + 40.0 + extra, p)
        })
        .collect();
    let jb = play(arrivals, 6500.0);
    assert!(jb.target_ms() >= 20.0, "target {}", jb.target_ms());
    assert!(jb.stats.played >= 570, "{:?}", jb.stats);
    assert!(jb.stats.late <= 30, "{:?}", jb.stats);
    assert_eq!(jb.stats.drained, 0, "{:?}", jb.stats);
    assert!(jb.stats.expanded > 0, "the delay grew by stretching: {:?}", jb.stats);
}

/// A path that was jittery and then calms down: the buffer is brought
/// back by accelerating, not by dropping frames.
#[test]
fn calmer_path_is_followed_by_accelerating() {
    let arrivals: Vec<(f64, VoiceFrame)> = packets(1200, 0)
        .into_iter()
        .map(|p| {
            // 60 ms spikes on every 5th packet for 4 s, then a steady path.
            let extra = if p.ts < 400 && p.ts % 5 == 0 { 60.0 } else { 0.0 };
            (p.ts as f64 * 10.0 + 40.0 + extra, p)
        })
        .collect();
    let mut jb = JitterBuffer::new(Decoder::new().unwrap());
    let mut it = {
        let mut a = arrivals;
        a.sort_by(|x, y| x.0.total_cmp(&y.0));
        a.into_iter().peekable()
    };
    let mut out = [0; FRAME];
    let (mut high, mut t) = (0.0f64, 0.0);
    while t < 12_500.0 {
        while it.peek().is_some_and(|(at, _)| *at <= t) {
            let (at, p) = it.next().unwrap();
            jb.push(p, at);
        }
        jb.pop(t + 5.0, &mut out);
        if (3500.0..4000.0).contains(&t) {
            high = high.max(jb.level_ms());
        }
        t += 10.0;
    }
    assert!(high >= 40.0, "the spikes raised the level: {high}");
    let excess = jb.level_ms() - jb.target_ms() - MARGIN_MS;
    assert!(excess <= ACCELERATE_SPEECH_MS + 5.0, "level {} target {} after calm", jb.level_ms(), jb.target_ms());
    assert!(jb.stats.accelerated > 0 && jb.stats.accelerated_ms >= 20.0, "{:?}", jb.stats);
    assert_eq!(jb.stats.drained, 0, "{:?}", jb.stats);
}

#[test]
fn reports_say_how_bursty_the_loss_is() {
    // 5 % loss in bursts of 3 for 5 s.
    let lost = |s: u32| s % 60 < 3;
    let jb = play(on_time(packets(500, 0), lost), 5200.0);
    let r = jb.report();
    assert!((3.0..8.0).contains(&r.loss_pct()), "{r:?}");
    assert!(r.burst() >= 2.5, "{r:?}");
    let lost = |s: u32| s % 20 == 3;
    let r = play(on_time(packets(500, 0), lost), 5200.0).report();
    assert!(r.burst() < 1.3, "{r:?}");
}

/// A Gilbert-model path like delaylink's (`--delay 40 --jitter 10
/// --loss 5 --burst 3`), printed: `cargo test --release -p aperod --lib
/// simulate_bursty_path -- --ignored --nocapture`.
#[test]
#[ignore]
fn simulate_bursty_path() {
    let mut x = 99u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let (loss, burst) = (0.05, 3.0);
    let leave = 1.0 / burst;
    let enter = loss * leave / (1.0 - loss);
    let mut bad = false;
    let mut last_due = 0.0f64;
    let mut arrivals = Vec::new();
    for p in packets(3000, 2) {
        bad = if bad { rnd() >= leave } else { rnd() < enter };
        let due = (p.ts as f64 * 10.0 + 40.0 + rnd() * 10.0).max(last_due);
        last_due = due;
        if !bad {
            arrivals.push((due, p));
        }
    }
    let mut jb = JitterBuffer::new(Decoder::new().unwrap());
    let mut it = arrivals.into_iter().peekable();
    let mut out = [0; FRAME];
    let mut t = 0.0;
    while t < 30_500.0 {
        while it.peek().is_some_and(|(at, _)| *at <= t) {
            let (at, p) = it.next().unwrap();
            jb.push(p, at);
        }
        jb.pop(t + 5.0, &mut out);
        if (t as u64).is_multiple_of(2000) {
            eprintln!("t={t} level={:.1} target={:.1} {:?}", jb.level_ms(), jb.target_ms(), jb.stats);
        }
        t += 10.0;
    }
}

#[test]
fn hostile_timestamps_are_bounded() {
    let mut jb = JitterBuffer::new(Decoder::new().unwrap());
    let mut out = [0; FRAME];
    let p = packets(1, 0).remove(0);
    jb.push(p.clone(), 0.0);
    jb.pop(100.0, &mut out);
    for i in 0..2000u32 {
        let copies = vec![Redundant { back: 200, seq_back: 1, payload: p.payload.clone() }];
        jb.push(VoiceFrame { ts: 5000 + i, seq: i, redundant: copies, ..p.clone() }, 1.0);
    }
    assert!(jb.packets.len() <= MAX_BUFFERED);
    assert!(jb.stats.bad > 0);
    for _ in 0..100 {
        jb.pop(200.0, &mut out);
    }
}

#[test]
fn a_short_sound_after_a_pause_is_played_even_if_a_little_late() {
    // Clicks as in the rig's latency bench: three frames of sound every
    // 500 ms, a keep-alive marking each pause. The playout's clock runs on
    // through the pauses; a click whose packets come 25 ms later than the
    // others (more than the target on a calm path) must still be heard.
    let mut enc = Encoder::new(0).unwrap();
    let p = Packetizer::default();
    let mut arrivals = Vec::new();
    let mut seq = 0;
    for click in 0..8u32 {
        let start = click * 50;
        let extra = if click == 5 { 25.0 } else { 0.0 };
        for ts in start..start + 3 {
            let payload = Bytes::copy_from_slice(enc.encode(&voiced(ts as usize)).unwrap().unwrap());
            let f = VoiceFrame { flags: FLAG_SPEAKING, seq, ts, payload, redundant: Vec::new() };
            arrivals.push((f64::from(ts) * 10.0 + 40.0 + extra, f));
            seq += 1;
        }
        arrivals.push((f64::from(start + 3) * 10.0 + 40.0, p.keepalive(start + 3, seq, 0, 0, false)));
    }
    let jb = play(arrivals, 4200.0);
    assert_eq!(jb.stats.played, 24, "{:?}", jb.stats);
    assert_eq!(jb.stats.late, 0, "{:?}", jb.stats);
    assert!(jb.stats.resumed_late >= 1, "{:?}", jb.stats);
    // The delay that cost is taken back in the next silence, not kept for
    // the rest of the call.
    assert!(jb.stats.caught_up >= 2, "{:?}", jb.stats);
}
