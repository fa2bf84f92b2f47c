#!/usr/bin/env python3
"""Breakout groups in a call of 24 real daemons (issue 31).

Half the members sit in one network namespace, half in another, joined by
shared/tools/delaylink.py (--delay, default 20 ms one way): every pair
across the link has a realistic path. The host (alice) and a second tone
speaker (quentin) send steady tones (440 and 880 Hz) with their processing
off, so that any gap or leak in what a listener hears is plain to see; two
listeners (lea, lucas) run the default settings on the wav backend; the
other 20 use the null backend. Steps, per run:

  1. `breakout start --groups 6`: for each member the time from the start
     until its daemon says it is in its group (a `moved` event on its
     control socket), and for the two listeners the time until the host's
     tone stops in their ears (last loud 10 ms block of 440 Hz).
  2. `breakout end`: the time until each member is back, and until the two
     listeners hear the host again.
  3. Channel switches: quentin sits in channel B; lea moves general -> B ->
     general ... (8 switches); the longest silence in her output around each
     switch (the tones are continuous on both sides: any silence is the switch's).

    sudo python3 bench/breakout.py --runs 3        (bench/breakout.sh builds first)
"""

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import RATE, Daemon, Link, read_wav, silence, wait_participants, write_wav  # noqa: E402

BLOCK = RATE // 100  # 10 ms


