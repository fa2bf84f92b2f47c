#!/usr/bin/env python3
"""Chromium's WebRTC on the PulseAudio rig: the browser-call anchor for the
audio-processing benchmark (bench/audio.py measures our daemons the same way).

Two Chromium instances on the host's loopback make a plain browser call
(RTCPeerConnection, host candidates, no STUN/TURN). Unlike bench/webrtc.py
there are no fake devices: each page's microphone is a real PulseAudio source
of a rig the caller started (shared/recipes/audio-rig.md), e.g. `micA.monitor`,
and the remote audio plays through an <audio autoplay> element to a real sink,
e.g. `spkA`. getUserMedia asks for echoCancellation, noiseSuppression and
autoGainControl all true (processing=True) or all false: what a browser call
(Jitsi, Discord in the browser) does on a laptop. The caller plays into
micA/micB with paplay and records the sinks' monitors with parecord, exactly
as for the daemons.

Each instance is pointed at its devices through libpulse's own environment
(PULSE_SERVER, PULSE_SOURCE, PULSE_SINK on chromedriver, inherited by Chromium
and its audio service): the pages use the "default" input and output, which
Chromium opens on PulseAudio with no device name, so libpulse picks the ones
named in the environment.

    from webrtc_rig import BrowserCall
    with BrowserCall(rig_env, work, processing=True) as call:   # call is up
        ... paplay into micA / parecord spkB.monitor ...
        call.cpu(); call.audio()

    sudo /opt/apero-bench-venv/bin/python bench/webrtc_rig.py --selftest

Needs root, chromium + chromium-driver, pulseaudio + pulseaudio-utils,
espeak-ng and sox (and xvfb only for --display xvfb).
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
import functools
import http.server
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webrtc import CHROMEDRIVER, CHROMIUM, QuietHandler, check_browser, free_port, wd  # noqa: E402

RATE = 48_000

PAGE_HTML = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>apero bench: WebRTC on the rig</title></head>
<body>
<audio id="remote" autoplay playsinline></audio>
<script>
"use strict";
let pc = null, local = null, remote = null;

function withTimeout(p, ms, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(what + " timed out after " + ms + " ms")), ms))]);
}

async function init(processing, inputId, outputId) {
  const audio = {echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing};
  if (inputId) audio.deviceId = {exact: inputId};
  local = await navigator.mediaDevices.getUserMedia({audio, video: false});
  pc = new RTCPeerConnection({iceServers: []});
  for (const t of local.getTracks()) pc.addTrack(t, local);
  const el = document.getElementById("remote");
  if (outputId) await el.setSinkId(outputId);
  pc.ontrack = (ev) => {
    remote = ev.streams[0] || new MediaStream([ev.track]);
    el.srcObject = remote;          // plays to the default (or chosen) output
    el.play().catch(() => {});
  };
  const t = local.getAudioTracks()[0];
  const devices = (await navigator.mediaDevices.enumerateDevices()).map(
      (d) => ({kind: d.kind, label: d.label, deviceId: d.deviceId}));
  return {label: t.label, settings: t.getSettings(), devices};
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

function receiving(ms) {
  return withTimeout(new Promise((res) => {
    const iv = setInterval(async () => {
      let n = 0;
      (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") n = s.packetsReceived; });
      if (n > 0) { clearInterval(iv); res(n); }
    }, 50);
  }), ms, "first audio packets");
}

function playing() {
  const el = document.getElementById("remote");
  return {paused: el.paused, currentTime: el.currentTime, muted: el.muted, volume: el.volume,
          sinkId: el.sinkId, readyState: el.readyState};
}

async function stats() {
  const out = [];
  (await pc.getStats()).forEach((s) => out.push(s));
  return JSON.stringify(out);
}

function hangup() {
  if (pc) pc.close();
  if (local) for (const t of local.getTracks()) t.stop();
  const el = document.getElementById("remote");
  el.srcObject = null;
  return true;
}
</script></body></html>
"""


def chromium_args(profile, headless=True):
    args = [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server", f"--user-data-dir={profile}",
        # Permission prompts auto-accepted, but real capture devices (no
        # --use-fake-device-for-media-stream).
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        # Host candidates on 127.0.0.1 too, so a machine with only lo works.
        "--allow-loopback-in-peer-connection",
        # Two pages side by side: neither may be throttled as "in the background".
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ]
    if headless:
        args.append("--headless=new")
    return args


