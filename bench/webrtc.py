#!/usr/bin/env python3
"""Chromium's WebRTC as the anchor for apero's voice benchmark.

Two headless Chromium instances, one in each of a Link's namespaces, make a
plain browser call (RTCPeerConnection, no STUN/TURN: host candidates on
10.77.9.x only, so the media crosses delaylink). Page A's microphone is
Chromium's fake capture device playing the speech phrase (looped); page B's
plays silence, and page B records what it hears from A with WebAudio, raw
48 kHz PCM, no re-encoding. Everything is left at Chrome's defaults: Opus
with in-band FEC as Chrome offers it, NetEq, no field trials, i.e. what a
user of a browser call (Jitsi, Discord in the browser) gets.

Each side is driven by this file run as a subprocess inside its namespace
(`--side a|b`): it starts chromedriver on the namespace's own loopback,
speaks plain HTTP WebDriver to it, serves the page from 127.0.0.1 and does
the signalling (non-trickle SDP offer/answer) through files in the call's
work directory.

    sudo /opt/apero-bench-venv/bin/python bench/webrtc.py --selftest

Needs root, Debian's chromium and chromium-driver
(apt-get install chromium chromium-driver), espeak-ng and sox for the phrase.
"""

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import wave
from pathlib import Path

CHROMIUM = os.environ.get("APERO_BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("APERO_BENCH_CHROMEDRIVER", "/usr/bin/chromedriver")
RATE = 48_000

# The pages. Kept to what a browser call does: getUserMedia with the audio
# processing off (the bench feeds clean speech, as apero's wav backend does),
# one audio track each way, createOffer/createAnswer with no SDP munging.
#
# Opus in this Chromium (156): the offer has `opus/48000/2` with
# `a=fmtp:111 minptime=10;useinbandfec=1` first, and also lists
# `red/48000/2` (RFC 2198 redundancy, `fmtp 111/111`) *after* opus: RED is
# offered by default but, being listed second, it is not what gets sent; a
# page has to reorder the codecs (setCodecPreferences) to use it, which
# browser-call services don't by default. We leave it as it is. The SDP
# lines actually negotiated are returned in the stats (`offer_audio_codecs`,
# `codec`) so a newer Chromium that changes this shows up in the results.
PAGE_HTML = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>apero bench: WebRTC anchor</title></head>
<body>
<audio id="remote" autoplay playsinline></audio>
<script>
"use strict";
let pc = null, local = null, remote = null, ctx = null, recNode = null;
let chunks = [], pcm16 = null;

function withTimeout(p, ms, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(what + " timed out after " + ms + " ms")), ms))]);
}

async function init(role) {
  local = await navigator.mediaDevices.getUserMedia({
    audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false},
    video: false,
  });
  pc = new RTCPeerConnection({iceServers: []});
  for (const t of local.getTracks()) pc.addTrack(t, local);
  pc.ontrack = (ev) => {
    remote = ev.streams[0] || new MediaStream([ev.track]);
    // Chrome only pulls a remote WebRTC track's audio out of NetEq while
    // the track plays somewhere: without a media element WebAudio gets
    // silence. Muted is enough (checked with this Chromium).
    const el = document.getElementById("remote");
    el.muted = true;
    el.srcObject = remote;
    el.play().catch(() => {});
  };
  const t = local.getAudioTracks()[0];
  return {label: t.label, settings: t.getSettings()};
}

function gathered(ms) {
  return withTimeout(new Promise((res) => {
    if (pc.iceGatheringState === "complete") return res();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") res();
    });
  }), ms, "ICE gathering");
}

async function makeOffer() {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(15000);
  return pc.localDescription.sdp;
}

async function makeAnswer(sdp) {
  await pc.setRemoteDescription({type: "offer", sdp});
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(15000);
  return pc.localDescription.sdp;
}

async function accept(sdp) {
  await pc.setRemoteDescription({type: "answer", sdp});
}

function connected(ms) {
  return withTimeout(new Promise((res, rej) => {
    const check = () => {
      if (pc.connectionState === "connected") res(pc.connectionState);
      else if (pc.connectionState === "failed" || pc.connectionState === "closed") rej(new Error("connection " + pc.connectionState));
    };
    pc.addEventListener("connectionstatechange", check);
    check();
  }), ms, "ICE/DTLS connection");
}

