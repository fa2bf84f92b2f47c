#!/usr/bin/env python3
"""apero voice benchmarks: mouth-to-ear latency, speech quality under loss
with delay, jitter, the transport designs (datagram, the default, against
stream), Chromium's WebRTC on the same link as the anchor, and an 8-person mesh.

Real daemons (release build) on the `wav` backend; impaired paths are two
network namespaces joined by shared/tools/delaylink.py. Needs root, espeak-ng,
sox, and numpy/scipy/pesq (bench/voice.sh makes a venv with them).

Every quality step over a link also runs the anchor: a browser call in
Chromium (WebRTC, Opus and NetEq at Chrome's defaults, bench/webrtc.py) on a
fresh link with the same parameters and seed, scored by the same pesq_of; it
lands under "chromium" in the step's result. It needs Debian's chromium and
chromium-driver (voice.sh installs them); --no-anchor leaves it out.

The relayed step (relayed_loss5_quality) calls between two homes behind
symmetric NATs that can reach only an `aperod --relay` on a public segment
(bench/relay.py), alice's access link at 40 ± 10 ms and 5 % loss: the call
must go through the relay circuit, or the step fails. It needs iptables and
nft too; it has no anchor.

    sudo bench/voice.sh            # everything, ~15 minutes
    sudo bench/voice.sh --quick    # fewer loss rates, shorter runs
    sudo bench/voice.sh --no-anchor
    sudo bench/voice.sh --only relayed   # one step group (or --skip some)
    sudo bench/voice.sh --only processing --runs 5   # default settings vs off vs Chromium, 5 runs
"""

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lib
from lib import (Daemon, Link, click_latencies, clicks, pct, pesq_of, wait_participants, proc_cpu_seconds,
                 proc_rss_mib, silence, speech)
from relay import RelayNet

# Step groups for --skip and --only: loopback steps, latency over the links,
# quality over the links (with the anchor), jitter, the relayed path, the mesh.
GROUPS = ("loopback", "latency", "loss", "jitter", "relayed", "mesh", "processing")

PHRASE = lib.PHRASE


def call(work, a_in, secs, link=None, design="stream", tag="x", net=None, processing="on"):
    """A speaks a_in to B for `secs`; returns both call statuses and B's output.
    With `net` (a relay.RelayNet) the two daemons are its alice and bob, whose
    only path to each other is through its relay: the call fails unless both
    see each other `relayed`, at the start and at the end."""
    b_in = work / "silence.wav"
    a_out, b_out = work / f"{tag}-a.wav", work / f"{tag}-b.wav"
    # The default settings (processing on: echo cancellation, noise
    # suppression, gain control, the speech gate): what people run. Steps
    # that compare codecs and playouts also run it off, beside, as the
    # Chromium anchor runs (bench/webrtc.py).
    common = ["--audio", "wav", "--audio-processing", processing, "--voice-transport", design]
    args_a = common + ["--wav-in", str(a_in), "--wav-out", str(a_out)]
    args_b = common + ["--wav-in", str(b_in), "--wav-out", str(b_out)]
    if net:
        a, b = net.pair(args_a, args_b)
    else:
        la = [f"/ip4/{link.addr_a}/udp/0/quic-v1"] if link else None
        lb = [f"/ip4/{link.addr_b}/udp/0/quic-v1"] if link else None
        a = Daemon("alice", work, ns=link.a if link else None, listen=la, args=args_a)
        try:
            b = Daemon("bob", work, ns=link.b if link else None, listen=lb, args=args_b)
        except BaseException:
            a.stop()
            raise
    try:
        room = a.cli("room", "create", "bench")["id"]
        b.cli("join", a.cli("invite", room)["code"], *(["--timeout", "60s"] if net else []))
        a.cli("call", "join", room)
        b.cli("call", "join", room)
        wait_participants(a, 2)
        wait_participants(b, 2)
        if net:
            check_relayed(net, a, b, "at the start of the call")
        time.sleep(secs)
        sa, sb = a.cli("call", "status"), b.cli("call", "status")
        if net:
            net.connection = check_relayed(net, a, b, "at the end of the call", sa, sb)
        a.cli("call", "leave")
        b.cli("call", "leave")
    finally:
        a.stop()
        b.stop()
    return sa, sb, b_out


