//! The window's connection to `aperod`, on a thread of its own so that the
//! UI never waits on the socket. The UI sends [`Command`]s; the link answers
//! with [`Update`]s and wakes the UI (a repaint) for each, so nothing is
//! polled: the daemon's event stream drives the window.
//!
//! While the daemon answers there are two connections, as in the tray: one
//! for requests and one reading events. Joining a room (up to a minute),
//! offering and fetching files get a connection each, so a slow join never
//! holds up a chat message. When the daemon goes away the link reports
//! [`Update::Offline`] and tries again every [`RETRY`].

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use apero_control::{
    timed, AudioDevicesInfo, CallStatus, Client, ClientError, ErrorKind, Event, FileInfo, InviteInfo, Joined, LaunchOptions, MemberInfo,
    MessageInfo, Request, RoomInfo, SoundCheckState, Status, TransferInfo,
};
use tokio::sync::mpsc;

pub use crate::command::Command;

/// How often a window without its daemon tries to reach it again, at the
/// latest (it also watches the socket).
pub const RETRY: Duration = Duration::from_secs(2);
/// How long a join may look for a member to let us in.
pub const JOIN_TIMEOUT_SECS: u64 = 60;
/// The sound check is asked to run this long, and asked again while it is
/// shown (`ui::sound`): a window that crashed leaves no microphone open for
/// more than a minute.
const CHECK_SECS: u32 = 60;
/// Messages of a room loaded when it is opened.
const HISTORY: u32 = 500;
const CLIENT_NAME: &str = "apero-app";

/// What the daemon said. Each carries all the UI needs to redraw.
#[derive(Debug, Clone)]
pub enum Update {
    Online(Box<Snapshot>),
    Offline {
        why: String,
        starting: bool,
    },
    /// apero was never started here: the window asks for a name first.
    Welcome,
    Rooms(Vec<RoomInfo>),
    /// Who is in a room.
    Members {
        room: String,
        members: Vec<MemberInfo>,
    },
    History {
        room: String,
        messages: Vec<MessageInfo>,
    },
    Files {
        room: String,
        files: Vec<FileInfo>,
    },
    /// One channel's messages, merged into the room's chat.
    ChannelHistory {
        room: String,
        messages: Vec<MessageInfo>,
    },
    /// A room's channels, hosts and breakout.
    Channels(apero_control::ChannelsInfo),
    Call(CallStatus),
    Event(Event),
    /// A room we created or joined; the UI opens it.
    Entered {
        room: String,
        name: String,
    },
    Invite(InviteInfo),
    JoinFailed {
        kind: Option<ErrorKind>,
        message: String,
    },
    Devices(AudioDevicesInfo),
    SoundCheck(SoundCheckState),
    /// Who we are, again (after a change of name).
    Status(Status),
    Transfer(TransferInfo),
    /// What we share and watch.
    Share(apero_control::ShareStatus),
    Shareable(Vec<apero_control::ShareableInfo>),
    /// A stream's newest picture.
    Picture {
        peer_id: String,
        kind: apero_control::ShareKind,
        serial: u64,
        image: Arc<egui::ColorImage>,
    },
    /// A stream's picture was asked for and none newer came (or it ended).
    NoPicture {
        peer_id: String,
        kind: apero_control::ShareKind,
    },
    /// A request failed; shown in a banner.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub status: Status,
    pub rooms: Vec<RoomInfo>,
    pub call: CallStatus,
    pub transfers: Vec<TransferInfo>,
}

/// Where the daemon is and what the link may do about it.
#[derive(Debug, Clone)]
pub struct Target {
    pub socket: PathBuf,
    /// `--home DIR`, handed to the daemon when the window starts it.
    pub home: Option<PathBuf>,
    /// Start the daemon when it does not answer at first (the window's
    /// normal start); tests turn it off to play "the daemon is gone".
    pub start_daemon: bool,
    /// Further `aperod` arguments when the window starts it (tests: loopback only).
    pub daemon_args: Vec<String>,
    /// The daemon's binary (`None`: `aperod` beside the window, else on PATH).
    pub daemon_program: Option<PathBuf>,
}

