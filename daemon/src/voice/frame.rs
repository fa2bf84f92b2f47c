//! The voice protocol's bytes. A stream starts with a header naming the room;
//! then frames follow, each `len:u16` then
//! `flags:u8 seq:u32 ts:u32 loss:u8 payload`. A QUIC datagram carries one
//! frame without the length: `"APD1" room:[u8; 16]` then the same body.
//! Everything is from a peer and may be hostile: decoding never panics and
//! refuses oversized frames.

use super::codec::MAX_PACKET;

pub const MAGIC: &[u8; 4] = b"APV1";
pub const HEADER_LEN: usize = 4 + 16;
const FIXED: usize = 1 + 4 + 4 + 1;
pub const MAX_FRAME: usize = FIXED + MAX_PACKET;

pub const DATAGRAM_MAGIC: &[u8; 4] = b"APD1";
pub const DATAGRAM_HEADER: usize = 4 + 16;
pub const MAX_DATAGRAM: usize = DATAGRAM_HEADER + MAX_FRAME;

pub const FLAG_SPEAKING: u8 = 1;
pub const FLAG_MUTED: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceFrame {
    pub flags: u8,
    /// Per sender, +1 for every packet sent: a gap is a loss.
    pub seq: u32,
    /// The sender's frame clock, +1 every 10 ms even when DTX sends nothing.
    pub ts: u32,
    /// Loss the sender sees from us, in percent (receiver report).
    pub loss: u8,
    /// Opus packet; empty for a keep-alive.
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("not a voice stream header")]
    BadHeader,
    #[error("not a voice datagram")]
    BadDatagram,
    #[error("voice frame of {0} bytes is outside the allowed size")]
    BadLength(usize),
}

pub fn encode_header(room: &[u8; 16]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4..].copy_from_slice(room);
    h
}

pub fn decode_header(h: &[u8]) -> Result<[u8; 16], FrameError> {
    if h.len() != HEADER_LEN || &h[..4] != MAGIC {
        return Err(FrameError::BadHeader);
    }
    let mut room = [0u8; 16];
    room.copy_from_slice(&h[4..]);
    Ok(room)
}

impl VoiceFrame {
    /// Length prefix included.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = FIXED + self.payload.len();
        out.extend_from_slice(&(len as u16).to_be_bytes());
        self.encode_body(out);
    }

    /// One datagram: header, room, body.
    pub fn encode_datagram(&self, room: &[u8; 16], out: &mut Vec<u8>) {
        out.extend_from_slice(DATAGRAM_MAGIC);
        out.extend_from_slice(room);
        self.encode_body(out);
    }

    pub fn decode_datagram(d: &[u8]) -> Result<([u8; 16], VoiceFrame), FrameError> {
        if d.len() < DATAGRAM_HEADER || &d[..4] != DATAGRAM_MAGIC {
            return Err(FrameError::BadDatagram);
        }
        let mut room = [0u8; 16];
        room.copy_from_slice(&d[4..DATAGRAM_HEADER]);
        Ok((room, VoiceFrame::decode(&d[DATAGRAM_HEADER..])?))
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.flags);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ts.to_be_bytes());
        out.push(self.loss);
        out.extend_from_slice(&self.payload);
    }

    /// Checks a length prefix before its bytes are read.
    pub fn check_len(len: usize) -> Result<(), FrameError> {
        if (FIXED..=MAX_FRAME).contains(&len) {
            Ok(())
        } else {
            Err(FrameError::BadLength(len))
        }
    }

    /// Decodes a frame body (after the length prefix).
    pub fn decode(body: &[u8]) -> Result<VoiceFrame, FrameError> {
        Self::check_len(body.len())?;
        let u32_at = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        Ok(VoiceFrame { flags: body[0], seq: u32_at(1), ts: u32_at(5), loss: body[9].min(100), payload: body[FIXED..].to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn roundtrip(
            flags in any::<u8>(),
            seq in any::<u32>(),
            ts in any::<u32>(),
            loss in 0u8..=100,
            payload in proptest::collection::vec(any::<u8>(), 0..MAX_PACKET),
        ) {
            let f = VoiceFrame { flags, seq, ts, loss, payload };
            let mut buf = Vec::new();
            f.encode(&mut buf);
            let len = u16::from_be_bytes([buf[0], buf[1]]) as usize;
            prop_assert_eq!(len, buf.len() - 2);
            prop_assert_eq!(VoiceFrame::decode(&buf[2..]).unwrap(), f);
        }

        #[test]
        fn datagram_roundtrip(
            room in any::<[u8; 16]>(),
            seq in any::<u32>(),
            ts in any::<u32>(),
            payload in proptest::collection::vec(any::<u8>(), 0..MAX_PACKET),
        ) {
            let f = VoiceFrame { flags: FLAG_SPEAKING, seq, ts, loss: 3, payload };
            let mut buf = Vec::new();
            f.encode_datagram(&room, &mut buf);
            prop_assert!(buf.len() <= MAX_DATAGRAM);
            prop_assert_eq!(VoiceFrame::decode_datagram(&buf).unwrap(), (room, f));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = VoiceFrame::decode(&data);
            let _ = VoiceFrame::decode_datagram(&data);
            let _ = decode_header(&data);
        }
    }

    #[test]
    fn oversized_and_short_frames_are_refused() {
        assert!(VoiceFrame::decode(&[0u8; 3]).is_err());
        assert!(VoiceFrame::check_len(MAX_FRAME + 1).is_err());
        assert!(VoiceFrame::check_len(u16::MAX as usize).is_err());
        assert_eq!(VoiceFrame::decode_datagram(b"APD1short"), Err(FrameError::BadDatagram));
        assert_eq!(VoiceFrame::decode_datagram(&[0u8; 40]), Err(FrameError::BadDatagram));
        let mut d = DATAGRAM_MAGIC.to_vec();
        d.extend_from_slice(&[0u8; 16 + 3]);
        assert!(matches!(VoiceFrame::decode_datagram(&d), Err(FrameError::BadLength(3))));
    }
}
