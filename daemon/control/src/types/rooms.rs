//! Rooms, members, invites and messages.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomCreated {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    pub members: usize,
    pub online: usize,
    /// People in the room's call right now (0: no call going on).
    #[serde(default)]
    pub call: usize,
    /// Whether we are in it.
    #[serde(default)]
    pub in_call: bool,
}

/// After [`super::Request::SetName`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Renamed {
    pub name: String,
    /// Rooms told of it (those already knowing us by it are not).
    pub rooms: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub peer_id: String,
    pub name: String,
    pub online: bool,
    pub is_self: bool,
    /// Unix time in milliseconds; `None` when never seen.
    pub last_seen: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: String,
    pub code: String,
    pub room: String,
    /// Unix time in seconds.
    pub expires: u64,
    pub once: bool,
    pub uses: u64,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    pub room: String,
    pub name: String,
}

/// Fields added after the first release default, so older daemons' replies decode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageInfo {
    pub id: String,
    pub room: String,
    pub author: String,
    pub author_name: String,
    pub text: String,
    /// The author's clock, Unix time in milliseconds.
    pub time: u64,
    /// Position in the room's total order (ties broken by author, then id).
    pub lamport: u64,
    /// The id of the message this one answers. It may be absent from the
    /// history (deleted, or older than a `limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The author changed the text since it was first sent.
    #[serde(default)]
    pub edited: bool,
    /// Reactions in [`crate::REACTIONS`] order, only those someone set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The text names us (`@name`, our display name, any case) and we did
    /// not write it: worth a notification.
    #[serde(default)]
    pub mentions_me: bool,
    /// The channel it was said in (its id; `None`: general, or a daemon
    /// without channels) and that channel's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// A host's message to every channel (breakout "broadcast").
    #[serde(default)]
    pub broadcast: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    /// Peer ids of the members who set it, in the room's order.
    pub members: Vec<String>,
    /// We are one of them (what a client toggles).
    #[serde(default)]
    pub mine: bool,
}