impl Target {
    /// Where the daemon keeps its identity: no key there means apero never
    /// ran for this person.
    fn first_run(&self) -> bool {
        let data = self.home.clone().unwrap_or_else(apero_control::default_data_dir);
        !data.join("identity.key").exists()
    }
}

type Wake = Arc<dyn Fn() + Send + Sync>;

/// The UI's end: send commands, drain updates.
pub struct Link {
    commands: mpsc::UnboundedSender<Command>,
    updates: std_mpsc::Receiver<Update>,
    target: Target,
}

impl Link {
    /// Starts the link's thread. `wake` is called after each update (the
    /// UI passes `ctx.request_repaint`).
    pub fn start(target: Target, wake: impl Fn() + Send + Sync + 'static) -> Link {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (up_tx, up_rx) = std_mpsc::channel();
        let out = Out { tx: up_tx, wake: Arc::new(wake) };
        let kept = target.clone();
        let spawned =
            std::thread::Builder::new().name("apero-link".into()).spawn(move || {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt.block_on(run(target, cmd_rx, out)),
                    Err(e) => out.send(Update::Offline { why: format!("cannot start the window's runtime: {e}"), starting: false }),
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the link thread: {e}");
        }
        Link { commands: cmd_tx, updates: up_rx, target: kept }
    }

    /// The daemon this window talks to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn send(&self, c: Command) {
        // Only fails once the thread ended, which the UI sees as offline.
        let _ = self.commands.send(c);
    }

    pub fn try_recv(&self) -> Option<Update> {
        self.updates.try_recv().ok()
    }
}

#[derive(Clone)]
struct Out {
    tx: std_mpsc::Sender<Update>,
    wake: Wake,
}

impl Out {
    fn send(&self, u: Update) {
        if self.tx.send(u).is_ok() {
            (self.wake)();
        }
    }
}

async fn run(target: Target, mut commands: mpsc::UnboundedReceiver<Command>, out: Out) {
    let mut may_start = target.start_daemon;
    let mut welcoming = false;
    loop {
        match open(&target).await {
            Ok((client, events, snapshot)) => {
                may_start = false;
                welcoming = false;
                out.send(Update::Online(Box::new(snapshot)));
                match session(&target, client, events, &mut commands, &out).await {
                    Some(why) => out.send(Update::Offline { why, starting: false }),
                    None => return,
                }
            }
            Err(e) if may_start && matches!(e, ClientError::NotRunning(_)) => {
                may_start = false;
                if target.first_run() {
                    welcoming = true;
                    out.send(Update::Welcome);
                } else {
                    out.send(Update::Offline { why: e.to_string(), starting: true });
                    if let Err(e) = start(&target, None).await {
                        out.send(Update::Offline { why: e, starting: false });
                    }
                    continue;
                }
            }
            Err(e) if welcoming => tracing::debug!("still no daemon: {e}"),
            Err(e) => out.send(Update::Offline { why: e.to_string(), starting: false }),
        }
        // Offline: wait for the next try, starting the daemon if asked. The
        // welcome page waits for the person, however long they take.
        // Otherwise the socket is watched: a daemon that comes back is
        // reached within a fraction of a second.
        let wait = if welcoming { Duration::from_secs(24 * 3600) } else { RETRY };
        let retry = apero_control::socket_renewed(&target.socket, wait);
        tokio::pin!(retry);
        loop {
            tokio::select! {
                _ = &mut retry => break,
                c = commands.recv() => match c {
                    None => return,
                    Some(Command::Start) => {
                        out.send(Update::Offline { why: String::new(), starting: true });
                        if let Err(e) = start(&target, None).await {
                            out.send(Update::Offline { why: e, starting: false });
                        }
                        break;
                    }
                    Some(Command::StartAs(name)) => {
                        out.send(Update::Offline { why: String::new(), starting: true });
                        welcoming = false;
                        if let Err(e) = start(&target, Some(&name)).await {
                            out.send(Update::Offline { why: e, starting: false });
                        }
                        break;
                    }
                    Some(_) => out.send(Update::Failed("apero is not running".into())),
                },
            }
        }
    }
}

