#!/usr/bin/env python3
"""apero audio-processing benchmark (issue 15): echo cancellation, double
talk, noise suppression, mouth-to-ear delay and CPU, each with the daemon's
processing on (the default) and off (`aperod --audio-processing off`).

Two real daemons on the cpal backend, each on its own virtual laptop of a
private PulseAudio server (shared/recipes/audio-rig.md): alice hears `spkA`
and talks into `micA` (her microphone is `micA.monitor`), bob likewise with
`micB`/`spkB`. The scenarios:

  echo        alice talks, bob is silent; bob's "laptop" plays his speaker
              back into his microphone (a loopback spkB.monitor -> micB,
              40 ms, -6 dB: the acoustic path). How far under alice's own
              voice does its echo come back to her, and how soon?
  doubletalk  both talk at once (bob's phrase into micB, on top of the echo):
              PESQ-WB of bob's voice as alice hears it.
  noise       bob's microphone: his phrase plus steady pink (and brown) noise
              at 10 dB SNR, 3 s of noise alone first; no echo path. The SNR
              alice hears, and PESQ-WB against the clean phrase.
  latency     clicks into micA, micA.monitor and spkB.monitor recorded on
              one stereo clock: mouth-to-ear delay.
  CPU         per daemon, over the echo scenario.

Recordings go through one stereo null sink `rec` (left and right fed by
loopbacks from the two sources of interest), so both sides share a clock.

    sudo bench/audio.sh                 # everything, ~10 minutes
    sudo bench/audio.sh --only echo,latency
    APERO_BENCH_KEEP_LOGS=/tmp/logs sudo -E bench/audio.sh   # keep daemon logs
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lib import RATE, Daemon, onsets, pct, proc_cpu_seconds, read_wav, wait_participants, write_wav

SCENARIOS = ("path", "echo", "doubletalk", "noise", "latency")

TALK_A = ("Good evening everyone, and thank you for joining the call tonight. "
          "I wanted to go over the plans for the weekend trip to the mountains. "
          "We leave on Friday at six in the morning, so please pack the night before. "
          "The weather looks clear, but bring a warm jacket and good shoes. "
          "Does anyone have questions about the route or the cabin?")
TALK_B = ("Sorry to interrupt, but the train on Friday is cancelled. "
          "We could take the bus at seven instead.")

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
"""

# Analysis: 20 ms frames for activity, 200 ms windows for the echo curve.
FRAME_S = 0.02
WIN_S = 0.2
FLOOR_DB = -120.0  # digital silence (DTX) counts as this


# ---------------------------------------------------------------- the rig

