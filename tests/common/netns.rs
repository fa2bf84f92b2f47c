//! A NAT testbed in network namespaces (see shared/recipes/netns-nat-testbed.md).
//!
//! ```text
//!  lanN (10.77.N.2) -- natN [10.77.N.1 | 198.18.0.N] --+
//!                                                     br0 in "pub" (198.18.0.254: the relay)
//! ```
//!
//! Every namespace name carries a prefix unique to the test, interfaces are
//! created directly inside their namespaces (so parallel tests never clash),
//! and everything is deleted on drop, also when the test panics.
//!
//! `APERO_TESTBED_DELAY_MS=N` puts N ms of one-way delay on each home's link
//! to its router (shared/tools/delaylink.py instead of a veth pair), so two
//! homes are 4·N ms apart and a home is 2·N ms from the relay: the figures in
//! docs/benchmarks.md are taken that way, the tests run without it.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Daemon, DaemonOpts};

pub const RELAY_IP: &str = "198.18.0.254";

/// Whether we can make namespaces here; when not, the test is skipped, or
/// fails under CI (see [`super::skip`]), and the caller returns.
pub fn can_run() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        super::skip("root", "the NAT testbed makes network namespaces (CI runs it as root)");
        return false;
    }
    let missing: Vec<&str> = ["ip", "iptables", "nft"].into_iter().filter(|t| super::which(t).is_none()).collect();
    if !missing.is_empty() {
        super::skip(&missing.join(", "), "the NAT testbed is built with them (scripts/test.sh installs them when root)");
        return false;
    }
    true
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Nat {
    /// MASQUERADE keeps the source port when it can: hole punching works.
    Cone,
    /// A new random port per destination: no hole punch can work.
    Symmetric,
}

