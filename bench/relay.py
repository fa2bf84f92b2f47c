"""A relayed path for the benchmarks: two homes behind symmetric NATs that can
reach only a relay (`aperod --relay`) on a public segment, so every path
between them goes through a circuit-relay-v2 circuit. Home 1's access link
(host <-> its router) is a shared/tools/delaylink.py link with delay, jitter
and loss; home 2's is a plain veth pair.

    lan1 (10.77.1.2) ==delaylink== nat1 [10.77.1.1 | 198.18.0.1] --+
                                                                   br0 in "pub": the relay at 198.18.0.254
    lan2 (10.77.2.2) ---- veth ---- nat2 [10.77.2.1 | 198.18.0.2] --+

The same testbed as tests/common/netns.rs (symmetric NATs with the "drop
unsolicited inbound" rule, homes isolated from each other on the bridge) and
shared/recipes/netns-nat-testbed.md. Needs root, ip, iptables and nft."""

import shutil
import signal
import subprocess
import time

from lib import DELAYLINK, Daemon

RELAY_IP = "198.18.0.254"


def sh(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {r.stderr.strip()}")


class RelayNet:
    """The testbed and its relay daemon; `close()` removes everything (call it
    in a `finally`). `pair()` starts alice in home 1 and bob in home 2."""

    def __init__(self, delay=0, jitter=0, loss=0, burst=0, seed=1, prefix="apbr"):
        missing = [t for t in ("ip", "iptables", "nft") if shutil.which(t) is None]
        if missing:
            raise RuntimeError(f"the relayed testbed needs {', '.join(missing)} (apt-get install iproute2 iptables nftables)")
        self.prefix = prefix
        self.namespaces = []
        self.link = None
        self.relay = None
        try:
            self._build(delay, jitter, loss, burst, seed)
        except BaseException:
            self.close()
            raise

    def ns(self, short):
        return f"{self.prefix}{short}"

    def _add_ns(self, short):
        name = self.ns(short)
        # A namespace left over by a run that was killed.
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def _build(self, delay, jitter, loss, burst, seed):
        p = self._add_ns("pub")
        sh("ip", "-n", p, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", p, "link", "set", "br0", "up")
        sh("ip", "-n", p, "addr", "add", f"{RELAY_IP}/24", "dev", "br0")
        for i in (1, 2):
            n, l = self._add_ns(f"nat{i}"), self._add_ns(f"lan{i}")
            sh("ip", "-n", n, "link", "add", "wan", "type", "veth", "peer", "name", f"pw{i}", "netns", p)
            sh("ip", "-n", p, "link", "set", f"pw{i}", "master", "br0")
            sh("ip", "-n", p, "link", "set", f"pw{i}", "up")
            sh("ip", "-n", n, "addr", "add", f"198.18.0.{i}/24", "dev", "wan")
            sh("ip", "-n", n, "link", "set", "wan", "up")
            if i == 1:
                cmd = ["python3", str(DELAYLINK), n, l, "--addr-a", "10.77.1.1", "--addr-b", "10.77.1.2",
                       "--delay", str(delay), "--jitter", str(jitter), "--loss", str(loss), "--seed", str(seed)]
                if burst:
                    cmd += ["--burst", str(burst)]
                self.link = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                line = self.link.stdout.readline()
                if "READY" not in line:
                    raise RuntimeError(f"delaylink failed: {line} {self.link.stderr.read()}")
            else:
                sh("ip", "-n", n, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", l)
                sh("ip", "-n", n, "addr", "add", f"10.77.{i}.1/24", "dev", "lan")
                sh("ip", "-n", n, "link", "set", "lan", "up")
                sh("ip", "-n", l, "addr", "add", f"10.77.{i}.2/24", "dev", "eth0")
                sh("ip", "-n", l, "link", "set", "eth0", "up")
            sh("ip", "-n", l, "route", "add", "default", "via", f"10.77.{i}.1")
            sh("ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            # Symmetric NAT: a new random port per destination, no hole punch can work.
            sh("ip", "netns", "exec", n, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE",
               "--random-fully")
            # As every home router does (see the recipe).
            sh("ip", "netns", "exec", n, "iptables", "-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate",
               "NEW,INVALID", "-j", "DROP")
        # The homes reach the relay and nothing else (a carrier-grade NAT that
        # filters the rest): no direct path between them, whatever is tried.
        sh("ip", "netns", "exec", p, "nft", "add", "table", "bridge", "iso")
        sh("ip", "netns", "exec", p, "nft", "add", "chain", "bridge", "iso", "through",
           "{ type filter hook forward priority 0; }")
        sh("ip", "netns", "exec", p, "nft", "add", "rule", "bridge", "iso", "through", "ip", "saddr", "!=", RELAY_IP,
           "ip", "daddr", "!=", RELAY_IP, "drop")
        self.relay = Daemon("relay", None, ns=p, listen=[f"/ip4/{RELAY_IP}/udp/4001/quic-v1", f"/ip4/{RELAY_IP}/tcp/4001"],
                            args=["--lab", "--bootstrap", "none", "--relay"])
        self.relay_id = self.relay.cli("status")["peer_id"]

    def pair(self, args_a, args_b, timeout=30):
        """alice (home 1, behind the impaired link) and bob (home 2), each
        bootstrapped from the relay and holding a reservation on it."""
        boot = ["--bootstrap", f"/ip4/{RELAY_IP}/udp/4001/quic-v1/p2p/{self.relay_id}",
                "--bootstrap", f"/ip4/{RELAY_IP}/tcp/4001/p2p/{self.relay_id}"]
        ds = []
        try:
            for name, i, args in (("alice", 1, args_a), ("bob", 2, args_b)):
                # The host's own address, not 0.0.0.0: on delaylink's point-to-point
                # tun that would expand to the router's address.
                ip = f"10.77.{i}.2"
                ds.append(Daemon(name, None, ns=self.ns(f"lan{i}"), listen=[f"/ip4/{ip}/udp/0/quic-v1", f"/ip4/{ip}/tcp/0"],
                                 args=["--lab", *boot, *args]))
            for d in ds:
                wait_reservation(d, timeout)
        except BaseException:
            for d in ds:
                d.stop()
            raise
        return ds[0], ds[1]

    def peer_entry(self, d, peer_id):
        """`d`'s status entry for a connected peer (path, transport, via), or None."""
        return next((p for p in d.cli("status")["peers"] if p["peer_id"] == peer_id), None)

    def close(self):
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        if self.link is not None:
            self.link.send_signal(signal.SIGTERM)
            try:
                self.link.wait(5)
            except subprocess.TimeoutExpired:
                self.link.kill()
                self.link.wait()
            self.link = None
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []


def wait_reservation(d, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if d.cli("status").get("relays"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{d.name} got no relay reservation within {timeout} s: {d.cli('status')}")
