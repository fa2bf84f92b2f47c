#!/usr/bin/env python3
"""apero screen-sharing benchmark: the deck (bench/video/deck.html rendered by
bench/video_deck.sh) shown on a 1920×1080 Xvfb by daemon/examples/deck_player.rs
in the sharer's namespace, shared with `apero share start ROOM --screen 0` to
viewers in another namespace over shared/tools/delaylink.py; real daemons
(release build), nothing mocked. Chromium's WebRTC on the same link, in the
same run, is the anchor (bench/webrtc_video.py).

Figures, each over --runs K runs (median of the runs, and min–max spread):
  - glass-to-glass latency: a viewer's decode time of each frame counter
    (APERO_VIDEO_TRACE) minus the player's draw time of it (p50, p99), on
    loopback and over the link;
  - text sharpness: luma PSNR of `apero share snapshot` against the slide
    shown (snapshot taken once the slide stayed >= 1 s);
  - bitrate while a slide stays and while the page scrolls (the frames'
    bytes at a viewer, and the sharer's `share status` kbps);
  - CPU of the sharer and of each of 3 viewers while the page scrolls (1080p,
    15 fps moving content), % of one core;
  - voice while sharing, over --delay 20 --rate 2000: PESQ-WB and mouth-to-ear
    p99 at the viewer, with and without the share;
  - 2 % loss: the longest gap between decoded pictures while the page scrolls.

    sudo bench/video.sh                       # 3 runs, the anchor
    sudo bench/video.sh --runs 1 --quick      # shorter phases
    sudo bench/video.sh --only latency,slides --no-anchor
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import lib
from lib import Daemon, Link, click_latencies, clicks, ns_prefix, pct, pesq_of, proc_cpu_seconds, silence, speech, wait_participants

ROOT = lib.ROOT
PLAYER = ROOT / "target" / "release" / "examples" / "deck_player"
STEPS = ("loopback", "link", "voice", "loss", "anchor")
TARGETS = {
    "g2g_p50_loopback_ms": ("<=", 100),
    "g2g_p50_link_ms": ("<=", "link+120"),
    "psnr_db": (">=", 40),
    "static_kbps": ("<=", 150),
    "scroll_kbps": ("<=", 1500),
    "cpu_sharer_pct": ("<=", 50),
    "cpu_viewer_pct": ("<=", 25),
    "voice_pesq_share": (">=", 3.8),
    "voice_p99_rise_ms": ("<=", 20),
    "loss2_max_gap_ms": ("<=", 500),
}


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


class Xvfb:
    """A 1920×1080 Xvfb in namespace `ns` (its abstract socket is per namespace)."""

    def __init__(self, ns=None):
        self.proc = subprocess.Popen(ns_prefix(ns) + ["Xvfb", "-displayfd", "1", "-screen", "0", "1920x1080x24",
                                                       "-nolisten", "tcp", "-noreset"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"Xvfb did not start (exit {self.proc.poll()})")
        self.display = f":{line}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Player:
    def __init__(self, deck, display, ns, log, scenario, slide_secs=4, scroll_secs=15, start=1, slides="0,1,2,3"):
        self.log = Path(log)
        self.proc = subprocess.Popen(ns_prefix(ns) + [str(PLAYER), str(deck), "--display", display, "--log", str(log),
                                                      "--scenario", scenario, "--slides", slides,
                                                      "--slide-secs", str(slide_secs), "--scroll-secs", str(scroll_secs),
                                                      "--start-counter", str(start)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if "READY" not in self.proc.stdout.readline():
            raise RuntimeError(f"deck_player: {self.proc.stderr.read()}")

    def draws(self):
        """[(counter, unix_us, what)] drawn so far."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            f = line.split()
            if len(f) == 3:
                out.append((int(f[0]), int(f[1]), f[2]))
        return out

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def trace(path, t0_us=0, t1_us=1 << 62):
    """[(unix_us, counter, seq, bytes, key)] decoded between t0 and t1."""
    out = []
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            f = line.split()
            if len(f) == 5:
                r = tuple(int(x) for x in f)
                if t0_us <= r[0] < t1_us:
                    out.append(r)
    return out


