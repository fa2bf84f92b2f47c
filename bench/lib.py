"""Shared pieces of apero's benchmark scripts: daemons in (optional) network
namespaces, links with delay/jitter/loss through shared/tools/delaylink.py,
WAV helpers and statistics, and the test files and plain TCP copy that the
file benches (files.py, wormhole.py) measure against. Needs root for namespaces."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DELAYLINK = ROOT.parent / "shared" / "tools" / "delaylink.py"
RATE = 48_000

# The phrase the voice benches speak (espeak-ng), French and English.
PHRASE = ("Bonsoir tout le monde. This is apero, a group call with no server in between. "
          "The quick brown fox jumps over the lazy dog. Can you hear me clearly?")


def ns_prefix(ns):
    """Runs a command inside namespace `ns` (or here when None)."""
    return ["ip", "netns", "exec", ns] if ns else []


def binaries(profile="release"):
    # APERO_BENCH_BIN: a folder with another build's aperod and apero (bench/ab.py).
    other = os.environ.get("APERO_BENCH_BIN")
    d = Path(other) if other else ROOT / "target" / profile
    return d / "aperod", d / "apero"


class Daemon:
    def __init__(self, name, workdir, ns=None, args=(), profile="release", listen=None, env=None):
        self.name = name
        self.home = Path(tempfile.mkdtemp(prefix=f"apb-{name}-", dir="/tmp"))
        self.aperod, self.apero = binaries(profile)
        self.ns = ns
        if listen is None:
            listen = ["/ip4/0.0.0.0/udp/0/quic-v1"] if ns else ["/ip4/127.0.0.1/udp/0/quic-v1"]
        cmd = ([ "ip", "netns", "exec", ns] if ns else []) + [
            str(self.aperod), "--foreground", "--no-mdns", "--home", str(self.home), "--name", name,
        ]
        for l in listen:
            cmd += ["--listen", l]
        cmd += list(args)
        self.log = open(self.home / "bench.log", "w")
        env = {**os.environ, "RUST_LOG": "warn", **(env or {})}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, env=env)
        try:
            for _ in range(200):
                if self.try_cli("status") is not None:
                    return
                time.sleep(0.05)
            raise RuntimeError(f"{name} did not start: {(self.home / 'bench.log').read_text()}")
        except BaseException:
            # No caller holds this daemon yet: stop it and remove its home here.
            self.stop()
            raise

    def try_cli(self, *args):
        r = subprocess.run([str(self.apero), "--home", str(self.home), "--json", *args], capture_output=True, text=True)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def cli(self, *args):
        r = subprocess.run([str(self.apero), "--home", str(self.home), "--json", *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{self.name}: apero {args} failed: {r.stdout} {r.stderr}")
        return json.loads(r.stdout)

    def pid(self):
        return self.cli("status")["pid"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        keep = os.environ.get("APERO_BENCH_KEEP_LOGS")
        if keep:
            # Daemon logs survive the run for a look afterwards.
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.home / "bench.log", Path(keep) / f"{self.name}-{self.home.name}.log")
        shutil.rmtree(self.home, ignore_errors=True)


class Link:
    """Two namespaces joined by delaylink (10.77.9.1 <-> 10.77.9.2)."""

    def __init__(self, tag, delay=0, jitter=0, loss=0, rate=0, reorder=False, seed=1, burst=0):
        self.a, self.b = f"apb{tag}a", f"apb{tag}b"
        # Listen on these exactly: on a point-to-point tun, 0.0.0.0 expands to
        # the *peer's* address (netlink IFA_ADDRESS), which would be advertised.
        self.addr_a, self.addr_b = "10.77.9.1", "10.77.9.2"
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        cmd = ["python3", str(DELAYLINK), self.a, self.b, "--delay", str(delay), "--jitter", str(jitter),
               "--loss", str(loss), "--rate", str(rate), "--seed", str(seed)]
        if burst:
            # Losses in bursts of `burst` packets on average (Wi-Fi-like), same mean loss.
            cmd += ["--burst", str(burst)]
        if reorder:
            cmd.append("--reorder")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "READY" not in line:
            raise RuntimeError(f"delaylink failed: {line} {self.proc.stderr.read()}")

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def read_wav(path):
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64) / 32768


def write_wav(path, x):
    with wave.open(str(path), "w") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes())


def clicks(path, period_s=0.5):
    """One 2 ms 3 kHz burst at the start of each period (the file loops)."""
    n = int(RATE * period_s)
    x = np.zeros(n)
    t = np.arange(int(0.002 * RATE)) / RATE
    x[: len(t)] = 0.5 * np.sin(2 * np.pi * 3000 * t)
    write_wav(path, x)
    return period_s


def speech(path, text):
    raw = Path(path).with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(path)], check=True)


def silence(path, secs=2.0):
    write_wav(path, np.zeros(int(RATE * secs)))


def onsets(x, threshold=0.1, quiet_s=0.2):
    """Sample indices where |x| first exceeds the threshold after a quiet stretch."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    out, last = [], -10**9
    for i in loud:
        if i - last > quiet_s * RATE:
            out.append(int(i))
        last = i
    return out


