//! Test harness: real `aperod` processes, each with its own home, on
//! loopback, driven through the real `apero` binary (or the control client).
//! When a test fails, every daemon's log is printed.
#![allow(dead_code)]

pub mod audio;
pub mod failure;
pub mod netns;
pub mod prereq;
pub mod raw;
pub mod xserver;

pub use prereq::{skip, which};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn aperod_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_aperod"))
}

/// The CLI and the tray live in other packages; they are built by the same
/// workspace build (`cargo build --workspace`), and built here if a lone
/// `cargo test` skipped them.
fn sibling_bin(name: &str) -> PathBuf {
    let path = aperod_bin().with_file_name(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let package = if name == "apero-app" { "apero-tray" } else { name };
        let ok = Command::new(cargo).args(["build", "-p", package]).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok && path.exists(), "could not build {name}");
    }
    path
}

pub fn apero_bin() -> PathBuf {
    sibling_bin("apero")
}

pub fn tray_bin() -> PathBuf {
    sibling_bin("apero-tray")
}

pub fn app_bin() -> PathBuf {
    sibling_bin("apero-app")
}

pub struct Daemon {
    pub name: String,
    pub home: tempfile::TempDir,
    child: Option<Child>,
    extra: Vec<String>,
    envs: Vec<(String, String)>,
    netns: Option<String>,
    mdns: bool,
    /// Whether starts pass `--name` (which wins over a name kept from `apero name`).
    name_flag: bool,
}

/// How to start a daemon beyond the loopback defaults.
#[derive(Default)]
pub struct DaemonOpts {
    /// Run inside this network namespace (`ip netns exec`).
    pub netns: Option<String>,
    /// Extra `aperod` arguments; with `--listen` among them the loopback
    /// defaults are left out.
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
    pub mdns: bool,
}

pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// For the tests that drive a raw libp2p peer or the control client. A raw
/// peer's swarm runs on it: it stays connected as long as the runtime lives.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// Waits until `d` sees at least `n` participants in its call (itself
/// included); returns its `call status`.
pub fn wait_in_call(d: &Daemon, n: usize, timeout: Duration) -> Value {
    wait_until(&format!("{} to see {n} in the call", d.name), timeout, || {
        let st = d.json(&["call", "status"]);
        (st["participants"].as_array().map_or(0, |p| p.len()) >= n).then_some(st)
    })
}

impl Daemon {
    pub fn start(name: &str) -> Daemon {
        Self::start_with(name, &[], &[])
    }

    /// With extra `aperod` arguments (`{home}` is replaced by the home dir)
    /// and environment variables.
    pub fn start_with(name: &str, extra: &[&str], envs: &[(&str, &str)]) -> Daemon {
        failure::remember_messages();
        // Short paths: a Unix socket path must fit in 108 bytes.
        let home = tempfile::Builder::new().prefix(&format!("apero-{name}-")).tempdir_in("/tmp").expect("tempdir");
        let h = home.path().display().to_string();
        let extra = extra.iter().map(|a| a.replace("{home}", &h)).collect();
        let envs = envs.iter().map(|(k, v)| (k.to_string(), v.replace("{home}", &h))).collect();
        let mut d = Daemon { name: name.to_string(), home, child: None, extra, envs, netns: None, mdns: false, name_flag: true };
        d.spawn();
        d
    }

    pub fn start_opts(name: &str, opts: DaemonOpts) -> Daemon {
        failure::remember_messages();
        let home = tempfile::Builder::new().prefix(&format!("apero-{name}-")).tempdir_in("/tmp").expect("tempdir");
        let mut d = Daemon {
            name: name.to_string(),
            home,
            child: None,
            extra: opts.args,
            envs: opts.envs,
            netns: opts.netns,
            mdns: opts.mdns,
            name_flag: true,
        };
        d.spawn();
        d
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.home().join("aperod.sock")
    }

