//! Files offered in rooms and their downloads.

use super::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferInfo {
    /// The file's id: its BLAKE3 root hash, in hex.
    pub id: String,
    pub name: String,
    pub size: u64,
    pub hash: String,
    pub mime: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: String,
    pub room: String,
    /// The name as offered, made safe to show and to save.
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub image: bool,
    /// Who offered it (peer id) and their name.
    pub from: String,
    pub from_name: String,
    /// When it was offered, Unix milliseconds.
    pub time: u64,
    /// Whether a complete, verified copy is on this machine.
    pub have: bool,
    /// Members known to have it (the sender and those who fetched it).
    pub sources: usize,
    /// How many of those are online now.
    pub sources_online: usize,
    /// Our complete copy, where it is on this machine (the file we
    /// offered, or the finished download).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A picture's thumbnail (PNG, at most 320 px a side), a path on this
    /// machine, once we have the picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// The channel it was offered in (its id and name; `None`: general).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferInfo {
    /// The file's id (one download per file).
    pub id: String,
    pub room: String,
    pub name: String,
    pub size: u64,
    pub state: TransferState,
    /// Verified bytes on disk.
    pub done_bytes: u64,
    /// Bytes received over the network by this run (resumes fetch less).
    pub fetched_bytes: u64,
    /// Bytes of chunks still arriving (not verified yet): `done_bytes` plus
    /// this is what a progress bar shows, so it moves on a slow link too.
    #[serde(default)]
    pub partial_bytes: u64,
    /// Bytes per second over the last seconds.
    pub rate_bps: f64,
    /// Peers we are pulling from right now.
    pub sources: usize,
    /// Chunks that failed verification and were fetched again.
    pub bad_chunks: u64,
    /// While a call runs (ours or a source's): the rate, bytes/s, this
    /// download asks of its sources so the call keeps the path; 0: unpaced.
    #[serde(default)]
    pub paced_bps: u64,
    /// The final file, once done.
    pub path: Option<String>,
    pub error: Option<String>,
}