def check_relayed(net, a, b, when, sa=None, sb=None):
    """Raises unless alice and bob see each other relayed through net's relay,
    both in `call status` (per participant) and in `status` (the connection).
    Returns bob's connection entry for alice."""
    for d, other, st in ((a, b, sa), (b, a, sb)):
        st = st or d.cli("call", "status")
        other_id = other.cli("status")["peer_id"]
        part = next((p for p in st["participants"] if p["peer_id"] == other_id), None)
        conn = net.peer_entry(d, other_id)
        if part is None or part["path"] != "relayed" or conn is None or conn.get("path") != "relayed" \
                or conn.get("via") != net.relay_id:
            raise RuntimeError(f"{d.name} does not reach {other.name} through the relay {when}: "
                               f"call status {part}, connection {conn}")
    return conn


def frames_of(st):
    return max(1, sum(st.get(k, 0) for k in ("played", "concealed", "fec_recovered", "red_recovered")))


def playout(st):
    """The playout's counters as shares of the sender's frames (issue 14's
    accelerated / expanded / concealed / FEC / redundancy), and its delay."""
    frames = frames_of(st)
    share = lambda k: round(100 * st.get(k, 0) / frames, 2)
    return {"concealed_pct": share("concealed"), "fec_pct": share("fec_recovered"), "red_pct": share("red_recovered"),
            "held_pct": share("held"), "drained_pct": share("drained"),
            "accelerated": st.get("accelerated", 0), "accelerated_ms": round(st.get("accelerated_ms", 0), 1),
            "expanded": st.get("expanded", 0), "expanded_ms": round(st.get("expanded_ms", 0), 1),
            "target_ms": st.get("target_ms"), "level_ms": st.get("level_ms"), "burst": st.get("burst")}


def alice_stats(sb):
    p = next(p for p in sb["participants"] if p["name"] == "alice")
    return p["stats"] or {}


def latency(work, secs, link=None, design="stream", tag="lat"):
    period = clicks(work / "clicks.wav")
    sa, sb, b_out = call(work, work / "clicks.wav", secs, link, design, tag)
    lats = [lat for _, lat in click_latencies(sa, sb, b_out, period)]
    st = alice_stats(sb)
    return {
        "clicks": len(lats),
        "p50_ms": round(pct(lats, 50), 1),
        "p99_ms": round(pct(lats, 99), 1),
        "late_pct": round(100 * st.get("late", 0) / max(1, st.get("received", 0) + st.get("late", 0)), 2),
        "underruns": sb.get("underruns"),
        **playout(st),
    }


def quality(work, secs, link=None, design="stream", tag="q", net=None, processing="on"):
    sa, sb, b_out = call(work, work / "speech.wav", secs, link, design, tag, net, processing)
    score, n = pesq_of(work / "speech.wav", b_out)
    st = alice_stats(sb)
    alice = next(p for p in sb["participants"] if p["name"] == "alice")
    return {"pesq_wb": round(score, 2), "repetitions": n, **playout(st),
            # Gaps bob's own speaker made (his machine too busy), not the network's.
            "underruns": sb.get("underruns"),
            "late_pct": round(100 * st.get("late", 0) / frames_of(st), 2),
            # Everything alice sent to her one peer (headers included) over the call.
            "send_kbps": round(8 * sa.get("sent_bytes", 0) / 1000 / secs, 1),
            "voice_path": alice.get("voice_path"),
            # How bob reaches alice: direct or relayed.
            "path": alice.get("path")}


