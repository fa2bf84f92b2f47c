//! The peer-to-peer room protocol: request/response messages between daemons
//! and their framing (a 4-byte big-endian length, then JSON, capped).
//!
//! Everything here may come from a hostile peer: decoding never panics, and a
//! frame over [`MAX_FRAME`] is refused before its bytes are read.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};

use crate::entry::Entry;

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/apero/room/1");

/// Large enough for a batch of entries; replies are split to stay under it.
pub const MAX_FRAME: usize = 8 * 1024 * 1024;
/// Replies aim below this so that one frame never nears the hard cap.
pub const BATCH_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum PeerRequest {
    /// A stranger presents an invite code (to a member the code names).
    Join { code: String, name: String },
    /// A stranger proves it holds invite `invite` of `room` without giving
    /// the code away: to a member found in the DHT, who might be anyone.
    /// `proof` is keyed by the code's check hash and bound to both peers
    /// (room::join::join_proof), so it is worth nothing to anyone else.
    JoinProof { room: String, invite: String, proof: String, name: String },
    /// Anti-entropy, step 1: "here is a digest of what I have".
    Sync { room: String, digests: Vec<Digest> },
    /// Step 2: "send me these entries".
    Fetch { room: String, ids: Vec<String> },
    /// New entries (live messages, or step 3 of a sync).
    Push { room: String, entries: Vec<Entry> },
    /// "I joined / left this room's call."
    Call {
        room: String,
        joined: bool,
        /// The channel we are in (absent: general, or a daemon without channels).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// A joiner's SPAKE2 message for the short code with this number.
    ShortJoin { number: u16, pake: String },
    /// A member about to admit `joiner` with a single-use code asks the
    /// room's other members whom they hold that code for.
    Claim { room: String, invite: String, joiner: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum PeerResponse {
    Welcome {
        room: String,
        name: String,
        entries: Vec<Entry>,
        peers: Vec<PeerAddrs>,
    },
    Refused {
        reason: RefuseReason,
    },
    /// The responder's ids for every author whose digest differs from the
    /// requester's (`authors` lists those authors, even when it has none).
    SyncIds {
        authors: Vec<String>,
        ids: Vec<String>,
    },
    Entries {
        entries: Vec<Entry>,
    },
    Ack {
        accepted: u32,
    },
    /// Whether the responder is in that room's call.
    CallState {
        in_call: bool,
        /// The channel it is in, when in the call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// The inviter's SPAKE2 message and the long invite code sealed with
    /// the key both sides derived (hex).
    ShortOffer {
        pake: String,
        sealed: String,
    },
    /// Whom the responder holds a single-use code for (`used`: it already
    /// admitted someone, which settles it).
    Claimed {
        holder: String,
        used: bool,
    },
}

/// Per author: how many entries, and the XOR of their ids. Two members agree on
/// an author's entries iff both match (up to a 2^-128 accident).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub author: String,
    pub count: u64,
    pub xor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerAddrs {
    pub peer_id: String,
    pub addrs: Vec<String>,
}

/// Refusals are deliberately coarse: "unknown room" covers both a room that
/// does not exist and one the asker is not a member of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefuseReason {
    UnknownRoom,
    InvalidCode,
    Expired,
    Revoked,
    AlreadyUsed,
    BadRequest,
    /// No live short code with that number here (ask someone else).
    NoShortCode,
    /// This member has not (yet) heard of that code: ask another member.
    UnknownInvite,
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> io::Result<T> {
    serde_json::from_slice(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

pub fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let bytes = serde_json::to_vec(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if bytes.len() > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame over the size cap"));
    }
    Ok(bytes)
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes is over the cap")));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

/// Counts every inbound frame that fails to decode: libp2p only logs those,
/// so the codec is the one place that sees them all.
#[derive(Clone, Default)]
pub struct Codec {
    pub bad_frames: Arc<AtomicU64>,
}

impl Codec {
    fn count<T>(&self, r: io::Result<T>) -> io::Result<T> {
        if r.is_err() {
            self.bad_frames.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = PeerRequest;
    type Response = PeerResponse;

    async fn read_request<T: AsyncRead + Unpin + Send>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<PeerRequest> {
        let r = match read_frame(io).await {
            Ok(frame) => decode(&frame),
            Err(e) => Err(e),
        };
        self.count(r)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<PeerResponse> {
        let r = match read_frame(io).await {
            Ok(frame) => decode(&frame),
            Err(e) => Err(e),
        };
        self.count(r)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(&mut self, _: &StreamProtocol, io: &mut T, req: PeerRequest) -> io::Result<()> {
        write_frame(io, &encode(&req)?).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(&mut self, _: &StreamProtocol, io: &mut T, res: PeerResponse) -> io::Result<()> {
        write_frame(io, &encode(&res)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn oversized_length_is_refused_without_reading() {
        let mut io = futures::io::Cursor::new((u32::MAX).to_be_bytes().to_vec());
        let err = futures::executor::block_on(read_frame(&mut io)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn request_roundtrip() {
        let req = PeerRequest::Fetch { room: "r".into(), ids: vec!["a".into()] };
        let bytes = frame(&encode(&req).unwrap());
        let mut io = futures::io::Cursor::new(bytes);
        let back: PeerRequest = decode(&futures::executor::block_on(read_frame(&mut io)).unwrap()).unwrap();
        assert_eq!(back, req);
    }

    proptest! {
        #[test]
        fn arbitrary_frames_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let mut io = futures::io::Cursor::new(data.clone());
            if let Ok(buf) = futures::executor::block_on(read_frame(&mut io)) {
                let _ = decode::<PeerRequest>(&buf);
                let _ = decode::<PeerResponse>(&buf);
            }
            let _ = decode::<PeerRequest>(&data);
            let _ = decode::<PeerResponse>(&data);
        }
    }
}
