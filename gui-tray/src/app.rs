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

use apero_control::{socket_renewed, timed, Client, ClientError, Event, EventStream};
use apero_window::i18n::Tr;
use tokio::sync::{mpsc, watch};

use crate::catchup::{self, Seen};
use crate::clipboard::Clipboard;
use crate::daemon::{self, Target};
use crate::menu::{Action, View};
use crate::notify::{self, Note, Notifier};
use crate::settings::Settings;
use crate::state::{Offline, State};
use crate::terminal;

/// How often an offline tray tries to reach the daemon again, at the
/// latest: it also watches the socket, and connects as soon as a daemon
/// binds a new one (within a fraction of a second).
pub const RETRY: Duration = Duration::from_secs(3);
const INVITE_TTL_SECS: u64 = 24 * 3600;
const SHORT_CODE_TTL_SECS: u64 = 600;

enum Incoming {
    Event(Box<Event>),
    Gone(Offline),
}

enum Flow {
    Disconnected(Offline),
    Quit,
}

pub struct App {
    pub target: Target,
    pub settings_path: PathBuf,
    pub settings: Settings,
    /// When the settings file was last read, to notice the window's changes.
    pub settings_stamp: Option<std::time::SystemTime>,
    /// The window's settings file, whose language the tray speaks too.
    pub window_settings_path: PathBuf,
    pub window_settings_stamp: Option<std::time::SystemTime>,
    /// The words of the menu, the tooltip and the notifications.
    pub tr: Tr,
    pub notifier: Notifier,
    pub view: watch::Sender<View>,
    pub state: State,
    pub clipboard: Clipboard,
    /// Every message and file notified or read, to notify after a
    /// reconnection what arrived unseen.
    pub seen: Seen,
    /// Notifications gathered just after a connection.
    pub batch: catchup::Batch,
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
        let socket = self.target.socket.clone();
        let retry = socket_renewed(&socket, RETRY);
        tokio::pin!(retry);
        loop {
            tokio::select! {
                _ = &mut retry => return Ok(()),
                action = actions.recv() => match action {
                    None | Some(Action::Quit) => return Err(()),
                    Some(Action::StartDaemon) => {
                        if let Err(e) = self.target.start().await {
                            self.notifier.show(Note::new(self.tr.t("tray-daemon-not-started"), e.to_string()));
                        }
                        return Ok(());
                    }
                    Some(Action::ToggleNotifications(room)) => self.toggle_notifications(&room),
                    Some(_) => self.notifier.show(Note::new(self.tr.t("tray-offline-note"), self.tr.t("tray-offline-note-body"))),
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
        self.batch.open();
        if let Err(e) = self.catch_up(&mut client).await {
            if e.is_disconnect() {
                return Flow::Disconnected(offline_reason(&e));
            }
            tracing::warn!("cannot read what arrived while away: {e}");
        }
        loop {
            let flush = self.batch.due();
            let result = tokio::select! {
                _ = tokio::time::sleep_until(flush.unwrap_or_else(tokio::time::Instant::now)), if flush.is_some() => {
                    let missed = self.batch.take();
                    if let Some(note) = catchup::note(&self.state, &missed, &self.tr) {
                        self.notifier.show(note);
                    }
                    Ok(())
                }
                inc = incoming.recv() => match inc {
                    Some(Incoming::Event(e)) => self.on_event(&mut client, *e).await,
                    Some(Incoming::Gone(why)) => return Flow::Disconnected(why),
                    None => return Flow::Disconnected(Offline::Gone),
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

    /// The window switches notifications in the same file, and chooses the
    /// language in its own: read them again when they changed (a stat each
    /// per event; the files are a few bytes).
    fn reload_settings(&mut self) {
        let stamp = Settings::stamp(&self.settings_path);
        let window_stamp = Settings::stamp(&self.window_settings_path);
        if stamp == self.settings_stamp && window_stamp == self.window_settings_stamp {
            return;
        }
        if stamp != self.settings_stamp {
            self.settings_stamp = stamp;
            self.settings = Settings::load(&self.settings_path);
        }
        if window_stamp != self.window_settings_stamp {
            self.window_settings_stamp = window_stamp;
            self.tr = Tr::chosen(&self.window_settings_path);
        }
        self.publish();
    }

    fn publish(&self) {
        let new = View::of(&self.state, &self.settings, &self.tr);
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

    /// Reads every room's newest history and files; on a reconnection,
    /// notifies what arrived while the tray was away.
    async fn catch_up(&mut self, client: &mut Client) -> Result<(), ClientError> {
        let mut rooms = Vec::new();
        for r in self.state.rooms.clone() {
            let messages = timed(client.history(&r.id, Some(catchup::HISTORY))).await?;
            let files = timed(client.files(&r.id)).await?;
            rooms.push((r.id, messages, files));
        }
        let reconnected = self.seen.primed();
        let mut missed = self.seen.read(&self.state.me_id, rooms);
        if reconnected {
            self.reload_settings();
            missed.retain(|m| match m {
                catchup::Missed::Message(room, _) | catchup::Missed::File(room, _) => self.settings.notifies(room),
            });
            tracing::info!(missed = missed.len(), "caught up after a reconnection");
            for m in missed {
                self.batch.add(m);
            }
        }
        Ok(())
    }

    async fn on_event(&mut self, client: &mut Client, event: Event) -> Result<(), ClientError> {
        tracing::debug!(?event, "event");
        // Only before what may notify: level and progress events come many
        // times a second and never do.
        if !matches!(event, Event::CallLevels { .. } | Event::Transfer { .. } | Event::SoundCheck { .. }) {
            self.reload_settings();
        }
        // An event queued while a catch-up read the history was notified by it.
        let fresh = match &event {
            Event::Message { room, message } => self.seen.saw(room, &message.id),
            Event::FileOffered { room, file } => self.seen.saw(room, &file.id),
            _ => true,
        };
        // Just after a (re)connection the daemon may be syncing with
        // friends: what would notify of their messages and files is
        // gathered into one summary instead.
        if let Some(note) = notify::for_event(&self.state, &self.settings, &event, &self.tr).filter(|_| fresh) {
            let missed = match &event {
                Event::Message { room, message } => Some(catchup::Missed::Message(room.clone(), message.clone())),
                Event::FileOffered { room, file } => Some(catchup::Missed::File(room.clone(), file.clone())),
                _ => None,
            };
            if !missed.is_some_and(|m| self.batch.offer(m)) {
                self.notifier.show(note);
            }
        }
        match event {
            Event::CallChanged { room, participants } => {
                let joined = self.state.call_changed(&room, &participants);
                if !joined.is_empty() && self.settings.notifies(&room) {
                    let members = timed(client.room_members(&room)).await?;
                    let names: Vec<String> = joined
                        .iter()
                        .map(|id| {
                            members.iter().find(|m| &m.peer_id == id).map(|m| m.name.clone()).unwrap_or_else(|| self.tr.t("tray-someone"))
                        })
                        .collect();
                    self.notifier.show(notify::joined_call(&self.state, &room, &names, &self.tr));
                }
                self.refresh(client).await
            }
            Event::MemberJoined { .. }
            | Event::MemberLeft { .. }
            | Event::MemberRenamed { .. }
            | Event::PeerConnected { .. }
            | Event::PeerDisconnected { .. }
            | Event::AudioDevice { .. }
            | Event::ShareChanged { .. }
            | Event::ChannelsChanged { .. }
            | Event::Moved { .. }
            | Event::MutedByHost { .. }
            | Event::HelpAsked { .. }
            | Event::Breakout { .. }
            | Event::Removed { .. }
            | Event::Lagged { .. } => self.refresh(client).await,
            Event::CallLevels { room, levels } => {
                if self.state.levels(&room, &levels) {
                    self.publish();
                }
                Ok(())
            }
            Event::Message { .. }
            | Event::MessageChanged { .. }
            | Event::MessageDeleted { .. }
            | Event::FileOffered { .. }
            | Event::Transfer { .. }
            | Event::SoundCheck { .. } => Ok(()),
        }
    }

    async fn act(&mut self, client: &mut Client, action: Action) -> Result<(), ClientError> {
        tracing::info!(?action, "menu");
        let result = match &action {
            Action::JoinCall(room) => timed(client.call_join(room)).await.map(drop),
            Action::LeaveCall => timed(client.call_leave()).await,
            Action::StopSharing => timed(client.share_stop(None)).await.map(drop),
            Action::SetMuted(m) => timed(client.mute(*m)).await.map(drop),
            Action::ToggleMute => match timed(client.call_status()).await {
                Ok(st) if st.room.is_some() => timed(client.mute(!st.muted)).await.map(drop),
                Ok(_) => {
                    self.notifier.show(Note::new(self.tr.t("tray-not-in-call"), self.tr.t("tray-not-in-call-body")));
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Action::CopyInvite(room) => {
                timed(client.invite_create(room, INVITE_TTL_SECS, false, false)).await.map(|inv| self.copy(room, Code::Invite, &inv.code))
            }
            Action::CopyShortCode(room) => {
                timed(client.invite_create(room, SHORT_CODE_TTL_SECS, true, true)).await.map(|inv| self.copy(room, Code::Short, &inv.code))
            }
            Action::OpenChat(room) => {
                // The window; `apero chat` in a terminal where it is not installed.
                if let Err(e) = self.target.open_window(&["--room", room]) {
                    tracing::info!("no window ({e}): opening the chat in a terminal");
                    if let Err(e) = terminal::open(&self.target.chat_command(room)) {
                        self.notifier.show(Note::new(self.tr.t("tray-cannot-open-chat"), e.to_string()));
                    }
                }
                Ok(())
            }
            Action::JoinWithCode => {
                if let Err(e) = self.target.open_window(&["--join"]) {
                    self.notifier.show(Note::new(self.tr.t("tray-cannot-open-window"), e.to_string()));
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
                self.notifier.show(Note::new(self.tr.t(failed(&action)), e.message));
                Ok(())
            }
            Err(e) => Err(e),
            // The daemon is on its way out; the event stream's end says so.
            Ok(()) if action == Action::StopDaemon => Ok(()),
            Ok(()) => self.refresh(client).await,
        }
    }

    fn copy(&mut self, room: &str, kind: Code, code: &str) {
        let room = self.state.room_name(room).to_string();
        let (copied, not_copied, hint) = match kind {
            Code::Invite => ("tray-invite-copied", "tray-invite-not-copied", "tray-invite-hint"),
            Code::Short => ("tray-short-code-copied", "tray-short-code-not-copied", "tray-short-code-hint"),
        };
        let note = match self.clipboard.copy(code) {
            Ok(()) => Note::new(self.tr.s(copied, "room", &room), format!("{code}\n{}", self.tr.t(hint))),
            Err(e) => Note::new(
                self.tr.s(not_copied, "room", &room),
                self.tr.a("tray-copy-failed-body", &[("error", e.to_string().into()), ("code", code.to_string().into())]),
            ),
        };
        self.notifier.show(note);
    }

    fn toggle_notifications(&mut self, room: &str) {
        // From what is on disk: the window may have switched other rooms.
        self.reload_settings();
        self.settings.toggle(room);
        if let Err(e) = self.settings.save(&self.settings_path) {
            self.notifier.show(Note::new(self.tr.t("tray-cannot-save"), e.to_string()));
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
                Ok(Some(e)) => Incoming::Event(Box::new(e)),
                Ok(None) => Incoming::Gone(Offline::Gone),
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

fn offline_reason(e: &ClientError) -> Offline {
    match e {
        ClientError::NotRunning(_) => Offline::NotRunning,
        other => Offline::Other(other.to_string()),
    }
}

/// Which code a copy is of.
#[derive(Debug, Clone, Copy)]
enum Code {
    Invite,
    Short,
}

/// The message that says an action failed ("Could not join the call").
fn failed(action: &Action) -> &'static str {
    match action {
        Action::JoinCall(_) => "tray-failed-join-call",
        Action::LeaveCall => "tray-failed-leave-call",
        Action::StopSharing => "tray-failed-stop-sharing",
        Action::SetMuted(true) => "tray-failed-mute",
        Action::SetMuted(false) => "tray-failed-unmute",
        Action::ToggleMute => "tray-failed-toggle-mute",
        Action::CopyInvite(_) => "tray-failed-invite",
        Action::CopyShortCode(_) => "tray-failed-short-code",
        Action::OpenChat(_) => "tray-failed-open-chat",
        Action::JoinWithCode => "tray-failed-join-dialog",
        Action::ToggleNotifications(_) => "tray-failed-notifications",
        Action::StartDaemon => "tray-failed-start-daemon",
        Action::StopDaemon => "tray-failed-stop-daemon",
        Action::Quit => "tray-failed-quit",
    }
}
