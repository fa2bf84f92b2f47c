//! Talking to `aperod`: connecting (one connection for requests, one for
//! the event stream), reading a snapshot of the state, and starting the
//! daemon the way `apero up` does (`apero_control::launch`).

use std::path::PathBuf;

use apero_control::{find_program, Client, ClientError, EventStream, LaunchError, LaunchOptions};

use crate::state::Snapshot;

const CLIENT_NAME: &str = "apero-tray";

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
    /// returns once its socket answers. The app loop connects afresh after.
    pub async fn start(&self) -> Result<(), LaunchError> {
        let opts = LaunchOptions { home: self.home.clone(), via_systemd: true, ..LaunchOptions::new(CLIENT_NAME) };
        let launched = apero_control::start_daemon(&opts).await?;
        for w in &launched.warnings {
            tracing::warn!("{w}");
        }
        tracing::info!(how = ?launched.start, "the daemon answers");
        Ok(())
    }

    /// Starts `apero-app [--home DIR] ARGS` on its own (not waited for).
    pub fn open_window(&self, args: &[&str]) -> std::io::Result<()> {
        let mut cmd = std::process::Command::new(find_program("apero-app"));
        if let Some(h) = &self.home {
            cmd.arg("--home").arg(h);
        }
        cmd.args(args).stdin(std::process::Stdio::null()).spawn().map(drop)
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
    let (status, rooms, call) = (client.status().await?, client.room_list().await?, client.call_status().await?);
    // A daemon from before screen sharing does not know the request: then
    // nothing is shared, and the rest of the menu stands.
    let sharing = client.share_status().await.map(|s| s.sending.iter().map(|s| s.kind).collect()).unwrap_or_default();
    Ok(Snapshot { status, rooms, call, sharing })
}
