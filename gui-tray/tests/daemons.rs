//! Real `aperod` processes for the window's tests, each with its own home
//! on loopback, and the `apero` command to play the other side. (The
//! workspace's tests/common does the same for the daemon's own tests; this
//! package cannot reach it, its binaries being another package's.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `aperod` and `apero` sit beside this package's binaries after a
/// workspace build; built here if a lone `cargo test -p apero-tray` skipped them.
pub fn bin(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_apero-app")).with_file_name(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let package = if name == "aperod" { "aperod" } else { "apero" };
        let ok = Command::new(cargo).args(["build", "-p", package]).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok && path.exists(), "could not build {name}");
    }
    path
}

pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Daemon {
    pub name: String,
    pub home: tempfile::TempDir,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Daemon {
    pub fn start(name: &str, extra: &[&str]) -> Daemon {
        // Short paths: a Unix socket path must fit in 108 bytes.
        let home = tempfile::Builder::new().prefix(&format!("apero-w{name}-")).tempdir_in("/tmp").expect("tempdir");
        let mut d = Daemon { name: name.into(), home, child: None, extra: extra.iter().map(|s| s.to_string()).collect() };
        d.spawn();
        d
    }

    pub fn socket(&self) -> PathBuf {
        self.home.path().join("aperod.sock")
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.home.path().join("test-aperod.log")).expect("log");
        let mut cmd = Command::new(bin("aperod"));
        cmd.args(["--no-mdns", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--listen", "/ip4/127.0.0.1/tcp/0"]);
        if !self.extra.iter().any(|a| a == "--bootstrap") {
            cmd.args(["--bootstrap", "none"]);
        }
        let child = cmd
            .args(["--foreground", "--audio", "null", "--name", &self.name])
            .arg("--home")
            .arg(self.home.path())
            .args(&self.extra)
            .env("RUST_LOG", "info,aperod=debug")
            // Downloads land in the daemon's home, not the user's ~/Downloads.
            .env("HOME", self.home.path())
            .env_remove("XDG_DOWNLOAD_DIR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start aperod");
        self.child = Some(child);
        let name = self.name.clone();
        wait_until(&format!("{name}'s daemon to answer"), Duration::from_secs(20), || {
            self.cli(&["status", "--json"]).status.success().then_some(())
        });
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin("apero")).arg("--home").arg(self.home.path()).args(args).output().expect("run apero")
    }

    /// `apero --json ARGS`, which must succeed.
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
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("apero {args:?}: {e}"))
    }

    /// One request on the control socket, for what the `apero` command
    /// does not say (or not yet): channels, hosts, breakouts.
    pub fn ask(&self, req: apero_control::Request) -> Result<apero_control::Reply, apero_control::ClientError> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut c = apero_control::Client::connect(&self.socket(), "apero-window-test").await?;
            c.request(&req).await
        })
    }

    /// The room's channels, hosts and breakout as this daemon sees them.
    pub fn channels(&self, room: &str) -> apero_control::ChannelsInfo {
        match self.ask(apero_control::Request::ChannelList { room: room.into() }) {
            Ok(apero_control::Reply::Channels(c)) => c,
            other => panic!("{}: channel list: {other:?}", self.name),
        }
    }

    pub fn peer_id(&self) -> String {
        self.json(&["status"])["peer_id"].as_str().expect("peer id").to_string()
    }

    /// Our addresses with `/p2p/ID`, as `--bootstrap` arguments for others.
    pub fn bootstrap_args(&self) -> Vec<String> {
        let st = self.json(&["status"]);
        let id = st["peer_id"].as_str().expect("peer id").to_string();
        let mut v = Vec::new();
        for a in st["listen"].as_array().expect("listen") {
            v.push("--bootstrap".to_string());
            v.push(format!("{}/p2p/{id}", a.as_str().expect("address")));
        }
        v
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("test-aperod.log")).unwrap_or_default()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- {}'s daemon log -----\n{}", self.name, self.log());
        }
        self.kill9();
    }
}
