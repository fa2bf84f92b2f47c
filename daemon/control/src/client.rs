use std::path::{Path, PathBuf};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::framing::{read_line_capped, LineBuf, LineRead};
use crate::types::*;
use crate::{MAX_RESPONSE_BYTES, PROTOCOL_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("apero's daemon is not running (nothing answers at {}). Start it with `apero up`.", .0.display())]
    NotRunning(PathBuf),
    #[error(
        "the daemon speaks control protocol {daemon} but this program speaks {ours}; \
         restart the daemon (`apero down && apero up`) or update apero"
    )]
    VersionMismatch { daemon: String, ours: u32 },
    #[error("{}", .0.message)]
    Daemon(ErrorBody),
    #[error("the daemon sent something this client does not understand: {0}")]
    Protocol(String),
    #[error("the daemon closed the connection")]
    Closed,
    #[error("talking to the daemon failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The daemon's error class, when the daemon answered with an error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            ClientError::Daemon(b) => Some(b.kind),
            _ => None,
        }
    }

    /// Whether the daemon is gone (not running, the connection closed or
    /// failed, or it stopped answering), as opposed to a refusal: a client
    /// then shows itself offline and tries again.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, ClientError::NotRunning(_) | ClientError::Closed | ClientError::Io(_))
    }

    /// The exit code a command line should end with: the daemon's error
    /// class decides ([`ErrorKind::exit_code`]); 1 when the daemon could not
    /// be reached or talked to at all.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Daemon(b) => b.kind.exit_code(),
            ClientError::VersionMismatch { .. } => ErrorKind::VersionMismatch.exit_code(),
            _ => 1,
        }
    }
}

/// How long a long-lived client (the tray, the window) waits for an answer
/// before it counts the daemon as stuck.
pub const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Gives up on a request that hangs after [`ANSWER_WITHIN`], so a client
/// never freezes on a stuck daemon (the error counts as a disconnect).
pub async fn timed<T>(what: impl std::future::Future<Output = Result<T, ClientError>>) -> Result<T, ClientError> {
    tokio::time::timeout(ANSWER_WITHIN, what).await.unwrap_or_else(|_| {
        Err(ClientError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "the daemon did not answer within 30 s")))
    })
}

/// A connection to `aperod`. One typed method per request.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    buf: LineBuf,
    /// The daemon's version string, from the hello exchange.
    pub daemon_version: String,
}

