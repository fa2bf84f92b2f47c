//! The tray's one loop, independent of any platform: it keeps the state,
//! publishes a [`View`] for the front-end to draw, and carries out the
//! [`Action`]s the front-end sends back.
//!
//! While the daemon answers there are two connections: requests, and an
//! event stream read by its own task (reading a line is not cancel-safe, so
//! it never sits in a `select!`). When either fails the tray shows itself
//! offline and tries again every [`RETRY`]; the menu can start the daemon
//! meanwhile. Nothing the daemon sends or fails to send ends the loop: only
//! Quit does.

use std::path::PathBuf;
use std::time::Duration;

use apero_control::{timed, Client, ClientError, Event, EventStream};
use tokio::sync::{mpsc, watch};

use crate::clipboard::Clipboard;
use crate::daemon::{self, Target};
use crate::menu::{Action, View};
use crate::notify::{self, Note, Notifier};
use crate::settings::Settings;
use crate::state::State;
use crate::terminal;

/// How often an offline tray tries to reach the daemon again.
pub const RETRY: Duration = Duration::from_secs(3);
const INVITE_TTL_SECS: u64 = 24 * 3600;
const SHORT_CODE_TTL_SECS: u64 = 600;

enum Incoming {
    Event(Event),
    Gone(String),
}

enum Flow {
    Disconnected(String),
    Quit,
}

pub struct App {
    pub target: Target,
    pub settings_path: PathBuf,
    pub settings: Settings,
    /// When the settings file was last read, to notice the window's changes.
    pub settings_stamp: Option<std::time::SystemTime>,
    pub notifier: Notifier,
    pub view: watch::Sender<View>,
    pub state: State,
    pub clipboard: Clipboard,
}

impl App {
    pub async fn run(mut self, mut actions: mpsc::Receiver<Action>) {
        loop {
            match timed(self.target.open()).await {
                Ok((client, events)) => match self.session(client, events, &mut actions).await {
                    Flow::Quit => return,
                    Flow::Disconnected(why) => {
                        tracing::info!("offline: {why}");
                        self.state.set_offline(why);
                    }
                },
                Err(e) => self.state.set_offline(offline_reason(&e)),
            }
            self.publish();
            if self.wait_offline(&mut actions).await.is_err() {
                return;
            }
        }
    }

    /// Until the next retry, answers what the menu allows while offline.
    /// `Err` means quit.
    async fn wait_offline(&mut self, actions: &mut mpsc::Receiver<Action>) -> Result<(), ()> {
        let retry = tokio::time::sleep(RETRY);
        tokio::pin!(retry);
        loop {
            tokio::select! {
                _ = &mut retry => return Ok(()),
                action = actions.recv() => match action {
                    None | Some(Action::Quit) => return Err(()),
                    Some(Action::StartDaemon) => {
                        if let Err(e) = self.target.start().await {
                            self.notifier.show(Note::new("apero's daemon did not start", e.to_string()));
                        }
                        return Ok(());
                    }
                    Some(Action::ToggleNotifications(room)) => self.toggle_notifications(&room),
                    Some(_) => self.notifier.show(Note::new("apero is offline", "Start the daemon from this menu first.")),
                },
            }
        }
    }

    async fn session(&mut self, mut client: Client, events: EventStream, actions: &mut mpsc::Receiver<Action>) -> Flow {
        let mut incoming = forward(events);
        if let Err(e) = self.refresh(&mut client).await {
            return Flow::Disconnected(offline_reason(&e));
        }
        tracing::info!("connected to the daemon");
        loop {
            let result = tokio::select! {
                inc = incoming.recv() => match inc {
                    Some(Incoming::Event(e)) => self.on_event(&mut client, e).await,
                    Some(Incoming::Gone(why)) => return Flow::Disconnected(why),
                    None => return Flow::Disconnected("the daemon went away".into()),
                },
                action = actions.recv() => match action {
                    None | Some(Action::Quit) => return Flow::Quit,
                    Some(a) => self.act(&mut client, a).await,
                },
            };
            match result {
                Err(e) if e.is_disconnect() => return Flow::Disconnected(offline_reason(&e)),
                Err(e) => tracing::warn!("{e}"),
                Ok(()) => {}
            }
        }
    }

