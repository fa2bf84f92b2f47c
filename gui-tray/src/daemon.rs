//! Talking to `aperod`: connecting (one connection for requests, one for
//! the event stream), reading a snapshot of the state, and starting the
//! daemon like `apero up` does.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use apero_control::{find_program, Client, ClientError, EventStream};

use crate::state::Snapshot;

const CLIENT_NAME: &str = "apero-tray";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot run {}: {source} (is apero installed next to the tray or on PATH?)", .path.display())]
    Spawn { path: PathBuf, source: std::io::Error },
    #[error("the daemon did not start: {0}")]
    Failed(String),
}

/// Where the daemon listens and how to start it.
#[derive(Debug, Clone)]
pub struct Target {
    pub socket: PathBuf,
    /// `--home DIR`, passed on to `aperod` and `apero chat`.
    pub home: Option<PathBuf>,
}

impl Target {
    pub async fn connect(&self) -> Result<Client, ClientError> {
        Client::connect(&self.socket, CLIENT_NAME).await
    }

    /// A request connection and an event stream. The stream is opened
    /// first so that nothing happens unseen between the two.
    pub async fn open(&self) -> Result<(Client, EventStream), ClientError> {
        let events = self.connect().await?.subscribe().await?;
        Ok((self.connect().await?, events))
    }

    /// Through systemd when `apero service install` set it up, so the
    /// daemon stays supervised; else `aperod` itself, which detaches and
    /// returns once its socket answers.
    pub async fn start(&self) -> Result<(), StartError> {
        if self.home.is_none() && systemd_unit_installed() {
            let started = tokio::process::Command::new("systemctl").args(["--user", "start", "aperod.service"]).stdin(Stdio::null()).output().await;
            match started {
                Ok(out) if out.status.success() => return Ok(()),
                Ok(out) => tracing::warn!("systemctl --user start aperod failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
                Err(e) => tracing::warn!("cannot run systemctl: {e}"),
            }
        }
        let path = find_program("aperod");
        let mut cmd = tokio::process::Command::new(&path);
        if let Some(h) = &self.home {
            cmd.arg("--home").arg(h);
        }
        let out = cmd.stdin(Stdio::null()).output().await.map_err(|source| StartError::Spawn { path, source })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(StartError::Failed(String::from_utf8_lossy(&out.stderr).trim().trim_start_matches("aperod: ").to_string()))
        }
    }

    /// The arguments of `apero [--home DIR] chat ROOM`.
    pub fn chat_command(&self, room: &str) -> Vec<String> {
        let mut v = vec![find_program("apero").display().to_string()];
        if let Some(h) = &self.home {
            v.extend(["--home".to_string(), h.display().to_string()]);
        }
        v.extend(["chat".to_string(), room.to_string()]);
        v
    }
}

pub async fn snapshot(client: &mut Client) -> Result<Snapshot, ClientError> {
    Ok(Snapshot { status: client.status().await?, rooms: client.room_list().await?, call: client.call_status().await? })
}

/// Whether an error means the daemon is gone (as opposed to a refusal).
pub fn is_disconnect(e: &ClientError) -> bool {
    matches!(e, ClientError::NotRunning(_) | ClientError::Closed | ClientError::Io(_))
}

/// Gives up on a request that hangs, so the tray never freezes on a stuck daemon.
pub async fn timed<T>(what: impl std::future::Future<Output = Result<T, ClientError>>) -> Result<T, ClientError> {
    tokio::time::timeout(Duration::from_secs(30), what)
        .await
        .unwrap_or_else(|_| Err(ClientError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "the daemon did not answer within 30 s"))))
}

/// The unit `apero service install` writes (Linux only; elsewhere never there).
fn systemd_unit_installed() -> bool {
    crate::settings::config_dir().join("systemd/user/aperod.service").is_file()
}
