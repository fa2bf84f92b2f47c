//! What the daemon streams after [`super::Request::Subscribe`].

use super::*;
use serde::{Deserialize, Serialize};

/// Something that happened, streamed after [`Request::Subscribe`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Message {
        room: String,
        message: MessageInfo,
    },
    /// A message was edited or its reactions changed: `message` is how it
    /// reads now.
    MessageChanged {
        room: String,
        message: MessageInfo,
    },
    /// A message was deleted by its author: drop it from view.
    MessageDeleted {
        room: String,
        id: String,
    },
    MemberJoined {
        room: String,
        peer_id: String,
        name: String,
    },
    MemberLeft {
        room: String,
        peer_id: String,
        name: String,
    },
    /// A member (maybe ourselves) goes by a new name in this room: its
    /// messages, old and new, show it.
    MemberRenamed {
        room: String,
        peer_id: String,
        name: String,
    },
    PeerConnected {
        peer_id: String,
    },
    PeerDisconnected {
        peer_id: String,
    },
    /// Someone joined or left a room's call; `participants` is who is in it now.
    CallChanged {
        room: String,
        participants: Vec<String>,
    },
    /// A member of our call started or stopped sharing (a screen or a
    /// camera); `peer_id` is ours for our own shares.
    ShareChanged {
        room: String,
        peer_id: String,
        name: Option<String>,
        kind: ShareKind,
        on: bool,
    },
    /// Levels in our call, ten times a second while any changes and once a
    /// second otherwise: ours (after processing) and each participant's as
    /// we play it, with who speaks and who is muted.
    CallLevels {
        room: String,
        levels: Vec<Level>,
    },
    /// A sound check's levels, ten times a second while it runs, and once
    /// with `running: false` when it ends.
    SoundCheck {
        state: SoundCheckState,
    },
    /// Our microphone or speaker was lost or came back; the call goes on.
    /// `input_error`/`output_error` are `None` for a device that works.
    AudioDevice {
        input_error: Option<String>,
        output_error: Option<String>,
    },
    /// A file was offered in a room.
    FileOffered {
        room: String,
        file: FileInfo,
    },
    /// A download made progress (a few times a second) or changed state.
    Transfer {
        transfer: TransferInfo,
    },
    /// A room's channels, hosts, breakout, or who is in which channel changed:
    /// ask `ChannelList` again.
    ChannelsChanged {
        room: String,
    },
    /// A host moved us to another channel of our call (or a breakout did).
    Moved {
        room: String,
        channel: String,
        by: String,
    },
    /// A host muted us in the call; we can unmute.
    MutedByHost {
        room: String,
        by: String,
    },
    /// A member asks the hosts for help (sent to hosts only).
    HelpAsked {
        room: String,
        channel: String,
        peer_id: String,
        name: String,
    },
    /// The breakout's timer ends in `seconds_left` (a minute before), or a
    /// host broadcast `text` to every group.
    Breakout {
        room: String,
        seconds_left: Option<u64>,
        text: Option<String>,
    },
    /// A host removed us from the room.
    Removed {
        room: String,
        by: String,
    },
    /// The subscriber fell behind and `missed` events were skipped.
    Lagged {
        missed: u64,
    },
}
