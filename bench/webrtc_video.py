#!/usr/bin/env python3
"""Chromium's WebRTC as the anchor of the screen-sharing benchmark (bench/video.py).

Screen capture (getDisplayMedia) does not work in this headless Chromium
under Xvfb (NotReadableError), so page A sends what a screen share of the
deck would: a 1920×1080 canvas with the same PNGs drawn with the same
timing as daemon/examples/deck_player.rs (each slide once, then the page
scrolling 12 px a frame at 15 fps) and the same 16-cell frame counter,
captured with canvas.captureStream(15), track.contentHint = "detail" (what
Chrome sets for a shared screen of text), sent over RTCPeerConnection at
Chrome's defaults to page B in the other namespace. Page B takes every
decoded frame (MediaStreamTrackProcessor), reads its counter (glass-to-glass:
its arrival minus A's draw time), and, once a slide stayed >= 1 s, the luma
PSNR of the latest frame against the slide (same formula as aperod's psnr).
Bitrate from A's getStats (outbound-rtp bytesSent), CPU from /proc over
each browser's process group.

The browser driving (chromedriver over plain HTTP, a page server, the
SDP exchange through files) is bench/webrtc.py's.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import webrtc
from webrtc import Browser, _kill_group, check_browser, wait_file, write_atomic

PAGE_HTML = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>apero bench: WebRTC screen anchor</title></head>
<body style="margin:0;background:#000">
<script>
"use strict";
let pc = null, canvas = null, ctx = null, imgs = {}, draws = [], stats = [], got = [], snaps = [];
let n = 1, done = false, last = null, lastCounter = -1;
const W = 1920, H = 1080;

function withTimeout(p, ms, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(what + " timed out after " + ms + " ms")), ms))]);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function load() {
  for (const name of ["slide0", "slide1", "slide2", "slide3", "page"]) {
    const img = new Image();
    img.src = name + ".png";
    await img.decode();
    imgs[name] = img;
  }
}

function writeCounter(c, v) {
  for (let bit = 0; bit < 16; bit++) {
    c.fillStyle = (v >> bit) & 1 ? "#ffffff" : "#000000";
    c.fillRect(bit * 16, 0, 16, 16);
  }
}

async function init(role) {
  await load();
  pc = new RTCPeerConnection({iceServers: []});
  if (role === "a") {
    canvas = document.createElement("canvas");
    canvas.width = W; canvas.height = H;
    document.body.appendChild(canvas);
    ctx = canvas.getContext("2d", {alpha: false});
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, W, H);
    const stream = canvas.captureStream(15);
    const track = stream.getVideoTracks()[0];
    track.contentHint = "detail";
    pc.addTrack(track, stream);
  } else {
    canvas = new OffscreenCanvas(W, H);
    ctx = canvas.getContext("2d", {willReadFrequently: true});
    pc.ontrack = (ev) => receive(ev.track);
  }
  return true;
}

function gathered(ms) {
  return withTimeout(new Promise((res) => {
    if (pc.iceGatheringState === "complete") return res();
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") res(); });
  }), ms, "ICE gathering");
}
async function makeOffer() { await pc.setLocalDescription(await pc.createOffer()); await gathered(15000); return pc.localDescription.sdp; }
async function makeAnswer(sdp) {
  await pc.setRemoteDescription({type: "offer", sdp});
  await pc.setLocalDescription(await pc.createAnswer()); await gathered(15000); return pc.localDescription.sdp;
}
async function accept(sdp) { await pc.setRemoteDescription({type: "answer", sdp}); }
function connected(ms) {
  return withTimeout(new Promise((res, rej) => {
    const check = () => {
      if (pc.connectionState === "connected") res(pc.connectionState);
      else if (pc.connectionState === "failed" || pc.connectionState === "closed") rej(new Error("connection " + pc.connectionState));
    };
    pc.addEventListener("connectionstatechange", check); check();
  }), ms, "ICE/DTLS connection");
}

// A: the deck, as deck_player shows it.
function draw(img, top, what) {
  ctx.drawImage(img, 0, top, W, H, 0, 0, W, H);
  writeCounter(ctx, n & 0xffff);
  draws.push([n & 0xffff, Date.now() * 1000, what]);
  n++;
}
async function sample() {
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video")
      stats.push([Date.now() * 1000, s.bytesSent, s.headerBytesSent || 0, s.framesEncoded, s.frameWidth, s.frameHeight,
                  s.qualityLimitationReason, s.encoderImplementation, s.qpSum, s.framesSent]);
  });
}
async function play(slides, slideSecs, scrollSecs, fps, step) {
  const iv = setInterval(sample, 250);
  // Something moving first, as the apero share starts on a black screen and waits for a first picture.
  // Each slide drawn once (logged), then repainted unchanged at 15 fps as a
  // screen capturer delivers frames: a canvas track sends nothing while it
  // is not painted, and a lost first frame would then never be refined.
  for (const s of slides) {
    draw(imgs["slide" + s], 0, "slide" + s);
    const t0 = performance.now(), c = (n - 1) & 0xffff;
    while (performance.now() - t0 < slideSecs * 1000 - 70) {
      await sleep(1000 / 15);
      ctx.drawImage(imgs["slide" + s], 0, 0);
      writeCounter(ctx, c);
    }
  }
  const t0 = performance.now(), frames = Math.round(scrollSecs * fps), span = imgs.page.height - H;
  let top = 0;
  for (let k = 0; k < frames; k++) {
    const wait = t0 + k * 1000 / fps - performance.now();
    if (wait > 0) await sleep(wait);
    draw(imgs.page, top, "page:" + top);
    top = top + step > span ? 0 : top + step;
  }
  await sleep(1500);
  clearInterval(iv);
  await sample();
  done = true;
}
function start(slides, slideSecs, scrollSecs, fps, step) { play(slides, slideSecs, scrollSecs, fps, step); return true; }
async function warm(secs) {
  // A moving picture before the measured part, so the bandwidth estimate has started (apero's share starts the same way: first picture, then the deck).
  const t0 = performance.now();
  while (performance.now() - t0 < secs * 1000) { draw(imgs.page, 0, "warm"); await sleep(66); }
  return true;
}

// B: every decoded frame.
async function receive(track) {
  const reader = new MediaStreamTrackProcessor({track}).readable.getReader();
  const rect = {x: 0, y: 0, width: 256, height: 16};
  for (;;) {
    const {value: f, done: end} = await reader.read();
    if (end) break;
    const t = Date.now() * 1000;
    let c = -1;
    try {
      const buf = new Uint8Array(f.allocationSize({rect}));
      const layout = await f.copyTo(buf, {rect});
      c = 0;
      for (let bit = 0; bit < 16; bit++) {
        const v = f.format.startsWith("RGB") || f.format.startsWith("BGR")
          ? buf[layout[0].offset + 8 * layout[0].stride + (bit * 16 + 8) * 4 + 1]
          : buf[layout[0].offset + 8 * layout[0].stride + bit * 16 + 8];
        if (v > 128) c |= 1 << bit;
      }
    } catch (e) { c = -2; }
    got.push([t, c, f.codedWidth, f.codedHeight]);
    if (last) last.close();
    last = f; lastCounter = c;
  }
}
function psnrOf(slide) {
  if (!last) return null;
  ctx.drawImage(last, 0, 0, W, H);
  const a = ctx.getImageData(0, 0, W, H).data;
  const ref = new OffscreenCanvas(W, H), rc = ref.getContext("2d", {willReadFrequently: true});
  rc.drawImage(imgs[slide], 0, 0);
  writeCounter(rc, lastCounter);
  const b = rc.getImageData(0, 0, W, H).data;
  let se = 0;
  for (let i = 0; i < a.length; i += 4) {
    const la = 0.299 * a[i] + 0.587 * a[i + 1] + 0.114 * a[i + 2];
    const lb = 0.299 * b[i] + 0.587 * b[i + 1] + 0.114 * b[i + 2];
    se += (la - lb) * (la - lb);
  }
  const mse = se / (W * H);
  const db = mse < 1e-10 ? 99 : 10 * Math.log10(255 * 255 / mse);
  snaps.push([Date.now() * 1000, slide, lastCounter, db, last.codedWidth, last.codedHeight]);
  return {db, counter: lastCounter};
}
async function inbound() {
  const out = [];
  (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") out.push(s); });
  return JSON.stringify(out);
}
function drawsSince(i) { return JSON.stringify(draws.slice(i)); }
function isDone() { return done; }
function results() { return JSON.stringify({draws, stats, got, snaps}); }
</script></body></html>
"""


