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
named in the environment. (Chromium's enumerateDevices() leaves out monitor
sources, so micA.monitor cannot be chosen by deviceId; sinks are listed by
description and could be chosen with setSinkId.) --headless=new plays to
PulseAudio; Xvfb is not needed (display= runs it on one anyway).

Chromium opens its PulseAudio streams at the *server's* default-sample-rate
(44.1 kHz unless daemon.conf says otherwise; stereo), not at the 48 kHz of
the rig's devices, so PulseAudio resamples both ways; MiniRig(rate48=True)
writes $HOME/.config/pulse/daemon.conf with default-sample-rate = 48000.

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

    Chromium's AGC may move a PulseAudio source's volume, as on a laptop (on
    this rig it did not: the monitors stayed at 100 %); the sources' volumes
    are put back when the call ends anyway (restore_volumes)."""

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
             secs=None, work=None, **kw):
    """A two-Chromium call on the rig. With secs=None, returns the BrowserCall
    (already connected; a context manager: `with rig_call(env, work=w) as call:`
    ... hangs up on leaving). With secs, holds the call that long (the caller
    plays and records from another thread or process meanwhile), hangs up and
    returns call.audio() taken at the end. Other keywords go to BrowserCall
    (tag, settle, headless, display, restore_volumes)."""
    call = BrowserCall(rig_env, work or tempfile.mkdtemp(prefix="apero-webrtc-rig-"), processing,
                       a_devices=a_devices, b_devices=b_devices, **kw)
    if secs is None:
        return call
    try:
        time.sleep(secs)
        return call.audio()
    finally:
        call.stop()


# ---------------------------------------------------------------- self-test

RIG_PA = """load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=micA rate=48000 channels=1 sink_properties=device.description=micA
load-module module-null-sink sink_name=spkA rate=48000 channels=1 sink_properties=device.description=spkA
load-module module-null-sink sink_name=micB rate=48000 channels=1 sink_properties=device.description=micB
load-module module-null-sink sink_name=spkB rate=48000 channels=1 sink_properties=device.description=spkB
load-module module-null-source source_name=silence rate=48000 channels=1
load-module module-loopback source=silence sink=micA latency_msec=20
load-module module-loopback source=silence sink=spkA latency_msec=20
load-module module-loopback source=silence sink=micB latency_msec=20
load-module module-loopback source=silence sink=spkB latency_msec=20
load-module module-null-sink sink_name=rec rate=48000 channels=2 channel_map=front-left,front-right
load-module module-remap-sink sink_name=recL master=rec channels=1 channel_map=mono master_channel_map=front-left remix=no
load-module module-remap-sink sink_name=recR master=rec channels=1 channel_map=mono master_channel_map=front-right remix=no
load-module module-loopback source=silence sink=rec latency_msec=20
"""

PHRASE = ("Good evening everyone, and thank you for joining the call tonight. "
          "I wanted to go over the plans for the weekend trip to the mountains. "
          "We leave on Friday at six in the morning, so please pack the night before.")


class MiniRig:
    """The recipe's rig (own XDG_RUNTIME_DIR) plus the stereo recorder."""

    def __init__(self, rate48=False):
        self.dir = Path(tempfile.mkdtemp(prefix="apero-rigpulse-"))
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.dir), "HOME": str(self.dir)}
        for k in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK"):
            self.env.pop(k, None)
        (self.dir / "rig.pa").write_text(RIG_PA)
        if rate48:
            # The server's default rate is what Chromium opens its streams at
            # (44.1 kHz otherwise, resampled to and from the 48 kHz sinks).
            (self.dir / ".config" / "pulse").mkdir(parents=True)
            (self.dir / ".config" / "pulse" / "daemon.conf").write_text("default-sample-rate = 48000\n")
        self.routes, self.echo_module = [], None
        subprocess.run(["pulseaudio", "--daemonize=yes", "--system=false", "--exit-idle-time=-1", "-n",
                        "-F", str(self.dir / "rig.pa"), f"--log-target=file:{self.dir / 'pulse.log'}"],
                       env=self.env, capture_output=True)
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("pulseaudio did not start")

    def pactl(self, *args):
        return _pactl(self.env, *args).strip()

    def loopback(self, source, sink, latency_ms=20):
        return self.pactl("load-module", "module-loopback", f"source={source}", f"sink={sink}",
                          f"latency_msec={latency_ms}", "source_dont_move=true", "sink_dont_move=true")

    def route(self, left, right):
        for m in self.routes:
            self.pactl("unload-module", m)
        self.routes = [self.loopback(left, "recL"), self.loopback(right, "recR")]
        time.sleep(0.5)

    def sink_inputs(self):
        return {l.split()[0] for l in self.pactl("list", "short", "sink-inputs").splitlines() if l.strip()}

    def echo_on(self, delay_ms=40, gain_db=-6.0):
        """B's laptop: its speaker back into its microphone."""
        before = self.sink_inputs()
        self.echo_module = self.loopback("spkB.monitor", "micB", delay_ms)
        for _ in range(50):
            new = self.sink_inputs() - before
            if new:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("no sink input for the echo loopback")
        (idx,) = new
        self.pactl("set-sink-input-volume", idx, f"{gain_db}dB")
        time.sleep(0.3)

    def echo_off(self):
        if self.echo_module is not None:
            self.pactl("unload-module", self.echo_module)
            self.echo_module = None

    def play(self, sink, path):
        return subprocess.Popen(["paplay", "-d", sink, str(path)], env=self.env)

    def record(self, path, source="rec.monitor", channels=2):
        f = open(path, "wb")
        p = subprocess.Popen(["parec", "--latency-msec=20", "-d", source, f"--rate={RATE}",
                              f"--channels={channels}", "--format=s16le"], stdout=f, env=self.env)
        p.out, p.channels = f, channels
        return p

    def stop_record(self, p, path):
        import numpy as np
        p.send_signal(signal.SIGINT)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.out.close()
        raw = Path(path).read_bytes()
        raw = raw[: len(raw) // (2 * p.channels) * 2 * p.channels]
        return (np.frombuffer(raw, np.int16).astype(np.float64) / 32768).reshape(-1, p.channels).T

    def stop(self):
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True)
        for _ in range(100):
            if subprocess.run(["pulseaudio", "--check"], env=self.env, capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)


