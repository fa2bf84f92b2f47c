#!/usr/bin/env python3
"""apero voice benchmarks: mouth-to-ear latency, speech quality under loss
with delay, jitter, the two transport designs, and an 8-person mesh.

Real daemons (release build) on the `wav` backend; impaired paths are two
network namespaces joined by shared/tools/delaylink.py. Needs root, espeak-ng,
sox, and numpy/scipy/pesq (bench/voice.sh makes a venv with them).

    sudo bench/voice.sh            # everything, ~10 minutes
    sudo bench/voice.sh --quick    # fewer loss rates, shorter runs
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import correlate, resample_poly

from lib import Daemon, Link, click_latencies, clicks, pct, wait_participants, proc_cpu_seconds, proc_rss_mib, read_wav, silence, speech

PHRASE = ("Bonsoir tout le monde. This is apero, a group call with no server in between. "
          "The quick brown fox jumps over the lazy dog. Can you hear me clearly?")


def call(work, a_in, secs, link=None, design="stream", tag="x"):
    """A speaks a_in to B for `secs`; returns both call statuses and B's output."""
    b_in = work / "silence.wav"
    a_out, b_out = work / f"{tag}-a.wav", work / f"{tag}-b.wav"
    common = ["--audio", "wav", "--voice-transport", design]
    la = [f"/ip4/{link.addr_a}/udp/0/quic-v1"] if link else None
    lb = [f"/ip4/{link.addr_b}/udp/0/quic-v1"] if link else None
    a = Daemon("alice", work, ns=link.a if link else None, listen=la, args=common + ["--wav-in", str(a_in), "--wav-out", str(a_out)])
    b = Daemon("bob", work, ns=link.b if link else None, listen=lb, args=common + ["--wav-in", str(b_in), "--wav-out", str(b_out)])
    try:
        room = a.cli("room", "create", "bench")["id"]
        b.cli("join", a.cli("invite", room)["code"])
        a.cli("call", "join", room)
        b.cli("call", "join", room)
        wait_participants(a, 2)
        wait_participants(b, 2)
        time.sleep(secs)
        sa, sb = a.cli("call", "status"), b.cli("call", "status")
        a.cli("call", "leave")
        b.cli("call", "leave")
    finally:
        a.stop()
        b.stop()
    return sa, sb, b_out


def alice_stats(sb):
    p = next(p for p in sb["participants"] if p["name"] == "alice")
    return p["stats"] or {}


def latency(work, secs, link=None, design="stream", tag="lat"):
    period = clicks(work / "clicks.wav")
    sa, sb, b_out = call(work, work / "clicks.wav", secs, link, design, tag)
    lats = [lat for _, lat in click_latencies(sa, sb, b_out, period)]
    st = alice_stats(sb)
    frames = max(1, st.get("played", 0) + st.get("concealed", 0) + st.get("fec_recovered", 0))
    return {
        "clicks": len(lats),
        "p50_ms": round(pct(lats, 50), 1),
        "p99_ms": round(pct(lats, 99), 1),
        "late_pct": round(100 * st.get("late", 0) / max(1, st.get("received", 0) + st.get("late", 0)), 2),
        "concealed_pct": round(100 * st.get("concealed", 0) / frames, 2),
        "fec_pct": round(100 * st.get("fec_recovered", 0) / frames, 2),
        "stretched_pct": round(100 * st.get("stretched", 0) / frames, 2),
    }


def load16(x48):
    return resample_poly(x48, 1, 3)


def pesq_of(ref_path, out_path, skip_s=2.0):
    from pesq import pesq
    ref = load16(read_wav(ref_path))
    deg = load16(read_wav(out_path))[int(skip_s * 16000):]
    if len(deg) < len(ref) + 1600:
        return float("nan"), 0
    # Align the first full repetition, then score every following one.
    head = deg[: 2 * len(ref)]
    lag = int(np.argmax(correlate(head, ref, "valid", method="fft")))
    scores = []
    pos = lag
    while pos + len(ref) <= len(deg):
        seg = deg[pos: pos + len(ref)]
        # Re-align each repetition by a few ms: the jitter buffer may have drained or stretched.
        win = deg[max(0, pos - 800): pos + len(ref) + 800]
        l2 = int(np.argmax(correlate(win, ref, "valid", method="fft")))
        seg = win[l2: l2 + len(ref)]
        if len(seg) == len(ref) and np.abs(seg).max() > 0:
            try:
                scores.append(pesq(16000, ref, seg, "wb"))
            except Exception:
                pass
        pos += len(ref)
    return (float(np.median(scores)) if scores else float("nan")), len(scores)


