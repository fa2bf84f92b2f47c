#!/usr/bin/env python3
"""apero audio-processing benchmark (issue 15): echo cancellation, double
talk, noise suppression, mouth-to-ear delay and CPU, each with the daemon's
processing on (the default) and off (`aperod --audio-processing off`).

Two real daemons (release build) on the cpal backend, each on its own
virtual laptop of a private PulseAudio server (shared/recipes/audio-rig.md;
RIG_PA below): alice talks into `micA` (her microphone is `micA.monitor`) and
hears `spkA`, bob likewise with `micB`/`spkB`. Fresh daemons per scenario,
2.5 s in the call before anything is played. The scenarios:

  path        the acoustic path alone: bob's "laptop" plays his speaker back
              into his microphone (module-loopback spkB.monitor -> micB,
              40 ms, volume -6 dB): its measured gain and delay.
  echo        alice talks (~19 s of espeak-ng), bob is silent, the path on.
              How far under alice's own voice (at her mic) does its echo
              come back to her (at her speaker), in 200 ms windows, and how
              soon; bob's canceller's own figures (`call status`); CPU per
              daemon (the sound server's own CPU is reported, not counted).
  doubletalk  both talk at once (bob's phrase into micB, where alice's echo
              is too): PESQ-WB of bob's voice as alice hears it.
  noise       bob's microphone: his phrase with steady pink or brown noise
              under it at 10 dB SNR, the noise alone for 3 s first; no echo
              path; alice silent. The SNR alice hears (speech-active against
              noise-only stretches, from the clean phrase's activity) and
              PESQ-WB against the clean phrase; `clean` (no noise) is the
              call path's own PESQ, the baseline.
  latency     clicks (as in the recipe) and vowel-like bursts into micA,
              micA and spkB recorded sample-exact on one clock (RIG_PA_PAIR):
              mouth-to-ear delay.

    sudo bench/audio.sh                 # everything, ~6 minutes
    sudo bench/audio.sh --only echo,latency --noises clean
    sudo bench/audio.sh --only latency --latency-calls 10   # ten calls of clicks, default settings
    APERO_BENCH_KEEP_LOGS=/tmp/logs APERO_BENCH_KEEP_WORK=1 sudo -E bench/audio.sh
        # keep the daemons' logs, and the recordings (raw s16le 48 kHz)

Results: a table on stdout, JSON in bench/results-audio-<date>.json.
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

from lib import RATE, Daemon, binaries, onsets, pct, proc_cpu_seconds, read_wav, wait_participants, write_wav

SCENARIOS = ("path", "echo", "doubletalk", "noise", "latency")

TALK_A = ("Good evening everyone, and thank you for joining the call tonight. "
          "I wanted to go over the plans for the weekend trip to the mountains. "
          "We leave on Friday at six in the morning, so please pack the night before. "
          "The weather looks clear, but bring a warm jacket and good shoes. "
          "Does anyone have questions about the route or the cabin?")
TALK_B = ("Sorry to interrupt, but the train on Friday is cancelled. "
          "We could take the bus at seven instead.")

# The rig is the recipe's rig.pa as it is (four mono null sinks micA, spkA,
# micB, spkB, each kept rendering by a silence loopback: the recipe's
# pitfall), plus a 4-channel recorder: a null sink `rig` whose channels
# aux0..aux3 (remap sinks) are fed by loopbacks from the four monitors, so
# one recording of rig.monitor holds all four on one clock. Those loopbacks
# adapt their rate to hold 20 ms: the channels drift against each other by up
# to ~2 ms a second, so the recorder serves level measurements in 200 ms
# windows (echo); PESQ recordings are taken straight from a monitor with
# parec (sample-exact) and aligned per phrase.
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
load-module module-null-sink sink_name=rig rate=48000 channels=4 channel_map=aux0,aux1,aux2,aux3
""" + "".join(
    f"load-module module-remap-sink sink_name=rec{d} master=rig channels=1 channel_map=mono master_channel_map=aux{i} remix=no\n"
    f"load-module module-loopback source={d}.monitor sink=rec{d} latency_msec=20 source_dont_move=true sink_dont_move=true\n"
    for i, d in enumerate(("micA", "spkA", "micB", "spkB")))
MIC_A, SPK_A, MIC_B, SPK_B = range(4)  # channels of a rig.monitor recording