def _db(p):
    import numpy as np
    return float(10 * np.log10(p)) if p > 1e-12 else -120.0


def _active_db(x, frame=960):
    """RMS over the 20 ms frames within 35 dB of the loud ones."""
    import numpy as np
    k = len(x) // frame
    if k == 0:
        return -120.0
    p = np.mean(np.square(x[: k * frame].reshape(k, frame)), axis=1)
    f = 10 * np.log10(np.maximum(p, 1e-12))
    act = f > max(np.percentile(f, 95) - 35, -60)
    return _db(float(np.mean(p[act])))


def _align(deg, ref):
    """deg shifted to line up with ref (argmax of the cross-correlation), ref's length; and the lag."""
    import numpy as np
    from scipy.signal import correlate
    lag = int(np.argmax(correlate(deg, ref, "full", method="fft"))) - (len(ref) - 1)
    out = np.zeros(len(ref))
    seg = deg[lag: lag + len(ref)] if lag >= 0 else deg[: len(ref) + lag]
    if lag >= 0:
        out[: len(seg)] = seg
    else:
        out[-lag: -lag + len(seg)] = seg
    return out, lag


def _pesq_wb(ref, deg):
    from pesq import pesq
    from scipy.signal import resample_poly
    try:
        return float(pesq(16000, resample_poly(ref, 1, 3), resample_poly(deg, 1, 3), "wb"))
    except Exception:
        return float("nan")


def _click_latencies(l, r, period_s):
    """ms from each click onset on the left to its onset on the right: the
    first sample in the next period above a quarter of that period's peak
    (processing makes the clicks' level vary by 20 dB; one nearly removed is
    skipped). Returns (latencies, clicks on the left, clicks heard)."""
    import numpy as np
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lib import onsets
    ol = onsets(l, threshold=0.3 * np.abs(l).max(), quiet_s=0.2)
    out = []
    n = int(period_s * RATE) - 480
    for t in ol:
        seg = np.abs(r[t: t + n])
        if len(seg) < n or seg.max() < 0.01:
            continue
        out.append(int(np.argmax(seg > 0.25 * seg.max())) * 1000 / RATE)
    return out, len(ol), len(out)