class Events(threading.Thread):
    """A daemon's event stream, each event with the time it arrived."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.got = []
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(str(d.home / "aperod.sock"))
        self.f = self.s.makefile("rw")
        for req in ({"cmd": "hello", "version": 1, "client": "bench"}, {"cmd": "subscribe"}):
            self.f.write(json.dumps(req) + "\n")
            self.f.flush()
            self.f.readline()
        self.start()

    def run(self):
        try:
            for line in self.f:
                self.got.append((time.time(), json.loads(line)))
        except (OSError, ValueError):
            pass

    def moved_after(self, t0, channel_prefix=None):
        for t, e in self.got:
            if t >= t0 and e.get("event") == "moved" and (channel_prefix is None or e["channel"].startswith(channel_prefix)):
                return t - t0
        return None


def tone(path, hz, secs=60):
    t = np.arange(int(RATE * secs)) / RATE
    write_wav(path, 0.3 * np.sin(2 * np.pi * hz * t))


def band_levels(x, hz):
    """Per 10 ms block, the amplitude of the `hz` component."""
    n = len(x) // BLOCK
    blocks = x[: n * BLOCK].reshape(n, BLOCK)
    t = np.arange(BLOCK) / RATE
    c, s = np.cos(2 * np.pi * hz * t), np.sin(2 * np.pi * hz * t)
    return 2 * np.hypot(blocks @ c, blocks @ s) / BLOCK


def block_time(status, i):
    """Wall time (s) of output block `i` of a wav-backend daemon."""
    return status["timing"]["first_output_ns"] / 1e9 + i * BLOCK / RATE


def run_once(work, a, run):
    n = a.members
    link = Link("bo", delay=a.delay, seed=61 + run)
    daemons = []
    try:
        la, lb = [f"/ip4/{link.addr_a}/udp/0/quic-v1"], [f"/ip4/{link.addr_b}/udp/0/quic-v1"]
        off = ["--audio-processing", "off"]

        def wav(name, ns, listen, src, extra=()):
            d = Daemon(name, work, ns=ns, listen=listen, profile=a.profile,
                       args=["--audio", "wav", "--wav-in", str(src), "--wav-out", str(work / f"{name}-{run}.wav"), *extra])
            daemons.append(d)
            return d

        host = wav("alice", link.a, la, work / "a440.wav", off)
        quentin = wav("quentin", link.b, lb, work / "q880.wav", off)
        lea = wav("lea", link.b, lb, work / "silence.wav")
        lucas = wav("lucas", link.a, la, work / "silence.wav")
        for i in range(n - 4):
            ns, listen = (link.a, la) if i % 2 else (link.b, lb)
            daemons.append(Daemon(f"m{i:02d}", work, ns=ns, listen=listen, profile=a.profile, args=["--audio", "null"]))
        room = host.cli("room", "create", "atelier")["id"]
        for d in daemons[1:]:
            d.cli("join", host.cli("invite", room)["code"])
        host.cli("channel", "create", room, "B")
        for d in daemons:
            d.cli("call", "join", room)
        for d in daemons:
            wait_participants(d, n, timeout=90)
        events = [Events(d) for d in daemons]
        time.sleep(4)
        res = {"members": n}

        # 1. Breakout into groups; quentin away from the listeners.
        assign = ["--assign", "lea=1", "--assign", "lucas=2", "--assign", f"quentin={a.groups}"]
        t0 = time.time()
        host.cli("breakout", "start", room, "--groups", str(a.groups), *assign)
        time.sleep(6)
        moved = [e.moved_after(t0, "Group") for e in events[1:]]
        res["in_group_s"] = moved
        # 2. Back.
        t1 = time.time()
        host.cli("breakout", "end", room)
        time.sleep(5)
        res["back_s"] = [e.moved_after(t1, "general") for e in events[1:]]

        # 3. Switches: quentin in B, lea moves back and forth.
        quentin.cli("call", "move", room, "quentin", "B")
        time.sleep(2)
        switches = []
        for k in range(a.switches):
            target = "B" if k % 2 == 0 else "general"
            switches.append(time.time())
            lea.cli("call", "move", room, "lea", target)
            time.sleep(2.5)
        st = {d.name: d.cli("call", "status") for d in (lea, lucas)}
        for d in daemons:
            d.cli("call", "leave")
        time.sleep(0.5)

        def hearing(name, hz):
            x = read_wav(work / f"{name}-{run}.wav")
            return band_levels(x, hz), st[name]

        for name in ("lea", "lucas"):
            lv, s = hearing(name, 440)
            loud = lv > 0.02
            times = np.array([block_time(s, i) for i in range(len(lv))])
            after = np.flatnonzero(loud & (times >= t0) & (times < t1))
            res[f"{name}_host_gone_s"] = round(float(times[after[-1]] - t0), 3) if len(after) else 0.0
            back = np.flatnonzero(loud & (times >= t1))
            res[f"{name}_host_back_s"] = round(float(times[back[0]] - t1), 3) if len(back) else None
        # Gaps: blocks where neither tone is heard, around each switch.
        x = read_wav(work / f"lea-{run}.wav")
        heard = (band_levels(x, 440) > 0.02) | (band_levels(x, 880) > 0.02)
        s = st["lea"]
        times = np.array([block_time(s, i) for i in range(len(heard))])
        gaps = []
        for ts in switches:
            win = np.flatnonzero((times >= ts - 0.5) & (times < ts + 2.0))
            run_len, longest = 0, 0
            for i in win:
                run_len = 0 if heard[i] else run_len + 1
                longest = max(longest, run_len)
            gaps.append(longest * 10)
        res["switch_gap_ms"] = gaps
        return res
    finally:
        for d in daemons:
            d.stop()
        link.close()


def summary(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return "n/a"
    p99 = v[min(len(v) - 1, int(round(0.99 * (len(v) - 1))))]
    return f"median {statistics.median(v):.3f}, p99 {p99:.3f}, max {v[-1]:.3f} (n={len(v)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--members", type=int, default=24)
    ap.add_argument("--groups", type=int, default=6)
    ap.add_argument("--delay", type=float, default=20)
    ap.add_argument("--switches", type=int, default=8)
    ap.add_argument("--profile", default="release", help="target/PROFILE's binaries (debug: a quick check of the script)")
    ap.add_argument("--out", default=str(Path(__file__).parent / f"results-breakout-{time.strftime('%Y-%m-%d-%H%M')}.json"))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="apero-breakout-"))
    tone(work / "a440.wav", 440)
    tone(work / "q880.wav", 880)
    silence(work / "silence.wav")
    runs = []
    for r in range(a.runs):
        t = time.time()
        try:
            runs.append(run_once(work, a, r))
        except Exception as e:  # a failed run is reported, the others go on
            runs.append({"error": f"{type(e).__name__}: {e}"[:2000]})
        print(f"run {r + 1}: {json.dumps(runs[-1])} ({time.time() - t:.0f} s)", flush=True)
        Path(a.out).write_text(json.dumps({"settings": vars(a), "runs": runs}, indent=2))
    ok = [r for r in runs if "error" not in r]
    print()
    print(f"{a.members} members, {a.groups} groups, link delay {a.delay:g} ms, {len(ok)} run(s) of {a.runs}")
    for key, label in (("in_group_s", "into its group, per member, s"), ("back_s", "back in general, per member, s")):
        per_run_max = [max(x for x in r[key] if x is not None) if any(x is not None for x in r[key]) else None for r in ok]
        missing = sum(x is None for r in ok for x in r[key])
        print(f"  {label}: {summary([x for r in ok for x in r[key]])}; slowest member per run {per_run_max}; never moved {missing}")
    for key in ("lea_host_gone_s", "lucas_host_gone_s", "lea_host_back_s", "lucas_host_back_s"):
        print(f"  {key}: {[r.get(key) for r in ok]}")
    print(f"  switch gap, ms: {summary([g for r in ok for g in r['switch_gap_ms']])}; per run max {[max(r['switch_gap_ms']) for r in ok]}")
    print(f"written to {a.out}")


if __name__ == "__main__":
    sys.exit(main())
