//! What the window asks of the daemon: the link (`link.rs`) carries each
//! command out on its own connection and answers with updates.

use std::path::PathBuf;

/// What the UI asks of the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Load a room's history and files.
    OpenRoom(String),
    CreateRoom(String),
    LeaveRoom(String),
    Invite {
        room: String,
        short: bool,
        ttl_secs: u64,
        once: bool,
    },
    Join(String),
    Say {
        room: String,
        text: String,
        /// The message this one answers.
        reply_to: Option<String>,
        /// The channel (id) it is said in; `None`: general.
        channel: Option<String>,
    },
    /// Change the text of one of our messages.
    Edit {
        room: String,
        message: String,
        text: String,
    },
    Delete {
        room: String,
        message: String,
    },
    React {
        room: String,
        message: String,
        emoji: String,
        on: bool,
    },
    /// Join a room's call, in `channel` (`None`: our breakout group if
    /// one runs, else general).
    CallJoin {
        room: String,
        channel: Option<String>,
    },
    CallLeave,
    Mute(bool),
    Volume {
        peer_id: String,
        percent: u32,
    },
    Offer {
        room: String,
        path: PathBuf,
        /// The channel (id) it is offered in; `None`: general.
        channel: Option<String>,
    },
    /// Download a file, into `dir` (`None`: the daemon's default).
    Get {
        file: String,
        dir: Option<PathBuf>,
    },
    Cancel(String),
    Devices,
    UseDevices {
        input: Option<String>,
        output: Option<String>,
    },
    /// Start or change the sound check (meter, and our echo if `echo`).
    SoundCheck {
        echo: bool,
    },
    SoundCheckStop,
    /// Our display name, changed in Settings.
    SetName(String),
    /// What could be shared (screens, windows, cameras).
    ShareList,
    ShareStart {
        room: String,
        what: apero_control::ShareSource,
        /// Seen only by us until `ShareShow`.
        preview: bool,
    },
    ShareShow(apero_control::ShareKind),
    ShareStop(Option<apero_control::ShareKind>),
    ShareStatus,
    /// The latest picture of a stream (ours: the self-view), if newer than `after`.
    Frame {
        peer_id: String,
        kind: apero_control::ShareKind,
        after: u64,
    },
    /// Any request the daemon answers with the room's channels: create,
    /// rename, delete, move, mute, host, remove, breakout start/end/help.
    Channels(apero_control::Request),
    /// One channel's messages (and the hosts' broadcasts).
    ChannelHistory {
        room: String,
        channel: String,
    },
    /// A host's message to every channel of a breakout.
    Broadcast {
        room: String,
        text: String,
    },
    /// Start the daemon (the "Start apero" button while offline).
    Start,
    /// The first start on this machine, under the name the person chose.
    StartAs(String),
}