    /// The window switches notifications in the same file: read it again
    /// when it changed (a stat per event; the file is a few bytes).
    fn reload_settings(&mut self) {
        let stamp = Settings::stamp(&self.settings_path);
        if stamp != self.settings_stamp {
            self.settings_stamp = stamp;
            self.settings = Settings::load(&self.settings_path);
            self.publish();
        }
    }

    fn publish(&self) {
        let new = View::of(&self.state, &self.settings);
        self.view.send_if_modified(|v| {
            let changed = *v != new;
            if changed {
                *v = new;
            }
            changed
        });
    }

    async fn refresh(&mut self, client: &mut Client) -> Result<(), ClientError> {
        let snap = timed(daemon::snapshot(client)).await?;
        self.state.apply(snap);
        self.publish();
        Ok(())
    }

    async fn on_event(&mut self, client: &mut Client, event: Event) -> Result<(), ClientError> {
        tracing::debug!(?event, "event");
        // Only before what may notify: level and progress events come many
        // times a second and never do.
        if !matches!(event, Event::CallLevels { .. } | Event::Transfer { .. } | Event::SoundCheck { .. }) {
            self.reload_settings();
        }
        if let Some(note) = notify::for_event(&self.state, &self.settings, &event) {
            self.notifier.show(note);
        }
        match event {
            Event::CallChanged { room, participants } => {
                let joined = self.state.call_changed(&room, &participants);
                if !joined.is_empty() && self.settings.notifies(&room) {
                    let members = timed(client.room_members(&room)).await?;
                    let names: Vec<String> = joined
                        .iter()
                        .map(|id| members.iter().find(|m| &m.peer_id == id).map(|m| m.name.clone()).unwrap_or_else(|| "someone".into()))
                        .collect();
                    self.notifier.show(notify::joined_call(&self.state, &room, &names));
                }
                self.refresh(client).await
            }
            Event::MemberJoined { .. }
            | Event::MemberLeft { .. }
            | Event::PeerConnected { .. }
            | Event::PeerDisconnected { .. }
            | Event::AudioDevice { .. }
            | Event::Lagged { .. } => self.refresh(client).await,
            Event::CallLevels { room, levels } => {
                if self.state.levels(&room, &levels) {
                    self.publish();
                }
                Ok(())
            }
            Event::Message { .. } | Event::FileOffered { .. } | Event::Transfer { .. } | Event::SoundCheck { .. } => Ok(()),
        }
    }