pub struct Testbed {
    prefix: String,
    namespaces: Vec<String>,
    delay_ms: u32,
    links: Vec<std::process::Child>,
    // One testbed at a time: on a 2-core machine parallel ones starve each
    // other's daemons and turn timings (and hole punches) into noise.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("run a testbed command");
    assert!(out.status.success(), "{:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
}

impl Testbed {
    /// The public segment only: a bridge in `pub` holding the relay's address.
    pub fn new() -> Testbed {
        static N: AtomicU32 = AtomicU32::new(0);
        let prefix = format!("ap{}x{}", std::process::id() % 100_000, N.fetch_add(1, Ordering::Relaxed));
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let delay_ms = std::env::var("APERO_TESTBED_DELAY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut t = Testbed { prefix, namespaces: Vec::new(), delay_ms, links: Vec::new(), _serial: serial };
        let p = t.add_ns("pub");
        sh(&["ip", "-n", &p, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &p, "link", "set", "br0", "up"]);
        sh(&["ip", "-n", &p, "addr", "add", &format!("{RELAY_IP}/24"), "dev", "br0"]);
        t
    }

    pub fn ns(&self, short: &str) -> String {
        format!("{}{}", self.prefix, short)
    }

    fn add_ns(&mut self, short: &str) -> String {
        let name = self.ns(short);
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        self.namespaces.push(name.clone());
        name
    }

    /// Home network `i` (1..=200): a host `lan{i}` behind the router `nat{i}`.
    /// Returns the host's namespace.
    pub fn home(&mut self, i: u8, nat: Nat) -> String {
        let p = self.ns("pub");
        let n = self.add_ns(&format!("nat{i}"));
        let l = self.add_ns(&format!("lan{i}"));
        sh(&["ip", "-n", &n, "link", "add", "wan", "type", "veth", "peer", "name", &format!("pw{i}"), "netns", &p]);
        sh(&["ip", "-n", &p, "link", "set", &format!("pw{i}"), "master", "br0"]);
        sh(&["ip", "-n", &p, "link", "set", &format!("pw{i}"), "up"]);
        sh(&["ip", "-n", &n, "addr", "add", &format!("198.18.0.{i}/24"), "dev", "wan"]);
        sh(&["ip", "-n", &n, "link", "set", "wan", "up"]);
        if self.delay_ms > 0 {
            self.delay_link(&n, &l, i);
        } else {
            sh(&["ip", "-n", &n, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", &l]);
            sh(&["ip", "-n", &n, "addr", "add", &format!("10.77.{i}.1/24"), "dev", "lan"]);
            sh(&["ip", "-n", &n, "link", "set", "lan", "up"]);
            sh(&["ip", "-n", &l, "addr", "add", &format!("10.77.{i}.2/24"), "dev", "eth0"]);
            sh(&["ip", "-n", &l, "link", "set", "eth0", "up"]);
        }
        sh(&["ip", "-n", &l, "route", "add", "default", "via", &format!("10.77.{i}.1")]);
        sh(&["ip", "netns", "exec", &n, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        let mut masq = vec!["ip", "netns", "exec", &n, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"];
        if nat == Nat::Symmetric {
            masq.push("--random-fully");
        }
        sh(&masq);
        // As every home router does; without it no hole punch works here.
        sh(&[
            "ip",
            "netns",
            "exec",
            &n,
            "iptables",
            "-A",
            "INPUT",
            "-i",
            "wan",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW,INVALID",
            "-j",
            "DROP",
        ]);
        l
    }

    /// Open IPv6 for `homes` (made with [`Testbed::home`], without a delay
    /// link), as many home connections have it: host 2001:db8:i::2 behind
    /// router i, which routes (no NAT, no firewall) to the other homes over
    /// the public segment (2001:db8:ff::i). Their IPv4 stays behind the NAT.
    pub fn ipv6(&self, homes: &[u8]) {
        assert_eq!(self.delay_ms, 0, "the delay link carries IPv4 only");
        for &i in homes {
            let (n, l) = (self.ns(&format!("nat{i}")), self.ns(&format!("lan{i}")));
            // nodad: a tentative address (duplicate detection, ~1 s) cannot be bound yet.
            sh(&["ip", "-n", &n, "addr", "add", &format!("2001:db8:ff::{i}/64"), "dev", "wan", "nodad"]);
            sh(&["ip", "-n", &n, "addr", "add", &format!("2001:db8:{i}::1/64"), "dev", "lan", "nodad"]);
            sh(&["ip", "-n", &l, "addr", "add", &format!("2001:db8:{i}::2/64"), "dev", "eth0", "nodad"]);
            sh(&["ip", "-n", &l, "-6", "route", "add", "default", "via", &format!("2001:db8:{i}::1")]);
            sh(&["ip", "netns", "exec", &n, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
            for &j in homes.iter().filter(|&&j| j != i) {
                sh(&["ip", "-n", &n, "-6", "route", "add", &format!("2001:db8:{j}::/64"), "via", &format!("2001:db8:ff::{j}")]);
            }
        }
    }

    /// The home's access link through delaylink (point to point `dl0`,
    /// 10.77.i.1 on the router, 10.77.i.2 on the host).
    fn delay_link(&mut self, router: &str, host: &str, i: u8) {
        use std::io::BufRead;
        let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/tools/delaylink.py");
        let mut child = Command::new("python3")
            .args([tool, router, host, "--addr-a", &format!("10.77.{i}.1"), "--addr-b", &format!("10.77.{i}.2")])
            .args(["--delay", &self.delay_ms.to_string(), "--seed", &i.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start delaylink");
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        assert!(line.contains("READY"), "delaylink did not come up: {line:?}");
        self.links.push(child);
    }

    /// A corporate firewall: home `i`'s router forwards no UDP at all.
    pub fn block_udp(&self, i: u8) {
        let n = self.ns(&format!("nat{i}"));
        sh(&["ip", "netns", "exec", &n, "nft", "add", "table", "inet", "fw"]);
        sh(&["ip", "netns", "exec", &n, "nft", "add", "chain", "inet", "fw", "through", "{ type filter hook forward priority 0; }"]);
        sh(&["ip", "netns", "exec", &n, "nft", "add", "rule", "inet", "fw", "through", "meta", "l4proto", "udp", "drop"]);
    }

    /// Homes can reach the relay but not each other (as behind a carrier-grade
    /// NAT that filters everything else): every path between them is relayed.
    pub fn isolate_homes(&self) {
        let p = self.ns("pub");
        sh(&["ip", "netns", "exec", &p, "nft", "add", "table", "bridge", "iso"]);
        sh(&["ip", "netns", "exec", &p, "nft", "add", "chain", "bridge", "iso", "through", "{ type filter hook forward priority 0; }"]);
        sh(&[
            "ip", "netns", "exec", &p, "nft", "add", "rule", "bridge", "iso", "through", "ip", "saddr", "!=", RELAY_IP, "ip", "daddr",
            "!=", RELAY_IP, "drop",
        ]);
    }

    /// An isolated LAN (no router, no internet) with `hosts` machines on one
    /// bridge, 10.77.100.x. Returns their namespaces.
    pub fn lan(&mut self, hosts: u8) -> Vec<String> {
        let sw = self.add_ns("sw");
        sh(&["ip", "-n", &sw, "link", "add", "br1", "type", "bridge"]);
        sh(&["ip", "-n", &sw, "link", "set", "br1", "up"]);
        (1..=hosts)
            .map(|i| {
                let h = self.add_ns(&format!("host{i}"));
                sh(&["ip", "-n", &h, "link", "add", "eth0", "type", "veth", "peer", "name", &format!("p{i}"), "netns", &sw]);
                sh(&["ip", "-n", &sw, "link", "set", &format!("p{i}"), "master", "br1"]);
                sh(&["ip", "-n", &sw, "link", "set", &format!("p{i}"), "up"]);
                sh(&["ip", "-n", &h, "addr", "add", &format!("10.77.100.{i}/24"), "dev", "eth0"]);
                sh(&["ip", "-n", &h, "link", "set", "eth0", "up"]);
                // mDNS needs a multicast route; a default route gives one.
                sh(&["ip", "-n", &h, "route", "add", "default", "dev", "eth0"]);
                h
            })
            .collect()
    }

    /// The relay and DHT bootstrap node on the public segment.
    pub fn relay(&self) -> Daemon {
        self.public("relay", &["--relay"])
    }

    /// An ordinary daemon (no `--relay`) with the public address: a friend's
    /// desktop with a forwarded port. Others bootstrap from it as from the relay.
    pub fn public_friend(&self, name: &str) -> Daemon {
        self.public(name, &[])
    }

    fn public(&self, name: &str, extra: &[&str]) -> Daemon {
        let listen_q = format!("/ip4/{RELAY_IP}/udp/4001/quic-v1");
        let listen_t = format!("/ip4/{RELAY_IP}/tcp/4001");
        let mut args = vec!["--lab", "--bootstrap", "none", "--listen", &listen_q, "--listen", &listen_t];
        args.extend_from_slice(extra);
        Daemon::start_opts(
            name,
            DaemonOpts { netns: Some(self.ns("pub")), args: args.into_iter().map(String::from).collect(), ..Default::default() },
        )
    }

    /// A friend's daemon in namespace `ns` that bootstraps from `relay`.
    pub fn peer(&self, name: &str, ns: &str, relay: &Daemon, extra: &[&str]) -> Daemon {
        let r = relay.peer_id();
        let mut args: Vec<String> = vec![
            "--lab".into(),
            "--listen".into(),
            "/ip4/0.0.0.0/udp/0/quic-v1".into(),
            "--listen".into(),
            "/ip4/0.0.0.0/tcp/0".into(),
            "--bootstrap".into(),
            format!("/ip4/{RELAY_IP}/udp/4001/quic-v1/p2p/{r}"),
            "--bootstrap".into(),
            format!("/ip4/{RELAY_IP}/tcp/4001/p2p/{r}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Daemon::start_opts(name, DaemonOpts { netns: Some(ns.to_string()), args, ..Default::default() })
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for l in &mut self.links {
            let _ = l.kill();
            let _ = l.wait();
        }
        for ns in self.namespaces.iter().rev() {
            // Processes still inside would keep it alive; the daemons are
            // dropped (killed) before the testbed in every test.
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