def group_cpu(pgid):
    """CPU seconds of every process in process group `pgid`."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            f = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[2]) == pgid:
            total += (int(f[11]) + int(f[12])) / tck
    return total


def side(role, d, wav, slide_secs, scroll_secs):
    b = Browser(role, d, wav)
    try:
        b.js("init(arguments[0])", role)
        if role == "a":
            write_atomic(d / "offer.sdp", b.js("makeOffer()"))
            b.js("accept(arguments[0])", wait_file(d / "answer.sdp", 60, "B's answer"))
            b.js("connected(20000)", timeout=30)
            b.js("warm(3)", timeout=30)
            write_atomic(d / "a.started", str(time.time()))
            b.js("start([0, 1, 2, 3], arguments[0], arguments[1], 15, 12)", slide_secs, scroll_secs)
            seen = 0
            with open(d / "draws.jsonl", "a") as out:
                while not b.js("isDone()"):
                    new = json.loads(b.js("drawsSince(arguments[0])", seen))
                    seen += len(new)
                    for x in new:
                        out.write(json.dumps(x) + "\n")
                    out.flush()
                    time.sleep(0.1)
            write_atomic(d / "a-results.json", b.js("results()"))
            write_atomic(d / "a.done", "")
            wait_file(d / "stop", 60, "the end of the call")
        else:
            offer = wait_file(d / "offer.sdp", 60, "A's offer")
            write_atomic(d / "answer.sdp", b.js("makeAnswer(arguments[0])", offer))
            b.js("connected(20000)", timeout=30)
            done = set()
            while not (d / "a.done").exists():
                lines = (d / "draws.jsonl").read_text().splitlines() if (d / "draws.jsonl").exists() else []
                for line in lines:
                    c, t, what = json.loads(line)
                    if what.startswith("slide") and c not in done and time.time() >= t / 1e6 + max(1.0, slide_secs - 0.6):
                        done.add(c)
                        b.js("psnrOf(arguments[0])", what)
                time.sleep(0.05)
            time.sleep(1.0)
            r = json.loads(b.js("results()"))
            r["inbound"] = json.loads(b.js("inbound()"))
            write_atomic(d / "b-results.json", json.dumps(r))
            write_atomic(d / "b.done", "")
    finally:
        b.close()


def video_call(work, link, deck, slide_secs, scroll_secs, tag="v"):
    """The deck from page A (link.a) to page B (link.b); returns the same
    figures as bench/video.py's apero steps."""
    import numpy as np
    check_browser()
    work = Path(work).resolve()
    d = work / f"webrtc-video-{tag}"
    shutil.rmtree(d, ignore_errors=True)
    (d / "page").mkdir(parents=True)
    (d / "page" / "page.html").write_text(PAGE_HTML)
    for name in ("slide0", "slide1", "slide2", "slide3", "page"):
        shutil.copy(Path(deck) / f"{name}.png", d / "page" / f"{name}.png")
    wav = work / "silence.wav"
    procs, logs = {}, []
    cpu = {}
    try:
        for role, ns in (("a", link.a), ("b", link.b)):
            log = open(d / f"side-{role}.log", "w")
            logs.append(log)
            procs[role] = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, str(Path(__file__).resolve()), "--side", role,
                 "--dir", str(d), "--wav", str(wav), "--slide-secs", str(slide_secs), "--scroll-secs", str(scroll_secs)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.time() + 4 * slide_secs + scroll_secs + 120
        scroll_cpu0 = None
        while not (d / "b.done").exists():
            for role, p in procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"WebRTC side {role} exited ({p.returncode}): {(d / f'side-{role}.log').read_text()[-3000:]}")
            # CPU over the scroll: from the first page draw to the end.
            if scroll_cpu0 is None and (d / "draws.jsonl").exists() and '"page:' in (d / "draws.jsonl").read_text():
                scroll_cpu0 = (time.time(), {r: group_cpu(p.pid) for r, p in procs.items()})
            if scroll_cpu0 is not None and "t1" not in cpu and (d / "a.done").exists():
                t1 = time.time()
                cpu = {"t1": t1, **{r: 100 * (group_cpu(p.pid) - scroll_cpu0[1][r]) / (t1 - scroll_cpu0[0]) for r, p in procs.items()}}
            if time.time() > end:
                raise TimeoutError(f"the WebRTC video call did not finish; see {d}")
            time.sleep(0.1)
        write_atomic(d / "stop", "")
        procs["a"].wait(30)
        a = json.loads((d / "a-results.json").read_text())
        b = json.loads((d / "b-results.json").read_text())
    finally:
        for p in procs.values():
            _kill_group(p)
        for log in logs:
            log.close()
    return figures(a, b, cpu, slide_secs)


