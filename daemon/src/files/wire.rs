//! The file protocol, `/apero/file/1`, on its own streams (libp2p-stream):
//! a downloader opens a stream and sends requests one after another; each
//! gets a reply header and, for hashes and chunks, raw bytes after it.
//!
//! Frames are a 4-byte big-endian length then JSON, capped at [`MAX_HEADER`];
//! raw payloads are announced in the header and checked against what the
//! asker expects before a byte of them is read.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/apero/file/1");
pub const MAX_HEADER: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum FileRequest {
    /// The chunk-hash list that the file id commits to.
    Hashes { room: String, file: String },
    Chunk { room: String, file: String, index: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum FileReply {
    /// `len` bytes of chunk hashes follow.
    Hashes { size: u64, chunk_size: u32, len: u64 },
    /// `len` bytes of chunk `index` follow.
    Chunk { index: u64, len: u64 },
    Refused { reason: FileRefusal },
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
}
