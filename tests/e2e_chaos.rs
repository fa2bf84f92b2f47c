//! The chaos run: six members of one room (and a relay that is also the DHT
//! bootstrap node) for `APERO_CHAOS_SECS` seconds (180 in the suite;
//! `bench/chaos.sh` runs 1800). At random moments members write, join and
//! leave the call, offer and fetch files, are killed (kill -9 or SIGTERM) and
//! restarted; the relay dies and comes back; and one member joins late with a
//! code given while its inviter is offline. Then everyone is brought back,
//! calls are left, and after a quiet minute:
//!
//! - every member's history is identical and holds every message a `say`
//!   acknowledged;
//! - every completed download is bit-exact, and no partial file sits where a
//!   real one should;
//! - no daemon died other than by our kills; RSS stayed bounded; the member
//!   never killed has as many file descriptors and runtime tasks as before,
//!   give or take its new connections.
//!
//! Figures are printed as `FIGURE chaos_<name> value` lines (bench/chaos.sh
//! collects them into docs/benchmarks.md). `APERO_CHAOS_SEED` replays a run.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apero_control::{Client, Event};
use common::{apero_bin, wait_until, Daemon};
use serde_json::Value;

const KIB: usize = 1024;

/// xorshift64*: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn secs(&mut self, lo: f64, hi: f64) -> Duration {
        Duration::from_secs_f64(lo + (hi - lo) * (self.next() % 10_000) as f64 / 10_000.0)
    }
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    (0..len).map(|_| r.next() as u8).collect()
}

/// When each member's event stream saw each message text, and when its
/// streams were live (a message counts towards the delivery figure only for
/// members that were listening throughout).
#[derive(Default)]
struct Seen {
    arrivals: HashMap<(usize, String), Instant>,
    live: HashMap<usize, Vec<(Instant, Option<Instant>)>>,
}

