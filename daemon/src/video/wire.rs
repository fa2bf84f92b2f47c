//! The bytes of a share on the wire. The sharer opens one stream to each
//! viewer (`/apero/video/1`) and writes a [`Header`], then messages
//! (`tag u8 | len u32 | body`): frames, and an end. The viewer answers on
//! the same stream with fixed 9-byte notes (`tag u8 | value u64`): that it
//! watches, that it needs a keyframe, how many frames it decoded.
//!
//! Everything here is read from peers: every length is checked before use
//! and anything out of bounds is an error (fuzzed: fuzz/fuzz_targets/video_frame.rs).

use apero_control::ShareKind;

use super::codec::Codec;

pub const PROTOCOL: libp2p::StreamProtocol = libp2p::StreamProtocol::new("/apero/video/1");

const MAGIC: &[u8; 4] = b"APV1";
pub const HEADER_LEN: usize = 4 + 16 + 4 + 1 + 1 + 2 + 2;
/// Largest compressed frame accepted: a 4K keyframe of busy content stays
/// well under it.
pub const MAX_FRAME: usize = 4 << 20;
/// `Frame`'s fixed part: seq, flags, capture time, send time, width, height.
const FRAME_FIXED: usize = 4 + 1 + 8 + 8 + 2 + 2;
pub const NOTE_LEN: usize = 9;

const TAG_FRAME: u8 = 1;
const TAG_END: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub room: [u8; 16],
    /// Tells this share from the sharer's next one.
    pub share: u32,
    pub kind: ShareKind,
    pub codec: Codec,
    pub width: u16,
    pub height: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u32,
    pub key: bool,
    /// No later frame refers to this one: a viewer who is behind may skip it.
    pub droppable: bool,
    /// When the picture was captured, µs since the Unix epoch (the sharer's clock).
    pub captured_us: u64,
    /// When its first byte was written to this viewer (the sharer's clock):
    /// the viewer's pace measures the queue on the path from it.
    pub sent_us: u64,
    pub width: u16,
    pub height: u16,
    pub data: bytes::Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Frame(Frame),
    /// The share stopped.
    End,
}

/// What a viewer tells the sharer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Sent once, when the viewer accepted the stream.
    Watching,
    /// The viewer cannot decode until a keyframe comes.
    NeedKeyframe,
    /// Frames decoded so far.
    Decoded(u64),
    /// The frame with this sequence number arrived whole: the sharer knows
    /// what is still on the way to this viewer.
    Received(u64),
    /// The rate (kbit/s) this viewer's path carries without a queue
    /// (`video::pace`): the sharer paces to it and encodes no more.
    Rate(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("not an apero video stream")]
    Magic,
    #[error("unknown share kind {0}")]
    Kind(u8),
    #[error("unknown codec {0}")]
    Codec(u8),
    #[error("unknown message tag {0}")]
    Tag(u8),
    #[error("a message of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("a message of {0} bytes is too short")]
    TooShort(usize),
    #[error("a {0}×{1} picture")]
    Size(u16, u16),
}

fn kind_byte(k: ShareKind) -> u8 {
    match k {
        ShareKind::Screen => 1,
        ShareKind::Camera => 2,
    }
}

pub fn encode_header(h: &Header) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[..4].copy_from_slice(MAGIC);
    b[4..20].copy_from_slice(&h.room);
    b[20..24].copy_from_slice(&h.share.to_be_bytes());
    b[24] = kind_byte(h.kind);
    b[25] = h.codec.byte();
    b[26..28].copy_from_slice(&h.width.to_be_bytes());
    b[28..30].copy_from_slice(&h.height.to_be_bytes());
    b
}

pub fn decode_header(b: &[u8; HEADER_LEN]) -> Result<Header, WireError> {
    if &b[..4] != MAGIC {
        return Err(WireError::Magic);
    }
    let mut room = [0u8; 16];
    room.copy_from_slice(&b[4..20]);
    let kind = match b[24] {
        1 => ShareKind::Screen,
        2 => ShareKind::Camera,
        k => return Err(WireError::Kind(k)),
    };
    let codec = Codec::from_byte(b[25]).ok_or(WireError::Codec(b[25]))?;
    let (width, height) = (u16::from_be_bytes([b[26], b[27]]), u16::from_be_bytes([b[28], b[29]]));
    check_size(width, height)?;
    Ok(Header { room, share: u32::from_be_bytes([b[20], b[21], b[22], b[23]]), kind, codec, width, height })
}

fn check_size(w: u16, h: u16) -> Result<(), WireError> {
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return Err(WireError::Size(w, h));
    }
    Ok(())
}

/// Appends a message as it goes on the wire.
pub fn encode_message(m: &Message, out: &mut Vec<u8>) {
    match m {
        Message::End => {
            out.push(TAG_END);
            out.extend_from_slice(&0u32.to_be_bytes());
        }
        Message::Frame(f) => encode_frame(f, f.sent_us, out),
    }
}

/// Where an encoded frame message holds its send time, to stamp it at the
/// moment its first byte leaves (after any pacing wait).
pub const SENT_AT: std::ops::Range<usize> = 5 + 13..5 + 21;

/// Appends frame `f`, stamped as sent at `sent_us`.
pub fn encode_frame(f: &Frame, sent_us: u64, out: &mut Vec<u8>) {
    out.push(TAG_FRAME);
    out.extend_from_slice(&((FRAME_FIXED + f.data.len()) as u32).to_be_bytes());
    out.extend_from_slice(&f.seq.to_be_bytes());
    out.push(f.key as u8 | (f.droppable as u8) << 1);
    out.extend_from_slice(&f.captured_us.to_be_bytes());
    out.extend_from_slice(&sent_us.to_be_bytes());
    out.extend_from_slice(&f.width.to_be_bytes());
    out.extend_from_slice(&f.height.to_be_bytes());
    out.extend_from_slice(&f.data);
}

