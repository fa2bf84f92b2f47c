#!/usr/bin/env python3
"""magic-wormhole baseline for the file-transfer benchmark: a local mailbox
server and transit relay (so nothing leaves the machine), and a timed
`wormhole send` -> `wormhole receive` of one file, optionally between two
network namespaces. Run with the bench venv's python (bench/files.sh installs
magic-wormhole, magic-wormhole-mailbox-server and magic-wormhole-transit-relay):

    sudo /opt/apero-bench-venv/bin/python bench/wormhole.py   # self-test
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib import ns_prefix

BIN = Path(sys.executable).parent  # twist and the plugins live in the venv

# Binds port 0 in the target namespace and prints it: the servers take their
# port on the command line, and the host's fixed defaults (4000/4001) may be taken.
FREE_PORTS = r"""
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[2]))]
for s in ss: s.bind((sys.argv[1], 0))
print(*[s.getsockname()[1] for s in ss])
"""

# Run inside the namespace: the servers are only reachable from there.
WAIT_ACCEPT = r"""
import socket, sys, time
deadline = time.time() + float(sys.argv[2])
for port in sys.argv[3:]:
    while True:
        try:
            socket.create_connection((sys.argv[1], int(port)), 0.5).close(); break
        except OSError:
            if time.time() > deadline: sys.exit(f"port {port} not accepting")
            time.sleep(0.05)
"""

# The wormhole CLI advertises every non-loopback address of its namespace as a
# direct hint. On the host that is eth0, so a "loopback" run would really go to
# the machine's external address; pinning the hints to 127.0.0.1 keeps it on lo.
WORMHOLE_CLI = r"""
import os, sys
sys.path = [p for p in sys.path if p not in ("", os.getcwd())]  # bench/wormhole.py would shadow it
import wormhole.ipaddrs
if os.environ.get("APB_WORMHOLE_ADDRS"):
    wormhole.ipaddrs.find_addresses = lambda: os.environ["APB_WORMHOLE_ADDRS"].split(",")