/// Follows one member's events across its restarts, until `stop`.
fn listen(idx: usize, socket: PathBuf, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        while !stop.load(Ordering::Relaxed) {
            rt.block_on(async {
                let Ok(c) = Client::connect(&socket, "chaos").await else { return };
                let Ok(mut events) = c.subscribe().await else { return };
                seen.lock().unwrap().live.entry(idx).or_default().push((Instant::now(), None));
                loop {
                    match tokio::time::timeout(Duration::from_millis(500), events.next()).await {
                        Ok(Ok(Some(Event::Message { message, .. }))) => {
                            seen.lock().unwrap().arrivals.entry((idx, message.text)).or_insert_with(Instant::now);
                        }
                        Ok(Ok(Some(_))) => {}
                        Ok(_) => break,
                        Err(_) if stop.load(Ordering::Relaxed) => break,
                        Err(_) => {}
                    }
                }
                if let Some(last) = seen.lock().unwrap().live.get_mut(&idx).and_then(|v| v.last_mut()) {
                    last.1 = Some(Instant::now());
                }
            });
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

struct Member {
    d: Daemon,
    up: bool,
    /// When a killed member comes back.
    back_at: Option<Instant>,
    in_call: bool,
    dl: PathBuf,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(false)
}

fn history_texts(d: &Daemon, room: &str) -> Option<Vec<String>> {
    let out = d.cli(&["--json", "history", room]);
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(v.as_array()?.iter().map(|m| m["text"].as_str().unwrap_or("").to_string()).collect())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Sized for CI (the two runs were half of the suite's test time at 180 s
/// each); bench/chaos.sh runs it for 30 minutes.
fn run_secs() -> u64 {
    std::env::var("APERO_CHAOS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(90)
}

/// The two runs one after the other: side by side on two cores, each
/// would measure the other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn chaos_on_loopback() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let seed = seed();
    let work = tempfile::tempdir().unwrap();
    let relay = Daemon::start_with("relay", &["--relay"], &[]);
    let rid = relay.peer_id();
    let boot: Vec<String> = relay.json(&["status"])["listen"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| ["--bootstrap".to_string(), format!("{}/p2p/{rid}", a.as_str().unwrap())])
        .collect();
    let mut args: Vec<&str> = boot.iter().map(String::as_str).collect();
    args.extend(["--audio", "null"]);
    let members = NAMES.iter().map(|n| Daemon::start_with(n, &args, &[])).collect();
    chaos("loopback", seed, work.path(), relay, members, Duration::from_secs(30));
}

/// The same in the NAT testbed: each member in its own home, ann, ben, cat
/// and dan behind cone NATs (hole punching works), eve and fay behind
/// symmetric ones (only the relay joins them to the others), and the relay
/// on the public segment. Needs root.
#[test]
fn chaos_in_the_nat_testbed() {
    if !common::netns::can_run() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let seed = seed();
    let work = tempfile::tempdir().unwrap();
    let mut tb = common::netns::Testbed::new();
    let homes: Vec<String> =
        (1..=6u8).map(|i| tb.home(i, if i <= 4 { common::netns::Nat::Cone } else { common::netns::Nat::Symmetric })).collect();
    let relay = tb.relay();
    let members = NAMES.iter().zip(&homes).map(|(n, ns)| tb.peer(n, ns, &relay, &["--audio", "null"])).collect();
    // Through a relay that dies now and then, a member behind a symmetric
    // NAT can be cut off for a while: a minute, not thirty seconds.
    chaos("testbed", seed, work.path(), relay, members, Duration::from_secs(60));
    drop(tb);
}

const NAMES: [&str; 6] = ["ann", "ben", "cat", "dan", "eve", "fay"];

fn seed() -> u64 {
    let seed = std::env::var("APERO_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    println!("chaos seed {seed} (APERO_CHAOS_SEED={seed} replays it), {} s", run_secs());
    seed
}

/// The run itself, on members already started (not yet in a room).
/// `window`: how long a message may take to reach a member that listened
/// throughout.
fn chaos(label: &str, seed: u64, work: &std::path::Path, mut relay: Daemon, members: Vec<Daemon>, window: Duration) {
    let mut rng = Rng(seed | 1);
    let names = NAMES;
    let mut m: Vec<Member> = members
        .into_iter()
        .map(|d| {
            let dl = work.join(format!("dl-{}", d.name));
            std::fs::create_dir_all(&dl).unwrap();
            Member { d, up: true, back_at: None, in_call: false, dl }
        })
        .collect();
    // Ann makes the room and is never killed (the reference for leaks);
    // fay is the late joiner, with a code from ben.
    let (ann, ben, fay) = (0, 1, 5);
    let room = m[ann].d.create_room("chaos");
    let code = m[ann].d.invite(&room, &[]);
    for member in &m[1..5] {
        member.d.json(&["join", &code]);
    }
    let late_code = m[ben].d.invite(&room, &[]);
    let mut fay_in = false;
    let ann_pid = m[ann].d.pid().unwrap();
    wait_until("ann to be connected to everyone", Duration::from_secs(30), || {
        (m[ann].d.json(&["status"])["peers"].as_array().unwrap().len() >= 5).then_some(())
    });
    let fds_start = fds(ann_pid);
    let tasks_start = m[ann].d.json(&["status"])["tasks"].as_u64().unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let listeners: Vec<_> = m.iter().enumerate().map(|(i, x)| listen(i, x.d.socket(), seen.clone(), stop.clone())).collect();

    let mut acked: Vec<(String, Instant)> = Vec::new();
    let mut offers: Vec<(String, usize, Vec<u8>)> = Vec::new();
    let mut gets: Vec<Child> = Vec::new();
    let mut relay_back: Option<Instant> = None;
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut rss_max = 0u64;
    let mut late_join_s = None;
    let mut fay_since = Instant::now() + Duration::from_secs(365 * 86_400);
    let start = Instant::now();
    let end = start + Duration::from_secs(run_secs());
    let mut n = 0u64;
    let log = |what: String| println!("[{:7.1} s] {what}", start.elapsed().as_secs_f64());
    while Instant::now() < end {
        std::thread::sleep(rng.secs(0.2, 1.2));
        let now = Instant::now();
        // Nobody dies on their own.
        for x in m.iter().filter(|x| x.up) {
            let pid = x.d.pid().unwrap();
            assert!(alive(pid), "{} died by itself (seed {seed})", x.d.name);
            rss_max = rss_max.max(rss_kib(pid).unwrap_or(0));
        }
        for x in m.iter_mut().filter(|x| !x.up && x.back_at.is_some_and(|t| t <= now)) {
            x.d.restart();
            x.up = true;
            x.back_at = None;
            *counts.entry("restarts").or_default() += 1;
            log(format!("{} restarted", x.d.name));
        }
        if relay_back.is_some_and(|t| t <= now) {
            relay.restart();
            relay_back = None;
            log("relay restarted".into());
        }
        // The late joiner: a third of the way in, with ben's code while ben is away.
        if !fay_in && now > start + (end - start) / 3 {
            // Behind a symmetric NAT she can only come in through the relay:
            // bring it back first if it is down (the join blocks this loop).
            if relay_back.take().is_some() {
                relay.restart();
                log("relay restarted for the late join".into());
            }
            if m[ben].up {
                m[ben].d.terminate();
                m[ben].up = false;
                m[ben].back_at = Some(now + Duration::from_secs(20));
            }
            let t = Instant::now();
            let out = m[fay].d.cli(&["--json", "join", &late_code, "--timeout", "60s"]);
            assert!(out.status.success(), "fay joins with ben's code while ben is away: {}", String::from_utf8_lossy(&out.stdout));
            late_join_s = Some(t.elapsed().as_secs_f64());
            fay_in = true;
            fay_since = Instant::now();
            log(format!("fay joined with ben's code in {:.1} s while ben was away", t.elapsed().as_secs_f64()));
            continue;
        }
        let in_room: Vec<usize> = (0..m.len()).filter(|&i| m[i].up && (i != fay || fay_in)).collect();
        let who = in_room[rng.below(in_room.len())];
        let roll = rng.below(100);
        if roll < 45 {
            n += 1;
            let text = format!("chaos {n} from {}", names[who]);
            let t0 = Instant::now();
            let out = m[who].d.cli(&["--json", "say", &room, &text]);
            if out.status.success() {
                log(format!("said {text:?}"));
                acked.push((text, t0));
            }
            *counts.entry("says").or_default() += 1;
        } else if roll < 60 {
            let verb = if m[who].in_call { "leave" } else { "join" };
            let args: Vec<&str> = if verb == "join" { vec!["call", "join", &room] } else { vec!["call", "leave"] };
            if m[who].d.cli(&args).status.success() {
                m[who].in_call = !m[who].in_call;
            }
            *counts.entry("calls").or_default() += 1;
        } else if roll < 66 {
            let len = (64 + rng.below(3 * 1024)) * KIB;
            let data = random_bytes(len, rng.next());
            let path = work.join(format!("offer-{}.bin", offers.len()));
            std::fs::write(&path, &data).unwrap();
            let out = m[who].d.cli(&["--json", "send", &room, path.to_str().unwrap()]);
            if out.status.success() {
                let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                offers.push((v[0]["id"].as_str().unwrap().to_string(), who, data));
            }
            *counts.entry("offers").or_default() += 1;
        } else if roll < 78 && !offers.is_empty() {
            let (id, from, _) = &offers[rng.below(offers.len())];
            if *from != who {
                let child = Command::new(apero_bin())
                    .arg("--home")
                    .arg(m[who].d.home())
                    .args(["--json", "get", id, "--to", m[who].dl.to_str().unwrap()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                gets.push(child);
                *counts.entry("gets").or_default() += 1;
            }
        } else if roll < 90 {
            // Kill someone (never ann; keep at least three up).
            let up: Vec<usize> = (1..m.len()).filter(|&i| m[i].up && (i != fay || fay_in)).collect();
            if up.len() + 1 > 3 {
                let v = up[rng.below(up.len())];
                log(format!("{} goes down", m[v].d.name));
                if rng.chance(50) {
                    m[v].d.kill9();
                    *counts.entry("kill9").or_default() += 1;
                } else {
                    m[v].d.terminate();
                    *counts.entry("sigterm").or_default() += 1;
                }
                m[v].up = false;
                m[v].in_call = false;
                m[v].back_at = Some(now + rng.secs(2.0, 10.0));
            }
        } else if roll < 93 && relay_back.is_none() {
            relay.kill9();
            log("relay killed".into());
            relay_back = Some(now + rng.secs(3.0, 15.0));
            *counts.entry("relay_kills").or_default() += 1;
        }
        gets.retain_mut(|c| c.try_wait().ok().flatten().is_none());
    }

    // Everyone back, calls left, then a quiet minute.
    if relay_back.is_some() {
        relay.restart();
    }
    for x in m.iter_mut() {
        if !x.up {
            x.d.restart();
            x.up = true;
        }
        if x.in_call {
            let _ = x.d.cli(&["call", "leave"]);
        }
    }
    std::thread::sleep(Duration::from_secs(std::env::var("APERO_CHAOS_QUIET").ok().and_then(|s| s.parse().ok()).unwrap_or(60)));
    for mut c in gets {
        let _ = c.kill();
        let _ = c.wait();
    }

    // Histories: identical everywhere, every acknowledged message in them.
    let reference = wait_until("every history to be the same", Duration::from_secs(60), || {
        let all: Vec<Vec<String>> = m.iter().filter_map(|x| history_texts(&x.d, &room)).collect();
        (all.len() == m.len() && all.windows(2).all(|w| w[0] == w[1])).then(|| all[0].clone())
    });
    for (text, _) in &acked {
        assert!(reference.contains(text), "acknowledged {text:?} is in the history (seed {seed})");
    }

    // Downloads: every one finished (paused ones resume by themselves once a
    // source is back), bit-exact, and nothing half-written in view.
    let mut done = 0;
    for x in &m {
        let transfers = wait_until(&format!("{}'s downloads to finish", x.d.name), Duration::from_secs(90), || {
            let t = x.d.json(&["transfers"]);
            t.as_array().unwrap().iter().all(|t| t["state"] == "done").then_some(t)
        });
        let mut finished: Vec<PathBuf> = Vec::new();
        for t in transfers.as_array().unwrap() {
            if t["state"] == "done" {
                let (_, _, data) = offers.iter().find(|(id, _, _)| t["id"] == id.as_str()).unwrap();
                let path = PathBuf::from(t["path"].as_str().unwrap());
                assert!(std::fs::read(&path).unwrap() == *data, "{}: {} is bit-exact", x.d.name, path.display());
                finished.push(path);
                done += 1;
            }
        }
        for e in std::fs::read_dir(&x.dl).unwrap().filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                name.starts_with('.') || finished.contains(&e.path()),
                "{}: {name} is in the download folder but no download finished it",
                x.d.name
            );
        }
    }

    // No crash, bounded memory, no leaks at the member never killed.
    for x in &m {
        assert!(alive(x.d.pid().unwrap()), "{} is alive at the end", x.d.name);
        rss_max = rss_max.max(rss_kib(x.d.pid().unwrap()).unwrap_or(0));
    }
    let fds_end = fds(ann_pid);
    let tasks_end = m[ann].d.json(&["status"])["tasks"].as_u64().unwrap();
    stop.store(true, Ordering::Relaxed);
    for l in listeners {
        let _ = l.join();
    }

    // Delivery: for each message, the longest time until a member that was
    // listening throughout had it.
    let seen = seen.lock().unwrap();
    let mut delays: Vec<f64> = Vec::new();
    let mut late = 0;
    let mut slow: Vec<(f64, String, &str)> = Vec::new();
    for (text, t0) in &acked {
        let mut worst: f64 = 0.0;
        for (i, name) in names.iter().enumerate() {
            // Before she joined, fay gets the history, not a delivery.
            if i == fay && *t0 < fay_since {
                continue;
            }
            let arrival = seen.arrivals.get(&(i, text.clone())).copied();
            let until = arrival.unwrap_or(*t0 + window);
            let listening = seen.live.get(&i).is_some_and(|v| v.iter().any(|(s, e)| *s <= *t0 && e.is_none_or(|e| e >= until)));
            if !listening {
                continue;
            }
            match arrival {
                Some(a) => {
                    let ms = a.duration_since(*t0).as_secs_f64() * 1000.0;
                    if ms > 1000.0 {
                        slow.push((ms, text.clone(), name));
                    }
                    worst = worst.max(ms);
                }
                None => late += 1,
            }
        }
        delays.push(worst);
    }
    delays.sort_by(|a, b| a.total_cmp(b));
    slow.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (ms, text, who) in slow.iter().take(10) {
        println!("slow delivery: {text:?} reached {who} after {ms:.0} ms");
    }

    let mut figures: Vec<(&str, String)> = vec![
        ("secs", run_secs().to_string()),
        ("messages_acked", acked.len().to_string()),
        ("downloads_done", done.to_string()),
        ("rss_max_mib", format!("{:.1}", rss_max as f64 / 1024.0)),
        ("delivery_p50_ms", format!("{:.0}", percentile(&delays, 0.5))),
        ("delivery_p99_ms", format!("{:.0}", percentile(&delays, 0.99))),
        ("delivery_max_ms", format!("{:.0}", delays.last().copied().unwrap_or(0.0))),
        ("not_delivered_in_window", late.to_string()),
        ("late_join_s", format!("{:.1}", late_join_s.unwrap_or(f64::NAN))),
        ("fds_start", fds_start.to_string()),
        ("fds_end", fds_end.to_string()),
        ("tasks_start", tasks_start.to_string()),
        ("tasks_end", tasks_end.to_string()),
    ];
    let mut keys: Vec<&&str> = counts.keys().collect();
    keys.sort();
    let count_figs: Vec<(&str, String)> = keys.iter().map(|k| (**k, counts[**k].to_string())).collect();
    figures.extend(count_figs);
    for (k, v) in &figures {
        println!("FIGURE chaos_{label}_{k} {v}");
    }
    assert!(fay_in, "the late joiner joined");
    assert!(!acked.is_empty(), "messages were acknowledged");
    assert!(rss_max < 200 * 1024, "RSS stayed under 200 MiB: {rss_max} KiB");
    // One more peer (fay) than at the start, and some slack for sockets a
    // redial has open at the moment we count.
    assert!(fds_end <= fds_start + 16, "ann's file descriptors: {fds_start} -> {fds_end}");
    assert!(tasks_end <= tasks_start + tasks_start / 2 + 16, "ann's runtime tasks: {tasks_start} -> {tasks_end}");
    assert_eq!(late, 0, "every message reached every member that was listening within {window:?}");
}