def wait_participants(d, n, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if len(d.cli("call", "status")["participants"]) >= n:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{d.name} never saw {n} participants")


def click_latencies(sa, sb, b_out, period, skip=4):
    """(click time in A's input, ns since the epoch; mouth-to-ear ms) for each
    click heard in B's output file, from both daemons' first-sample times.
    The first `skip` periods (joining, first buffering) are left out."""
    t_in0 = sa["timing"]["first_input_ns"]
    t_out0 = sb["timing"]["first_output_ns"]
    out = []
    for m in onsets(read_wav(b_out), threshold=0.05):
        t_out = t_out0 + m * 1e9 / RATE
        k = int((t_out - t_in0) // (period * 1e9))
        if k < skip:
            continue
        t_click = t_in0 + k * period * 1e9
        out.append((t_click, (t_out - t_click) / 1e6))
    return out


def pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


def proc_cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load16(x48):
    from scipy.signal import resample_poly
    return resample_poly(x48, 1, 3)


def pesq_of(ref_path, out_path, skip_s=2.0):
    """Median wideband PESQ over the repetitions of ref (looped) heard in out."""
    from pesq import pesq
    from scipy.signal import correlate
    ref = load16(read_wav(ref_path))
    deg = load16(read_wav(out_path))[int(skip_s * 16000):]
    if len(deg) < len(ref) + 1600:
        return float("nan"), 0
    # Align the first full repetition, then score every following one.
    head = deg[: 2 * len(ref)]
    lag = int(np.argmax(correlate(head, ref, "valid", method="fft")))
    scores = []
    pos = lag
    slack = 2400  # 150 ms
    while pos + len(ref) <= len(deg):
        # Re-align each repetition: the jitter buffer may have drained or stretched,
        # and that adds up over the repetitions (Chromium's NetEq drifted by up
        # to ~60 ms per 9 s phrase at 0 % loss), so follow it.
        lo = max(0, pos - slack)
        win = deg[lo: pos + len(ref) + slack]
        l2 = int(np.argmax(correlate(win, ref, "valid", method="fft")))
        seg = win[l2: l2 + len(ref)]
        if len(seg) == len(ref) and np.abs(seg).max() > 0:
            try:
                scores.append(pesq(16000, ref, seg, "wb"))
            except Exception:
                pass
        pos = lo + l2 + len(ref)
    return (float(np.median(scores)) if scores else float("nan")), len(scores)


MIB = 1024 * 1024

TCP_RECV = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
with open(sys.argv[2], "wb") as f:
    while True:
        b = c.recv(1 << 20)
        if not b: break
        f.write(b)
"""

TCP_SEND = r"""
import socket, sys, os
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
with open(sys.argv[3], "rb") as f:
    c.sendfile(f)
c.close()
"""


def tcp_copy(src, dst, ns_recv=None, ns_send=None, host="127.0.0.1"):
    """Seconds for a plain TCP copy between two processes (receiver writes to disk)."""
    r = subprocess.Popen(ns_prefix(ns_recv) + [sys.executable, "-c", TCP_RECV, host, str(dst)], stdout=subprocess.PIPE, text=True)
    port = r.stdout.readline().strip()
    t0 = time.time()
    subprocess.run(ns_prefix(ns_send) + [sys.executable, "-c", TCP_SEND, host, port, str(src)], check=True)
    r.wait()
    dt = time.time() - t0
    assert os.path.getsize(dst) == os.path.getsize(src)
    os.unlink(dst)
    return dt


def make_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n
