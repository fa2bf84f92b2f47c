//! The daemon as a whole: `status`, its peers and what it dropped.

use super::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloReply {
    pub version: u32,
    pub daemon: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub peer_id: String,
    pub name: String,
    pub version: String,
    pub pid: u32,
    pub home: String,
    pub listen: Vec<String>,
    pub peers: Vec<PeerInfo>,
    pub rooms: usize,
    pub dropped: Dropped,
    /// As AutoNAT last found.
    #[serde(default)]
    pub nat: Nat,
    /// Addresses others can reach us at (confirmed or relayed).
    #[serde(default)]
    pub external: Vec<String>,
    /// Relays we hold a reservation on (their peer ids).
    #[serde(default)]
    pub relays: Vec<String>,
    /// Whom this daemon relays for.
    #[serde(default)]
    pub relaying: Relaying,
    /// Tasks alive in the daemon's runtime: a number that must come back
    /// down when calls, downloads and connections end (the chaos run
    /// compares it before and after).
    #[serde(default)]
    pub tasks: usize,
    /// The proxy TCP dials go through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyStatus {
    /// The proxy, without its password.
    pub url: String,
    /// Where it was found: `HTTPS_PROXY`, the proxy setting, ...
    pub source: String,
    /// Addresses dialed directly (`NO_PROXY`).
    pub no_proxy: Vec<String>,
    /// Dials through it since the start, and how many failed.
    pub dials: u64,
    pub failures: u64,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
    pub name: Option<String>,
    pub path: PeerPath,
    pub addr: String,
    pub rtt_ms: Option<f64>,
    /// The relay's peer id when `path` is `"relayed"`.
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub transport: Transport,
}

/// Inputs the daemon threw away instead of acting on, by reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    /// Peer frames that could not be decoded or were over the size cap.
    pub bad_frames: u64,
    /// Room entries whose signature did not verify.
    pub bad_signatures: u64,
    /// Room entries or requests from peers that are not members.
    pub not_members: u64,
    /// Edits and deletes of someone else's message (only its author may).
    #[serde(default)]
    pub not_author: u64,
    /// Channel, role, move, removal and breakout entries by a member who was
    /// no host at that point of the room's order (kept and ignored).
    #[serde(default)]
    pub not_host: u64,
    /// Join attempts that were refused (bad, expired, revoked, used codes).
    pub refused_joins: u64,
    /// Control requests that were malformed, oversized or unknown.
    pub bad_control: u64,
    /// Voice frames or streams that were malformed, over the rate limit, or
    /// from someone not in our call.
    #[serde(default)]
    pub voice: u64,
    /// Shared-screen and camera streams that were malformed or from someone
    /// not in our call, and frames that could not be decoded.
    #[serde(default)]
    pub video: u64,
    /// File requests refused (non-members, unknown files, out of range,
    /// floods) and chunks from peers that failed verification.
    #[serde(default)]
    pub files: u64,
    /// Network events (or peer bookkeeping) the daemon was too slow to take
    /// and shed rather than make the network wait.
    #[serde(default)]
    pub shed_events: u64,
    /// Connection events merged (a peer's older ones gave way to its
    /// newest) or dropped because too many waited for the daemon.
    #[serde(default)]
    pub coalesced_events: u64,
    /// Voice datagrams that could not be decoded (also in `voice`).
    #[serde(default)]
    pub bad_datagrams: u64,
    /// Voice datagrams from someone not in our call, or for another room
    /// (also in `voice`).
    #[serde(default)]
    pub refused_datagrams: u64,
    /// Inbound voice or file streams reset because that service's queue, or
    /// the peer's share of it, was full (a flood, or a machine far behind).
    #[serde(default)]
    pub refused_streams: u64,
}