def _pesq_pieces(ref, heard, pieces=3):
    """Median PESQ-WB of `pieces` consecutive parts of ref, each aligned on
    its own in `heard` (the playout's delay may move between them)."""
    import numpy as np
    n = len(ref) // pieces
    out = []
    for i in range(pieces):
        part = ref[i * n:(i + 1) * n]
        deg, _ = _align(heard, part)
        out.append(_pesq_wb(part, deg))
    return float(np.median(out))


def _windows_db(x, win_s=0.5):
    import numpy as np
    n = int(win_s * RATE)
    return [round(_db(float(np.mean(np.square(x[i:i + n])))), 1) for i in range(0, len(x) - n + 1, n)]


def selftest(args):
    import numpy as np
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lib import clicks, read_wav, speech, write_wav
    work = Path(tempfile.mkdtemp(prefix="apero-webrtc-rig-"))
    print(f"work dir {work}", flush=True)
    speech(work / "speech.wav", PHRASE)
    ref = read_wav(work / "speech.wav")
    ref_e = _db(float(np.sum(np.square(ref))))
    ref_db = _active_db(ref)
    period = clicks(work / "click1.wav", 0.5)
    write_wav(work / "clicks.wav", np.tile(read_wav(work / "click1.wav"), args.clicks))
    rig = MiniRig(rate48=args.server_rate == 48000)
    results = {}
    try:
        for processing in args.modes:
            tag = "on" if processing else "off"
            res = results[tag] = {}
            # B's laptop hears its speaker from the start, as in bench/audio.py's echo scenario.
            rig.echo_on()
            rig.route("micA.monitor", "spkA.monitor")
            t0 = time.time()
            try:
                with BrowserCall(rig.env, work, processing, tag, headless=not args.display,
                                 display=args.display) as call:
                    res["setup_s"] = round(time.time() - t0, 1)
                    res["input_settings_a"] = {k: call.info["a"]["settings"].get(k) for k in (
                        "echoCancellation", "noiseSuppression", "autoGainControl", "sampleRate", "channelCount")}
                    # Two takes of A talking: micA.monitor | spkA.monitor (A's own
                    # voice coming back) on the stereo recorder, spkB.monitor (what B
                    # hears) on its own.
                    for take in (1, 2):
                        rec = rig.record(work / f"echo-{tag}-{take}.raw")
                        recb = rig.record(work / f"b-{tag}-{take}.raw", source="spkB.monitor", channels=1)
                        time.sleep(0.5)
                        c0, tc0 = call.cpu(), time.time()
                        rig.play("micA", work / "speech.wav").wait()
                        time.sleep(1.5)
                        c1, tc1 = call.cpu(), time.time()
                        l, r = rig.stop_record(rec, work / f"echo-{tag}-{take}.raw")
                        (hb,) = rig.stop_record(recb, work / f"b-{tag}-{take}.raw")
                        deg, _ = _align(hb, ref)
                        _, la = _align(l, ref)
                        # The echo in the 2 s after A's first word: the AEC still converging.
                        head = r[max(0, la): max(0, la) + 2 * RATE]
                        res[f"take{take}"] = {
                            "a_to_b": {"rms": round(float(np.sqrt(np.mean(np.square(deg)))), 4),
                                       "phrase_rms": round(float(np.sqrt(np.mean(np.square(ref)))), 4),
                                       "level_db_vs_phrase": round(_active_db(hb) - ref_db, 1),
                                       "pesq_wb": round(_pesq_wb(ref, deg), 2),
                                       "pesq_wb_3_parts": round(_pesq_pieces(ref, hb), 2)},
                            # A's voice coming back to A's speaker, energy over the take
                            # against the phrase's; and over A's first 2 s / after them.
                            "echo_return_db": round(_db(float(np.sum(np.square(r)))) - ref_e, 1),
                            "echo_return_db_first_2s": round(_db(float(np.sum(np.square(head)))) -
                                                             _db(float(np.sum(np.square(ref[:2 * RATE])))), 1),
                            "echo_return_db_after_2s": round(_db(float(np.sum(np.square(r[max(0, la) + 2 * RATE:]))))
                                                             - _db(float(np.sum(np.square(ref[2 * RATE:])))), 1),
                            "echo_db_per_500ms": _windows_db(r[max(0, la):]),
                            "cpu_pct_per_chromium": [round(100 * (y - x) / (tc1 - tc0), 1) for x, y in zip(c0, c1)],
                        }
                        print(f"  {tag} take {take}: {json.dumps(res[f'take{take}'])}", flush=True)
                    st = call.audio()
                    res["chrome_b"] = {k: st["b"][k] for k in ("echo_return_loss_db", "erle_db", "jitter_buffer_ms")}
                    # Mouth-to-ear: clicks into micA, micA.monitor left, spkB.monitor right.
                    rig.route("micA.monitor", "spkB.monitor")
                    rec = rig.record(work / f"lat-{tag}.raw")
                    time.sleep(0.5)
                    rig.play("micA", work / "clicks.wav").wait()
                    time.sleep(1.0)
                    l, r = rig.stop_record(rec, work / f"lat-{tag}.raw")
                    lats, nl, nr = _click_latencies(l, r, period)
                    lats = lats[2:]  # processing still settling on the first clicks
                    res["latency_ms"] = {"median": round(float(np.median(lats)), 1) if lats else None,
                                         "min": round(min(lats), 1) if lats else None,
                                         "max": round(max(lats), 1) if lats else None,
                                         "n": len(lats), "clicks": nl, "all": [round(x) for x in lats]}
                    res["source_volumes_in_call"] = _source_volumes(rig.env, ["micA.monitor", "micB.monitor"])
            finally:
                rig.echo_off()
            res["source_volumes_after"] = _source_volumes(rig.env, ["micA.monitor", "micB.monitor"])
            print(f"processing {tag}: " + json.dumps({k: v for k, v in res.items() if not k.startswith("take")}),
                  flush=True)
    finally:
        rig.stop()
    print("summary:")
    for tag, res in results.items():
        t1, t2 = res["take1"], res["take2"]
        lat = res["latency_ms"]
        print(f"  processing {tag}: echo return {t1['echo_return_db']} dB (take 1; first 2 s "
              f"{t1['echo_return_db_first_2s']}, after {t1['echo_return_db_after_2s']}), {t2['echo_return_db']} dB "
              f"(take 2); PESQ-WB A->B {t1['a_to_b']['pesq_wb']} / {t2['a_to_b']['pesq_wb']} "
              f"(3 parts: {t1['a_to_b']['pesq_wb_3_parts']} / {t2['a_to_b']['pesq_wb_3_parts']}), "
              f"RMS {t1['a_to_b']['rms']} (phrase {t1['a_to_b']['phrase_rms']}); "
              f"mouth-to-ear median {lat['median']} ms, min {lat['min']}, max {lat['max']} ({lat['n']} clicks)")
    print(f"files in {work}")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--selftest", action="store_true", help="A->B PESQ, echo return and click latency, on and off")
    ap.add_argument("--only", choices=("on", "off"), help="one processing setting only")
    ap.add_argument("--clicks", type=int, default=30, help="clicks in the latency test (0.5 s apart)")
    ap.add_argument("--server-rate", type=int, choices=(44100, 48000), default=48000,
                    help="the rig server's default-sample-rate, which Chromium opens its streams at")
    ap.add_argument("--display", help="run Chromium non-headless on this X display (e.g. :99 from Xvfb)")
    args = ap.parse_args()
    args.modes = [True, False] if not args.only else [args.only == "on"]
    if args.selftest:
        try:
            check_browser()
        except RuntimeError as e:
            print(f"webrtc_rig.py: {e}", file=sys.stderr)
            return 1
        selftest(args)
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