async function startRecording() {
  if (!remote) {
    await withTimeout(new Promise((res) => {
      const iv = setInterval(() => { if (remote) { clearInterval(iv); res(); } }, 50);
    }), 10000, "remote track");
  }
  ctx = new AudioContext({sampleRate: 48000});
  await ctx.audioWorklet.addModule("rec.js");
  const src = ctx.createMediaStreamSource(remote);
  recNode = new AudioWorkletNode(ctx, "rec", {numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1]});
  recNode.port.onmessage = (e) => { if (e.data instanceof Float32Array) chunks.push(e.data); };
  src.connect(recNode);
  recNode.connect(ctx.destination);  // outputs zeros; keeps the node pulled
  await ctx.resume();
  return {state: ctx.state, sampleRate: ctx.sampleRate};
}

async function stopRecording() {
  await withTimeout(new Promise((res) => {
    const prev = recNode.port.onmessage;
    recNode.port.onmessage = (e) => { if (e.data === "stopped") res(); else prev(e); };
    recNode.port.postMessage("stop");
  }), 10000, "stopping the recorder");
  let n = 0;
  for (const c of chunks) n += c.length;
  pcm16 = new Int16Array(n);
  let i = 0, peak = 0;
  for (const c of chunks) {
    for (let k = 0; k < c.length; k++) {
      const v = Math.max(-1, Math.min(1, c[k]));
      peak = Math.max(peak, Math.abs(v));
      pcm16[i++] = Math.round(v * 32767);
    }
  }
  chunks = [];
  await ctx.close();
  return {samples: n, peak};
}

function pcmChunk(off, n) {
  const view = new Uint8Array(pcm16.buffer, off * 2, Math.max(0, Math.min(n, pcm16.length - off)) * 2);
  let s = "";
  for (let k = 0; k < view.length; k += 8192) s += String.fromCharCode.apply(null, view.subarray(k, k + 8192));
  return btoa(s);
}