def _descendants(root):
    """pids of root and all its descendants (from /proc)."""
    kids = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def _tree_cpu_seconds(root):
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _descendants(root):
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / tck
        except (OSError, IndexError, ValueError):
            pass
    return total


class RigBrowser:
    """chromedriver + one Chromium whose default input and output are the
    given PulseAudio source and sink."""

    def __init__(self, role, page_dir, log_dir, pulse_env, source, sink, headless=True, display=None):
        self.role = role
        self.base = tempfile.mkdtemp(prefix=f"apb-rigchromium-{role}-", dir="/tmp")
        self.profile = os.path.join(self.base, "profile")
        tmp = os.path.join(self.base, "tmp")
        os.mkdir(self.profile)
        os.mkdir(tmp)
        self.driver = self.sid = self.httpd = self.log = None
        try:
            handler = functools.partial(QuietHandler, directory=str(page_dir))
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
            port = free_port()
            self.wd = f"http://127.0.0.1:{port}"
            env = {**os.environ, "TMPDIR": tmp, "HOME": self.base, **pulse_env,
                   "PULSE_SOURCE": source, "PULSE_SINK": sink}
            # Chromium's own runtime dir (singleton sockets etc.) is the
            # profile's: XDG_RUNTIME_DIR only matters to libpulse when
            # PULSE_SERVER is unset, so keep it then.
            if "PULSE_SERVER" not in pulse_env:
                if "XDG_RUNTIME_DIR" not in pulse_env:
                    raise ValueError("rig env needs PULSE_SERVER or XDG_RUNTIME_DIR")
                env["PULSE_SERVER"] = f"unix:{pulse_env['XDG_RUNTIME_DIR']}/pulse/native"
            env["XDG_RUNTIME_DIR"] = tmp
            if display:
                env["DISPLAY"] = display
            # --enable-chrome-logs: Chromium's own log (audio errors) in the file.
            self.log = open(Path(log_dir) / f"chrome-{role}.log", "w")
            self.driver = subprocess.Popen(
                [CHROMEDRIVER, f"--port={port}", "--enable-chrome-logs"],
                stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
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
            args = chromium_args(self.profile, headless)
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
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
        return wd("POST", self.url("execute/sync"), {"script": f"return {expr};", "args": list(args)}, timeout=timeout)

    def cpu_seconds(self):
        """CPU of Chromium's whole process tree (browser, renderer, audio
        service, network...), chromedriver excluded."""
        if not self.driver or self.driver.poll() is not None:
            return float("nan")
        own = Path(f"/proc/{self.driver.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tck = os.sysconf("SC_CLK_TCK")
        return _tree_cpu_seconds(self.driver.pid) - (int(own[11]) + int(own[12])) / tck

    def close(self):
        if self.sid:
            try:
                self.js("hangup()", timeout=10)
            except Exception:
                pass
            try:
                wd("DELETE", f"{self.wd}/session/{self.sid}", timeout=15)
            except Exception:
                pass
            self.sid = None
        if self.driver:
            if self.driver.poll() is None:
                self.driver.terminate()
                try:
                    self.driver.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.driver.pid, signal.SIGKILL)  # any Chromium left behind
            except ProcessLookupError:
                pass
            try:
                self.driver.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self.driver = None
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.log:
            self.log.close()
            self.log = None
        shutil.rmtree(self.base, ignore_errors=True)


def _pulse_env(rig):
    """The rig's environment: an env dict, or an object with .env (bench/audio.py's Rig)."""
    env = rig if isinstance(rig, dict) else rig.env
    out = {k: env[k] for k in ("PULSE_SERVER", "XDG_RUNTIME_DIR") if env.get(k)}
    if not out:
        raise ValueError("rig env needs PULSE_SERVER or XDG_RUNTIME_DIR")
    return out


def _pactl(env, *args):
    r = subprocess.run(["pactl", *args], env={**os.environ, **env}, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pactl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def _source_volumes(env, names):
    out = {}
    for s in json.loads(_pactl(env, "-f", "json", "list", "sources")):
        if s["name"] in names:
            v = s["volume"]
            out[s["name"]] = [c["value"] for c in v.values()]
    return out


class BrowserCall:
    """A two-Chromium WebRTC call on a running PulseAudio rig.

    rig: env dict with PULSE_SERVER or XDG_RUNTIME_DIR (or bench/audio.py's Rig).
    a_devices / b_devices: (source, sink) of pages A and B.
    processing: getUserMedia echoCancellation/noiseSuppression/autoGainControl.
    settle: seconds to wait once audio flows both ways before returning.
    headless: --headless=new (default); False runs each Chromium on `display`
    (an X server, e.g. Xvfb's ":99").

    Chromium's AGC moves the PulseAudio source's volume (as on a laptop):
    the sources' volumes are put back when the call ends (restore_volumes)."""

    def __init__(self, rig, work, processing=True, tag="w", a_devices=("micA.monitor", "spkA"),
                 b_devices=("micB.monitor", "spkB"), settle=2.0, headless=True, display=None,
                 restore_volumes=True):
        check_browser()
        self.env = _pulse_env(rig)
        self.processing = processing
        self.d = Path(work).resolve() / f"webrtc-rig-{tag}"
        shutil.rmtree(self.d, ignore_errors=True)
        (self.d / "page").mkdir(parents=True)
        (self.d / "page" / "page.html").write_text(PAGE_HTML)
        self.sources = [a_devices[0], b_devices[0]]
        self.volumes = _source_volumes(self.env, self.sources) if restore_volumes else {}
        self.a = self.b = None
        self.info = {}
        try:
            self.a = RigBrowser("a", self.d / "page", self.d, self.env, *a_devices, headless, display)
            self.b = RigBrowser("b", self.d / "page", self.d, self.env, *b_devices, headless, display)
            for who, br in (("a", self.a), ("b", self.b)):
                self.info[who] = br.js("init(arguments[0], null, null)", bool(processing))
            offer = self.a.js("makeOffer()")
            answer = self.b.js("makeAnswer(arguments[0])", offer)
            self.a.js("accept(arguments[0])", answer)
            self.offer = offer
            for br in (self.a, self.b):
                br.js("connected(20000)", timeout=30)
            for br in (self.a, self.b):
                br.js("receiving(10000)", timeout=20)
            time.sleep(settle)
            for who, br in (("a", self.a), ("b", self.b)):
                p = br.js("playing()")
                self.info[who]["playing"] = p
                if p["paused"]:
                    raise RuntimeError(f"page {who}: the remote audio element is paused: {p}")
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def cpu(self):
        """CPU seconds so far of each Chromium (A, B)."""
        return [self.a.cpu_seconds(), self.b.cpu_seconds()]

    def stats(self):
        """getStats() of both pages (lists of report dicts)."""
        return {"a": json.loads(self.a.js("stats()")), "b": json.loads(self.b.js("stats()"))}

    def audio(self):
        """A few figures per page, shaped like bench/audio.py's Call.audio()."""
        out = {}
        for who, br in (("a", self.a), ("b", self.b)):
            reps = json.loads(br.js("stats()"))
            inb = next((r for r in reps if r.get("type") == "inbound-rtp" and r.get("kind") == "audio"), {})
            src = next((r for r in reps if r.get("type") == "media-source" and r.get("kind") == "audio"), {})
            out[who] = {
                "processing": self.processing,
                "input_label": self.info[who]["label"],
                "input_settings": self.info[who]["settings"],
                "input_level": src.get("audioLevel"),
                "echo_return_loss_db": src.get("echoReturnLoss"),
                "erle_db": src.get("echoReturnLossEnhancement"),
                "packets_received": inb.get("packetsReceived"),
                "concealed_samples": inb.get("concealedSamples"),
                "total_samples": inb.get("totalSamplesReceived"),
                "jitter_buffer_ms": (round(1000 * inb["jitterBufferDelay"] / inb["jitterBufferEmittedCount"], 1)
                                     if inb.get("jitterBufferEmittedCount") else None),
                "playout": br.js("playing()"),
            }
        return out

    def stop(self):
        for br in (self.a, self.b):
            if br is not None:
                try:
                    br.close()
                except Exception:
                    pass
        self.a = self.b = None
        for name, vals in getattr(self, "volumes", {}).items():
            try:
                _pactl(self.env, "set-source-volume", name, *[str(v) for v in vals])
            except Exception:
                pass
        self.volumes = {}


def rig_call(rig_env, a_devices=("micA.monitor", "spkA"), b_devices=("micB.monitor", "spkB"), processing=True,
             work=None, **kw):
    """Context manager: `with rig_call(env, processing=False, work=w) as call: ...` (see BrowserCall)."""
    return BrowserCall(rig_env, work or tempfile.mkdtemp(prefix="apero-webrtc-rig-"), processing,
                       a_devices=a_devices, b_devices=b_devices, **kw)