def quality(work, secs, link=None, design="stream", tag="q"):
    sa, sb, b_out = call(work, work / "speech.wav", secs, link, design, tag)
    score, n = pesq_of(work / "speech.wav", b_out)
    st = alice_stats(sb)
    frames = max(1, st.get("played", 0) + st.get("concealed", 0) + st.get("fec_recovered", 0))
    return {"pesq_wb": round(score, 2), "repetitions": n,
            "concealed_pct": round(100 * st.get("concealed", 0) / frames, 2),
            "fec_pct": round(100 * st.get("fec_recovered", 0) / frames, 2),
            "stretched_pct": round(100 * st.get("stretched", 0) / frames, 2),
            "late_pct": round(100 * st.get("late", 0) / frames, 2)}


def mesh(work, n, secs):
    ds = []
    try:
        for i in range(n):
            src = work / ("speech.wav" if i == 0 else "silence.wav")
            ds.append(Daemon(f"p{i}", work, args=["--audio", "wav", "--wav-in", str(src), "--wav-out", str(work / f"mesh{i}.wav")]))
        room = ds[0].cli("room", "create", "mesh")["id"]
        for d in ds[1:]:
            d.cli("join", ds[0].cli("invite", room)["code"])
        for d in ds:
            d.cli("call", "join", room)
        for d in ds:
            wait_participants(d, n, timeout=60)
        time.sleep(3)
        pids = [d.pid() for d in ds]
        cpu0 = [proc_cpu_seconds(p) for p in pids]
        sent0 = [d.cli("call", "status")["sent_bytes"] for d in ds]
        t0 = time.time()
        time.sleep(secs)
        dt = time.time() - t0
        cpu = [100 * (proc_cpu_seconds(p) - c) / dt for p, c in zip(pids, cpu0)]
        rss = [proc_rss_mib(p) for p in pids]
        sent = [d.cli("call", "status")["sent_bytes"] - s for d, s in zip(ds, sent0)]
        silent_kbps = [8 * s / 1000 / dt / (n - 1) for s in sent[1:]]
        for d in ds:
            d.cli("call", "leave")
        return {"daemons": n, "cpu_pct_max": round(max(cpu), 1), "cpu_pct_median": round(float(np.median(cpu)), 1),
                "cpu_pct_speaker": round(cpu[0], 1), "rss_mib_max": round(max(rss), 1),
                "silence_kbps_per_peer_max": round(max(silent_kbps), 2),
                "speaker_kbps_per_peer": round(8 * sent[0] / 1000 / dt / (n - 1), 1)}
    finally:
        for d in ds:
            d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results-voice.json"))
    args = ap.parse_args()
    secs = 12 if args.quick else 20
    losses = [0, 5] if args.quick else [0, 2, 5, 10]
    work = Path(tempfile.mkdtemp(prefix="apero-bench-"))
    speech(work / "speech.wav", PHRASE)
    silence(work / "silence.wav")
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "secs_per_run": secs}

    def step(name, fn):
        t = time.time()
        r = fn()
        print(f"{name}: {json.dumps(r)} ({time.time() - t:.0f} s)", flush=True)
        results[name] = r
        Path(args.out).write_text(json.dumps(results, indent=2))

    step("loopback_latency_stream", lambda: latency(work, secs, None, "stream", "l0"))
    step("loopback_latency_frames", lambda: latency(work, secs, None, "frames", "l1"))
    step("loopback_quality", lambda: quality(work, secs, None, "stream", "q0"))
    for loss in losses:
        for design in ("stream", "frames"):
            def run(loss=loss, design=design):
                link = Link("v", delay=40, jitter=10, loss=loss, seed=7)
                try:
                    return latency(work, secs, link, design, f"d{loss}{design}")
                finally:
                    link.close()
            step(f"delay40_loss{loss}_{design}_latency", run)

        def q(loss=loss):
            link = Link("v", delay=40, jitter=10, loss=loss, seed=11)
            try:
                return quality(work, secs + 10, link, "stream", f"dq{loss}")
            finally:
                link.close()
        step(f"delay40_loss{loss}_quality", q)

    def jit():
        link = Link("v", delay=20, jitter=30, reorder=True, seed=3)
        try:
            return quality(work, secs + 10, link, "stream", "jq")
        finally:
            link.close()
    step("delay20_jitter30_reorder", jit)
    step("mesh8", lambda: mesh(work, 8, 15 if args.quick else 30))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