async fn start(target: &Target, name: Option<&str>) -> Result<(), String> {
    let mut args: Vec<std::ffi::OsString> = target.daemon_args.iter().map(Into::into).collect();
    if let Some(n) = name {
        args.extend(["--name".into(), n.into()]);
    }
    let opts = LaunchOptions {
        home: target.home.clone(),
        args,
        program: target.daemon_program.clone(),
        via_systemd: true,
        ..LaunchOptions::new(CLIENT_NAME)
    };
    match apero_control::start_daemon(&opts).await {
        Ok(l) => {
            for w in &l.warnings {
                tracing::warn!("{w}");
            }
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn connect(target: &Target) -> Result<Client, ClientError> {
    Client::connect(&target.socket, CLIENT_NAME).await
}

/// The event stream first, so nothing happens unseen between it and the snapshot.
async fn open(target: &Target) -> Result<(Client, apero_control::EventStream, Snapshot), ClientError> {
    let events = timed(async { connect(target).await?.subscribe().await }).await?;
    let mut client = timed(connect(target)).await?;
    let snapshot = timed(async {
        Ok(Snapshot {
            status: client.status().await?,
            rooms: client.room_list().await?,
            call: client.call_status().await?,
            transfers: client.transfers().await?,
        })
    })
    .await?;
    Ok((client, events, snapshot))
}

/// Until the daemon goes away (`Some(why)`) or the UI is gone (`None`).
async fn session(
    target: &Target,
    mut client: Client,
    mut events: apero_control::EventStream,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    out: &Out,
) -> Option<String> {
    // Reading a line is not cancel-safe: the stream gets its own task.
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        loop {
            let r = events.next().await;
            let end = !matches!(r, Ok(Some(_)));
            if ev_tx.send(r).is_err() || end {
                return;
            }
        }
    });
    let why = loop {
        tokio::select! {
            ev = ev_rx.recv() => match ev {
                Some(Ok(Some(ev))) => {
                    if let Err(e) = follow(&mut client, &ev, out).await {
                        if e.is_disconnect() { break Some(e.to_string()); }
                    }
                    out.send(Update::Event(ev));
                }
                Some(Ok(None)) | None => break Some("the daemon closed the connection".into()),
                Some(Err(e)) => break Some(e.to_string()),
            },
            c = commands.recv() => match c {
                None => break None,
                Some(c) => if let Err(e) = carry_out(target, &mut client, c, out).await {
                    if e.is_disconnect() { break Some(e.to_string()); }
                    out.send(Update::Failed(e.to_string()));
                },
            },
        }
    };
    reader.abort();
    why
}

/// What an event changes beyond itself: counts of members online, the call.
async fn follow(client: &mut Client, ev: &Event, out: &Out) -> Result<(), ClientError> {
    match ev {
        Event::MemberJoined { .. } | Event::MemberLeft { .. } | Event::PeerConnected { .. } | Event::PeerDisconnected { .. } => {
            let rooms = timed(client.room_list()).await?;
            members_of(client, &rooms, out).await?;
            out.send(Update::Rooms(rooms));
        }
        Event::ShareChanged { .. } => out.send(Update::Share(timed(client.share_status()).await?)),
        Event::ChannelsChanged { room } => channels_of(client, room, out).await?,
        // A host's move or mute shows in the call; a removal takes the room away.
        Event::Moved { .. } | Event::MutedByHost { .. } => out.send(Update::Call(timed(client.call_status()).await?)),
        Event::Removed { .. } => {
            out.send(Update::Rooms(timed(client.room_list()).await?));
            out.send(Update::Call(timed(client.call_status()).await?));
        }
        Event::CallChanged { .. } | Event::AudioDevice { .. } | Event::MemberRenamed { .. } => {
            let rooms = timed(client.room_list()).await?;
            if matches!(ev, Event::MemberRenamed { .. }) {
                members_of(client, &rooms, out).await?;
            }
            out.send(Update::Rooms(rooms));
            out.send(Update::Call(timed(client.call_status()).await?));
        }
        // A finished download: the file's card now has our copy (its path,
        // a picture's thumbnail).
        Event::Transfer { transfer } if transfer.state == apero_control::TransferState::Done => {
            let files = timed(client.files(&transfer.room)).await?;
            out.send(Update::Files { room: transfer.room.clone(), files });
        }
        _ => {}
    }
    Ok(())
}

/// A room's channels; a daemon without them (an older one) says nothing.
async fn channels_of(client: &mut Client, room: &str, out: &Out) -> Result<(), ClientError> {
    match timed(client.channel_list(room)).await {
        Ok(c) => out.send(Update::Channels(c)),
        Err(e) if e.is_disconnect() => return Err(e),
        Err(e) => tracing::debug!("no channels for {room}: {e}"),
    }
    Ok(())
}

/// Every room's members (a person is in a handful of rooms).
async fn members_of(client: &mut Client, rooms: &[RoomInfo], out: &Out) -> Result<(), ClientError> {
    for r in rooms {
        let members = timed(client.room_members(&r.id)).await?;
        out.send(Update::Members { room: r.id.clone(), members });
    }
    Ok(())
}

async fn carry_out(target: &Target, client: &mut Client, c: Command, out: &Out) -> Result<(), ClientError> {
    match c {
        Command::OpenRoom(room) => {
            let members = timed(client.room_members(&room)).await?;
            out.send(Update::Members { room: room.clone(), members });
            let messages = timed(client.history(&room, Some(HISTORY))).await?;
            out.send(Update::History { room: room.clone(), messages });
            let files = timed(client.files(&room)).await?;
            out.send(Update::Files { room: room.clone(), files });
            channels_of(client, &room, out).await?;
        }
        Command::CreateRoom(name) => {
            let created = timed(client.room_create(&name)).await?;
            out.send(Update::Rooms(timed(client.room_list()).await?));
            out.send(Update::Entered { room: created.id, name: created.name });
        }
        Command::LeaveRoom(room) => {
            timed(client.room_leave(&room)).await?;
            out.send(Update::Rooms(timed(client.room_list()).await?));
            out.send(Update::Call(timed(client.call_status()).await?));
        }
        Command::Invite { room, short, ttl_secs, once } => {
            out.send(Update::Invite(timed(client.invite_create(&room, ttl_secs, once, short)).await?));
        }
        Command::Join(code) => {
            // Its own connection: a join may take a minute.
            let (target, out) = (target.clone(), out.clone());
            tokio::spawn(async move {
                let r: Result<Joined, ClientError> = async {
                    let mut c = connect(&target).await?;
                    let j = c.join(&code, JOIN_TIMEOUT_SECS).await?;
                    out.send(Update::Rooms(c.room_list().await?));
                    Ok(j)
                }
                .await;
                match r {
                    Ok(j) => out.send(Update::Entered { room: j.room, name: j.name }),
                    Err(e) => out.send(Update::JoinFailed { kind: e.kind(), message: e.to_string() }),
                }
            });
        }
        Command::Say { room, text, reply_to, channel } => {
            // The daemon's own event brings the message into the chat.
            timed(client.request(&Request::Say { room, text, reply_to, channel })).await?;
        }
        // Their events bring the change into the chat, as for Say.
        Command::Edit { room, message, text } => drop(timed(client.edit(&room, &message, &text)).await?),
        Command::Delete { room, message } => timed(client.delete(&room, &message)).await?,
        Command::React { room, message, emoji, on } => drop(timed(client.react(&room, &message, &emoji, on)).await?),
        Command::CallJoin { room, channel } => {
            out.send(Update::Call(timed(client.call_join_in(&room, channel.as_deref())).await?));
            out.send(Update::Rooms(timed(client.room_list()).await?));
            channels_of(client, &room, out).await?;
        }
        Command::Channels(req) => {
            out.send(Update::Channels(timed(client.channels(req)).await?));
            // A move or a mute shows in the call too.
            out.send(Update::Call(timed(client.call_status()).await?));
        }
        Command::ChannelHistory { room, channel } => {
            let messages = timed(client.history_in(&room, Some(&channel), Some(HISTORY))).await?;
            out.send(Update::ChannelHistory { room, messages });
        }
        Command::Broadcast { room, text } => drop(timed(client.request(&Request::BreakoutBroadcast { room, text })).await?),
        Command::CallLeave => {
            timed(client.call_leave()).await?;
            out.send(Update::Call(timed(client.call_status()).await?));
            out.send(Update::Rooms(timed(client.room_list()).await?));
        }
        Command::Mute(m) => out.send(Update::Call(timed(client.mute(m)).await?)),
        Command::ShareList => out.send(Update::Shareable(timed(client.share_list(true)).await?)),
        Command::ShareStart { room, what, preview } => out.send(Update::Share(timed(client.share_start(&room, what, preview)).await?)),
        Command::ShareShow(kind) => out.send(Update::Share(timed(client.share_show(kind)).await?)),
        Command::ShareStatus => out.send(Update::Share(timed(client.share_status()).await?)),
        Command::ShareStop(kind) => out.send(Update::Share(timed(client.share_stop(kind)).await?)),
        Command::Frame { peer_id, kind, after } => {
            let picture = match timed(client.share_frame(&peer_id, kind, after)).await {
                Ok(Some(info)) => read_picture(&info).await,
                Ok(None) => None,
                // The share ended meanwhile: said by the next status.
                Err(ClientError::Daemon(_)) => None,
                Err(e) => return Err(e),
            };
            match picture {
                Some((serial, image)) => out.send(Update::Picture { peer_id, kind, serial, image }),
                None => out.send(Update::NoPicture { peer_id, kind }),
            }
        }
        Command::Volume { peer_id, percent } => out.send(Update::Call(timed(client.call_volume(&peer_id, percent)).await?)),
        Command::Offer { room, path, channel } => {
            let (target, out) = (target.clone(), out.clone());
            tokio::spawn(async move {
                let r = async {
                    let mut c = connect(&target).await?;
                    c.send_in(&room, channel.as_deref(), vec![path.display().to_string()], None).await?;
                    c.files(&room).await
                }
                .await;
                match r {
                    Ok(files) => out.send(Update::Files { room, files }),
                    Err(e) => out.send(Update::Failed(e.to_string())),
                }
            });
        }
        Command::Get { file, dir } => {
            let dir = dir.map(|d| d.display().to_string());
            out.send(Update::Transfer(timed(client.get(&file, dir)).await?));
        }
        Command::Cancel(file) => out.send(Update::Transfer(timed(client.cancel(&file)).await?)),
        Command::Devices => out.send(Update::Devices(timed(client.audio_devices()).await?)),
        Command::UseDevices { input, output } => {
            out.send(Update::Devices(timed(client.audio_use(input, output)).await?));
            out.send(Update::Call(timed(client.call_status()).await?));
        }
        Command::SoundCheck { echo } => {
            out.send(Update::SoundCheck(timed(client.sound_check(echo, Some(CHECK_SECS))).await?));
        }
        Command::SoundCheckStop => out.send(Update::SoundCheck(timed(client.sound_check_stop()).await?)),
        Command::SetName(name) => {
            timed(client.set_name(&name)).await?;
            out.send(Update::Status(timed(client.status()).await?));
        }
        Command::Start | Command::StartAs(_) => {}
    }
    Ok(())
}

/// Reads a picture the daemon wrote for us (`FrameInfo`).
async fn read_picture(info: &apero_control::FrameInfo) -> Option<(u64, Arc<egui::ColorImage>)> {
    let data = tokio::fs::read(&info.path).await.ok()?;
    let size = [info.width as usize, info.height as usize];
    // Another picture of another size may have replaced the file meanwhile.
    (data.len() == size[0] * size[1] * 4).then(|| (info.serial, Arc::new(egui::ColorImage::from_rgba_unmultiplied(size, &data))))
}
