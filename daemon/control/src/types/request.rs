//! What a client asks of the daemon: one [`Request`] per line.

use serde::{Deserialize, Serialize};

use super::{ShareKind, ShareSource};

/// One line from a client to the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Must be the first request on every connection.
    Hello {
        version: u32,
        client: String,
    },
    Status,
    /// Change our display name: kept for the next start, and told to every
    /// room (members see it on our messages, old and new).
    SetName {
        name: String,
    },
    /// Stop the daemon cleanly.
    Shutdown,
    RoomCreate {
        name: String,
    },
    RoomList,
    RoomLeave {
        room: String,
    },
    RoomMembers {
        room: String,
    },
    /// `short`: a spoken code like `7-guitar-orbit` (single use, found
    /// through the DHT or the LAN) instead of a long pasted one.
    InviteCreate {
        room: String,
        ttl_secs: u64,
        once: bool,
        #[serde(default)]
        short: bool,
    },
    InviteList {
        room: String,
    },
    InviteRevoke {
        code_or_id: String,
    },
    /// Join a room with a long invite code; answers once the room's members
    /// and history have arrived, or with an error after `timeout_secs`.
    Join {
        code: String,
        timeout_secs: u64,
        /// Ask this member (peer id) first: someone known to be online.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    Say {
        room: String,
        text: String,
        /// The id of the message this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        /// The channel (name or id) it is said in; `None`: general.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// Change the text of one of our messages (`message`: its id, or a
    /// prefix of at least 4 characters that names one).
    Edit {
        room: String,
        message: String,
        text: String,
    },
    /// Take back one of our messages: gone from every member's history
    /// and store.
    Delete {
        room: String,
        message: String,
    },
    /// Set (`on`) or take back our reaction to a message; `emoji` is one
    /// of [`crate::REACTIONS`].
    React {
        room: String,
        message: String,
        emoji: String,
        on: bool,
    },
    History {
        room: String,
        limit: Option<u32>,
        /// Only this channel's messages (and hosts' broadcasts); `None`: every channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// Turn this connection into a stream of [`Event`] lines.
    Subscribe,
    /// Join (or start) the call of a room; leaves any other call first.
    CallJoin {
        room: String,
        /// The channel to be in (name or id); `None`: our breakout group
        /// if one is running, else general.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    CallLeave,
    CallStatus,
    Mute {
        muted: bool,
    },
    AudioDevices,
    /// Switch input and/or output device, also during a call.
    AudioUse {
        input: Option<String>,
        output: Option<String>,
    },
    /// Change devices and/or turn processing stages on or off, also during
    /// a call; every field left out stays as it is.
    CallSettings {
        #[serde(default)]
        input: Option<String>,
        #[serde(default)]
        output: Option<String>,
        #[serde(default)]
        echo_cancel: Option<bool>,
        #[serde(default)]
        noise_suppression: Option<bool>,
        #[serde(default)]
        gain_control: Option<bool>,
    },
    /// Start (or change) a sound check outside any call: the microphone runs
    /// through the call's processing, its level comes as
    /// [`Event::SoundCheck`], and with `echo` our own voice is played back
    /// after a second, as a friend would hear it ("test my microphone").
    /// Stops by itself after `seconds` (default 30, at most 300), on
    /// `SoundCheckStop`, or when a call is joined.
    SoundCheck {
        #[serde(default)]
        echo: bool,
        #[serde(default)]
        seconds: Option<u32>,
    },
    SoundCheckStop,
    /// Playback volume of one participant of our call, in percent (0–400).
    CallVolume {
        peer_id: String,
        percent: u32,
    },
    /// Offer files to a room: hash them and announce signed offers. Paths
    /// must be absolute. `name` overrides the offered name (one path only).
    Send {
        room: String,
        paths: Vec<String>,
        name: Option<String>,
        /// The channel (name or id) they are offered in; `None`: general.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// The files offered in a room (in one channel, when given).
    Files {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// Download an offered file into `dir` (absolute; default: the
    /// downloads directory). Answers once the transfer started; progress
    /// comes as [`Event::Transfer`].
    Get {
        file: String,
        dir: Option<String>,
    },
    /// Running, paused and recently finished downloads.
    Transfers,
    /// Stop a download and delete its partial file.
    Cancel {
        file: String,
    },
    /// Screens, windows and cameras that could be shared: names and sizes,
    /// and with `thumbnails` a small picture of each screen and window for
    /// the window's picker (kept on this machine; nothing is sent).
    ShareList {
        #[serde(default)]
        thumbnails: bool,
    },
    /// Share a screen, a window or a camera with the call we are in, in
    /// `room`. Nothing is captured before this.
    ShareStart {
        room: String,
        what: ShareSource,
        /// Capture, but show it only to ourselves (`ShareFrame` with our
        /// own id) until `ShareShow`: a camera's preview before it is on.
        #[serde(default)]
        preview: bool,
    },
    /// Show a previewed share to the call.
    ShareShow {
        kind: ShareKind,
    },
    /// Stop our screen share, our camera, or both (`kind` left out).
    ShareStop {
        #[serde(default)]
        kind: Option<ShareKind>,
    },
    /// What we send and what we watch.
    ShareStatus,
    /// The latest picture of a stream we watch (`peer_id` the sharer's), or
    /// of our own share (`peer_id` ours: the self-view and camera preview),
    /// when newer than `after`; for the window.
    ShareFrame {
        peer_id: String,
        kind: ShareKind,
        #[serde(default)]
        after: u64,
    },
    /// Write the latest picture of a share we watch as PNG to `path`
    /// (absolute); `from` names the sharer (peer id or name) when several share.
    ShareSnapshot {
        path: String,
        #[serde(default)]
        from: Option<String>,
    },
    /// The room's channels (who is in which), hosts and breakout.
    ChannelList {
        room: String,
    },
    /// Hosts only, as the three below.
    ChannelCreate {
        room: String,
        name: String,
    },
    ChannelRename {
        room: String,
        channel: String,
        name: String,
    },
    ChannelDelete {
        room: String,
        channel: String,
    },
    /// Move `member` (a name or peer id) to `channel` in the room's call.
    /// Anyone may move themselves; moving someone else takes a host.
    CallMove {
        room: String,
        member: String,
        channel: String,
    },
    /// A host mutes a member in the call; the member is told and can unmute.
    CallMuteMember {
        room: String,
        member: String,
    },
    /// A host makes `member` a host (`host: true`) or takes it back.
    RoomHost {
        room: String,
        member: String,
        host: bool,
    },
    /// A host removes `member` from the room: told, no longer synced with,
    /// and its invite codes revoked.
    RoomRemove {
        room: String,
        member: String,
    },
    /// A host splits the call into `groups` groups (random, but for those
    /// in `assign`), for `minutes` if given.
    BreakoutStart {
        room: String,
        groups: u32,
        #[serde(default)]
        minutes: Option<u32>,
        #[serde(default)]
        assign: Vec<Assignment>,
    },
    /// A host brings everyone back to the main channel.
    BreakoutEnd {
        room: String,
    },
    /// Ask the hosts for help in our group.
    BreakoutHelp {
        room: String,
    },
    /// A host's message to every group.
    BreakoutBroadcast {
        room: String,
        text: String,
    },
}

/// A member put in a group by hand (`group` counts from 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub member: String,
    pub group: u32,
}