# For the mouth-to-ear delay, where a drift of a few ms matters: micA and spkB
# are the two channels of one null sink `pair` (mono remap sinks), so one
# recording of pair.monitor holds both sample-exact, with nothing between.
# spkA and micB stay plain null sinks. (With all four devices on one sink,
# the daemons' speakers' ~0.5 ms latency requests set that sink's pace for
# the microphones too: both daemons' CPU tripled and underruns came. Here
# only alice's microphone shares bob's speaker's pace.)
RIG_PA_PAIR = """load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=pair rate=48000 channels=2 channel_map=aux0,aux1
load-module module-remap-sink sink_name=micA master=pair channels=1 channel_map=mono master_channel_map=aux0 remix=no sink_properties=device.description=micA
load-module module-remap-sink sink_name=spkB master=pair channels=1 channel_map=mono master_channel_map=aux1 remix=no sink_properties=device.description=spkB
load-module module-null-sink sink_name=spkA rate=48000 channels=1 sink_properties=device.description=spkA
load-module module-null-sink sink_name=micB rate=48000 channels=1 sink_properties=device.description=micB
load-module module-null-source source_name=silence rate=48000 channels=1
load-module module-loopback source=silence sink=pair latency_msec=20
load-module module-loopback source=silence sink=spkA latency_msec=20
load-module module-loopback source=silence sink=micB latency_msec=20
"""

# Analysis: 20 ms frames for activity, 200 ms windows for the echo curve.
FRAME_S = 0.02
WIN_S = 0.2
FLOOR_DB = -120.0  # digital silence (DTX) counts as this


# ---------------------------------------------------------------- the rig

class Rig:
    """A private PulseAudio server (own XDG_RUNTIME_DIR) with the two
    laptops' microphones and speakers (RIG_PA)."""

    def __init__(self, layout="recipe"):
        self.layout = layout
        self.dir = Path(tempfile.mkdtemp(prefix="apero-pulse-"))
        # HOME too: pulseaudio writes its cookie and state under it.
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.dir), "HOME": str(self.dir)}
        for k in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK"):
            self.env.pop(k, None)
        (self.dir / "rig.pa").write_text(RIG_PA if layout == "recipe" else RIG_PA_PAIR)
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

    def loopback(self, source, sink, latency_ms=20, steady=False):
        # steady: no rate controller (adjust_time=0). Left on, it resamples
        # to hold its latency and so moves the echo by milliseconds, which a
        # room's acoustic path never does (the e2e echo test measured AEC3
        # held at ~11 dB ERLE by it).
        extra = ["adjust_time=0"] if steady else []
        return self.pactl("load-module", "module-loopback", f"source={source}", f"sink={sink}",
                          f"latency_msec={latency_ms}", "source_dont_move=true", "sink_dont_move=true", *extra)

    def unload(self, module):
        # By index: `unload-module module-loopback` would take every loopback.
        self.pactl("unload-module", str(module))

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
            self.echo_module = self.loopback("spkB.monitor", "micB", delay_ms, steady=True)
            # PulseAudio's volume is cubic: pactl converts dB itself.
            self.pactl("set-sink-input-volume", self.sink_input_of(self.echo_module), f"{gain_db}dB")
            time.sleep(0.3)

    def echo_off(self):
        if self.echo_module is not None:
            self.unload(self.echo_module)
            self.echo_module = None

    def play(self, sink, path):
        return subprocess.Popen(["paplay", "-d", sink, str(path)], env=self.env)

    def record(self, path, source="rig.monitor", channels=4):
        """Raw s16le; stop with stop_record. --latency-msec: without it parec
        gets 2 s chunks and drops them when stopped."""
        f = open(path, "wb")
        cmd = ["parec", "--latency-msec=20", "-d", source, f"--rate={RATE}", f"--channels={channels}",
               "--format=s16le"]
        if channels > 1:
            cmd.append("--channel-map=" + ",".join(f"aux{i}" for i in range(channels)))
        p = subprocess.Popen(cmd, stdout=f, env=self.env)
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
        i = lo + int(np.argmax(c[lo:hi]))
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


def pesq_reps(ref, heard, first, count, slack_s=0.3):
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
                                                  "input_level_db", "reopened", "playback_buffer_ms")}
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

