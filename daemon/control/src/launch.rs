//! Starting `aperod` from a client. `apero up` and the tray's "Start the
//! daemon" both come here, so they find the same binary, hand it the same
//! arguments and wait for it the same way.
//!
//! The daemon detaches itself: run without `--foreground`, `aperod` resolves
//! its settings, starts a copy of itself in a session of its own with those
//! settings, waits until that copy answers on its socket and exits, with the
//! reason on stderr when it could not. So a client only runs it, waits for
//! it to return, then for the hello on the socket. A daemon that already
//! answers is left alone: starting is idempotent.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;

use crate::client::{Client, ClientError};
use crate::paths::{config_home, find_program, socket_path, systemd_unit_path, SYSTEMD_UNIT};

/// `aperod` gives up on its background copy after 20 s; this leaves it room
/// to say so before we stop waiting for it.
const APEROD_RETURNS_WITHIN: Duration = Duration::from_secs(30);
/// A daemon that accepts the connection but does not answer the hello in
/// this time counts as not answering.
const HELLO_WITHIN: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// What to start and how long to wait for it.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// `--home DIR` for the daemon; also where its socket is.
    pub home: Option<PathBuf>,
    /// `--config FILE` for the daemon (`None`: its default file, see
    /// [`crate::default_config_file`]).
    pub config: Option<PathBuf>,
    /// Further `aperod` arguments, passed as they are (`--name`, `--listen`...).
    pub args: Vec<OsString>,
    /// The daemon's binary (`None`: `aperod` found by [`find_program`]).
    pub program: Option<PathBuf>,
    /// Start the systemd user unit instead when `apero service install`
    /// wrote one, so that the daemon stays supervised. Only when nothing
    /// above asks for a daemon the unit would not run (a home, a config
    /// file, arguments); when systemd fails, `aperod` is run after all.
    pub via_systemd: bool,
    /// How long the daemon may take to answer once started.
    pub timeout: Duration,
    /// Our name in the hello.
    pub client_name: String,
}

impl LaunchOptions {
    /// The default daemon, waited for 10 s.
    pub fn new(client_name: impl Into<String>) -> LaunchOptions {
        LaunchOptions {
            home: None,
            config: None,
            args: Vec::new(),
            program: None,
            via_systemd: false,
            timeout: Duration::from_secs(10),
            client_name: client_name.into(),
        }
    }

    /// The arguments `aperod` is run with.
    pub fn command_args(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        if let Some(h) = &self.home {
            v.extend([OsString::from("--home"), h.clone().into_os_string()]);
        }
        if let Some(c) = &self.config {
            v.extend([OsString::from("--config"), c.clone().into_os_string()]);
        }
        v.extend(self.args.iter().cloned());
        v
    }

    fn systemd_may_start_it(&self) -> bool {
        self.via_systemd && self.home.is_none() && self.config.is_none() && self.args.is_empty()
    }
}

/// How the daemon came to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// It was running already; nothing was started (and the options were
    /// not applied).
    AlreadyRunning,
    /// `systemctl --user start aperod.service`.
    Systemd,
    /// `aperod` run by us.
    Aperod,
}

/// A daemon that answers, and a connection to it.
pub struct Launched {
    pub client: Client,
    pub start: Start,
    /// What went wrong on the way without stopping the start (systemd
    /// refusing, so that `aperod` was run instead).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    // Causes are in the messages, not `source`s: `{:#}` would print them twice.
    #[error("cannot run {}: {error} (is apero installed next to this program or on PATH?)", .path.display())]
    Spawn { path: PathBuf, error: std::io::Error },
    #[error("the daemon did not start: {0}")]
    Failed(String),
    #[error("{} did not return within {} s", .path.display(), .after.as_secs())]
    Hung { path: PathBuf, after: Duration },
    #[error("the daemon was started but does not answer at {} after {} s ({last})", .socket.display(), .after.as_secs())]
    NoAnswer { socket: PathBuf, after: Duration, last: ClientError },
    /// A daemon answers but cannot be used (another protocol version).
    #[error(transparent)]
    Client(ClientError),
}

/// Makes sure the daemon of `opts.home` runs, starting it if nothing answers
/// on its socket, and returns a connection that has passed the hello.
pub async fn start_daemon(opts: &LaunchOptions) -> Result<Launched, LaunchError> {
    let socket = socket_path(opts.home.as_deref());
    match hello(&socket, &opts.client_name).await {
        Ok(client) => return Ok(Launched { client, start: Start::AlreadyRunning, warnings: Vec::new() }),
        Err(e @ ClientError::VersionMismatch { .. }) => return Err(LaunchError::Client(e)),
        Err(_) => {}
    }
    let mut warnings = Vec::new();
    let mut start = Start::Aperod;
    if opts.systemd_may_start_it() && systemd_unit_path(&config_home()).is_file() {
        match systemctl_start().await {
            Ok(()) => start = Start::Systemd,
            Err(why) => warnings.push(format!("systemctl --user start {SYSTEMD_UNIT} failed ({why}); running aperod instead")),
        }
    }
    if start == Start::Aperod {
        run_aperod(opts).await?;
    }
    let client = wait_for_hello(&socket, opts).await?;
    Ok(Launched { client, start, warnings })
}

