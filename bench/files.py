#!/usr/bin/env python3
"""apero file-transfer benchmark: `apero get` between real daemons (release
build) against a plain TCP copy of the same file between two processes, in
the same run. Loopback with one and two sources, then across two network
namespaces joined by shared/tools/delaylink.py with 10 ms one-way delay.
Reports throughput, the ratio to TCP, CPU seconds per GiB and RSS growth.

    sudo bench/files.sh              # 1 GiB on loopback, 256 MiB across the link
    sudo bench/files.sh --quick      # 256 MiB / 64 MiB
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib import Daemon, Link, proc_cpu_seconds

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


def ns_prefix(ns):
    return ["ip", "netns", "exec", ns] if ns else []


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


def rss_kib(pid, key="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def make_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n


def apero_get(getter, sources, fid, out):
    """Seconds for `apero get`, plus CPU and RSS growth of every daemon involved."""
    everyone = [getter] + sources
    pids = [d.pid() for d in everyone]
    cpu0 = [proc_cpu_seconds(p) for p in pids]
    rss0 = [rss_kib(p) for p in pids]
    t0 = time.time()
    t = getter.cli("get", fid, "--to", str(out))
    dt = time.time() - t0
    assert t["state"] == "done", t
    cpu = [proc_cpu_seconds(p) - c for p, c in zip(pids, cpu0)]
    hwm = [rss_kib(p, "VmHWM") for p in pids]
    os.unlink(t["path"])
    return dt, cpu, [(h - r) / 1024 for h, r in zip(hwm, rss0)]


def run_case(label, size, work, link=None):
    src = work / f"src-{label}.bin"
    make_file(src, size)
    gib = size / (1024 * MIB)
    res = {"size_mib": size // MIB}
    if link:
        la, lb = [f"/ip4/{link.addr_a}/udp/0/quic-v1"], [f"/ip4/{link.addr_b}/udp/0/quic-v1"]
        tcp = tcp_copy(src, work / "tcp.out", ns_recv=link.b, ns_send=link.a, host=link.addr_b)
    else:
        la = lb = None
        tcp = tcp_copy(src, work / "tcp.out")
    res["tcp_mib_s"] = round(size / MIB / tcp, 1)
    a = Daemon("alice", work, ns=link.a if link else None, listen=la)
    b = Daemon("bob", work, ns=link.b if link else None, listen=lb)
    ds = [a, b]
    try:
        room = a.cli("room", "create", "bench")["id"]
        b.cli("join", a.cli("invite", room)["code"])
        fid = a.cli("send", room, str(src))[0]["id"]
        for _ in range(100):
            if any(f["id"] == fid for f in b.cli("files", room)):
                break
            time.sleep(0.1)
        dt, cpu, rss = apero_get(b, [a], fid, work / "out-b")
        res["one_source"] = {
            "mib_s": round(size / MIB / dt, 1),
            "ratio_to_tcp": round(tcp / dt, 2),
            "cpu_s_per_gib_receiver": round(cpu[0] / gib, 2),
            "cpu_s_per_gib_sender": round(cpu[1] / gib, 2),
            "rss_growth_mib_receiver": round(rss[0], 1),
            "rss_growth_mib_sender": round(rss[1], 1),
        }
        if not link:
            # Bob keeps his copy registered (we deleted the file, so fetch it again).
            b.cli("get", fid, "--to", str(work / "keep-b"))
            c = Daemon("carol", work)
            ds.append(c)
            c.cli("join", a.cli("invite", room)["code"])
            for _ in range(100):
                if any(f["id"] == fid and f["sources"] >= 2 for f in c.cli("files", room)):
                    break
                time.sleep(0.1)
            dt2, cpu2, rss2 = apero_get(c, [a, b], fid, work / "out-c")
            res["two_sources"] = {
                "mib_s": round(size / MIB / dt2, 1),
                "ratio_to_tcp": round(tcp / dt2, 2),
                "rss_growth_mib_receiver": round(rss2[0], 1),
                "rss_growth_mib_sources_max": round(max(rss2[1:]), 1),
            }
    finally:
        for d in ds:
            d.stop()
        src.unlink()
        for p in work.glob("keep-*/*"):
            p.unlink()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results-files.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="apero-fbench-", dir="/tmp"))
    results = {"date": time.strftime("%Y-%m-%d %H:%M")}
    big, small = (256 * MIB, 64 * MIB) if args.quick else (1024 * MIB, 256 * MIB)
    results["loopback"] = run_case("lo", big, work)
    print("loopback:", json.dumps(results["loopback"]), flush=True)
    link = Link("f", delay=10, seed=5)
    try:
        results["delay10"] = run_case("d10", small, work, link)
    finally:
        link.close()
    print("delay10:", json.dumps(results["delay10"]), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