def path_of(spk, mic):
    """Gain (dB) and delay (samples) from a speaker's signal to a microphone
    that hears it, and the correlation at that delay."""
    lag, peak = lag_of(mic, spk, max_lag_s=1.0)
    m = shift(mic, lag, len(spk))
    act = frame_db(spk) > rms_db(spk) - 15
    n = int(FRAME_S * RATE)
    k = len(act)
    g = rms_db(m[: k * n].reshape(k, n)[act].ravel()) - rms_db(spk[: k * n].reshape(k, n)[act].ravel())
    return g, lag, peak


def echo_path(rig, work):
    """The acoustic path on its own (no daemon): pink noise into spkB,
    spkB against micB in one recording."""
    rig.echo_on()
    write_wav(work / "probe.wav", make_noise(work, "pinknoise", 3) * 0.5)
    rec = rig.record(work / "path.raw")
    time.sleep(0.3)
    rig.play("spkB", work / "probe.wav").wait()
    time.sleep(0.5)
    x = rig.stop_record(rec, work / "path.raw")
    g, lag, peak = path_of(x[SPK_B], x[MIC_B])
    return {"gain_db": round(g, 2), "delay_ms": round(lag * 1000 / RATE, 1), "correlation": round(peak, 3),
            "asked": {"gain_db": -6.0, "latency_msec": 40}}


def echo(rig, work, mat, processing, lag_hint=None):
    """Alice talks ~19 s, bob is silent (his mic: only the echo path)."""
    rig.echo_on()
    tag = "on" if processing else "off"
    call = Call(rig, work, processing, "echo")
    try:
        rec = rig.record(work / f"echo-{tag}.raw")
        time.sleep(0.5)
        c0, t0, r0 = call.cpu(), time.time(), rig.cpu_seconds()
        talk = rig.play("micA", work / "talk-a.wav")
        # Bob's canceller's own view, about every 2 s (its figures are
        # refreshed once a second).
        seen = []
        while talk.poll() is None:
            time.sleep(2.0)
            au = call.b.cli("call", "status").get("audio") or {}
            seen.append((round(time.time() - t0, 1), au.get("erle_db"), au.get("echo_delay_ms")))
        time.sleep(0.8)
        c1, t1, r1 = call.cpu(), time.time(), rig.cpu_seconds()
        audio = call.audio()
        x = rig.stop_record(rec, work / f"echo-{tag}.raw")
    finally:
        call.stop()
    dt = t1 - t0
    cpu = {"alice_pct": round(100 * (c1[0] - c0[0]) / dt, 1), "bob_pct": round(100 * (c1[1] - c0[1]) / dt, 1),
           "pulseaudio_pct": round(100 * (r1 - r0) / dt, 1) if r0 is not None and r1 is not None else None}
    res = analyse_echo(x[MIC_A], x[SPK_A], lag_hint)
    # Along the way: alice's voice from her mic to bob's speaker (one way,
    # through the call: speech's mouth-to-ear), and bob's acoustic path
    # during the call (spkB -> micB).
    one_way, c = envelope_lag(x[SPK_B], x[MIC_A])
    g, lag, peak = path_of(x[SPK_B], x[MIC_B])
    res.update({"alice_to_bob_speaker_ms": round(one_way * 1000 / RATE, 1), "alice_to_bob_env_corr": round(c, 2),
                "echo_path_in_call": {"gain_db": round(g, 2), "delay_ms": round(lag * 1000 / RATE, 1),
                                      "correlation": round(peak, 3)},
                "bob_canceller_over_time": seen,
                "cpu": cpu, "audio": audio, "errors": errors_of(audio)})
    return res


def analyse_echo(l, r, lag_hint):
    # The echo's round trip: from the cross-correlation when it is clear
    # (processing off), else the hint from the other run.
    lag, peak = envelope_lag(r, l)
    measured = lag
    if peak < 0.3 and lag_hint is not None:
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
            "round_trip_ms": round(lag * 1000 / RATE, 1), "own_round_trip_ms": round(measured * 1000 / RATE, 1),
            "env_corr": round(peak, 3), "speaking_windows": len(wins)}


