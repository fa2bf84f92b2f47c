//! What the daemon answers: a [`Response`] per request, its [`Reply`] or an
//! [`ErrorBody`] whose [`ErrorKind`] a script can act on.

use super::*;
use serde::{Deserialize, Serialize};

/// One line from the daemon to a client: `{"ok": ...}` or `{"error": ...}`.
// A response lives from its making to its serialization, one at a time:
// boxing the large variant would buy nothing but an allocation per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(Reply),
    Error(ErrorBody),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Hello(HelloReply),
    Status(Status),
    Renamed(Renamed),
    RoomCreated(RoomCreated),
    Rooms(Vec<RoomInfo>),
    Members(Vec<MemberInfo>),
    Invite(InviteInfo),
    Invites(Vec<InviteInfo>),
    Joined(Joined),
    Message(MessageInfo),
    History(Vec<MessageInfo>),
    Done,
    Subscribed,
    Call(CallStatus),
    AudioDevices(AudioDevicesInfo),
    SoundCheck(SoundCheckState),
    Offered(Vec<OfferInfo>),
    Files(Vec<FileInfo>),
    Transfer(TransferInfo),
    Transfers(Vec<TransferInfo>),
    Shareable(Vec<ShareableInfo>),
    Share(ShareStatus),
    Snapshot(SnapshotInfo),
    /// `None`: no picture newer than the one asked `after`.
    Frame(Option<FrameInfo>),
    Channels(ChannelsInfo),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub message: String,
}

/// Machine-readable error classes; `message` is the human sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line was not valid JSON or not a known request.
    BadRequest,
    /// The request or a field in it is over its size cap.
    TooLarge,
    VersionMismatch,
    /// The first request on a connection was not `hello`.
    HelloRequired,
    NotFound,
    Ambiguous,
    /// The invite code is malformed or its signature does not verify.
    InvalidCode,
    Expired,
    Revoked,
    AlreadyUsed,
    /// The inviter refused for another reason.
    Refused,
    /// No peer that could admit us was reachable in time.
    Unreachable,
    /// Nobody announces this short code: most likely a word or the number
    /// was mistyped (or the code has expired). Said early, unlike
    /// `Unreachable`, which is for an inviter found but not reached.
    NoSuchCode,
    AlreadyMember,
    /// A bug or a broken invariant in the daemon (its log says more).
    Internal,
    /// A file or directory could not be read or written.
    Io,
    /// The sound devices or the audio backend failed.
    Audio,
    /// The screen, window or camera could not be captured.
    Capture,
    /// A kind this client does not know (a newer daemon's): read as a local
    /// failure of the daemon, and the message still reaches the user.
    #[serde(other)]
    Other,
}

impl ErrorKind {
    /// The CLI's exit code for this kind: 2 for what the user asked wrongly,
    /// 3 for what does not exist or is no longer valid, 4 for peers that
    /// refused or could not be reached, 5 for local failures (disk, audio,
    /// the daemon itself). 1 stays for "could not talk to the daemon".
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::BadRequest | ErrorKind::TooLarge | ErrorKind::HelloRequired | ErrorKind::Ambiguous | ErrorKind::VersionMismatch => 2,
            ErrorKind::NotFound
            | ErrorKind::InvalidCode
            | ErrorKind::Expired
            | ErrorKind::Revoked
            | ErrorKind::AlreadyUsed
            | ErrorKind::AlreadyMember
            | ErrorKind::NoSuchCode => 3,
            ErrorKind::Refused | ErrorKind::Unreachable => 4,
            ErrorKind::Internal | ErrorKind::Io | ErrorKind::Audio | ErrorKind::Capture | ErrorKind::Other => 5,
        }
    }
}
