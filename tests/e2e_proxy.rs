//! The system proxy (issue 33), with Debian's tinyproxy: a daemon whose
//! environment names an HTTP proxy reaches its friends through it, `NO_PROXY`
//! sends it direct, and a proxy that refuses or is down gives a clear error
//! in `apero join` and in `apero status`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::prereq::{skip, which};
use common::{wait_until, Daemon};

struct Tinyproxy {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A tinyproxy on the loopback; `connect_ports`: the only ports it lets
/// CONNECT reach (empty: all), as offices allow 443 only.
fn tinyproxy(dir: &Path, tag: &str, connect_ports: &[u16]) -> Option<Tinyproxy> {
    let Some(bin) = which("tinyproxy") else {
        skip("tinyproxy", "it is the office's HTTP proxy (apt install tinyproxy)");
        return None;
    };
    let port = free_port();
    let log = dir.join(format!("{tag}.log"));
    let mut conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 600\nAllow 127.0.0.1\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 50\n",
        log.display()
    );
    // Root runs it as nobody, who must be able to write the log.
    if nix_is_root() {
        conf.push_str("User nobody\nGroup nogroup\n");
        let _ = std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777));
    }
    for p in connect_ports {
        conf.push_str(&format!("ConnectPort {p}\n"));
    }
    let path = dir.join(format!("{tag}.conf"));
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(bin).args(["-d", "-c"]).arg(&path).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("tinyproxy to listen", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    Some(Tinyproxy { child, port, log })
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Daemons on TCP only (no QUIC: a proxy carries TCP).
fn tcp_daemon(name: &str, envs: &[(&str, &str)]) -> Daemon {
    Daemon::start_with(name, &["--listen", "/ip4/127.0.0.1/tcp/0"], envs)
}

#[test]
fn a_daemon_behind_a_proxy_joins_through_it_and_no_proxy_goes_direct() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proxy) = tinyproxy(dir.path(), "open", &[]) else { return };
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let a = tcp_daemon("alice", &[]);
    let room = a.create_room("bureau");

    let b = tcp_daemon("bob", &[("HTTPS_PROXY", &url)]);
    b.json(&["join", &a.invite(&room, &[])]);
    b.json(&["say", &room, "depuis le bureau"]);
    a.wait_history_len(&room, 1);
    a.json(&["say", &room, "bien reçu"]);
    b.wait_history_len(&room, 2);
    let st = b.json(&["status"]);
    assert_eq!(st["proxy"]["url"], url, "{st}");
    assert_eq!(st["proxy"]["source"], "HTTPS_PROXY");
    assert!(st["proxy"]["dials"].as_u64().unwrap() >= 1, "{st}");
    let log = std::fs::read_to_string(&proxy.log).unwrap_or_default();
    assert!(log.contains("CONNECT"), "tinyproxy saw no CONNECT: {log}");

    // NO_PROXY: straight to alice.
    let c = tcp_daemon("carol", &[("https_proxy", &url), ("NO_PROXY", "localhost,127.0.0.0/8")]);
    c.json(&["join", &a.invite(&room, &[])]);
    assert_eq!(c.json(&["status"])["proxy"]["dials"], 0);
}

#[test]
fn a_proxy_that_refuses_or_is_down_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    // Only 443 gets out through this one, as in many offices.
    let Some(strict) = tinyproxy(dir.path(), "strict", &[443]) else { return };
    let a = tcp_daemon("alice", &[]);
    let room = a.create_room("bureau");
    let code = a.invite(&room, &[]);
    let url = format!("http://127.0.0.1:{}", strict.port);
    let d = tcp_daemon("dave", &[("ALL_PROXY", &url)]);
    let (kind, msg) = d.json_err(&["join", &code, "--timeout", "6s"]);
    assert_eq!(kind, "unreachable", "{msg}");
    let st = d.json(&["status"]);
    let last = st["proxy"]["last_error"].as_str().unwrap_or("").to_string();
    assert!(last.contains("refused to connect") && last.contains("403"), "status: {st}");
    assert!(msg.contains("proxy"), "the join's error names the proxy: {msg}");

    let down = format!("http://127.0.0.1:{}", free_port());
    let e = tcp_daemon("erin", &[("HTTPS_PROXY", &down)]);
    let (_, msg) = e.json_err(&["join", &code, "--timeout", "6s"]);
    assert!(msg.contains("could not be reached"), "{msg}");
}