impl Client {
    /// Connects and performs the version handshake.
    pub async fn connect(socket: &Path, client_name: &str) -> Result<Client, ClientError> {
        let stream = match UnixStream::connect(socket).await {
            Ok(s) => s,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
                return Err(ClientError::NotRunning(socket.to_path_buf()))
            }
            Err(e) => return Err(e.into()),
        };
        let (r, w) = stream.into_split();
        let mut client = Client { reader: BufReader::new(r), writer: w, buf: LineBuf::default(), daemon_version: String::new() };
        let hello = Request::Hello { version: PROTOCOL_VERSION, client: client_name.to_string() };
        match client.request(&hello).await {
            Ok(Reply::Hello(h)) => client.daemon_version = h.daemon,
            Ok(other) => return Err(ClientError::Protocol(format!("unexpected hello reply {other:?}"))),
            Err(ClientError::Daemon(e)) if e.kind == ErrorKind::VersionMismatch => {
                return Err(ClientError::VersionMismatch { daemon: e.message, ours: PROTOCOL_VERSION })
            }
            Err(e) => return Err(e),
        }
        Ok(client)
    }

    /// Sends any request and waits for its one response.
    pub async fn request(&mut self, req: &Request) -> Result<Reply, ClientError> {
        let mut line = serde_json::to_vec(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line).await?;
        match self.read_line().await? {
            Response::Ok(r) => Ok(r),
            Response::Error(e) => Err(ClientError::Daemon(e)),
        }
    }

    /// Sends raw bytes as they are; for tests of the daemon's input handling.
    pub async fn request_raw(&mut self, bytes: &[u8]) -> Result<Response, ClientError> {
        self.writer.write_all(bytes).await?;
        self.read_line().await
    }

    async fn read_line(&mut self) -> Result<Response, ClientError> {
        match read_line_capped(&mut self.reader, MAX_RESPONSE_BYTES, &mut self.buf).await? {
            LineRead::Line => serde_json::from_slice(&self.buf).map_err(|e| ClientError::Protocol(e.to_string())),
            LineRead::TooLong => Err(ClientError::Protocol("response over the size cap".into())),
            LineRead::Eof => Err(ClientError::Closed),
        }
    }

    pub async fn status(&mut self) -> Result<Status, ClientError> {
        match self.request(&Request::Status).await? {
            Reply::Status(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    pub async fn set_name(&mut self, name: &str) -> Result<Renamed, ClientError> {
        match self.request(&Request::SetName { name: name.into() }).await? {
            Reply::Renamed(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    pub async fn shutdown(&mut self) -> Result<(), ClientError> {
        self.request(&Request::Shutdown).await.map(|_| ())
    }

    pub async fn room_create(&mut self, name: &str) -> Result<RoomCreated, ClientError> {
        match self.request(&Request::RoomCreate { name: name.into() }).await? {
            Reply::RoomCreated(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    pub async fn room_list(&mut self) -> Result<Vec<RoomInfo>, ClientError> {
        match self.request(&Request::RoomList).await? {
            Reply::Rooms(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    pub async fn room_leave(&mut self, room: &str) -> Result<(), ClientError> {
        self.request(&Request::RoomLeave { room: room.into() }).await.map(|_| ())
    }

    pub async fn room_members(&mut self, room: &str) -> Result<Vec<MemberInfo>, ClientError> {
        match self.request(&Request::RoomMembers { room: room.into() }).await? {
            Reply::Members(m) => Ok(m),
            other => Err(unexpected(other)),
        }
    }

    pub async fn invite_create(&mut self, room: &str, ttl_secs: u64, once: bool, short: bool) -> Result<InviteInfo, ClientError> {
        match self.request(&Request::InviteCreate { room: room.into(), ttl_secs, once, short }).await? {
            Reply::Invite(i) => Ok(i),
            other => Err(unexpected(other)),
        }
    }

    pub async fn invite_list(&mut self, room: &str) -> Result<Vec<InviteInfo>, ClientError> {
        match self.request(&Request::InviteList { room: room.into() }).await? {
            Reply::Invites(i) => Ok(i),
            other => Err(unexpected(other)),
        }
    }

    pub async fn invite_revoke(&mut self, code_or_id: &str) -> Result<(), ClientError> {
        self.request(&Request::InviteRevoke { code_or_id: code_or_id.into() }).await.map(|_| ())
    }

    pub async fn join(&mut self, code: &str, timeout_secs: u64) -> Result<Joined, ClientError> {
        self.join_via(code, timeout_secs, None).await
    }

    /// Joins, asking the member `via` (a peer id) first.
    pub async fn join_via(&mut self, code: &str, timeout_secs: u64, via: Option<&str>) -> Result<Joined, ClientError> {
        match self.request(&Request::Join { code: code.into(), timeout_secs, via: via.map(str::to_string) }).await? {
            Reply::Joined(j) => Ok(j),
            other => Err(unexpected(other)),
        }
    }

    pub async fn say(&mut self, room: &str, text: &str) -> Result<MessageInfo, ClientError> {
        self.reply(room, text, None).await
    }

    /// Says `text` in answer to the message `reply_to` (an id), or as a
    /// plain message when `None`.
    pub async fn reply(&mut self, room: &str, text: &str, reply_to: Option<&str>) -> Result<MessageInfo, ClientError> {
        self.message(Request::Say { room: room.into(), text: text.into(), reply_to: reply_to.map(str::to_string), channel: None }).await
    }

    /// Changes the text of one of our messages; answers with how it reads now.
    pub async fn edit(&mut self, room: &str, message: &str, text: &str) -> Result<MessageInfo, ClientError> {
        self.message(Request::Edit { room: room.into(), message: message.into(), text: text.into() }).await
    }

    pub async fn delete(&mut self, room: &str, message: &str) -> Result<(), ClientError> {
        self.request(&Request::Delete { room: room.into(), message: message.into() }).await.map(|_| ())
    }

    /// Sets (`on`) or takes back our reaction; answers with the message's reactions now.
    pub async fn react(&mut self, room: &str, message: &str, emoji: &str, on: bool) -> Result<MessageInfo, ClientError> {
        self.message(Request::React { room: room.into(), message: message.into(), emoji: emoji.into(), on }).await
    }

    pub(crate) async fn message(&mut self, req: Request) -> Result<MessageInfo, ClientError> {
        match self.request(&req).await? {
            Reply::Message(m) => Ok(m),
            other => Err(unexpected(other)),
        }
    }

    pub async fn history(&mut self, room: &str, limit: Option<u32>) -> Result<Vec<MessageInfo>, ClientError> {
        match self.request(&Request::History { room: room.into(), limit, channel: None }).await? {
            Reply::History(h) => Ok(h),
            other => Err(unexpected(other)),
        }
    }

    pub async fn call_join(&mut self, room: &str) -> Result<CallStatus, ClientError> {
        self.call(Request::CallJoin { room: room.into(), channel: None }).await
    }

    pub async fn call_leave(&mut self) -> Result<(), ClientError> {
        self.request(&Request::CallLeave).await.map(|_| ())
    }

    pub async fn call_status(&mut self) -> Result<CallStatus, ClientError> {
        self.call(Request::CallStatus).await
    }

    pub async fn mute(&mut self, muted: bool) -> Result<CallStatus, ClientError> {
        self.call(Request::Mute { muted }).await
    }

    pub(crate) async fn call(&mut self, req: Request) -> Result<CallStatus, ClientError> {
        match self.request(&req).await? {
            Reply::Call(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    pub async fn audio_devices(&mut self) -> Result<AudioDevicesInfo, ClientError> {
        match self.request(&Request::AudioDevices).await? {
            Reply::AudioDevices(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    pub async fn audio_use(&mut self, input: Option<String>, output: Option<String>) -> Result<AudioDevicesInfo, ClientError> {
        match self.request(&Request::AudioUse { input, output }).await? {
            Reply::AudioDevices(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    /// Changes devices and processing; `settings` holds only what changes.
    pub async fn call_settings(&mut self, settings: Request) -> Result<AudioDevicesInfo, ClientError> {
        match self.request(&settings).await? {
            Reply::AudioDevices(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    /// Starts or changes a sound check (see [`Request::SoundCheck`]).
    pub async fn sound_check(&mut self, echo: bool, seconds: Option<u32>) -> Result<SoundCheckState, ClientError> {
        self.check(Request::SoundCheck { echo, seconds }).await
    }

    pub async fn sound_check_stop(&mut self) -> Result<SoundCheckState, ClientError> {
        self.check(Request::SoundCheckStop).await
    }

    async fn check(&mut self, req: Request) -> Result<SoundCheckState, ClientError> {
        match self.request(&req).await? {
            Reply::SoundCheck(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    pub async fn share_list(&mut self, thumbnails: bool) -> Result<Vec<ShareableInfo>, ClientError> {
        match self.request(&Request::ShareList { thumbnails }).await? {
            Reply::Shareable(l) => Ok(l),
            other => Err(unexpected(other)),
        }
    }

    pub async fn share_start(&mut self, room: &str, what: ShareSource, preview: bool) -> Result<ShareStatus, ClientError> {
        self.share(Request::ShareStart { room: room.into(), what, preview }).await
    }

    /// Shows a previewed share to the call.
    pub async fn share_show(&mut self, kind: ShareKind) -> Result<ShareStatus, ClientError> {
        self.share(Request::ShareShow { kind }).await
    }

    pub async fn share_stop(&mut self, kind: Option<ShareKind>) -> Result<ShareStatus, ClientError> {
        self.share(Request::ShareStop { kind }).await
    }

    pub async fn share_status(&mut self) -> Result<ShareStatus, ClientError> {
        self.share(Request::ShareStatus).await
    }

    async fn share(&mut self, req: Request) -> Result<ShareStatus, ClientError> {
        match self.request(&req).await? {
            Reply::Share(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// The latest picture of a stream, when newer than `after` (see [`FrameInfo`]).
    pub async fn share_frame(&mut self, peer_id: &str, kind: ShareKind, after: u64) -> Result<Option<FrameInfo>, ClientError> {
        match self.request(&Request::ShareFrame { peer_id: peer_id.into(), kind, after }).await? {
            Reply::Frame(f) => Ok(f),
            other => Err(unexpected(other)),
        }
    }

    /// Writes the latest picture of a share we watch to `path` (absolute).
    pub async fn share_snapshot(&mut self, path: &str, from: Option<String>) -> Result<SnapshotInfo, ClientError> {
        match self.request(&Request::ShareSnapshot { path: path.into(), from }).await? {
            Reply::Snapshot(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    pub async fn call_volume(&mut self, peer_id: &str, percent: u32) -> Result<CallStatus, ClientError> {
        self.call(Request::CallVolume { peer_id: peer_id.into(), percent }).await
    }

    /// Turns the connection into an event stream.
    pub async fn send_files(&mut self, room: &str, paths: Vec<String>, name: Option<String>) -> Result<Vec<OfferInfo>, ClientError> {
        match self.request(&Request::Send { room: room.into(), paths, name, channel: None }).await? {
            Reply::Offered(o) => Ok(o),
            other => Err(unexpected(other)),
        }
    }

    pub async fn files(&mut self, room: &str) -> Result<Vec<FileInfo>, ClientError> {
        match self.request(&Request::Files { room: room.into(), channel: None }).await? {
            Reply::Files(f) => Ok(f),
            other => Err(unexpected(other)),
        }
    }

    pub async fn get(&mut self, file: &str, dir: Option<String>) -> Result<TransferInfo, ClientError> {
        match self.request(&Request::Get { file: file.into(), dir }).await? {
            Reply::Transfer(t) => Ok(t),
            other => Err(unexpected(other)),
        }
    }

    pub async fn transfers(&mut self) -> Result<Vec<TransferInfo>, ClientError> {
        match self.request(&Request::Transfers).await? {
            Reply::Transfers(t) => Ok(t),
            other => Err(unexpected(other)),
        }
    }

    pub async fn cancel(&mut self, file: &str) -> Result<TransferInfo, ClientError> {
        match self.request(&Request::Cancel { file: file.into() }).await? {
            Reply::Transfer(t) => Ok(t),
            other => Err(unexpected(other)),
        }
    }

    pub async fn subscribe(mut self) -> Result<EventStream, ClientError> {
        match self.request(&Request::Subscribe).await? {
            Reply::Subscribed => Ok(EventStream { reader: self.reader, _writer: self.writer, buf: self.buf }),
            other => Err(unexpected(other)),
        }
    }
}

pub(crate) fn unexpected(reply: Reply) -> ClientError {
    ClientError::Protocol(format!("unexpected reply {reply:?}"))
}

/// Events from the daemon, in order.
pub struct EventStream {
    reader: BufReader<OwnedReadHalf>,
    // Kept so the daemon does not see the connection half-closed.
    _writer: OwnedWriteHalf,
    buf: LineBuf,
}

impl EventStream {
    /// The next event, or `None` when the daemon went away. Cancel-safe: in
    /// a `select!`, a read cut off mid-event goes on at the next call.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        match read_line_capped(&mut self.reader, MAX_RESPONSE_BYTES, &mut self.buf).await? {
            LineRead::Line => serde_json::from_slice(&self.buf).map(Some).map_err(|e| ClientError::Protocol(e.to_string())),
            LineRead::TooLong => Err(ClientError::Protocol("event over the size cap".into())),
            LineRead::Eof => Ok(None),
        }
    }
}
