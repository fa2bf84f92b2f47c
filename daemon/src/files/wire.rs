//! The file protocol, `/apero/file/2`, on its own streams (libp2p-stream):
//! a downloader opens a stream and sends requests one after another; each
//! gets a reply header and, for hashes, bitmaps and chunks, bytes after it.
//! `Pace` gets no reply: it sets the rate the sender keeps to for this peer.
//!
//! Frames are a 4-byte big-endian length then JSON, capped at [`MAX_HEADER`];
//! payloads are announced in the header and checked against what the asker
//! expects before a byte of them is read. A chunk's bytes come in pieces,
//! each `[u64 sender clock, µs][u32 length]` then the bytes: the stamps are
//! how the downloader measures queuing delay (see `pace`).

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/apero/file/2");
pub const MAX_HEADER: usize = 4096;
pub const PIECE_HEADER: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum FileRequest {
    /// The chunk-hash list that the file id commits to.
    Hashes {
        room: String,
        file: String,
    },
    Chunk {
        room: String,
        file: String,
        index: u64,
    },
    /// Keep what you send me to `rate` bytes/s (0: as fast as you can).
    Pace {
        rate: u64,
    },
    /// Which chunks do you have (a member still fetching the file serves
    /// those it verified)?
    Have {
        room: String,
        file: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum FileReply {
    /// `len` bytes of chunk hashes follow. `voice`: as in `Chunk`.
    Hashes {
        size: u64,
        chunk_size: u32,
        len: u64,
        #[serde(default)]
        voice: bool,
    },
    /// `len` bytes of chunk `index` follow, in pieces. `voice`: the sender
    /// is in a call, so the downloader should pace it.
    Chunk {
        index: u64,
        len: u64,
        #[serde(default)]
        voice: bool,
    },
    /// A bitmap of `len` bytes follows: bit `i % 8` of byte `i / 8` set
    /// for each chunk `i` (of `chunks`) the responder can send now.
    Have {
        chunks: u64,
        len: u64,
    },
    Refused {
        reason: FileRefusal,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRefusal {
    /// The asker is not a member of that room (or the room is unknown).
    NotMember,
    /// No such file offered in that room, or we do not have it.
    Unknown,
    /// Our copy no longer matches the offer (edited or deleted on disk).
    Changed,
    OutOfRange,
    /// Too many requests: slow down.
    Busy,
    BadRequest,
    /// A member still fetching the file does not have that chunk yet.
    Missing,
}

impl std::fmt::Display for FileRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileRefusal::NotMember => "not a member of the room",
            FileRefusal::Unknown => "does not have this file",
            FileRefusal::Changed => "its copy of the file changed or vanished after it was offered",
            FileRefusal::OutOfRange => "chunk out of range",
            FileRefusal::Busy => "too busy",
            FileRefusal::BadRequest => "bad request",
            FileRefusal::Missing => "does not have that chunk yet",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("frame of {0} bytes is over the cap")]
    TooLarge(usize),
    #[error("malformed frame: {0}")]
    Malformed(String),
}

pub async fn write_frame<T: Serialize, W: AsyncWrite + Unpin>(w: &mut W, value: &T) -> Result<(), WireError> {
    let json = serde_json::to_vec(value).map_err(|e| WireError::Malformed(e.to_string()))?;
    if json.len() > MAX_HEADER {
        return Err(WireError::TooLarge(json.len()));
    }
    let mut buf = Vec::with_capacity(4 + json.len());
    buf.extend_from_slice(&(json.len() as u32).to_be_bytes());
    buf.extend_from_slice(&json);
    w.write_all(&buf).await?;
    Ok(())
}

/// One frame, or `None` at a clean end of stream.
pub async fn read_frame<T: for<'de> Deserialize<'de>, R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<T>, WireError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_HEADER {
        return Err(WireError::TooLarge(len));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    decode(&buf).map(Some)
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

pub async fn write_reply<W: AsyncWrite + Unpin>(w: &mut W, reply: &FileReply, payload: &[u8]) -> Result<(), WireError> {
    write_frame(w, reply).await?;
    if !payload.is_empty() {
        w.write_all(payload).await?;
    }
    w.flush().await?;
    Ok(())
}

/// One piece's header: the sender's clock and the piece's length.
pub fn piece_header(sent_us: u64, len: u32) -> [u8; PIECE_HEADER] {
    let mut h = [0u8; PIECE_HEADER];
    h[..8].copy_from_slice(&sent_us.to_be_bytes());
    h[8..].copy_from_slice(&len.to_be_bytes());
    h
}

/// Reads `buf.len()` bytes sent as pieces, calling `on_piece(sent_us, len)`
/// as each piece's bytes are in. A piece that is empty or runs past what was
/// announced is a protocol error, not something to resynchronise on.
pub async fn read_pieces<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8], mut on_piece: impl FnMut(u64, usize)) -> Result<(), WireError> {
    let mut at = 0;
    while at < buf.len() {
        let mut h = [0u8; PIECE_HEADER];
        r.read_exact(&mut h).await?;
        let sent = u64::from_be_bytes(h[..8].try_into().unwrap_or_default());
        let n = u32::from_be_bytes(h[8..].try_into().unwrap_or_default()) as usize;
        if n == 0 || n > buf.len() - at {
            return Err(WireError::Malformed(format!("piece of {n} bytes at {at} of {}", buf.len())));
        }
        r.read_exact(&mut buf[at..at + n]).await?;
        at += n;
        on_piece(sent, n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    #[tokio::test]
    async fn frames_roundtrip_and_caps_hold() {
        let mut buf = Cursor::new(Vec::new());
        let req = FileRequest::Chunk { room: "r".into(), file: "f".into(), index: 7 };
        write_frame(&mut buf, &req).await.unwrap();
        buf.set_position(0);
        assert_eq!(read_frame::<FileRequest, _>(&mut buf).await.unwrap(), Some(req));
        assert_eq!(read_frame::<FileRequest, _>(&mut buf).await.unwrap(), None);

        let mut big = Cursor::new(((MAX_HEADER + 1) as u32).to_be_bytes().to_vec());
        assert!(matches!(read_frame::<FileRequest, _>(&mut big).await, Err(WireError::TooLarge(_))));
        let mut junk = Cursor::new([&3u32.to_be_bytes()[..], b"{x}"].concat());
        assert!(matches!(read_frame::<FileRequest, _>(&mut junk).await, Err(WireError::Malformed(_))));
    }

    #[tokio::test]
    async fn pieces_roundtrip_and_overruns_are_refused() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        for (k, part) in data.chunks(4096).enumerate() {
            wire.extend_from_slice(&piece_header(k as u64 * 10, part.len() as u32));
            wire.extend_from_slice(part);
        }
        let mut out = vec![0u8; data.len()];
        let mut stamps = Vec::new();
        read_pieces(&mut Cursor::new(wire), &mut out, |t, n| stamps.push((t, n))).await.unwrap();
        assert_eq!(out, data);
        assert_eq!(stamps, vec![(0, 4096), (10, 4096), (20, 1808)]);

        let mut over = piece_header(0, 20).to_vec();
        over.extend_from_slice(&[0; 20]);
        assert!(matches!(read_pieces(&mut Cursor::new(over), &mut [0u8; 10], |_, _| {}).await, Err(WireError::Malformed(_))));
        let empty = piece_header(0, 0).to_vec();
        assert!(matches!(read_pieces(&mut Cursor::new(empty), &mut [0u8; 10], |_, _| {}).await, Err(WireError::Malformed(_))));
    }
}