def latencies(draws, decoded):
    """Glass-to-glass ms of each counter: its first decode minus its draw."""
    drawn = {}
    for c, t, _ in draws:
        drawn.setdefault(c, t)
    first = {}
    for t, c, *_ in decoded:
        first.setdefault(c, t)
    return [(first[c] - drawn[c]) / 1000 for c in first if c in drawn and first[c] >= drawn[c]]


def kbps(decoded, t0_us, t1_us):
    b = sum(r[3] for r in decoded if t0_us <= r[0] < t1_us)
    return 8 * b / 1000 / max(1e-3, (t1_us - t0_us) / 1e6)


def max_gap_ms(decoded, t0_us, t1_us):
    ts = sorted(r[0] for r in decoded if t0_us <= r[0] < t1_us)
    edges = [t0_us] + ts + [t1_us]
    return max(b - a for a, b in zip(edges, edges[1:])) / 1000


def psnr(ref_png, got_png):
    r = subprocess.run([str(PLAYER), "psnr", str(ref_png), str(got_png)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


class Share:
    """A sharer (alice, on an Xvfb) and `viewers` viewers in a call; the viewers
    write their decode traces. Over `link` the sharer is in link.a, the
    viewers in link.b."""

    def __init__(self, work, tag, link=None, viewers=3, sharer_args=("--audio", "null"), viewer_args=None):
        self.work, self.tag = work, tag
        ns_a, ns_b = (link.a, link.b) if link else (None, None)
        la = [f"/ip4/{link.addr_a}/udp/0/quic-v1"] if link else None
        lb = [f"/ip4/{link.addr_b}/udp/0/quic-v1"] if link else None
        self.ns_a = ns_a
        self.x = Xvfb(ns_a)
        self.daemons = []
        self.traces = [work / f"{tag}-v{i}.trace" for i in range(viewers)]
        try:
            self.sharer = Daemon("alice", work, ns=ns_a, listen=la, args=list(sharer_args), env={"DISPLAY": self.x.display})
            self.daemons.append(self.sharer)
            self.viewers = []
            for i in range(viewers):
                v = Daemon(f"viewer{i}", work, ns=ns_b, listen=lb, args=list(viewer_args or ("--audio", "null")),
                           env={"APERO_VIDEO_TRACE": str(self.traces[i])})
                self.daemons.append(v)
                self.viewers.append(v)
            self.room = self.sharer.cli("room", "create", "deck")["id"]
            for v in self.viewers:
                v.cli("join", self.sharer.cli("invite", self.room)["code"])
        except BaseException:
            self.stop()
            raise

    def join(self):
        for d in self.daemons:
            d.cli("call", "join", self.room)
        for d in self.daemons:
            wait_participants(d, len(self.daemons), timeout=60)

    def share(self):
        self.sharer.cli("share", "start", self.room, "--screen", "0")
        end = time.time() + 30
        while time.time() < end:
            if all(any(w.get("frames_decoded", 0) >= 1 for w in v.cli("share", "status")["watching"]) for v in self.viewers):
                return
            time.sleep(0.2)
        raise RuntimeError("the viewers never decoded a picture")

    def pids(self):
        return [d.pid() for d in self.daemons]

    def stop(self):
        for d in self.daemons:
            d.stop()
        self.x.stop()


def sample_status(sharer, stop, out):
    while not stop.is_set():
        try:
            s = sharer.cli("share", "status")["sending"]
            if s:
                out.append((int(time.time() * 1e6), s[0]["kbps"], s[0]["fps"]))
        except Exception:
            pass
        stop.wait(0.5)


def phase(sh, deck, scenario, slide_secs, scroll_secs, start, snap_dir=None):
    """Plays `scenario` on the sharer's screen; returns the draws, each viewer's
    decodes in the phase, CPU % per daemon, the sharer's status samples and
    (slides) the snapshots taken once each slide stayed >= 1 s."""
    log = sh.work / f"{sh.tag}-{scenario}.draws"
    pids = sh.pids()
    cpu0 = [proc_cpu_seconds(p) for p in pids]
    t0 = time.time()
    samples, stop = [], threading.Event()
    th = threading.Thread(target=sample_status, args=(sh.sharer, stop, samples), daemon=True)
    th.start()
    p = Player(deck, sh.x.display, sh.ns_a, log, scenario, slide_secs, scroll_secs, start)
    snaps = {}
    try:
        while p.proc.poll() is None:
            if snap_dir is not None:
                for c, t, what in p.draws():
                    # Snapshot once the slide stayed 1 s or more (0.6 s before the next one).
                    if what.startswith("slide") and (c not in snaps) and time.time() >= t / 1e6 + max(1.0, slide_secs - 0.6):
                        f = Path(snap_dir) / f"{sh.tag}-{what}-{c}.png"
                        sh.viewers[0].cli("share", "snapshot", str(f))
                        snaps[c] = (what, f, int(time.time() * 1e6))
            time.sleep(0.05)
        p.wait(5)
    finally:
        p.stop()
        stop.set()
        th.join()
    dt = time.time() - t0
    cpu = [100 * (proc_cpu_seconds(q) - c) / dt for q, c in zip(pids, cpu0)]
    # Whatever was still on its way after the last draw.
    time.sleep(1.0)
    draws = p.draws()
    t_first, t_last = draws[0][1], draws[-1][1]
    decoded = [trace(t, t_first, t_last + 2_000_000) for t in sh.traces]
    return {"draws": draws, "decoded": decoded, "cpu": cpu, "status": samples, "snaps": snaps,
            "t0_us": t_first, "t1_us": t_last}


def slides_figures(ph, deck, slide_secs):
    draws, dec = ph["draws"], ph["decoded"][0]
    out = {"psnr_db": [], "static_kbps": [], "slide_kbps": [], "status_kbps_at_slide_end": []}
    for i, (c, t, what) in enumerate(draws):
        t_next = draws[i + 1][1] if i + 1 < len(draws) else t + int(slide_secs * 1e6)
        out["static_kbps"].append(kbps(dec, t + 1_000_000, t_next))
        out["slide_kbps"].append(kbps(dec, t, t_next))
        st = [k for (ts, k, _) in ph["status"] if ts <= t_next]
        if st:
            out["status_kbps_at_slide_end"].append(st[-1])
    for c, (what, f, _) in sorted(ph["snaps"].items()):
        r = psnr(deck / f"{what}.png", f)
        # A snapshot showing another counter: that slide never arrived (0 dB).
        out["psnr_db"].append(r["psnr_db"] if r["counter"] == c else 0.0)
    lats = [l for d in ph["decoded"] for l in latencies(draws, d)]
    return {"psnr_db_min": round(min(out["psnr_db"]), 2) if out["psnr_db"] else None,
            "psnr_db": [round(x, 2) for x in out["psnr_db"]],
            "static_kbps": round(float(np.mean(out["static_kbps"])), 1),
            "slide_kbps_with_change": round(float(np.mean(out["slide_kbps"])), 1),
            "status_kbps_at_slide_end": [round(x, 1) for x in out["status_kbps_at_slide_end"]],
            "slide_change_g2g_ms": [round(x, 1) for x in lats]}


def scroll_figures(ph):
    draws = ph["draws"]
    t0, t1 = ph["t0_us"], ph["t1_us"]
    lats = [l for d in ph["decoded"] for l in latencies(draws, d)]
    per_viewer_frames = [len({r[1] for r in d}) for d in ph["decoded"]]
    mid = [k for (ts, k, _) in ph["status"] if t0 + 2_000_000 <= ts <= t1]
    return {"g2g_p50_ms": round(pct(lats, 50), 1), "g2g_p99_ms": round(pct(lats, 99), 1), "g2g_n": len(lats),
            "drawn": len(draws), "decoded_counters_per_viewer": per_viewer_frames,
            "scroll_kbps": round(float(np.mean([kbps(d, t0, t1) for d in ph["decoded"]])), 1),
            "status_kbps_scroll": round(float(np.median(mid)), 1) if mid else None,
            "max_gap_ms": round(max(max_gap_ms(d, t0 + 1_000_000, t1) for d in ph["decoded"]), 1),
            "cpu_sharer_pct": round(ph["cpu"][0], 1),
            "cpu_viewer_pct": [round(c, 1) for c in ph["cpu"][1:]]}


def step_loopback(work, deck, a, run):
    sh = Share(work, f"lo{run}", None, viewers=1)
    try:
        sh.join()
        sh.share()
        ph = phase(sh, deck, "scroll", a.slide_secs, a.scroll_secs, 1)
        return scroll_figures(ph)
    finally:
        sh.stop()


def step_link(work, deck, a, run):
    link = Link("vd", delay=a.delay, loss=0, rate=a.rate, seed=31 + run)
    try:
        sh = Share(work, f"ln{run}", link, viewers=a.viewers)
        try:
            sh.join()
            sh.share()
            sl = phase(sh, deck, "slides", a.slide_secs, a.scroll_secs, 1, snap_dir=work)
            sc = phase(sh, deck, "scroll", a.slide_secs, a.scroll_secs, 1000)
            return {**slides_figures(sl, deck, a.slide_secs), **scroll_figures(sc)}
        finally:
            sh.stop()
    finally:
        link.close()


def step_loss(work, deck, a, run):
    link = Link("vl", delay=a.delay, loss=a.loss, seed=41 + run)
    try:
        sh = Share(work, f"ls{run}", link, viewers=1)
        try:
            sh.join()
            sh.share()
            f = scroll_figures(phase(sh, deck, "scroll", a.slide_secs, a.scroll_secs, 1))
            return {k: f[k] for k in ("max_gap_ms", "g2g_p50_ms", "g2g_p99_ms", "scroll_kbps", "decoded_counters_per_viewer", "drawn")}
        finally:
            sh.stop()
    finally:
        link.close()


def voice_call(work, deck, a, run, share, kind):
    """Alice (the sharer) talks to one viewer over delay 20, rate 2000;
    with `share` she also shares the scrolling page. kind: pesq or latency."""
    secs = a.voice_secs
    src = work / ("speech.wav" if kind == "pesq" else "clicks.wav")
    tag = f"vo{run}{kind}{int(share)}"
    out = work / f"{tag}-b.wav"
    link = Link("vv", delay=a.delay, rate=2000, seed=51 + run)
    try:
        sh = Share(work, tag, link, viewers=1,
                   sharer_args=["--audio", "wav", "--wav-in", str(src), "--wav-out", str(work / f"{tag}-a.wav")],
                   viewer_args=["--audio", "wav", "--wav-in", str(work / "silence.wav"), "--wav-out", str(out)])
        p = None
        try:
            if share:
                p = Player(deck, sh.x.display, sh.ns_a, work / f"{tag}.draws", "scroll", 0, secs + 30, 1)
            sh.join()
            if share:
                sh.share()
            time.sleep(secs)
            sa, sb = sh.sharer.cli("call", "status"), sh.viewers[0].cli("call", "status")
            vid = sh.viewers[0].cli("share", "status")["watching"]
            for d in sh.daemons:
                d.cli("call", "leave")
        finally:
            if p:
                p.stop()
            sh.stop()
    finally:
        link.close()
    extra = {"share_kbps_at_viewer": round(vid[0]["kbps"], 1) if vid else None,
             "playout": [p.get("stats") for p in sb.get("participants", []) if not p.get("is_self")]}
    if kind == "pesq":
        score, n = pesq_of(work / "speech.wav", out)
        return {"pesq_wb": round(score, 2), "repetitions": n, **extra}
    lats = [l for _, l in click_latencies(sa, sb, out, 0.5)]
    return {"p50_ms": round(pct(lats, 50), 1), "p99_ms": round(pct(lats, 99), 1), "clicks": len(lats),
            "latencies_ms": [round(l, 1) for l in lats], **extra}


def step_voice(work, deck, a, run):
    r = {}
    for share in (False, True):
        r[f"share_{'on' if share else 'off'}"] = {**voice_call(work, deck, a, run, share, "pesq"),
                                                  **voice_call(work, deck, a, run, share, "latency")}
    r["p99_rise_ms"] = round(r["share_on"]["p99_ms"] - r["share_off"]["p99_ms"], 1)
    return r


def step_anchor(work, deck, a, run):
    from webrtc_video import video_call
    link = Link("va", delay=a.delay, rate=a.rate, seed=31 + run)
    try:
        return video_call(work, link, deck, a.slide_secs, a.scroll_secs, f"a{run}")
    finally:
        link.close()


def summary(runs, key_fn):
    vals = [v for v in (key_fn(r) for r in runs) if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not vals:
        return None
    return {"median": round(float(np.median(vals)), 2), "min": round(min(vals), 2), "max": round(max(vals), 2), "runs": vals}


def fmt(s):
    if not s:
        return "–"
    if s["min"] == s["max"]:
        return f"{s['median']:g}"
    return f"{s['median']:g} ({s['min']:g}–{s['max']:g})"


def get(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def table(res, a):
    runs = res["runs"]
    link_budget = 2 * a.delay  # not used by the target: one way is `delay`
    rows = [
        # (figure, apero key fn, chromium key fn, target)
        ("g2g latency p50, loopback, ms", lambda r: get(r, "loopback", "g2g_p50_ms"), None, "≤ 100"),
        ("g2g latency p99, loopback, ms", lambda r: get(r, "loopback", "g2g_p99_ms"), None, ""),
        (f"g2g latency p50, delay {a.delay}, ms (scroll)", lambda r: get(r, "link", "g2g_p50_ms"),
         lambda r: get(r, "anchor", "g2g_p50_ms"), f"≤ {a.delay + 120}"),
        (f"g2g latency p99, delay {a.delay}, ms (scroll)", lambda r: get(r, "link", "g2g_p99_ms"),
         lambda r: get(r, "anchor", "g2g_p99_ms"), ""),
        ("slide PSNR (luma, worst slide), dB", lambda r: get(r, "link", "psnr_db_min"),
         lambda r: get(r, "anchor", "psnr_db_min"), "≥ 40"),
        ("static slide, kbit/s (≥ 1 s after change)", lambda r: get(r, "link", "static_kbps"),
         lambda r: get(r, "anchor", "static_kbps"), "≤ 150"),
        ("slides incl. the change, kbit/s", lambda r: get(r, "link", "slide_kbps_with_change"),
         lambda r: get(r, "anchor", "slide_kbps_with_change"), ""),
        ("scrolling, kbit/s", lambda r: get(r, "link", "scroll_kbps"), lambda r: get(r, "anchor", "scroll_kbps"), "≤ 1500"),
        ("scroll: counters decoded per viewer / drawn", lambda r: (get(r, "link", "decoded_counters_per_viewer") or [0])[0] / max(1, get(r, "link", "drawn") or 1) * 100 if get(r, "link") else None,
         lambda r: (get(r, "anchor", "decoded_counters") or 0) / max(1, get(r, "anchor", "drawn") or 1) * 100 if get(r, "anchor", "drawn") else None, "% (info)"),
        ("CPU sharer, % of a core (scroll)", lambda r: get(r, "link", "cpu_sharer_pct"), lambda r: get(r, "anchor", "cpu_sender_pct"), "≤ 50"),
        ("CPU viewer (worst of 3), % of a core", lambda r: max(get(r, "link", "cpu_viewer_pct") or [float("nan")]),
         lambda r: get(r, "anchor", "cpu_receiver_pct"), "≤ 25"),
        ("voice PESQ-WB, share off (rate 2000)", lambda r: get(r, "voice", "share_off", "pesq_wb"), None, ""),
        ("voice PESQ-WB, share on (rate 2000)", lambda r: get(r, "voice", "share_on", "pesq_wb"), None, "≥ 3.8"),
        ("voice p99, share off, ms", lambda r: get(r, "voice", "share_off", "p99_ms"), None, ""),
        ("voice p99, share on, ms", lambda r: get(r, "voice", "share_on", "p99_ms"), None, ""),
        ("voice p99 rise with the share, ms", lambda r: get(r, "voice", "p99_rise_ms"), None, "≤ 20"),
        (f"{a.loss:g} % loss: longest gap while scrolling, ms", lambda r: get(r, "loss", "max_gap_ms"), None, "≤ 500"),
        (f"{a.loss:g} % loss: g2g p99, ms", lambda r: get(r, "loss", "g2g_p99_ms"), None, ""),
    ]
    out = ["| figure | apero | Chromium | target |", "|---|---|---|---|"]
    res["summary"] = {}
    for name, fa, fc, target in rows:
        sa = summary(runs, fa)
        sc = summary(runs, fc) if fc else None
        res["summary"][name] = {"apero": sa, "chromium": sc, "target": target}
        out.append(f"| {name} | {fmt(sa)} | {fmt(sc) if fc else 'n/a'} | {target} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delay", type=float, default=20, help="one-way delay of the link, ms (20–80)")
    ap.add_argument("--rate", type=float, default=0, help="rate cap of the link for the latency/slides/anchor steps, kbit/s (0: none)")
    ap.add_argument("--loss", type=float, default=2, help="loss of the loss step, %%")
    ap.add_argument("--viewers", type=int, default=3)
    ap.add_argument("--slide-secs", type=float, default=4)
    ap.add_argument("--scroll-secs", type=float, default=15)
    ap.add_argument("--voice-secs", type=float, default=25)
    ap.add_argument("--quick", action="store_true", help="shorter phases (debugging)")
    ap.add_argument("--only", default="", help="steps to run: " + ",".join(STEPS))
    ap.add_argument("--anchor", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--deck", default=str(ROOT / "target" / "video-deck"))
    ap.add_argument("--out", default=str(Path(__file__).parent / f"results-video-{time.strftime('%Y-%m-%d-%H%M')}.json"))
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.quick:
        a.slide_secs, a.scroll_secs, a.voice_secs = 3, 8, 22
    steps = [s for s in STEPS if not a.only or s in a.only.split(",")]
    if not a.anchor and "anchor" in steps:
        steps.remove("anchor")
    deck = Path(a.deck)
    if not (deck / "page.png").exists():
        subprocess.run(["bash", str(ROOT / "bench" / "video_deck.sh"), str(deck)], check=True)
    if not PLAYER.exists():
        raise SystemExit(f"{PLAYER} missing: cargo build --release -p aperod --example deck_player")
    work = Path(tempfile.mkdtemp(prefix="apero-video-"))
    speech(work / "speech.wav", lib.PHRASE)
    silence(work / "silence.wav")
    clicks(work / "clicks.wav")
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "settings": vars(a), "anchor": None,
           "loadavg_start": loadavg(), "runs": []}
    fns = {"loopback": step_loopback, "link": step_link, "voice": step_voice, "loss": step_loss, "anchor": step_anchor}
    for run in range(a.runs):
        r = {}
        res["runs"].append(r)
        for s in steps:
            t = time.time()
            l0 = loadavg()
            try:
                r[s] = fns[s](work, deck, a, run)
            except Exception as e:
                r[s] = {"error": f"{type(e).__name__}: {e}"[:2000]}
            r[s]["loadavg_before"] = l0
            r[s]["loadavg_after"] = loadavg()
            if s == "anchor" and "anchor_kind" in r[s]:
                res["anchor"] = r[s]["anchor_kind"]
            print(f"run {run + 1} {s}: {json.dumps(r[s])} ({time.time() - t:.0f} s)", flush=True)
            Path(a.out).write_text(json.dumps(res, indent=2))
    res["loadavg_end"] = loadavg()
    t = table(res, a)
    res["table"] = t
    Path(a.out).write_text(json.dumps(res, indent=2))
    print()
    print(f"Anchor: {res['anchor'] or 'none'}; load average at start {' '.join(res['loadavg_start'])}, "
          f"at end {' '.join(res['loadavg_end'])}; link delay {a.delay:g} ms; {a.runs} run(s): median (min–max).")
    print(t)
    print(f"\nwritten to {a.out}; work dir {work}")


if __name__ == "__main__":
    sys.exit(main())