// Resolves once audio packets from the other side have arrived.
function receiving(ms) {
  return withTimeout(new Promise((res) => {
    const iv = setInterval(async () => {
      let n = 0;
      (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") n = s.packetsReceived; });
      if (n > 0) { clearInterval(iv); res(n); }
    }, 50);
  }), ms, "first audio packets");
}

async function stats() {
  const out = [];
  (await pc.getStats()).forEach((s) => out.push(s));
  return JSON.stringify(out);
}
</script></body></html>
"""

# The recorder: downmixes to mono and posts 100 ms blocks; when the input
# has no channels (nothing connected yet) it records zeros so the timeline
# stays continuous.
REC_JS = r"""
class Rec extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buf = new Float32Array(4800);
    this.n = 0;
    this.on = true;
    this.port.onmessage = (e) => {
      if (e.data === "stop") { this.flush(); this.on = false; this.port.postMessage("stopped"); }
    };
  }
  flush() {
    if (this.n) { this.port.postMessage(this.buf.slice(0, this.n)); this.n = 0; }
  }
  process(inputs) {
    if (!this.on) return false;
    const chans = inputs[0];
    const len = chans.length ? chans[0].length : 128;
    for (let i = 0; i < len; i++) {
      let v = 0;
      for (const c of chans) v += c[i];
      if (chans.length) v /= chans.length;
      this.buf[this.n++] = v;
      if (this.n === this.buf.length) this.flush();
    }
    return true;
  }
}
registerProcessor("rec", Rec);
"""


def chromium_args(profile, wav):
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server", f"--user-data-dir={profile}",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]


def check_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        raise RuntimeError(f"the WebRTC anchor needs Chromium and its driver, missing: {', '.join(missing)}; "
                           "install them with: apt-get install -y chromium chromium-driver")


def write_atomic(path, text):
    tmp = Path(f"{path}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def wait_file(path, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if path.exists():
            return path.read_text()
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} ({path.name})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Plain HTTP WebDriver; no proxies, whatever the environment says.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wd(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with _http.open(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}").get("value")
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        try:
            v = json.loads(detail)["value"]
            detail = f"{v.get('error')}: {v.get('message', '')[:1500]}"
        except Exception:
            detail = detail[:1500]
        raise RuntimeError(f"WebDriver {method} {url.rsplit('/', 1)[-1]}: {detail}") from None


class Browser:
    """chromedriver + one headless Chromium in the current namespace."""

    def __init__(self, role, d, wav):
        self.role = role
        # A fresh profile, and a TMPDIR (and runtime dir, for its PulseAudio
        # client) of its own: Chromium leaves scoped dirs in /tmp when killed.
        self.base = tempfile.mkdtemp(prefix=f"apb-chromium-{role}-", dir="/tmp")
        self.profile = os.path.join(self.base, "profile")
        tmp = os.path.join(self.base, "tmp")
        os.mkdir(self.profile)
        os.mkdir(tmp)
        self.driver = self.sid = self.httpd = None
        try:
            handler = functools.partial(QuietHandler, directory=str(d / "page"))
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
            port = free_port()
            self.wd = f"http://127.0.0.1:{port}"
            self.driver = subprocess.Popen(
                [CHROMEDRIVER, f"--port={port}", f"--log-path={d / f'chromedriver-{role}.log'}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "TMPDIR": tmp, "XDG_RUNTIME_DIR": tmp})
            end = time.time() + 20
            while True:
                try:
                    if (wd("GET", f"{self.wd}/status", timeout=2) or {}).get("ready"):
                        break
                except (OSError, RuntimeError):
                    pass
                if self.driver.poll() is not None or time.time() > end:
                    raise RuntimeError(f"chromedriver did not start (exit {self.driver.poll()})")
                time.sleep(0.1)
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": chromium_args(self.profile, wav)},
            }}}
            self.sid = wd("POST", f"{self.wd}/session", caps, timeout=60)["sessionId"]
            wd("POST", self.url("timeouts"), {"script": 60_000, "pageLoad": 30_000})
            wd("POST", self.url("url"), {"url": f"http://127.0.0.1:{self.httpd.server_address[1]}/page.html"})
        except BaseException:
            self.close()
            raise

    def url(self, what):
        return f"{self.wd}/session/{self.sid}/{what}"

    def js(self, expr, *args, timeout=70):
        """Evaluates `expr` (a call into the page; promises are awaited)."""
        return wd("POST", self.url("execute/sync"), {"script": f"return {expr};", "args": list(args)}, timeout=timeout)

    def close(self):
        if self.sid:
            try:
                wd("DELETE", f"{self.wd}/session/{self.sid}", timeout=15)
            except Exception:
                pass
        if self.driver and self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(5)
            except subprocess.TimeoutExpired:
                self.driver.kill()
        if self.httpd:
            self.httpd.shutdown()
        shutil.rmtree(self.base, ignore_errors=True)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def side(role, d, wav, secs):
    """One end of the call, run inside its namespace."""
    b = Browser(role, d, wav)
    try:
        b.js("init(arguments[0])", role)
        if role == "a":
            write_atomic(d / "offer.sdp", b.js("makeOffer()"))
            b.js("accept(arguments[0])", wait_file(d / "answer.sdp", 60, "B's answer"))
            b.js("connected(20000)", timeout=30)
            s0 = (time.time(), b.js("stats()"))
            write_atomic(d / "a.connected", "")
            wait_file(d / "stop", secs + 90, "the end of the call")
            s1 = (time.time(), b.js("stats()"))
            write_atomic(d / "a-stats.json", json.dumps({"start": s0, "end": s1}))
        else:
            offer = wait_file(d / "offer.sdp", 60, "A's offer")
            write_atomic(d / "answer.sdp", b.js("makeAnswer(arguments[0])", offer))
            b.js("connected(20000)", timeout=30)
            b.js("receiving(10000)", timeout=20)
            rec = b.js("startRecording()")
            if rec["state"] != "running" or rec["sampleRate"] != RATE:
                raise RuntimeError(f"AudioContext not usable: {rec}")
            s0 = (time.time(), b.js("stats()"))
            time.sleep(secs)
            s1 = (time.time(), b.js("stats()"))
            info = b.js("stopRecording()")
            pcm, step = bytearray(), 240_000
            for off in range(0, info["samples"], step):
                pcm += base64.b64decode(b.js("pcmChunk(arguments[0], arguments[1])", off, step))
            with wave.open(str(d / "b-received.wav"), "w") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(bytes(pcm))
            write_atomic(d / "b-stats.json", json.dumps({"start": s0, "end": s1, "recording": info,
                                                          "offer": offer}))
            write_atomic(d / "b.done", "")
    finally:
        b.close()


def _kill_group(p, grace=5):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)  # chromium's helpers, should any be left
    except ProcessLookupError:
        pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass


def _by_type(reports, kind):
    return [r for r in reports if r.get("type") == kind and r.get("kind", "audio") == "audio"]


def summarise(a, b):
    """The figures we keep from both pages' getStats()."""
    b_end = json.loads(b["end"][1])
    inb = _by_type(b_end, "inbound-rtp")[0]
    inb0 = (_by_type(json.loads(b["start"][1]), "inbound-rtp") or [{}])[0]
    out = {k: inb.get(k) for k in (
        "packetsReceived", "packetsLost", "packetsDiscarded", "fecPacketsReceived", "fecPacketsDiscarded",
        "jitter", "totalSamplesReceived", "concealedSamples", "silentConcealedSamples", "concealmentEvents",
        "insertedSamplesForDeceleration", "removedSamplesForAcceleration",
        "jitterBufferDelay", "jitterBufferTargetDelay", "jitterBufferMinimumDelay", "jitterBufferEmittedCount")}
    total = max(1, inb.get("totalSamplesReceived", 0))
    # packetsReceived also counts the padding-only packets Chrome sends (to
    # probe the bandwidth, it seems) once it sees loss (A's packetsSent goes from 50/s to
    # ~60/s at 5 % loss, bytesSent does not change), so this is a little under
    # the link's loss; remote-inbound-rtp fractionLost on A agrees with the link.
    got = inb.get("packetsReceived", 0) + inb.get("packetsLost", 0)
    out["loss_pct"] = round(100 * inb.get("packetsLost", 0) / max(1, got), 2)
    out["concealed_pct"] = round(100 * inb.get("concealedSamples", 0) / total, 2)
    out["stretched_pct"] = round(100 * (inb.get("insertedSamplesForDeceleration", 0)
                                        + inb.get("removedSamplesForAcceleration", 0)) / total, 2)
    # Mean over the recording window (the start of the call has the buffer still settling).
    de = inb.get("jitterBufferDelay", 0) - inb0.get("jitterBufferDelay", 0)
    dn = inb.get("jitterBufferEmittedCount", 0) - inb0.get("jitterBufferEmittedCount", 0)
    out["jitter_buffer_ms"] = round(1000 * de / dn, 1) if dn else None
    out["jitter_buffer_ms_whole_call"] = (round(1000 * inb["jitterBufferDelay"] / inb["jitterBufferEmittedCount"], 1)
                                          if inb.get("jitterBufferEmittedCount") else None)
    (t0, a0), (t1, a1) = a["start"], a["end"]
    o0, o1 = _by_type(json.loads(a0), "outbound-rtp")[0], _by_type(json.loads(a1), "outbound-rtp")[0]
    dt = max(1e-3, (o1["timestamp"] - o0["timestamp"]) / 1000)
    out["send_kbps"] = round(8 * (o1["bytesSent"] - o0["bytesSent"]) / 1000 / dt, 1)
    out["send_kbps_with_headers"] = round(8 * (o1["bytesSent"] + o1.get("headerBytesSent", 0) - o0["bytesSent"]
                                               - o0.get("headerBytesSent", 0)) / 1000 / dt, 1)
    codecs = {c["id"]: c for c in b_end if c.get("type") == "codec"}
    c = codecs.get(inb.get("codecId"), {})
    out["codec"] = f"{c.get('mimeType')} {c.get('sdpFmtpLine', '')}".strip()
    out["offer_audio_codecs"] = [l.split(" ", 1)[1] for l in b["offer"].splitlines() if l.startswith("a=rtpmap:")]
    out["recorded_s"] = round(b["recording"]["samples"] / RATE, 2)
    return out