def doubletalk(rig, work, mat, processing, reps=3, lead_s=3.0):
    """Both talk: alice throughout, bob `reps` times from `lead_s` on (his
    microphone also carries alice's echo). PESQ-WB of bob's voice as alice
    hears it, against his clean phrase."""
    rig.echo_on()
    b_file = np.concatenate([np.zeros(int(lead_s * RATE))] + [mat.b_rep] * reps)
    write_wav(work / "dt-b.wav", b_file)
    a_file = np.concatenate([mat.a, np.zeros(int(0.4 * RATE)), mat.a])[: len(b_file) + RATE]
    write_wav(work / "dt-a.wav", a_file)
    tag = "on" if processing else "off"
    call = Call(rig, work, processing, "dt")
    try:
        # Straight from the monitors: sample-exact, each aligned on its own.
        rec_h = rig.record(work / f"dt-{tag}-spkA.raw", "spkA.monitor", 1)
        rec_m = rig.record(work / f"dt-{tag}-micB.raw", "micB.monitor", 1)
        time.sleep(0.5)
        pa, pb = rig.play("micA", work / "dt-a.wav"), rig.play("micB", work / "dt-b.wav")
        pb.wait()
        pa.wait()
        time.sleep(0.8)
        audio = call.audio()
        (heard,) = rig.stop_record(rec_h, work / f"dt-{tag}-spkA.raw")
        (mic,) = rig.stop_record(rec_m, work / f"dt-{tag}-micB.raw")
    finally:
        call.stop()
    # Where bob's file starts in what alice heard: against his clean file.
    lag, peak = envelope_lag(heard, b_file, max_lag_s=3.0)
    scores = pesq_reps(mat.b_rep, heard, lag + int(lead_s * RATE), reps)
    # Bob's phrase as it is at his own microphone (alice's echo is in it
    # too), scored the same way: what the call had to work with.
    lag_m, _ = envelope_lag(mic, b_file, max_lag_s=3.0)
    mic_scores = pesq_reps(mat.b_rep, mic, lag_m + int(lead_s * RATE), reps)
    # Bob's mic holds his file sample for sample, plus alice's echo: take the
    # file out and what is left is the echo. Bob's voice against it, over his
    # active frames: how hard the double talk is.
    lag_x, _ = lag_of(mic, b_file, max_lag_s=3.0)
    n = min(len(mic) - lag_x, len(b_file))
    echo_part = mic[lag_x: lag_x + n] - b_file[:n]
    act = active_frames(b_file[:n])
    f = int(FRAME_S * RATE)
    k = len(act)
    sir = (rms_db(b_file[: k * f].reshape(k, f)[act].ravel())
           - rms_db(echo_part[: k * f].reshape(k, f)[act].ravel()))
    return {"pesq_wb": round(float(np.median(scores)), 2) if scores else None,
            "pesq_each": [round(v, 2) for v in scores], "env_corr": round(peak, 3),
            "pesq_wb_at_bobs_mic": round(float(np.median(mic_scores)), 2) if mic_scores else None,
            "bob_over_echo_at_his_mic_db": round(sir, 1),
            "heard_db": round(active_level_db(heard), 1), "audio": audio, "errors": errors_of(audio)}