from wormhole.cli.cli import wormhole
sys.argv[0] = "wormhole"
wormhole()
"""


class Wormhole:
    """Mailbox server + transit relay in namespace `ns` (None: the host) on `ip`."""

    def __init__(self, ns=None, ip="127.0.0.1", timeout=20):
        self.ns, self.ip = ns, ip
        self.dir = Path(tempfile.mkdtemp(prefix="apb-wormhole-", dir="/tmp"))
        out = subprocess.run(ns_prefix(ns) + [sys.executable, "-c", FREE_PORTS, ip, "2"],
                             check=True, capture_output=True, text=True).stdout
        self.mailbox_port, self.relay_port = map(int, out.split())
        self.procs = []
        try:
            self._start("mailbox", "wormhole-mailbox", "--port", f"tcp:{self.mailbox_port}:interface={ip}",
                        "--channel-db", str(self.dir / "mailbox.sqlite"))
            self._start("relay", "transitrelay", "--port", f"tcp:{self.relay_port}:interface={ip}")
            r = subprocess.run(ns_prefix(ns) + [sys.executable, "-c", WAIT_ACCEPT, ip, str(timeout),
                                                str(self.mailbox_port), str(self.relay_port)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"wormhole servers did not start: {r.stderr}\n{self.logs()}")
        except BaseException:
            self.close()
            raise

    def _start(self, name, plugin, *args):
        log = open(self.dir / f"{name}.log", "w")
        # cwd: twist drops twistd-style state (e.g. usage dbs) next to itself.
        self.procs.append(subprocess.Popen(ns_prefix(self.ns) + [str(BIN / "twist"), plugin, *args],
                                           stdout=log, stderr=subprocess.STDOUT, cwd=self.dir))
        log.close()

    @property
    def relay_url(self):
        return f"ws://{self.ip}:{self.mailbox_port}/v1"

    @property
    def transit_helper(self):
        return f"tcp:{self.ip}:{self.relay_port}"

    def logs(self):
        return "\n".join(p.read_text() for p in sorted(self.dir.glob("*.log")))

    def copy(self, src_path, out_dir, ns_send=None, ns_recv=None, **kw):
        return wormhole_copy(src_path, out_dir, ns_send, ns_recv, self.ip,
                             mailbox_port=self.mailbox_port, relay_port=self.relay_port, **kw)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wormhole_copy(src_path, out_dir, ns_send, ns_recv, server_ip, *, mailbox_port, relay_port,
                  code="7-foo-bar", timeout=600, info=None) -> float:
    """Seconds from starting `wormhole receive` to the file being complete on disk.

    The sender is started first and given time to register the code, so the
    figure covers the receiver's start-up, key exchange, transit setup and data,
    like `apero get` does. If `info` is a dict, it gets the route ("direct" or
    "relay"), the receiver's "Receiving (...)" line and both stderr logs.
    """
    src_path, out_dir = Path(src_path).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"wormhole-{src_path.name}"
    common = ["--relay-url", f"ws://{server_ip}:{mailbox_port}/v1",
              "--transit-helper", f"tcp:{server_ip}:{relay_port}"]
    env = dict(os.environ)
    if ns_send is None and ns_recv is None:
        env["APB_WORMHOLE_ADDRS"] = "127.0.0.1"
    cli = [sys.executable, "-c", WORMHOLE_CLI]
    logdir = Path(tempfile.mkdtemp(prefix="apb-wh-run-", dir="/tmp"))
    send_log, recv_log = logdir / "send.err", logdir / "recv.err"
    sender = None
    try:
        with open(send_log, "w") as f:
            sender = subprocess.Popen(
                ns_prefix(ns_send) + cli + common + ["send", "--code", code, "--hide-progress", "--no-qr",
                                                     str(src_path)],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=env)
        # "Wormhole code is" comes once the code is set; the receiver would wait
        # for the sender anyway, this just keeps the sender's start-up out of the time.
        deadline = time.time() + 30
        while "Wormhole code is" not in send_log.read_text():
            if sender.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"wormhole send did not start: {send_log.read_text()}")
            time.sleep(0.02)
        time.sleep(0.2)  # let it claim the nameplate on the mailbox
        with open(recv_log, "w") as f:
            t0 = time.time()
            r = subprocess.run(
                ns_prefix(ns_recv) + cli + common + ["receive", "--accept-file", "--hide-progress",
                                                     "-o", str(out), code],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=env, timeout=timeout)
            dt = time.time() - t0
        if r.returncode != 0:
            raise RuntimeError(f"wormhole receive failed ({r.returncode}):\n{recv_log.read_text()}")
        sender.wait(30)  # it exits after the receiver's ack
        rtext, stext = recv_log.read_text(), send_log.read_text()
        if r.returncode != 0 or sender.returncode != 0:
            raise RuntimeError(f"wormhole failed (recv {r.returncode}, send {sender.returncode}):\n"
                               f"--- receive\n{rtext}\n--- send\n{stext}")
        if out.stat().st_size != src_path.stat().st_size:
            raise RuntimeError(f"wormhole output is {out.stat().st_size} bytes, want {src_path.stat().st_size}")
        if info is not None:
            m = re.search(r"^Receiving \((.*)\)\.\.$", rtext, re.M)
            info["connection"] = m.group(1) if m else None
            # describe() is "->tcp:HOST:PORT" for direct, "->relay:tcp:..." through the relay
            info["route"] = None if not m else ("relay" if "relay:" in m.group(1) else "direct")
            info["recv_stderr"], info["send_stderr"] = rtext, stext
        return dt
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
            sender.wait()
        out.unlink(missing_ok=True)
        shutil.rmtree(logdir, ignore_errors=True)


def main():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lib import MIB, Link, make_file, tcp_copy

    size = 64 * MIB
    work = Path(tempfile.mkdtemp(prefix="apb-whtest-", dir="/tmp"))
    src = work / "src.bin"
    make_file(src, size)
    try:
        def report(label, tcp_s, wh_s, info):
            print(f"{label}: wormhole {size / MIB / wh_s:.1f} MiB/s ({wh_s:.2f} s, {info['route']}: "
                  f"{info['connection']}), tcp {size / MIB / tcp_s:.1f} MiB/s ({tcp_s:.2f} s), "
                  f"wormhole/tcp {tcp_s / wh_s:.2f}", flush=True)

        with Wormhole() as wh:
            info = {}
            tcp = tcp_copy(src, work / "tcp.out")
            report("loopback", tcp, wh.copy(src, work, info=info), info)

        link = Link("w", delay=10)
        try:
            # Servers beside the sender; transfers go a -> b across the delayed link.
            with Wormhole(link.a, link.addr_a) as wh:
                info = {}
                tcp = tcp_copy(src, work / "tcp.out", ns_recv=link.b, ns_send=link.a, host=link.addr_b)
                report("delay10", tcp, wh.copy(src, work, ns_send=link.a, ns_recv=link.b, info=info), info)
        finally:
            link.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