def webrtc_call(work, link, phrase_wav, secs, tag="w", timeout=None):
    """Page A (namespace link.a) speaks phrase_wav (looped) to page B
    (link.b) for `secs` seconds. Returns (path of a 48 kHz mono 16-bit wav of
    what B received, dict of getStats figures).

    Chromium's fake microphone starts the phrase when page A opens it, seconds
    before B records, so B's recording begins anywhere in the phrase: pesq_of
    (which skips 2 s, then looks for a full repetition in the next two phrase
    lengths) needs secs >= 2 + 2 x phrase; shorter calls are refused."""
    check_browser()
    with wave.open(str(phrase_wav)) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"{phrase_wav}: need a 48 kHz mono 16-bit PCM wav for Chromium's fake capture")
        phrase_s = w.getnframes() / RATE
    if secs < 2.5 + 2 * phrase_s:
        raise ValueError(f"webrtc_call: {secs} s is too short to score a {phrase_s:.1f} s phrase that starts "
                         f"anywhere; use at least {2.5 + 2 * phrase_s:.0f} s")
    work = Path(work).resolve()
    d = work / f"webrtc-{tag}"
    shutil.rmtree(d, ignore_errors=True)
    (d / "page").mkdir(parents=True)
    (d / "page" / "page.html").write_text(PAGE_HTML)
    (d / "page" / "rec.js").write_text(REC_JS)
    # 16-bit PCM wav: Chromium's fake capture reads PCM wav and loops it.
    a_in = d / "a-in.wav"
    shutil.copy(phrase_wav, a_in)
    b_in = d / "b-in.wav"
    with wave.open(str(b_in), "w") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(2 * RATE))
    timeout = timeout or secs + 120
    procs = {}
    logs = []
    try:
        for role, ns, wav in (("a", link.a, a_in), ("b", link.b, b_in)):
            log = open(d / f"side-{role}.log", "w")
            logs.append(log)
            procs[role] = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, str(Path(__file__).resolve()), "--side", role,
                 "--dir", str(d), "--wav", str(wav), "--secs", str(secs)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.time() + timeout
        while not (d / "b.done").exists():
            for role, p in procs.items():
                if p.poll() is not None and not (role == "b" and (d / "b.done").exists()):
                    raise RuntimeError(f"WebRTC side {role} exited ({p.returncode}): "
                                       f"{(d / f'side-{role}.log').read_text()[-3000:]}")
            if time.time() > end:
                raise TimeoutError(f"WebRTC call did not finish within {timeout:.0f} s; see {d}")
            time.sleep(0.1)
        write_atomic(d / "stop", "")
        try:
            procs["a"].wait(30)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"WebRTC side a did not finish; see {d / 'side-a.log'}") from None
        if procs["a"].returncode != 0:
            raise RuntimeError(f"WebRTC side a failed: {(d / 'side-a.log').read_text()[-3000:]}")
        procs["b"].wait(30)
        a = json.loads((d / "a-stats.json").read_text())
        b = json.loads((d / "b-stats.json").read_text())
        return d / "b-received.wav", summarise(a, b)
    finally:
        for p in procs.values():
            _kill_group(p)
        for log in logs:
            log.close()