class Rig:
    """A private PulseAudio server (own XDG_RUNTIME_DIR) with the laptops'
    null sinks, the silence loopbacks and the stereo recorder."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="apero-pulse-"))
        # HOME too: pulseaudio writes its cookie and state under it.
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.dir), "HOME": str(self.dir)}
        for k in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK"):
            self.env.pop(k, None)
        (self.dir / "rig.pa").write_text(RIG_PA)
        self.routes = []
        self.echo_module = None
        r = subprocess.run(["pulseaudio", "--daemonize=yes", "--system=false", "--exit-idle-time=-1", "-n",
                            "-F", str(self.dir / "rig.pa"), f"--log-target=file:{self.dir / 'pulse.log'}"],
                           env=self.env, capture_output=True, text=True)
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            log = (self.dir / "pulse.log").read_text() if (self.dir / "pulse.log").exists() else ""
            self.stop()
            raise RuntimeError(f"pulseaudio did not start: {r.stderr} {log[-2000:]}")

    def pactl(self, *args):
        r = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout.strip()

    def server(self):
        return f"unix:{self.dir}/pulse/native"

    def daemon_env(self, mic, spk):
        return {"PULSE_SERVER": self.server(), "PULSE_SOURCE": f"{mic}.monitor", "PULSE_SINK": spk}

    def loopback(self, source, sink, latency_ms=20):
        return self.pactl("load-module", "module-loopback", f"source={source}", f"sink={sink}",
                          f"latency_msec={latency_ms}", "source_dont_move=true", "sink_dont_move=true")

    def unload(self, module):
        # By index: `unload-module module-loopback` would take every loopback.
        self.pactl("unload-module", str(module))

    def route(self, left, right):
        """Feeds the recorder: `left` source on the left, `right` on the right."""
        for m in self.routes:
            self.unload(m)
        self.routes = [self.loopback(left, "recL"), self.loopback(right, "recR")]
        time.sleep(0.5)

    def sink_input_of(self, module):
        # `list short` shows no owner module here (PulseAudio 16.1): JSON does.
        for _ in range(20):
            for si in json.loads(self.pactl("-f", "json", "list", "sink-inputs")):
                if str(si.get("owner_module")) == str(module):
                    return str(si["index"])
            time.sleep(0.1)
        raise RuntimeError(f"no sink input for module {module}")

    def echo_on(self, delay_ms=40, gain_db=-6.0):
        """Bob's laptop: his speaker back into his microphone."""
        if self.echo_module is None:
            self.echo_module = self.loopback("spkB.monitor", "micB", delay_ms)
            # PulseAudio's volume is cubic: pactl converts dB itself.
            self.pactl("set-sink-input-volume", self.sink_input_of(self.echo_module), f"{gain_db}dB")
            time.sleep(0.3)

    def echo_off(self):
        if self.echo_module is not None:
            self.unload(self.echo_module)
            self.echo_module = None

    def play(self, sink, path):
        return subprocess.Popen(["paplay", "-d", sink, str(path)], env=self.env)

    def record(self, path, source="rec.monitor", channels=2):
        """Raw s16le; stop with stop_record. --latency-msec: without it parec
        gets 2 s chunks and drops them when stopped."""
        f = open(path, "wb")
        p = subprocess.Popen(["parec", "--latency-msec=20", "-d", source, f"--rate={RATE}",
                              f"--channels={channels}", "--format=s16le"], stdout=f, env=self.env)
        p.out, p.channels = f, channels
        return p

    def stop_record(self, p, path):
        p.send_signal(signal.SIGINT)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.out.close()
        x = np.frombuffer(Path(path).read_bytes()[: (Path(path).stat().st_size // (2 * p.channels)) * 2 * p.channels],
                          np.int16).astype(np.float64) / 32768
        return x.reshape(-1, p.channels).T

    def cpu_seconds(self):
        """The sound server's own CPU time (reported, not counted)."""
        try:
            return proc_cpu_seconds(int((self.dir / "pulse" / "pid").read_text().split()[0]))
        except (IndexError, ValueError, OSError):
            return None

    def stop(self):
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True)
        for _ in range(100):
            if subprocess.run(["pulseaudio", "--check"], env=self.env, capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- signals

def db(power):
    return 10 * np.log10(power) if power > 10 ** (FLOOR_DB / 10) else FLOOR_DB


def rms_db(x):
    return db(float(np.mean(np.square(x)))) if len(x) else FLOOR_DB


def frame_db(x, frame_s=FRAME_S):
    n = int(frame_s * RATE)
    k = len(x) // n
    p = np.mean(np.square(x[: k * n].reshape(k, n)), axis=1)
    return np.array([db(v) for v in p])


def active_frames(x, below_peak=35.0):
    """20 ms frames holding speech: within `below_peak` dB of the loud frames."""
    f = frame_db(x)
    top = np.percentile(f, 95)
    return f > max(top - below_peak, -60.0)


def active_level_db(x):
    """RMS over the active frames (a simple P.56-like active speech level)."""
    act = active_frames(x)
    n = int(FRAME_S * RATE)
    k = len(act)
    fr = x[: k * n].reshape(k, n)
    return rms_db(fr[act].ravel()) if act.any() else FLOOR_DB


def lag_of(deg, ref, max_lag_s=None):
    """Samples by which `deg` lags `ref` (argmax of the cross-correlation),
    and the normalised peak (1: the same waveform)."""
    from scipy.signal import correlate
    c = correlate(deg, ref, "full", method="fft")
    zero = len(ref) - 1
    if max_lag_s is not None:
        lo, hi = zero, zero + int(max_lag_s * RATE)
        i = lo + int(np.argmax(np.abs(c[lo:hi])))
    else:
        i = int(np.argmax(c))
    norm = np.sqrt(np.sum(deg ** 2) * np.sum(ref ** 2)) or 1.0
    return i - zero, float(c[i] / norm)


def envelope_lag(deg, ref, max_lag_s=1.0, step_s=0.005):
    """Lag of `deg` behind `ref` from their 5 ms energy envelopes (robust to
    what codecs do to the waveform), and the envelopes' correlation there."""
    n = int(step_s * RATE)

    def env(x):
        k = len(x) // n
        e = np.sqrt(np.mean(np.square(x[: k * n].reshape(k, n)), axis=1))
        return e - e.mean()
    a, b = env(deg), env(ref)
    m = min(len(a), len(b))
    a, b = a[:m], b[:m]
    best, best_c = 0, -1.0
    for k in range(0, min(m - 1, int(max_lag_s / step_s))):
        x, y = a[k:], b[: m - k]
        c = float(np.dot(x, y) / (np.sqrt(np.dot(x, x) * np.dot(y, y)) or 1.0))
        if c > best_c:
            best, best_c = k, c
    return best * n, best_c


def shift(x, lag, n):
    """x from sample `lag` on, n samples long (zero padded)."""
    out = np.zeros(n)
    if lag >= 0:
        seg = x[lag: lag + n]
        out[: len(seg)] = seg
    else:
        seg = x[: n + lag]
        out[-lag: -lag + len(seg)] = seg
    return out


def pesq_reps(ref, heard, first, count, slack_s=0.15):
    """PESQ-WB of each of `count` back-to-back repetitions of `ref` in
    `heard` (48 kHz), the first expected at sample `first`; each is
    re-aligned within ±slack (the playout may stretch). Returns the scores."""
    from pesq import pesq
    from scipy.signal import resample_poly
    r16 = resample_poly(ref, 1, 3)
    scores = []
    slack = int(slack_s * RATE)
    pos = first
    for _ in range(count):
        lo = max(0, pos - slack)
        win = heard[lo: pos + len(ref) + slack]
        if len(win) < len(ref):
            break
        lag, _ = lag_of(win, ref, max_lag_s=(len(win) - len(ref)) / RATE)
        seg = win[lag: lag + len(ref)]
        pos = lo + lag + len(ref)
        if len(seg) < len(ref) or np.abs(seg).max() == 0:
            scores.append(1.0)
            continue
        try:
            scores.append(float(pesq(16000, r16, resample_poly(seg, 1, 3), "wb")))
        except Exception:
            scores.append(1.0)
    return scores


# ---------------------------------------------------------------- material

def make_speech(path, text, voice=None):
    raw = Path(path).with_suffix(".raw.wav")
    cmd = ["espeak-ng", "-w", str(raw)] + (["-v", voice] if voice else []) + [text]
    subprocess.run(cmd, check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(path)], check=True)
    return read_wav(path)


def make_noise(work, kind, secs):
    path = work / f"{kind}.wav"
    subprocess.run(["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(path), "synth", str(secs), kind,
                    "vol", "0.5"], check=True)
    return read_wav(path)


class Material:
    def __init__(self, work):
        self.work = work
        a = make_speech(work / "talk-a.wav", TALK_A)
        b = make_speech(work / "talk-b.wav", TALK_B, voice="en+f3")
        # Bob's phrase with a short pause after it: one repetition.
        self.b_rep = np.concatenate([b, np.zeros(int(0.6 * RATE))])
        self.a = a
        self.b = b


# ---------------------------------------------------------------- a call

class Call:
    """Alice (micA/spkA) and bob (micB/spkB) in one room's call, fresh daemons."""

    def __init__(self, rig, work, processing=True, tag="x"):
        args = ["--audio", "cpal"] + ([] if processing else ["--audio-processing", "off"])
        self.a = Daemon("alice", work, args=args, env=rig.daemon_env("micA", "spkA"))
        try:
            self.b = Daemon("bob", work, args=args, env=rig.daemon_env("micB", "spkB"))
        except BaseException:
            self.a.stop()
            raise
        try:
            room = self.a.cli("room", "create", f"bench-{tag}")["id"]
            self.b.cli("join", self.a.cli("invite", room)["code"])
            self.a.cli("call", "join", room)
            self.b.cli("call", "join", room)
            wait_participants(self.a, 2)
            wait_participants(self.b, 2)
            time.sleep(2.5)  # settle: devices open, playout filled
            self.pids = (self.a.pid(), self.b.pid())
        except BaseException:
            self.stop()
            raise

    def cpu(self):
        return [proc_cpu_seconds(p) for p in self.pids]

    def audio(self):
        """Each side's `audio` object from `call status`."""
        out = {}
        for d in (self.a, self.b):
            st = d.cli("call", "status")
            au = st.get("audio") or {}
            out[d.name] = {k: au.get(k) for k in ("input_error", "output_error", "erle_db", "echo_delay_ms",
                                                  "input_level_db", "reopened")}
            out[d.name]["processing"] = au.get("processing")
            out[d.name]["underruns"] = st.get("underruns")
        return out

    def stop(self):
        for d in (getattr(self, "a", None), getattr(self, "b", None)):
            if d is None:
                continue
            try:
                d.cli("call", "leave")
            except Exception:
                pass
            d.stop()


def errors_of(audio):
    return [f"{who}: {k} {v}" for who, a in audio.items() for k, v in a.items() if k.endswith("_error") and v]


# ---------------------------------------------------------------- scenarios

def echo_path(rig, work):
    """The acoustic path's real gain and delay: pink noise into spkB,
    spkB.monitor (left) against micB.monitor (right)."""
    rig.echo_on()
    noise = make_noise(work, "pinknoise", 3) * 0.5
    write_wav(work / "probe.wav", noise)
    rig.route("micA.monitor", "micA.monitor")
    # The rig's own skew first: the same source on both sides.
    write_wav(work / "probe-a.wav", noise)
    rec = rig.record(work / "skew.raw")
    rig.play("micA", work / "probe-a.wav").wait()
    time.sleep(0.3)
    l, r = rig.stop_record(rec, work / "skew.raw")
    skew, _ = lag_of(r, l, max_lag_s=None)
    rig.route("spkB.monitor", "micB.monitor")
    rec = rig.record(work / "path.raw")
    rig.play("spkB", work / "probe.wav").wait()
    time.sleep(0.5)
    l, r = rig.stop_record(rec, work / "path.raw")
    lag, peak = lag_of(r, l)
    # Gain over the stretch where both carry the probe.
    al = shift(l, 0, len(l))
    ar = shift(r, lag, len(l))
    act = frame_db(al) > rms_db(al) - 10
    n = int(FRAME_S * RATE)
    k = min(len(act), len(ar) // n)
    gl = rms_db(al[: k * n].reshape(k, n)[act[:k]].ravel())
    gr = rms_db(ar[: k * n].reshape(k, n)[act[:k]].ravel())
    return {"gain_db": round(gr - gl, 2), "delay_ms": round((lag - skew) * 1000 / RATE, 1),
            "rig_skew_ms": round(skew * 1000 / RATE, 2), "correlation": round(peak, 3),
            "asked": {"gain_db": -6.0, "latency_msec": 40}}


def echo(rig, work, mat, processing, lag_hint=None):
    """Alice talks ~19 s, bob is silent (his mic: only the echo path)."""
    rig.echo_on()
    rig.route("micA.monitor", "spkA.monitor")
    call = Call(rig, work, processing, "echo")
    try:
        rec = rig.record(work / "echo.raw")
        time.sleep(0.5)
        c0, t0, r0 = call.cpu(), time.time(), rig.cpu_seconds()
        rig.play("micA", work / "talk-a.wav").wait()
        time.sleep(0.8)
        c1, t1, r1 = call.cpu(), time.time(), rig.cpu_seconds()
        audio = call.audio()
        l, r = rig.stop_record(rec, work / "echo.raw")
    finally:
        call.stop()
    dt = t1 - t0
    cpu = {"alice_pct": round(100 * (c1[0] - c0[0]) / dt, 1), "bob_pct": round(100 * (c1[1] - c0[1]) / dt, 1),
           "pulseaudio_pct": round(100 * (r1 - r0) / dt, 1) if r0 is not None and r1 is not None else None}
    res = analyse_echo(l, r, lag_hint)
    res.update({"cpu": cpu, "audio": audio, "errors": errors_of(audio)})
    return res


def analyse_echo(l, r, lag_hint):
    # The echo's round trip: from the cross-correlation when it is clear
    # (processing off), else the hint from the other run.
    lag, peak = envelope_lag(r, l)
    measured = lag
    if peak < 0.5 and lag_hint is not None:
        lag = lag_hint
    act = active_frames(l)
    speech_db = active_level_db(l)
    first = int(np.argmax(act)) * FRAME_S  # the first spoken frame, s
    n = int(WIN_S * RATE)
    r_al = shift(r, lag, len(l))
    wins = []
    for i in range(len(l) // n):
        ls, rs = l[i * n: (i + 1) * n], r_al[i * n: (i + 1) * n]
        fa = act[int(i * WIN_S / FRAME_S): int((i + 1) * WIN_S / FRAME_S)]
        if fa.mean() >= 0.5:  # alice speaking in this window
            wins.append((i * WIN_S - first, rms_db(ls), rms_db(rs)))
    after = [w for w in wins if w[0] >= 2.0]
    pl = np.mean([10 ** (w[1] / 10) for w in after]) if after else 0
    pr = np.mean([10 ** (w[2] / 10) for w in after]) if after else 0
    down = [w[1] - w[2] for w in wins]
    conv = None
    for j in range(len(wins)):
        if all(d >= 30 for d in down[j:]):
            conv = max(0.0, wins[j][0])
            break
    # Windows after the first 2 s where the echo came back less than 30 dB down.
    leaks = [(round(w[0], 1), round(w[1] - w[2], 1)) for w in wins if w[0] >= 2.0 and w[1] - w[2] < 30]
    curve = []
    for s in range(5):
        sel = [w for w in wins if s <= w[0] < s + 1]
        if sel:
            e = db(np.mean([10 ** (w[2] / 10) for w in sel]))
            sp = db(np.mean([10 ** (w[1] / 10) for w in sel]))
            curve.append(round(sp - e, 1))
        else:
            curve.append(None)
    return {"speech_db": round(speech_db, 1), "echo_db": round(db(pr), 1),
            "echo_below_speech_db": round(db(pl) - db(pr), 1),
            "windows_30db_pct": round(100 * np.mean([d >= 30 for d, w in zip(down, wins) if w[0] >= 2.0]), 1)
            if after else None,
            "converged_s": round(conv, 1) if conv is not None else None,
            "per_second_first5_db": curve,
            "worst_window_db": round(min(w[1] - w[2] for w in after), 1) if after else None,
            "leaks_after_2s": leaks[:40],
            "round_trip_ms": round(lag * 1000 / RATE, 1), "xcorr_round_trip_ms": round(measured * 1000 / RATE, 1),
            "xcorr_peak": round(peak, 3), "speaking_windows": len(wins)}


def doubletalk(rig, work, mat, processing, reps=3, lead_s=3.0):
    """Both talk: alice throughout, bob `reps` times from `lead_s` on. PESQ of
    bob's voice as alice hears it."""
    rig.echo_on()
    rig.route("micB.monitor", "spkA.monitor")
    b_file = np.concatenate([np.zeros(int(lead_s * RATE))] + [mat.b_rep] * reps)
    write_wav(work / "dt-b.wav", b_file)
    a_file = np.concatenate([mat.a, np.zeros(int(0.4 * RATE)), mat.a])[: len(b_file) + RATE]
    write_wav(work / "dt-a.wav", a_file)
    call = Call(rig, work, processing, "dt")
    try:
        rec = rig.record(work / "dt.raw")
        time.sleep(0.5)
        pa, pb = rig.play("micA", work / "dt-a.wav"), rig.play("micB", work / "dt-b.wav")
        pb.wait()
        pa.wait()
        time.sleep(0.8)
        audio = call.audio()
        l, r = rig.stop_record(rec, work / "dt.raw")
    finally:
        call.stop()
    # Where bob's file starts in what alice heard: against his clean file.
    lag, peak = lag_of(r, b_file, max_lag_s=None)
    scores = pesq_reps(mat.b_rep, r, lag + int(lead_s * RATE), reps)
    return {"pesq_wb": round(float(np.median(scores)), 2) if scores else None,
            "pesq_each": [round(s, 2) for s in scores], "xcorr_peak": round(peak, 3),
            "heard_db": round(active_level_db(r), 1), "audio": audio, "errors": errors_of(audio)}


def noise_input(mat, noise_kind, work, reps=3, lead_s=3.0, snr_db=10.0):
    """Bob's microphone: `lead_s` of noise, then his phrase `reps` times with
    the noise under it at `snr_db` (active speech level against noise RMS)."""
    clean = np.concatenate([np.zeros(int(lead_s * RATE))] + [mat.b_rep] * reps + [np.zeros(int(0.5 * RATE))])
    noise = make_noise(work, noise_kind, len(clean) / RATE + 1)[: len(clean)]
    noise = noise - noise.mean()
    speech_db = active_level_db(mat.b)
    g = 10 ** ((speech_db - snr_db - rms_db(noise)) / 20)
    mix = clean + g * noise
    write_wav(work / f"noisy-{noise_kind}.wav", mix)
    return clean, mix


def snr_of(x, clean, lag, lead_s):
    """(SNR dB, speech-active dB, noise-only dB, lead-in noise dB, noise in
    pauses dB) of `x`, with speech activity from the clean reference shifted
    by `lag`. Frames next to speech (100 ms) count as neither."""
    ref = shift(clean, -lag, len(x))
    act = active_frames(ref) & (frame_db(ref) > -70)
    # Frames of silence in the reference, away from speech by 100 ms.
    pad = int(0.1 / FRAME_S)
    near = np.convolve(act.astype(float), np.ones(2 * pad + 1), "same") > 0
    quiet = ~near & (frame_db(ref) < -80)
    n = int(FRAME_S * RATE)
    k = len(act)
    fr = x[: k * n].reshape(k, n)
    t = np.arange(k) * FRAME_S
    start = lag / RATE
    lead = quiet & (t >= start + 0.5) & (t < start + lead_s - 0.1)
    pauses = quiet & (t >= start + lead_s)
    s_db = rms_db(fr[act].ravel()) if act.any() else FLOOR_DB
    n_db = rms_db(fr[quiet & (t >= start + 0.5)].ravel()) if quiet.any() else FLOOR_DB
    return (round(s_db - n_db, 1), round(s_db, 1), round(n_db, 1),
            round(rms_db(fr[lead].ravel()), 1) if lead.any() else None,
            round(rms_db(fr[pauses].ravel()), 1) if pauses.any() else None)


def noise(rig, work, mat, processing, kind, reps=3, lead_s=3.0):
    rig.echo_off()
    rig.route("micB.monitor", "spkA.monitor")
    clean, mix = noise_input(mat, kind, work, reps, lead_s)
    call = Call(rig, work, processing, "noise")
    try:
        rec = rig.record(work / "noise.raw")
        time.sleep(0.5)
        rig.play("micB", work / f"noisy-{kind}.wav").wait()
        time.sleep(0.8)
        audio = call.audio()
        l, r = rig.stop_record(rec, work / "noise.raw")
    finally:
        call.stop()
    # The lag of each channel against the clean phrase: bob's mic (left) and
    # what alice heard (right).
    lag_l, _ = lag_of(l, clean)
    lag_r, peak = lag_of(r, clean)
    snr_in = snr_of(l, clean, lag_l, lead_s)
    snr_out = snr_of(r, clean, lag_r, lead_s)
    scores = pesq_reps(mat.b_rep, r, lag_r + int(lead_s * RATE), reps)
    return {"snr_in_db": snr_in[0], "snr_heard_db": snr_out[0], "speech_heard_db": snr_out[1],
            "noise_heard_db": snr_out[2], "noise_heard_leadin_db": snr_out[3], "noise_heard_pauses_db": snr_out[4],
            "noise_in_db": snr_in[2],
            "pesq_wb": round(float(np.median(scores)), 2) if scores else None,
            "pesq_each": [round(s, 2) for s in scores], "xcorr_peak": round(peak, 3),
            "audio": audio, "errors": errors_of(audio)}


def click_file(path, period_s, count, kind):
    """`count` periods, a click (2 ms, 3 kHz, as the recipe) or a burst at
    the start of each."""
    n = int(RATE * period_s)
    x = np.zeros(n * count)
    if kind == "click":
        t = np.arange(int(0.002 * RATE)) / RATE
        b = 0.5 * np.sin(2 * np.pi * 3000 * t)
    else:
        b = burst()
    for i in range(count):
        x[i * n: i * n + len(b)] = b
    write_wav(path, x)


def burst(secs=0.12, f0=140.0):
    """A speech-like burst: a vowel-ish harmonic tone (f0 with harmonics
    shaped by two formants), sharp 2 ms attack, short decay."""
    t = np.arange(int(secs * RATE)) / RATE
    x = np.zeros_like(t)
    for h in range(1, 30):
        f = h * f0
        if f > 7000:
            break
        amp = np.exp(-((f - 700) / 300) ** 2) + 0.6 * np.exp(-((f - 1200) / 400) ** 2) + 0.05
        x += amp * np.sin(2 * np.pi * f * t)
    env = np.minimum(1, t / 0.002) * np.minimum(1, (secs - t) / 0.03)
    x = x * env
    return 0.5 * x / np.abs(x).max()


def pair_onsets(l, r, period_s, max_s=0.45):
    """Delay of each left onset to the next right onset, ms."""
    thr_l = max(0.02, 0.3 * np.abs(l).max())
    thr_r = max(0.01, 0.3 * np.abs(r).max())
    ol = onsets(l, thr_l, quiet_s=period_s * 0.6)
    orr = np.array(onsets(r, thr_r, quiet_s=period_s * 0.6))
    out = []
    for i in ol:
        after = orr[(orr >= i) & (orr < i + max_s * RATE)] if len(orr) else []
        if len(after):
            out.append((after[0] - i) * 1000 / RATE)
    return out, len(ol)


def latency(rig, work, processing, kind, count=30, period_s=0.5, skip=2):
    rig.echo_off()
    click_file(work / f"lat-{kind}.wav", period_s, count, kind)
    # The rig's skew: micA.monitor on both sides.
    rig.route("micA.monitor", "micA.monitor")
    rec = rig.record(work / "lat-skew.raw")
    time.sleep(0.3)
    click_file(work / "skew.wav", period_s, 6, kind)
    rig.play("micA", work / "skew.wav").wait()
    time.sleep(0.3)
    l, r = rig.stop_record(rec, work / "lat-skew.raw")
    sk, _ = pair_onsets(l, r, period_s)
    skew = float(np.median(sk)) if sk else 0.0
    rig.route("micA.monitor", "spkB.monitor")
    call = Call(rig, work, processing, "lat")
    try:
        rec = rig.record(work / "lat.raw")
        time.sleep(0.5)
        rig.play("micA", work / f"lat-{kind}.wav").wait()
        time.sleep(0.6)
        audio = call.audio()
        l, r = rig.stop_record(rec, work / "lat.raw")
    finally:
        call.stop()
    lats, sent = pair_onsets(l, r, period_s)
    lats = [x - skew for x in lats[skip:]]
    return {"signal": kind, "sent": sent, "heard": len(lats) + min(skip, len(lats)),
            "p50_ms": round(pct(lats, 50), 1) if lats else None, "max_ms": round(max(lats), 1) if lats else None,
            "min_ms": round(min(lats), 1) if lats else None, "measured": len(lats),
            "rig_skew_ms": round(skew, 2), "audio": audio, "errors": errors_of(audio)}


# ---------------------------------------------------------------- main

def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}{unit}" if abs(v) < 1000 else f"{v:.0f}{unit}"
    return f"{v}{unit}"


def table(res):
    rows = []

    def row(what, on, off, goal=""):
        rows.append((what, fmt(on), fmt(off), goal))

    p = res.get("path")
    if p:
        rows.append(("echo path at bob (spkB->micB)", f"{p['gain_db']} dB, {p['delay_ms']} ms", "", "asked -6 dB, 40 ms"))
    e_on, e_off = res.get("echo_on"), res.get("echo_off")
    if e_on or e_off:
        g = lambda r, k: (r or {}).get(k)
        row("echo: heard below own speech, dB (after 2 s)", g(e_on, "echo_below_speech_db"),
            g(e_off, "echo_below_speech_db"), ">= 30")
        row("echo: speaking windows >= 30 dB down, %", g(e_on, "windows_30db_pct"), g(e_off, "windows_30db_pct"))
        row("echo: converged (all later windows >= 30 dB), s", g(e_on, "converged_s"), g(e_off, "converged_s"),
            "<= 2")
        c_on = g(e_on, "per_second_first5_db")
        c_off = g(e_off, "per_second_first5_db")
        rows.append(("echo: dB below speech, seconds 0-1..4-5", " ".join(fmt(x) for x in c_on or []),
                     " ".join(fmt(x) for x in c_off or []), ""))
        row("echo: round trip, ms", g(e_on, "round_trip_ms"), g(e_off, "round_trip_ms"))
        row("echo: bob's canceller ERLE (status), dB", ((e_on or {}).get("audio") or {}).get("bob", {}).get("erle_db"),
            ((e_off or {}).get("audio") or {}).get("bob", {}).get("erle_db"))
        row("echo: bob's echo delay (status), ms", ((e_on or {}).get("audio") or {}).get("bob", {}).get("echo_delay_ms"),
            ((e_off or {}).get("audio") or {}).get("bob", {}).get("echo_delay_ms"))
        for who in ("alice", "bob"):
            row(f"CPU {who}, % of a core", ((e_on or {}).get("cpu") or {}).get(f"{who}_pct"),
                ((e_off or {}).get("cpu") or {}).get(f"{who}_pct"))
        row("CPU pulseaudio (rig, not counted), %", ((e_on or {}).get("cpu") or {}).get("pulseaudio_pct"),
            ((e_off or {}).get("cpu") or {}).get("pulseaudio_pct"))
    d_on, d_off = res.get("doubletalk_on"), res.get("doubletalk_off")
    if d_on or d_off:
        row("double talk: PESQ-WB of bob at alice", (d_on or {}).get("pesq_wb"), (d_off or {}).get("pesq_wb"),
            ">= 3.5")
    for kind in ("pinknoise", "brownnoise"):
        n_on, n_off = res.get(f"noise_{kind}_on"), res.get(f"noise_{kind}_off")
        if not (n_on or n_off):
            continue
        k = kind.replace("noise", "")
        g = lambda r, key: (r or {}).get(key)
        row(f"{k} noise: SNR at bob's mic, dB", g(n_on, "snr_in_db"), g(n_off, "snr_in_db"), "10")
        row(f"{k} noise: SNR alice hears, dB", g(n_on, "snr_heard_db"), g(n_off, "snr_heard_db"))
        if n_on and n_off:
            rows.append((f"{k} noise: SNR improvement on vs off, dB",
                         fmt(round(n_on["snr_heard_db"] - n_off["snr_heard_db"], 1)), "", ">= 10"))
        row(f"{k} noise: noise heard, lead-in / pauses, dBFS",
            f"{fmt(g(n_on, 'noise_heard_leadin_db'))} / {fmt(g(n_on, 'noise_heard_pauses_db'))}" if n_on else None,
            f"{fmt(g(n_off, 'noise_heard_leadin_db'))} / {fmt(g(n_off, 'noise_heard_pauses_db'))}" if n_off else None)
        row(f"{k} noise: PESQ-WB vs clean phrase", g(n_on, "pesq_wb"), g(n_off, "pesq_wb"), "on > off")
    for kind in ("click", "burst"):
        l_on, l_off = res.get(f"latency_{kind}_on"), res.get(f"latency_{kind}_off")
        if not (l_on or l_off):
            continue
        g = lambda r, key: (r or {}).get(key)
        row(f"latency ({kind}s): heard / sent", f"{g(l_on, 'heard')}/{g(l_on, 'sent')}" if l_on else None,
            f"{g(l_off, 'heard')}/{g(l_off, 'sent')}" if l_off else None)
        row(f"latency ({kind}s): median, ms", g(l_on, "p50_ms"), g(l_off, "p50_ms"), "<= 60")
        row(f"latency ({kind}s): max, ms", g(l_on, "max_ms"), g(l_off, "max_ms"), "<= 80")
    w = [max(len(r[i]) for r in rows + [("what", "on", "off", "goal")]) for i in range(4)]
    line = lambda r: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(r))
    out = [line(("what", "processing on", "off", "goal")), line(tuple("-" * x for x in w))]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--noises", default="pinknoise,brownnoise", help="noise kinds (sox synth names)")
    ap.add_argument("--out", default=None, help="JSON results (default bench/results-audio-<date>.json)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = set(filter(None, args.only.split(","))) or set(SCENARIOS)
    unknown = only - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; they are {', '.join(SCENARIOS)}")
    out = Path(args.out or Path(__file__).parent / f"results-audio-{time.strftime('%Y-%m-%d-%H%M')}.json")
    for tool in ("pulseaudio", "pactl", "parec", "paplay", "sox", "espeak-ng"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (bench/audio.sh installs it)")
    t_start = time.time()
    work = Path(tempfile.mkdtemp(prefix="apero-audio-"))
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "backend": "cpal (ALSA default -> PulseAudio null sinks)"}
    try:
        rev = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        results["commit"] = rev
    except OSError:
        pass
    rig = None
    try:
        mat = Material(work)
        results["material"] = {"alice_s": round(len(mat.a) / RATE, 1), "bob_phrase_s": round(len(mat.b) / RATE, 1),
                               "alice_level_db": round(active_level_db(mat.a), 1),
                               "bob_level_db": round(active_level_db(mat.b), 1)}
        rig = Rig()

        def step(name, fn):
            t = time.time()
            try:
                r = fn()
            except Exception as e:  # one failed scenario does not lose the others
                r = {"error": f"{type(e).__name__}: {e}"[:2000]}
            r["secs"] = round(time.time() - t, 1)
            short = {k: v for k, v in r.items() if k not in ("audio",)}
            print(f"{name}: {json.dumps(short)}", flush=True)
            if r.get("errors"):
                print(f"  !! device errors: {r['errors']}", flush=True)
            results[name] = r
            out.write_text(json.dumps(results, indent=2))
            return r

        if "path" in only:
            step("path", lambda: echo_path(rig, work))
        if "echo" in only:
            off = step("echo_off", lambda: echo(rig, work, mat, False))
            hint = None
            if (off.get("xcorr_peak") or 0) >= 0.5:
                hint = int(off["xcorr_round_trip_ms"] * RATE / 1000)
            step("echo_on", lambda: echo(rig, work, mat, True, hint))
        if "doubletalk" in only:
            step("doubletalk_on", lambda: doubletalk(rig, work, mat, True))
            step("doubletalk_off", lambda: doubletalk(rig, work, mat, False))
        if "noise" in only:
            for kind in filter(None, args.noises.split(",")):
                step(f"noise_{kind}_on", lambda kind=kind: noise(rig, work, mat, True, kind))
                step(f"noise_{kind}_off", lambda kind=kind: noise(rig, work, mat, False, kind))
        if "latency" in only:
            for on in (True, False):
                tag = "on" if on else "off"
                r = step(f"latency_click_{tag}", lambda on=on: latency(rig, work, on, "click"))
                if on and (r.get("measured") or 0) < 12:
                    # Clicks are no speech: the RNN's decision may hold them
                    # back (DTX). A vowel-like burst instead.
                    step("latency_burst_on", lambda: latency(rig, work, True, "burst"))
                    step("latency_burst_off", lambda: latency(rig, work, False, "burst"))
    finally:
        if rig:
            rig.stop()
        if os.environ.get("APERO_BENCH_KEEP_WORK"):
            print(f"work files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["total_s"] = round(time.time() - t_start, 1)
    out.write_text(json.dumps(results, indent=2))
    print()
    print(table(results))
    print(f"\n{out} ({results['total_s']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