/// Reads a message's 5-byte prefix: its tag and the body length to read next.
pub fn decode_prefix(p: &[u8; 5]) -> Result<(u8, usize), WireError> {
    let len = u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize;
    match p[0] {
        TAG_FRAME if len > MAX_FRAME + FRAME_FIXED => Err(WireError::TooLarge(len)),
        TAG_FRAME if len <= FRAME_FIXED => Err(WireError::TooShort(len)),
        TAG_FRAME => Ok((TAG_FRAME, len)),
        TAG_END if len == 0 => Ok((TAG_END, 0)),
        TAG_END => Err(WireError::TooLarge(len)),
        t => Err(WireError::Tag(t)),
    }
}

/// Reads a message's body, after [`decode_prefix`].
pub fn decode_body(tag: u8, body: bytes::Bytes) -> Result<Message, WireError> {
    match tag {
        TAG_END => Ok(Message::End),
        TAG_FRAME => {
            if body.len() <= FRAME_FIXED {
                return Err(WireError::TooShort(body.len()));
            }
            let b = &body[..];
            let u64_at = |i: usize| u64::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
            let (width, height) = (u16::from_be_bytes([b[21], b[22]]), u16::from_be_bytes([b[23], b[24]]));
            check_size(width, height)?;
            Ok(Message::Frame(Frame {
                seq: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                key: b[4] & 1 != 0,
                droppable: b[4] & 2 != 0,
                captured_us: u64_at(5),
                sent_us: u64_at(13),
                width,
                height,
                data: body.slice(FRAME_FIXED..),
            }))
        }
        t => Err(WireError::Tag(t)),
    }
}

pub fn encode_note(n: Note) -> [u8; NOTE_LEN] {
    let (tag, v) = match n {
        Note::Watching => (1, 0),
        Note::NeedKeyframe => (2, 0),
        Note::Decoded(d) => (3, d),
        Note::Received(s) => (4, s),
        Note::Rate(k) => (5, k),
    };
    let mut b = [0u8; NOTE_LEN];
    b[0] = tag;
    b[1..].copy_from_slice(&v.to_be_bytes());
    b
}

pub fn decode_note(b: &[u8; NOTE_LEN]) -> Result<Note, WireError> {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[1..]);
    match b[0] {
        1 => Ok(Note::Watching),
        2 => Ok(Note::NeedKeyframe),
        3 => Ok(Note::Decoded(u64::from_be_bytes(v))),
        4 => Ok(Note::Received(u64::from_be_bytes(v))),
        5 => Ok(Note::Rate(u64::from_be_bytes(v))),
        t => Err(WireError::Tag(t)),
    }
}

/// Reads a whole message from `data` (prefix and body), for the fuzzer.
pub fn decode_message(data: &[u8]) -> Result<Message, WireError> {
    let prefix: &[u8; 5] = data.get(..5).and_then(|p| p.try_into().ok()).ok_or(WireError::TooShort(data.len()))?;
    let (tag, len) = decode_prefix(prefix)?;
    let body = data.get(5..5 + len).ok_or(WireError::TooShort(data.len()))?;
    decode_body(tag, bytes::Bytes::copy_from_slice(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn what_is_written_reads_back() {
        let h = Header { room: [7; 16], share: 42, kind: ShareKind::Camera, codec: Codec::Vp8, width: 640, height: 360 };
        assert_eq!(decode_header(&encode_header(&h)), Ok(h));
        let f = Frame {
            seq: 9,
            key: true,
            droppable: false,
            captured_us: 123456789,
            sent_us: 123456999,
            width: 1920,
            height: 1080,
            data: vec![1, 2, 3].into(),
        };
        let mut out = Vec::new();
        encode_message(&Message::Frame(f.clone()), &mut out);
        encode_message(&Message::End, &mut out);
        assert_eq!(decode_message(&out), Ok(Message::Frame(f)));
        assert_eq!(decode_message(&out[out.len() - 5..]), Ok(Message::End));
        for n in [Note::Watching, Note::NeedKeyframe, Note::Decoded(77), Note::Received(9), Note::Rate(800)] {
            assert_eq!(decode_note(&encode_note(n)), Ok(n));
        }
    }

    #[test]
    fn lengths_are_checked_before_anything_is_read() {
        assert_eq!(decode_prefix(&[1, 0xff, 0xff, 0xff, 0xff]), Err(WireError::TooLarge(u32::MAX as usize)));
        assert_eq!(decode_prefix(&[1, 0, 0, 0, 3]), Err(WireError::TooShort(3)));
        assert_eq!(decode_prefix(&[9, 0, 0, 0, 0]), Err(WireError::Tag(9)));
        let mut h = encode_header(&Header { room: [0; 16], share: 1, kind: ShareKind::Screen, codec: Codec::Vp9, width: 64, height: 64 });
        h[27] = 0;
        h[26] = 0;
        assert_eq!(decode_header(&h), Err(WireError::Size(0, 64)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_message(&data);
            if data.len() >= HEADER_LEN {
                let h: [u8; HEADER_LEN] = data[..HEADER_LEN].try_into().unwrap();
                let _ = decode_header(&h);
            }
        }
    }
}
