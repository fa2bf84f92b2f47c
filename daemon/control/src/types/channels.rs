//! Channels inside a room, hosts, and breakout groups (docs/channels.md).

use serde::{Deserialize, Serialize};

/// The channel every room starts with; it cannot be deleted.
pub const GENERAL_CHANNEL: &str = "general";

/// A room's channels, its hosts and its breakout, as every member computes
/// them from the room's signed entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelsInfo {
    pub room: String,
    pub channels: Vec<ChannelInfo>,
    /// Peer ids of the room's hosts.
    pub hosts: Vec<String>,
    /// Whether we are a host (what a client offers host actions by).
    pub me_host: bool,
    /// The channel we are in, when we are in this room's call.
    #[serde(default)]
    pub mine: Option<String>,
    pub breakout: Option<BreakoutInfo>,
    /// Display names of the peers named above.
    #[serde(default)]
    pub names: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// 8 hex digits (`general` for the first channel).
    pub id: String,
    pub name: String,
    /// Peer ids of the call's participants in this channel now.
    pub in_call: Vec<String>,
    /// A breakout group's channel (gone when the breakout ends).
    #[serde(default)]
    pub group: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BreakoutInfo {
    pub id: String,
    /// Peer id of the host who started it.
    pub by: String,
    pub groups: Vec<GroupInfo>,
    /// Unix time in milliseconds when the groups come back (`None`: no timer).
    pub ends_ms: Option<u64>,
    /// Seconds left on the timer, as of this answer.
    pub seconds_left: Option<u64>,
    /// The group we were put in (its channel id), if any.
    pub mine: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// The group's channel id.
    pub channel: String,
    pub name: String,
    /// Peer ids put in this group.
    pub members: Vec<String>,
}