async fn systemctl_start() -> Result<(), String> {
    let out = Command::new("systemctl")
        .args(["--user", "start", SYSTEMD_UNIT])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Runs `aperod` (which detaches itself) and waits for it to return.
async fn run_aperod(opts: &LaunchOptions) -> Result<(), LaunchError> {
    let path = opts.program.clone().unwrap_or_else(|| find_program("aperod"));
    let mut cmd = Command::new(&path);
    // Its stdout only says where the log is; the daemon itself writes to the
    // log file, so the pipes close when the parent exits.
    cmd.args(opts.command_args()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = match tokio::time::timeout(APEROD_RETURNS_WITHIN, cmd.output()).await {
        Err(_) => return Err(LaunchError::Hung { path, after: APEROD_RETURNS_WITHIN }),
        Ok(Err(error)) => return Err(LaunchError::Spawn { path, error }),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let why = stderr.trim().trim_start_matches("aperod: ");
    Err(LaunchError::Failed(if why.is_empty() { format!("{} exited with {}", path.display(), out.status) } else { why.to_string() }))
}

async fn wait_for_hello(socket: &std::path::Path, opts: &LaunchOptions) -> Result<Client, LaunchError> {
    let deadline = Instant::now() + opts.timeout;
    loop {
        match hello(socket, &opts.client_name).await {
            Ok(client) => return Ok(client),
            Err(e @ ClientError::VersionMismatch { .. }) => return Err(LaunchError::Client(e)),
            Err(last) if Instant::now() >= deadline => {
                return Err(LaunchError::NoAnswer { socket: socket.to_path_buf(), after: opts.timeout, last })
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

async fn hello(socket: &std::path::Path, client_name: &str) -> Result<Client, ClientError> {
    tokio::time::timeout(HELLO_WITHIN, Client::connect(socket, client_name))
        .await
        .unwrap_or_else(|_| Err(ClientError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "no hello from the daemon"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_home_config_then_the_rest() {
        let mut o = LaunchOptions::new("test");
        assert!(o.command_args().is_empty());
        o.home = Some("/h ome".into());
        o.config = Some("c.toml".into());
        o.args = vec!["--name".into(), "zoé".into()];
        assert_eq!(o.command_args(), ["--home", "/h ome", "--config", "c.toml", "--name", "zoé"].map(OsString::from));
        o.via_systemd = true;
        assert!(!o.systemd_may_start_it(), "the unit runs the default daemon only");
        let plain = LaunchOptions { via_systemd: true, ..LaunchOptions::new("test") };
        assert!(plain.systemd_may_start_it());
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn a_missing_binary_is_named() {
        let dir = tempdir();
        let opts = LaunchOptions { home: Some(dir.clone()), program: Some(dir.join("no-such-aperod")), ..LaunchOptions::new("test") };
        let err = runtime().block_on(start_daemon(&opts)).err().unwrap();
        assert!(matches!(err, LaunchError::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-aperod"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_daemon_says_why_and_a_silent_one_times_out() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempdir();
        let script = |name: &str, body: &str| {
            let p = dir.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let failing = script("failing", "echo 'aperod: another daemon is already running' >&2; exit 1");
        let opts = LaunchOptions { home: Some(dir.clone()), program: Some(failing), ..LaunchOptions::new("test") };
        let err = runtime().block_on(start_daemon(&opts)).err().unwrap();
        assert_eq!(err.to_string(), "the daemon did not start: another daemon is already running");

        // Returns "started" but never opens the socket; it sees the arguments.
        let seen = dir.join("args");
        let silent = script("silent", &format!("echo \"$@\" > '{}'", seen.display()));
        let opts = LaunchOptions {
            home: Some(dir.clone()),
            program: Some(silent),
            args: vec!["--name".into(), "zoé".into()],
            timeout: Duration::from_millis(200),
            ..LaunchOptions::new("test")
        };
        let err = runtime().block_on(start_daemon(&opts)).err().unwrap();
        assert!(matches!(err, LaunchError::NoAnswer { .. }), "{err:?}");
        assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), format!("--home {} --name zoé", dir.display()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A fresh directory (this crate has no tempfile dependency).
    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!("apero-launch-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