def anchor(work, secs, link_args, seed, tag):
    """The same quality case as a Chromium browser call (bench/webrtc.py) on a
    fresh link with the same parameters and seed. A failure is recorded, not
    raised: apero's own figures are still worth having."""
    from webrtc import webrtc_call
    t = time.time()
    try:
        link = Link("v", seed=seed, **link_args)
        try:
            wav, st = webrtc_call(work, link, work / "speech.wav", secs, tag)
        finally:
            link.close()
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"[:2000]}
    score, n = pesq_of(work / "speech.wav", wav)
    keep = ("loss_pct", "concealed_pct", "stretched_pct", "jitter_buffer_ms", "send_kbps", "send_kbps_with_headers",
            "packetsReceived", "packetsLost", "concealedSamples", "totalSamplesReceived",
            "insertedSamplesForDeceleration", "removedSamplesForAcceleration", "jitterBufferDelay",
            "jitterBufferEmittedCount", "fecPacketsReceived", "codec")
    return {"pesq_wb": round(score, 2), "repetitions": n, **{k: st.get(k) for k in keep},
            "call_s": round(time.time() - t, 1)}


def processing_runs(work, secs, runs, cells, with_anchor):
    """Issue 28's measurement: the default settings (processing on) against
    processing off and Chromium's WebRTC, on a 40 ± 10 ms link, clean and at
    5 % loss, `runs` times with a different link seed each (the min and the
    median over runs, not one run)."""
    out = {}
    for loss in cells:
        per = {"on": [], "off": [], "chromium": []}
        for run in range(runs):
            seed = 21 + run
            link_args = {"delay": 40, "jitter": 10, "loss": loss}
            for processing in ("on", "off"):
                link = Link("v", seed=seed, **link_args)
                try:
                    got = quality(work, secs, link, "datagram", f"p{loss}{processing}{run}", processing=processing)
                finally:
                    link.close()
                per[processing].append(got["pesq_wb"])
            if with_anchor:
                per["chromium"].append(anchor(work, secs, link_args, seed, f"p{loss}c{run}").get("pesq_wb", float("nan")))
            print(f"  loss {loss} %, run {run + 1}: " + ", ".join(f"{k} {v[-1]}" for k, v in per.items() if v), flush=True)
        cell = {}
        for k, v in per.items():
            if v:
                s = sorted(v)
                cell[k] = {"runs": v, "min": s[0], "median": s[len(s) // 2] if len(s) % 2 else round((s[len(s) // 2 - 1] + s[len(s) // 2]) / 2, 2)}
        if per["chromium"]:
            cell["on_ge_chromium_every_run"] = all(a >= c for a, c in zip(per["on"], per["chromium"]))
        cell["on_minus_off_median"] = round(cell["on"]["median"] - cell["off"]["median"], 2)
        out[f"loss{loss}"] = cell
    return out


def link_name(loss, burst):
    return f"loss{loss}" + (f"_burst{burst}" if burst else "")


def profile_start(pid, secs, work):
    """perf record of `pid` for `secs` (None when perf is missing or refused)."""
    import shutil
    import subprocess
    if not shutil.which("perf"):
        return None
    out = work / "mesh-speaker.perf"
    p = subprocess.Popen(["perf", "record", "-F", "2999", "-p", str(pid), "-o", str(out), "--", "sleep", str(secs)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, out


def profile_crypto_share(prof):
    """Percent of the recorded samples in symmetric crypto symbols."""
    import re
    import subprocess
    if prof is None:
        return None
    p, out = prof
    p.wait()
    r = subprocess.run(["perf", "report", "-i", str(out), "--stdio", "--sort", "sym", "--percent-limit", "0"],
                       capture_output=True, text=True)
    total = 0.0
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+\[.\]\s+(\S+)", line)
        if m and re.search(r"aes|gcm|ghash|chacha|poly1305|aead", m.group(2), re.I):
            total += float(m.group(1))
    return round(total, 2) if r.returncode == 0 else None


def mesh(work, n, secs, pair_from=None):
    """`pair_from`: the participants from which packets carry 20 ms
    (APERO_VOICE_PAIR_FROM; None: the daemon's default)."""
    ds = []
    env = {} if pair_from is None else {"APERO_VOICE_PAIR_FROM": str(pair_from)}
    try:
        for i in range(n):
            src = work / ("speech.wav" if i == 0 else "silence.wav")
            ds.append(Daemon(f"p{i}", work, env=env,
                             args=["--audio", "wav", "--audio-processing", "off", "--wav-in", str(src), "--wav-out", str(work / f"mesh{i}.wav")]))
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
        prof = profile_start(pids[0], secs, work)
        time.sleep(secs)
        dt = time.time() - t0
        crypto = profile_crypto_share(prof)
        cpu = [100 * (proc_cpu_seconds(p) - c) / dt for p, c in zip(pids, cpu0)]
        rss = [proc_rss_mib(p) for p in pids]
        st = [d.cli("call", "status") for d in ds]
        sent = [s["sent_bytes"] - s0 for s, s0 in zip(st, sent0)]
        silent_kbps = [8 * s / 1000 / dt / (n - 1) for s in sent[1:]]
        for d in ds:
            d.cli("call", "leave")
        return {"daemons": n, "cpu_pct_max": round(max(cpu), 1), "cpu_pct_median": round(float(np.median(cpu)), 1),
                "cpu_pct_speaker": round(cpu[0], 1), "rss_mib_max": round(max(rss), 1),
                "silence_kbps_per_peer_max": round(max(silent_kbps), 2),
                "speaker_kbps_per_peer": round(8 * sent[0] / 1000 / dt / (n - 1), 1),
                "packet_ms": st[0].get("packet_ms"),
                # Share of the speaker's CPU samples in QUIC packet encryption and
                # decryption (AES-GCM / ChaCha20-Poly1305 in aws-lc), from perf.
                "speaker_crypto_pct_of_cpu": crypto}
    finally:
        for d in ds:
            d.stop()


def cpu_steal():
    """(steal ticks, all ticks) from /proc/stat, or None off Linux."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return f[7], sum(f[:8])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results-voice.json"))
    ap.add_argument("--anchor", action=argparse.BooleanOptionalAction, default=True,
                    help="also run each quality case as a Chromium WebRTC call (default on)")
    ap.add_argument("--skip", default="", help="comma-separated step groups to leave out: " + ", ".join(GROUPS))
    ap.add_argument("--only", default="", help="comma-separated step groups to run, all others left out")
    ap.add_argument("--designs", default="datagram,stream",
                    help="apero voice designs to compare (the default design first): datagram, stream, frames")
    ap.add_argument("--losses", default="",
                    help="loss cells, e.g. 0,5,5b3 (5 %% in bursts of 3); default 0,5,5b3 with --quick, else 0,2,5,5b3,10")
    ap.add_argument("--runs", type=int, default=5,
                    help="runs of the processing step (default settings against processing off and Chromium; default 5)")
    ap.add_argument("--quality-secs", type=int, default=0,
                    help="length of each quality call (default: 22 s with --quick, else 30 s); each 9 s phrase heard is one PESQ sample")
    args = ap.parse_args()
    # A SIGTERM unwinds like Ctrl-C: the `finally`s stop the daemons and
    # delete the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    skip = set(filter(None, args.skip.split(",")))
    only = set(filter(None, args.only.split(",")))
    unknown = (skip | only) - set(GROUPS)
    if unknown:
        ap.error(f"unknown step group(s) {', '.join(sorted(unknown))}; the groups are {', '.join(GROUPS)}")
    if only:
        skip |= set(GROUPS) - only
    secs = 12 if args.quick else 20
    # (loss %, mean burst length in packets; 0 = independent losses)
    losses = [(0, 0), (5, 0), (5, 3)] if args.quick else [(0, 0), (2, 0), (5, 0), (5, 3), (10, 0)]
    if args.losses:
        losses = [(int(c.split("b")[0]), int(c.split("b")[1]) if "b" in c else 0) for c in args.losses.split(",")]
    qsecs = args.quality_secs or secs + 10
    designs = tuple(filter(None, args.designs.split(",")))
    if args.anchor and not {"loss", "jitter"} <= skip:
        from webrtc import check_browser
        check_browser()  # say so now, not after the first ten minutes
    work = Path(tempfile.mkdtemp(prefix="apero-bench-"))
    speech(work / "speech.wav", PHRASE)
    silence(work / "silence.wav")
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "secs_per_run": secs}

    def step(name, fn):
        t = time.time()
        steal0 = cpu_steal()
        r = fn()
        # Time the hypervisor took from this VM during the step: figures taken
        # under heavy steal are noise, whatever the code does.
        if isinstance(r, dict) and steal0 is not None:
            r["steal_pct"] = round(100 * (cpu_steal()[0] - steal0[0]) / max(1, cpu_steal()[1] - steal0[1]), 1)
        print(f"{name}: {json.dumps(r)} ({time.time() - t:.0f} s)", flush=True)
        results[name] = r
        Path(args.out).write_text(json.dumps(results, indent=2))

    # The default design (datagram) against the old one (stream), in the same run.
    if "loopback" not in skip:
        for design in designs:
            step(f"loopback_latency_{design}", lambda design=design: latency(work, secs, None, design, f"l{design}"))
        step("loopback_quality", lambda: quality(work, qsecs, None, designs[0], "q0"))
    for loss, burst in losses:
        name = link_name(loss, burst)
        for design in designs if "latency" not in skip else ():
            def run(loss=loss, burst=burst, design=design):
                link = Link("v", delay=40, jitter=10, loss=loss, burst=burst, seed=7)
                try:
                    return latency(work, secs, link, design, f"d{loss}b{burst}{design}")
                finally:
                    link.close()
            step(f"delay40_{name}_{design}_latency", run)
        if "loss" in skip:
            continue

        def q(loss=loss, burst=burst):
            link_args = {"delay": 40, "jitter": 10, "loss": loss, "burst": burst}
            r = {}
            for i, design in enumerate(designs):
                link = Link("v", seed=11, **link_args)
                try:
                    got = quality(work, qsecs, link, design, f"dq{loss}b{burst}{design}")
                finally:
                    link.close()
                if i == 0:
                    r.update(got)
                else:
                    r[f"{design}_design"] = got
            # Beside the default: processing off, as the anchor runs.
            link = Link("v", seed=11, **link_args)
            try:
                r["processing_off"] = quality(work, qsecs, link, designs[0], f"dq{loss}b{burst}off", processing="off")
            finally:
                link.close()
            if args.anchor:
                r["chromium"] = anchor(work, qsecs, link_args, 11, f"dq{loss}b{burst}")
            return r
        step(f"delay40_{name}_quality", q)

    def jit():
        link_args = {"delay": 20, "jitter": 30, "reorder": True}
        link = Link("v", seed=3, **link_args)
        try:
            r = quality(work, qsecs, link, designs[0], "jq")
        finally:
            link.close()
        if args.anchor:
            r["chromium"] = anchor(work, qsecs, link_args, 3, "jq")
        return r
    if "jitter" not in skip:
        step("delay20_jitter30_reorder", jit)

    def relayed():
        # Alice behind a 40 ± 10 ms, 5 % loss access link, bob behind a clean
        # one, both behind symmetric NATs that reach only the relay: the one
        # path is a relay circuit (checked, or the step fails). The default
        # design: a relayed connection has no datagrams, so voice takes the stream.
        net = RelayNet(delay=40, jitter=10, loss=5, seed=11)
        try:
            r = quality(work, qsecs, None, designs[0], "rq5", net=net)
        finally:
            net.close()
        if r["path"] != "relayed":
            raise RuntimeError(f"the relayed step's path was {r['path']}")
        # bob's connection to alice at the end of the call (transport: to the relay).
        r["connection"] = {k: net.connection.get(k) for k in ("path", "transport", "via")}
        return r
    if "relayed" not in skip:
        step("relayed_loss5_quality", relayed)
    if "processing" not in skip:
        step("processing_default_vs_off", lambda: processing_runs(work, qsecs, args.runs, (0, 5), args.anchor))
    if "mesh" not in skip:
        # The baseline first, in the same run: every packet 10 ms (as before
        # issue 14's fourth step), then the default (20 ms from 5 people on).
        step("mesh8_10ms", lambda: mesh(work, 8, 15 if args.quick else 30, pair_from=1000))
        step("mesh8", lambda: mesh(work, 8, 15 if args.quick else 30))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
