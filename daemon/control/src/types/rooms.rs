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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}