    pub fn log_path(&self) -> PathBuf {
        self.home().join("test-aperod.log")
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("log file");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(aperod_bin());
                c
            }
            None => Command::new(aperod_bin()),
        };
        if !self.mdns {
            cmd.arg("--no-mdns");
        }
        if !self.extra.iter().any(|a| a == "--listen") {
            cmd.args(["--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--listen", "/ip4/127.0.0.1/tcp/0"]);
        }
        // No internet here: the public DHT would only be dialed in vain.
        if !self.extra.iter().any(|a| a == "--bootstrap") {
            cmd.args(["--bootstrap", "none"]);
        }
        if self.name_flag {
            cmd.args(["--name", &self.name]);
        }
        let child = cmd
            .args(["--foreground"])
            .arg("--home")
            .arg(self.home())
            .args(&self.extra)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", std::env::var("APERO_TEST_LOG").unwrap_or_else(|_| "info,aperod=debug".into()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start aperod");
        self.child = Some(child);
        let name = self.name.clone();
        wait_until(&format!("{name}'s daemon to answer"), Duration::from_secs(20), || {
            let out = self.cli(&["status", "--json"]);
            out.status.success().then_some(())
        });
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        // SAFETY: kill takes plain integers; the pid is our own child's.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM)
        };
        let start = Instant::now();
        loop {
            if let Some(st) = c.try_wait().expect("wait") {
                return st;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "daemon ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Later starts go without `--name`: the daemon uses the name it kept.
    pub fn without_name_flag(&mut self) {
        self.name_flag = false;
    }

    /// Waits for the process to exit by itself (after `apero down`); how
    /// long that took. Panics after `limit` (and kills it).
    pub fn exited_within(&mut self, limit: Duration) -> Duration {
        let mut c = self.child.take().expect("daemon running");
        let start = Instant::now();
        loop {
            if c.try_wait().expect("wait").is_some() {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                let _ = c.kill();
                let _ = c.wait();
                panic!("{} did not exit within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(apero_bin()).arg("--home").arg(self.home()).args(args).output().expect("run apero")
    }

    /// Runs `apero --json ARGS`, asserts success and parses the output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.cli(&full);
        assert!(
            out.status.success(),
            "{}: apero {args:?} failed: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("apero {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Runs `apero --json ARGS` expecting failure; returns the error kind and message.
    pub fn json_err(&self, args: &[&str]) -> (String, String) {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.cli(&full);
        assert!(!out.status.success(), "{}: apero {args:?} should have failed: {}", self.name, String::from_utf8_lossy(&out.stdout));
        let v: Value = serde_json::from_slice(&out.stdout).expect("error JSON");
        // The exit code says which kind of failure it was (see `apero --help`);
        // the CLI's own failures (`client`) exit 1.
        let expected = match v["error"]["kind"].as_str() {
            Some("client") => 1,
            _ => serde_json::from_value::<apero_control::ErrorKind>(v["error"]["kind"].clone()).expect("a known error kind").exit_code(),
        };
        assert_eq!(out.status.code(), Some(expected), "{}: apero {args:?}: {v}", self.name);
        (v["error"]["kind"].as_str().unwrap_or("").to_string(), v["error"]["message"].as_str().unwrap_or("").to_string())
    }

    pub fn peer_id(&self) -> String {
        self.json(&["status"])["peer_id"].as_str().expect("peer_id").to_string()
    }

    pub fn create_room(&self, name: &str) -> String {
        self.json(&["room", "create", name])["id"].as_str().expect("id").to_string()
    }

    /// A new room of ours that each of `others` joined with an invite of
    /// ours; its id.
    pub fn room_with(&self, name: &str, others: &[&Daemon]) -> String {
        let room = self.create_room(name);
        for o in others {
            o.json(&["join", &self.invite(&room, &[])]);
        }
        room
    }

    pub fn invite(&self, room: &str, extra: &[&str]) -> String {
        let mut args = vec!["invite", room];
        args.extend_from_slice(extra);
        self.json(&args)["code"].as_str().expect("code").to_string()
    }

    pub fn history_texts(&self, room: &str) -> Vec<String> {
        self.json(&["history", room]).as_array().expect("array").iter().map(|m| m["text"].as_str().unwrap_or("").to_string()).collect()
    }

    /// Message ids in the order this daemon shows them.
    pub fn history_ids(&self, room: &str) -> Vec<String> {
        self.json(&["history", room]).as_array().expect("array").iter().map(|m| m["id"].as_str().unwrap_or("").to_string()).collect()
    }

    pub fn wait_history_len(&self, room: &str, n: usize) -> Vec<String> {
        wait_until(&format!("{} to have {n} messages", self.name), Duration::from_secs(30), || {
            let h = self.history_texts(room);
            (h.len() >= n).then_some(h)
        })
    }

    pub fn dropped(&self) -> Value {
        self.json(&["status"])["dropped"].clone()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            failure::print_log(&format!("log of {} ({})", self.name, self.home().display()), &self.log());
        }
        self.kill9();
    }
}
