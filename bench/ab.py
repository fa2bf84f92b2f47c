#!/usr/bin/env python3
"""A/B: the same voice and file cases with two builds of apero, alternating
round by round in one run, so that whatever else the machine does hits both.
Reports each side's medians and the ratio new/base. Needs root (namespaces).

    sudo bench/ab.sh BASE_COMMIT             # builds BASE_COMMIT and this tree (release)
    bench/ab.py --base DIR --new DIR [--rounds N] [--only voice|files]

Cases: voice on loopback (latency, PESQ-WB), voice over 40±10 ms with 5 %
loss (latency, PESQ-WB), and a 256 MiB `apero get` across a 10 ms link, with
a plain TCP copy in every round as the machine's own yardstick.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lib import MIB, PHRASE, Daemon, Link, make_file, silence, speech, tcp_copy
from voice import latency, quality
from files import apero_get, offer, settle


def use(bin_dir):
    os.environ["APERO_BENCH_BIN"] = str(bin_dir)


def voice_round(work, link_args, tag, secs):
    def with_link(fn, seed):
        if link_args is None:
            return fn(None)
        link = Link("v", seed=seed, **link_args)
        try:
            return fn(link)
        finally:
            link.close()
    lat = with_link(lambda l: latency(work, secs, l, "stream", f"{tag}l"), 7)
    q = with_link(lambda l: quality(work, secs + 10, l, "stream", f"{tag}q"), 11)
    return {"p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"], "pesq_wb": q["pesq_wb"], "concealed_pct": q["concealed_pct"]}


def files_round(work, src, size):
    link = Link("f", delay=10, seed=5)
    try:
        a = Daemon("alice", work, ns=link.a, listen=[f"/ip4/{link.addr_a}/udp/0/quic-v1"])
        b = Daemon("bob", work, ns=link.b, listen=[f"/ip4/{link.addr_b}/udp/0/quic-v1"])
        try:
            _, fid = offer(a, b, src)
            settle(src)
            dt, cpu, rss = apero_get(b, [a], fid, work / "out-b")
        finally:
            a.stop()
            b.stop()
        settle(src)
        t = tcp_copy(src, work / "tcp.out", ns_recv=link.b, ns_send=link.a, host=link.addr_b)
    finally:
        link.close()
    mib = size / MIB
    # The ratio to the TCP copy of the same round takes out what the link
    # (one Python process forwarding every packet) and the machine did then.
    return {"mib_s": round(mib / dt, 1), "tcp_mib_s": round(mib / t, 1), "to_tcp": round(t / dt, 3), "cpu_s_receiver": round(cpu[0], 2)}


def summarize(rounds):
    keys = rounds[0].keys()
    return {k: round(float(np.median([r[k] for r in rounds])), 2) for k in keys} | {"rounds": rounds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="folder with the baseline's aperod and apero")
    ap.add_argument("--new", required=True, help="folder with the new build's aperod and apero")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=["voice", "voice-loopback", "voice-loss5", "files"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results-ab.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="apero-ab-", dir="/tmp"))
    speech(work / "speech.wav", PHRASE)
    silence(work / "silence.wav")
    sides = {"base": args.base, "new": args.new}
    cases = []
    if args.only in (None, "voice", "voice-loopback"):
        cases.append(("voice_loopback", lambda side, r: voice_round(work, None, f"lo{side}{r}", 20)))
    if args.only in (None, "voice", "voice-loss5"):
        lossy = {"delay": 40, "jitter": 10, "loss": 5}
        cases.append(("voice_delay40_loss5", lambda side, r: voice_round(work, lossy, f"d5{side}{r}", 20)))
    if args.only in (None, "files"):
        src = work / "src.bin"
        make_file(src, 256 * MIB)
        cases.append(("files_delay10_256mib", lambda side, r: files_round(work, src, 256 * MIB)))
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "base": args.base, "new": args.new}
    for name, run in cases:
        got = {"base": [], "new": []}
        for r in range(args.rounds):
            # Alternate which side goes first, so neither always runs warm.
            order = ["base", "new"] if r % 2 == 0 else ["new", "base"]
            for side in order:
                use(sides[side])
                got[side].append(run(side, r))
                print(f"{name} round {r + 1} {side}: {json.dumps(got[side][-1])}", flush=True)
        summary = {side: summarize(v) for side, v in got.items()}
        summary["ratio_new_to_base"] = {
            k: round(summary["new"][k] / summary["base"][k], 3) for k in got["base"][0] if summary["base"][k]
        }
        results[name] = summary
        print(f"{name}: base {json.dumps({k: v for k, v in summary['base'].items() if k != 'rounds'})}", flush=True)
        print(f"{name}: new  {json.dumps({k: v for k, v in summary['new'].items() if k != 'rounds'})}", flush=True)
        print(f"{name}: new/base {json.dumps(summary['ratio_new_to_base'])}", flush=True)
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