def figures(a, b, cpu, slide_secs):
    import numpy as np
    draws = [(c, t, w) for c, t, w in a["draws"] if w != "warm"]
    drawn = {}
    for c, t, _ in draws:
        drawn.setdefault(c, t)
    first = {}
    for t, c, *_ in b["got"]:
        if c >= 0:
            first.setdefault(c, t)
    lat = {c: (first[c] - drawn[c]) / 1000 for c in first if c in drawn and first[c] >= drawn[c]}
    page = [c for c, _, w in draws if w.startswith("page")]
    slides = [(c, t, w) for c, t, w in draws if w.startswith("slide")]
    scroll_lat = [lat[c] for c in page if c in lat]
    slide_counter = {}
    for c, _, w in slides:
        slide_counter.setdefault(w, set()).add(c)
    stats = a["stats"]

    def sent_kbps(t0, t1):
        # bytesSent between the samples nearest the window's ends.
        s = [x for x in stats if t0 <= x[0] <= t1]
        if len(s) < 2:
            return None
        return 8 * (s[-1][1] - s[0][1]) / 1000 / ((s[-1][0] - s[0][0]) / 1e6)

    static, with_change = [], []
    for i, (c, t, w) in enumerate(slides):
        t_next = slides[i + 1][1] if i + 1 < len(slides) else (page and drawn[page[0]]) or t + int(slide_secs * 1e6)
        static.append(sent_kbps(t + 1_000_000, t_next))
        with_change.append(sent_kbps(t - 300_000, t_next))
    t0, t1 = drawn[page[0]], drawn[page[-1]]
    pct = lambda v, q: float(np.percentile(v, q)) if v else float("nan")
    gaps = sorted(t for t, c, *_ in b["got"] if t0 + 1_000_000 <= t <= t1)
    last = [s for s in stats if s[0] <= t1][-1] if stats else None
    return {
        "anchor_kind": "Chromium WebRTC, canvas.captureStream(15) of the deck (contentHint detail), headless, "
                       "getDisplayMedia unavailable under Xvfb",
        "g2g_p50_ms": round(pct(scroll_lat, 50), 1), "g2g_p99_ms": round(pct(scroll_lat, 99), 1), "g2g_n": len(scroll_lat),
        "drawn": len(page), "decoded_counters": len([c for c in page if c in first]),
        "slide_change_g2g_ms": [round(lat[c], 1) for c, _, _ in slides if c in lat],
        # A snapshot whose counter is not its slide's (that slide never arrived) counts as 0 dB.
        "psnr_db": [round(s[3], 2) if s[2] in slide_counter.get(s[1], ()) else 0.0 for s in b["snaps"]],
        "psnr_db_min": min(round(s[3], 2) if s[2] in slide_counter.get(s[1], ()) else 0.0 for s in b["snaps"]) if b["snaps"] else None,
        "snap_counters": [[s[1], s[2]] for s in b["snaps"]],
        "snap_sizes": [f"{s[4]}x{s[5]}" for s in b["snaps"]],
        "static_kbps": round(float(np.mean([x for x in static if x is not None])), 1) if any(x is not None for x in static) else None,
        "slide_kbps_with_change": round(float(np.mean([x for x in with_change if x is not None])), 1) if any(x is not None for x in with_change) else None,
        "scroll_kbps": round(sent_kbps(t0, t1), 1) if sent_kbps(t0, t1) is not None else None,
        "max_gap_ms": round(max(y - x for x, y in zip([t0 + 1_000_000] + gaps, gaps + [t1])) / 1000, 1),
        "cpu_sender_pct": round(cpu.get("a", float("nan")), 1), "cpu_receiver_pct": round(cpu.get("b", float("nan")), 1),
        "encoder": last[7] if last else None, "frame_size_end": f"{last[4]}x{last[5]}" if last else None,
        "quality_limitation": last[6] if last else None,
        "received_sizes": sorted({f"{g[2]}x{g[3]}" for g in b["got"]}),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", choices=("a", "b"))
    ap.add_argument("--dir")
    ap.add_argument("--wav")
    ap.add_argument("--slide-secs", type=float, default=4)
    ap.add_argument("--scroll-secs", type=float, default=15)
    args = ap.parse_args()
    if not args.side:
        ap.print_help()
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        side(args.side, Path(args.dir), args.wav, args.slide_secs, args.scroll_secs)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