def noise_input(mat, noise_kind, work, reps=3, lead_s=3.0, snr_db=10.0):
    """Bob's microphone: `lead_s` of noise, then his phrase `reps` times with
    the noise under it at `snr_db` (active speech level against noise RMS)."""
    clean = np.concatenate([np.zeros(int(lead_s * RATE))] + [mat.b_rep] * reps + [np.zeros(int(0.5 * RATE))])
    if noise_kind == "clean":  # the baseline: the call path alone
        write_wav(work / "noisy-clean.wav", clean)
        return clean, clean
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
    """Bob's microphone: noise alone, then his phrase in it at 10 dB SNR;
    alice silent, no echo path. What alice hears."""
    rig.echo_off()
    clean, mix = noise_input(mat, kind, work, reps, lead_s)
    tag = f"{kind}-" + ("on" if processing else "off")
    call = Call(rig, work, processing, "noise")
    try:
        rec_h = rig.record(work / f"noise-{tag}-spkA.raw", "spkA.monitor", 1)
        rec_m = rig.record(work / f"noise-{tag}-micB.raw", "micB.monitor", 1)
        time.sleep(0.5)
        rig.play("micB", work / f"noisy-{kind}.wav").wait()
        time.sleep(0.8)
        audio = call.audio()
        (heard,) = rig.stop_record(rec_h, work / f"noise-{tag}-spkA.raw")
        (mic,) = rig.stop_record(rec_m, work / f"noise-{tag}-micB.raw")
    finally:
        call.stop()
    # Each against the clean phrase: bob's mic (the noisy input, to check
    # its SNR) and what alice heard.
    lag_m, _ = envelope_lag(mic, clean, max_lag_s=3.0)
    lag_h, peak = envelope_lag(heard, clean, max_lag_s=3.0)
    snr_in = snr_of(mic, clean, lag_m, lead_s)
    snr_out = snr_of(heard, clean, lag_h, lead_s)
    scores = pesq_reps(mat.b_rep, heard, lag_h + int(lead_s * RATE), reps)
    mic_scores = pesq_reps(mat.b_rep, mic, lag_m + int(lead_s * RATE), reps)
    return {"snr_in_db": snr_in[0], "snr_heard_db": snr_out[0], "speech_heard_db": snr_out[1],
            "noise_heard_db": snr_out[2], "noise_heard_leadin_db": snr_out[3], "noise_heard_pauses_db": snr_out[4],
            "speech_in_db": snr_in[1], "noise_in_db": snr_in[2],
            "pesq_wb": round(float(np.median(scores)), 2) if scores else None,
            "pesq_each": [round(v, 2) for v in scores], "env_corr": round(peak, 3),
            "pesq_wb_at_bobs_mic": round(float(np.median(mic_scores)), 2) if mic_scores else None,
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
    out, missed = [], []
    for n, i in enumerate(ol):
        after = orr[(orr >= i) & (orr < i + max_s * RATE)] if len(orr) else []
        if len(after):
            out.append((after[0] - i) * 1000 / RATE)
        else:
            missed.append(n)
    return out, len(ol), missed


def latency(rig, work, processing, kind, count=30, period_s=0.5, skip=2):
    """Clicks (or bursts) into micA; micA against spkB in one recording of
    the `pair` rig (RIG_PA_PAIR)."""
    assert rig.layout == "pair"
    click_file(work / f"lat-{kind}.wav", period_s, count, kind)
    tag = f"{kind}-" + ("on" if processing else "off")
    call = Call(rig, work, processing, "lat")
    try:
        rec = rig.record(work / f"lat-{tag}.raw", "pair.monitor", 2)
        time.sleep(0.5)
        rig.play("micA", work / f"lat-{kind}.wav").wait()
        time.sleep(0.6)
        audio = call.audio()
        x = rig.stop_record(rec, work / f"lat-{tag}.raw")
    finally:
        call.stop()
    lats, sent, missed = pair_onsets(x[0], x[1], period_s)
    heard = len(lats)
    lats = lats[skip:]
    return {"signal": kind, "sent": sent, "heard": heard, "missed": missed,
            "p50_ms": round(pct(lats, 50), 1) if lats else None, "max_ms": round(max(lats), 1) if lats else None,
            "min_ms": round(min(lats), 1) if lats else None, "measured": len(lats),
            # Does the delay grow during the run (the playout's buffer)?
            "first8_p50_ms": round(pct(lats[:8], 50), 1) if lats else None,
            "last8_p50_ms": round(pct(lats[-8:], 50), 1) if lats else None,
            "each_ms": [round(v, 1) for v in lats], "audio": audio, "errors": errors_of(audio)}


# ---------------------------------------------------------------- main

def cpu_ticks():
    """(busy, total, steal) jiffies of the whole machine, from /proc/stat."""
    f = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = f[3] + f[4]
    total = sum(f[:8])
    return total - idle, total, f[7]


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
        cv = lambda r: None if not r else ("never" if r.get("converged_s") is None else r["converged_s"])
        row("echo: converged (all later windows >= 30 dB), s", cv(e_on), cv(e_off), "<= 2")
        row("echo: worst speaking window after 2 s, dB down", g(e_on, "worst_window_db"), g(e_off, "worst_window_db"))
        c_on = g(e_on, "per_second_first5_db")
        c_off = g(e_off, "per_second_first5_db")
        rows.append(("echo: dB below speech, seconds 0-1..4-5", " ".join(fmt(x) for x in c_on or []),
                     " ".join(fmt(x) for x in c_off or []), ""))
        row("echo: round trip, ms", g(e_on, "round_trip_ms"), g(e_off, "round_trip_ms"))
        pc = lambda r: (f"{r['echo_path_in_call']['gain_db']} dB, {r['echo_path_in_call']['delay_ms']} ms"
                        if r and r.get("echo_path_in_call") else None)
        row("echo path at bob in the call (recorder, +-5 ms)", pc(e_on), pc(e_off))
        row("speech alice mic -> bob spk (recorder, +-5 ms), ms", g(e_on, "alice_to_bob_speaker_ms"),
            g(e_off, "alice_to_bob_speaker_ms"))
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
        row("double talk: same at bob's mic (echo in it)", (d_on or {}).get("pesq_wb_at_bobs_mic"),
            (d_off or {}).get("pesq_wb_at_bobs_mic"))
        row("double talk: bob's voice over the echo at his mic, dB", (d_on or {}).get("bob_over_echo_at_his_mic_db"),
            (d_off or {}).get("bob_over_echo_at_his_mic_db"))
    c_on, c_off = res.get("noise_clean_on"), res.get("noise_clean_off")
    if c_on or c_off:
        row("clean phrase (no noise, no echo): PESQ-WB", (c_on or {}).get("pesq_wb"), (c_off or {}).get("pesq_wb"))
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
        row(f"latency ({kind}s): median of first / last 8, ms",
            f"{fmt(g(l_on, 'first8_p50_ms'))} / {fmt(g(l_on, 'last8_p50_ms'))}" if l_on else None,
            f"{fmt(g(l_off, 'first8_p50_ms'))} / {fmt(g(l_off, 'last8_p50_ms'))}" if l_off else None)
    calls = [res[k] for k in res if k == "latency_click_on" or k.startswith("latency_click_on_call")]
    if len(calls) > 1:
        # Every call of clicks: median / max ms, heard / sent, and which clicks went missing.
        for n, c in enumerate(calls, 1):
            missed = f", missed #{','.join(map(str, c['missed']))}" if c.get("missed") else ""
            rows.append((f"clicks, call {n}: median / max ms, heard", f"{fmt(c.get('p50_ms'))} / {fmt(c.get('max_ms'))}, "
                         f"{c['heard']}/{c['sent']}{missed}", "", "<= 60 / <= 80, all"))
    busy = [(k, v["machine"]["busy_pct"]) for k, v in res.items() if isinstance(v, dict) and v.get("machine")]
    if busy:
        steal = [v["machine"]["steal_pct"] for v in res.values() if isinstance(v, dict) and v.get("machine")]
        rows.append(("machine busy / steal during the steps, %",
                     f"{min(b for _, b in busy):.0f}-{max(b for _, b in busy):.0f} / "
                     f"{min(steal):.0f}-{max(steal):.0f}", "", "others' load shows as underruns"))
    # Speaker underruns (call status, both daemons) per scenario.
    und = lambda r: None if not r or not r.get("audio") else "/".join(
        str(r["audio"][w].get("underruns")) for w in ("alice", "bob"))
    for n in [k for k in res if k.endswith("_on")]:
        base = n[:-3]
        rows.append((f"underruns alice/bob: {base}", fmt(und(res.get(base + "_on"))), fmt(und(res.get(base + "_off"))), ""))
    w = [max(len(r[i]) for r in rows + [("what", "on", "off", "goal")]) for i in range(4)]
    line = lambda r: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(r))
    out = [line(("what", "processing on", "off", "goal")), line(tuple("-" * x for x in w))]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--noises", default="clean,pinknoise,brownnoise",
                    help="noise kinds (sox synth names; clean: no noise, the baseline)")
    ap.add_argument("--out", default=None, help="JSON results (default bench/results-audio-<date>.json)")
    ap.add_argument("--latency-calls", type=int, default=1,
                    help="calls of clicks with the default settings (processing on), each with fresh daemons "
                         "(issue 28 asks for ten: the phase between the two machines' ticks differs per call)")
    ap.add_argument("--anchor", action="store_true",
                    help="the same scenarios with Chromium's WebRTC instead of aperod (bench/webrtc_rig.py): "
                         "two headless Chromium on the rig's devices, processing = getUserMedia's "
                         "echoCancellation/noiseSuppression/autoGainControl; for now doubletalk only "
                         "(the other scenarios read the daemons' call status)")
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
    load = float(Path("/proc/loadavg").read_text().split()[0])
    if load > 1.0:
        print(f"note: load average {load} at the start: other work on this machine shows up here as speaker "
              "underruns, playout growth and a canceller that loses the echo delay", flush=True)
    work = Path(tempfile.mkdtemp(prefix="apero-audio-"))
    if args.anchor:
        global Call
        from webrtc_rig import BrowserCall

        class Call(BrowserCall):  # noqa: F811 (the scenarios call `Call`)
            def __init__(self, rig, work, processing=True, tag="x"):
                super().__init__(rig, work, processing=processing, tag=tag)
    results = {"date": time.strftime("%Y-%m-%d %H:%M"),
               "backend": "Chromium WebRTC (anchor)" if args.anchor else "cpal (PulseAudio host, PULSE_SOURCE/PULSE_SINK)",
               "loadavg_at_start": load, "cpus": os.cpu_count()}
    try:
        git = ["git", "-C", str(Path(__file__).parent.parent)]
        rev = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "daemon", "cli"], capture_output=True,
                               text=True).stdout.strip()
        results["commit"] = rev + ("+dirty" if dirty else "")
    except OSError:
        pass
    aperod = binaries()[0]
    results["aperod_mtime"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(aperod.stat().st_mtime))
    rig = None
    try:
        mat = Material(work)
        results["material"] = {"alice_s": round(len(mat.a) / RATE, 1), "bob_phrase_s": round(len(mat.b) / RATE, 1),
                               "alice_level_db": round(active_level_db(mat.a), 1),
                               "bob_level_db": round(active_level_db(mat.b), 1)}
        rig = Rig()

        def step(name, fn):
            t = time.time()
            cpu0 = cpu_ticks()
            try:
                r = fn()
            except Exception as e:  # one failed scenario does not lose the others
                r = {"error": f"{type(e).__name__}: {e}"[:2000]}
            r["secs"] = round(time.time() - t, 1)
            # The machine's state: other work on these 2 cores shows up as
            # underruns and playout growth, so say how busy it was.
            cpu1 = cpu_ticks()
            r["machine"] = {"busy_pct": round(100 * (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1]), 1),
                            "steal_pct": round(100 * (cpu1[2] - cpu0[2]) / max(1, cpu1[1] - cpu0[1]), 1),
                            "loadavg_1m": float(Path("/proc/loadavg").read_text().split()[0])}
            short = {k: v for k, v in r.items()
                     if k not in ("audio", "leaks_after_2s", "each_ms", "bob_canceller_over_time")}
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
            if (off.get("env_corr") or 0) >= 0.3:
                hint = int(off["own_round_trip_ms"] * RATE / 1000)
            step("echo_on", lambda: echo(rig, work, mat, True, hint))
        if "doubletalk" in only:
            step("doubletalk_on", lambda: doubletalk(rig, work, mat, True))
            step("doubletalk_off", lambda: doubletalk(rig, work, mat, False))
        if "noise" in only:
            for kind in filter(None, args.noises.split(",")):
                step(f"noise_{kind}_on", lambda kind=kind: noise(rig, work, mat, True, kind))
                step(f"noise_{kind}_off", lambda kind=kind: noise(rig, work, mat, False, kind))
        if "latency" in only:
            rig.stop()
            rig = None
            rig = Rig("pair")
            for on in (True, False):
                tag = "on" if on else "off"
                # Clicks, as in the recipe; and since clicks are no speech
                # (with processing on, the RNN's speech decision drives DTX
                # and may hold them back), a vowel-like burst too.
                for kind in ("click", "burst"):
                    step(f"latency_{kind}_{tag}", lambda on=on, kind=kind: latency(rig, work, on, kind))
                    if on and kind == "click":
                        for n in range(2, args.latency_calls + 1):
                            step(f"latency_click_on_call{n}", lambda: latency(rig, work, True, "click"))
    finally:
        if rig:
            rig.stop()
        if os.environ.get("APERO_BENCH_KEEP_WORK"):
            print(f"work files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["total_s"] = round(time.time() - t_start, 1)
    if time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(aperod.stat().st_mtime)) != results["aperod_mtime"]:
        results["warning"] = "aperod was rebuilt during the run: the steps may not all have run the same binary"
        print(f"!! {results['warning']}")
    out.write_text(json.dumps(results, indent=2))
    print()
    print(table(results))
    print(f"\n{out} ({results['total_s']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