def selftest(args):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lib import PHRASE, Link, pesq_of, speech
    work = Path(tempfile.mkdtemp(prefix="apero-webrtc-"))
    speech(work / "speech.wav", PHRASE)
    print(f"work dir {work}", flush=True)
    cases = [(0, 0), (5, 0), (5, 3)]
    for loss, burst in cases:
        link = Link("w", delay=40, jitter=10, loss=loss, burst=burst, seed=11)
        try:
            t = time.time()
            wav, st = webrtc_call(work, link, work / "speech.wav", args.secs, f"l{loss}b{burst}")
            took = time.time() - t
        finally:
            link.close()
        score, n = pesq_of(work / "speech.wav", wav)
        print(f"loss {loss} % burst {burst}: PESQ-WB {score:.2f} over {n} repetitions; call took {took:.1f} s",
              flush=True)
        if args.verbose:
            print(json.dumps(st, indent=1), flush=True)
        else:
            print("  " + json.dumps({k: st[k] for k in (
                "loss_pct", "concealed_pct", "stretched_pct", "jitter_buffer_ms", "send_kbps",
                "send_kbps_with_headers", "packetsLost", "packetsReceived", "fecPacketsReceived", "codec")}), flush=True)
    print(f"(offered audio codecs: {' '.join(st['offer_audio_codecs'])}; files in {work})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--selftest", action="store_true", help="0 %%, 5 %% and 5 %% burst loss, delay 40 jitter 10")
    ap.add_argument("--secs", type=float, default=30, help="seconds recorded per call (voice.py: 30, 22 with --quick)")
    ap.add_argument("--verbose", action="store_true", help="all of the stats")
    ap.add_argument("--side", choices=("a", "b"), help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--wav", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        # The orchestrator ends a side with SIGTERM: still run the finally blocks
        # (end the session, stop chromedriver, remove the profile).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            side(args.side, Path(args.dir), args.wav, args.secs)
        except BaseException:
            traceback.print_exc()
            return 1
        return 0
    if args.selftest:
        try:
            check_browser()
        except RuntimeError as e:
            print(f"webrtc.py: {e}", file=sys.stderr)
            return 1
        selftest(args)
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