    async fn act(&mut self, client: &mut Client, action: Action) -> Result<(), ClientError> {
        tracing::info!(?action, "menu");
        let result = match &action {
            Action::JoinCall(room) => timed(client.call_join(room)).await.map(drop),
            Action::LeaveCall => timed(client.call_leave()).await,
            Action::SetMuted(m) => timed(client.mute(*m)).await.map(drop),
            Action::ToggleMute => match timed(client.call_status()).await {
                Ok(st) if st.room.is_some() => timed(client.mute(!st.muted)).await.map(drop),
                Ok(_) => {
                    self.notifier.show(Note::new("Not in a call", "The mute shortcut works during a call."));
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Action::CopyInvite(room) => timed(client.invite_create(room, INVITE_TTL_SECS, false, false))
                .await
                .map(|inv| self.copy(room, "invite code", &inv.code, "valid for 24 hours; your friend runs `apero join CODE`")),
            Action::CopyShortCode(room) => timed(client.invite_create(room, SHORT_CODE_TTL_SECS, true, true))
                .await
                .map(|inv| self.copy(room, "short code", &inv.code, "for one person, valid for 10 minutes")),
            Action::OpenChat(room) => {
                // The window; `apero chat` in a terminal where it is not installed.
                if let Err(e) = self.target.open_window(&["--room", room]) {
                    tracing::info!("no window ({e}): opening the chat in a terminal");
                    if let Err(e) = terminal::open(&self.target.chat_command(room)) {
                        self.notifier.show(Note::new("Cannot open the chat", e.to_string()));
                    }
                }
                Ok(())
            }
            Action::JoinWithCode => {
                if let Err(e) = self.target.open_window(&["--join"]) {
                    self.notifier.show(Note::new("Cannot open apero's window", e.to_string()));
                }
                Ok(())
            }
            Action::ToggleNotifications(room) => {
                self.toggle_notifications(room);
                Ok(())
            }
            Action::StopDaemon => timed(client.shutdown()).await,
            // Handled by the loops that own the connection.
            Action::StartDaemon | Action::Quit => Ok(()),
        };
        match result {
            Err(ClientError::Daemon(e)) => {
                self.notifier.show(Note::new(format!("Could not {}", describe(&action)), e.message));
                Ok(())
            }
            Err(e) => Err(e),
            // The daemon is on its way out; the event stream's end says so.
            Ok(()) if action == Action::StopDaemon => Ok(()),
            Ok(()) => self.refresh(client).await,
        }
    }

    fn copy(&mut self, room: &str, what: &str, code: &str, hint: &str) {
        let room = self.state.room_name(room).to_string();
        let note = match self.clipboard.copy(code) {
            Ok(()) => Note::new(format!("The {what} for {room} is copied"), format!("{code}\n{hint}")),
            Err(e) => Note::new(format!("Could not copy the {what} for {room}"), format!("{e}. The code: {code}")),
        };
        self.notifier.show(note);
    }

    fn toggle_notifications(&mut self, room: &str) {
        // From what is on disk: the window may have switched other rooms.
        self.reload_settings();
        self.settings.toggle(room);
        if let Err(e) = self.settings.save(&self.settings_path) {
            self.notifier.show(Note::new("Cannot save the tray's settings", e.to_string()));
        }
        self.settings_stamp = Settings::stamp(&self.settings_path);
        self.publish();
    }
}

/// Reads events in a task of their own and hands them over; a malformed
/// line is logged and skipped, the end of the stream ends the task.
fn forward(mut events: EventStream) -> mpsc::Receiver<Incoming> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let item = match events.next().await {
                Ok(Some(e)) => Incoming::Event(e),
                Ok(None) => Incoming::Gone("the daemon went away".into()),
                Err(e) if e.is_disconnect() => Incoming::Gone(offline_reason(&e)),
                Err(e) => {
                    tracing::warn!("skipping an event: {e}");
                    continue;
                }
            };
            let last = matches!(item, Incoming::Gone(_));
            if tx.send(item).await.is_err() || last {
                return;
            }
        }
    });
    rx
}

fn offline_reason(e: &ClientError) -> String {
    match e {
        ClientError::NotRunning(_) => "the daemon is not running".into(),
        other => other.to_string(),
    }
}

fn describe(action: &Action) -> &'static str {
    match action {
        Action::JoinCall(_) => "join the call",
        Action::LeaveCall => "leave the call",
        Action::SetMuted(true) => "mute",
        Action::SetMuted(false) => "unmute",
        Action::ToggleMute => "mute or unmute",
        Action::CopyInvite(_) => "make an invite code",
        Action::CopyShortCode(_) => "make a short code",
        Action::OpenChat(_) => "open the chat",
        Action::JoinWithCode => "open the join dialog",
        Action::ToggleNotifications(_) => "change notifications",
        Action::StartDaemon => "start the daemon",
        Action::StopDaemon => "stop the daemon",
        Action::Quit => "quit",
    }
}
