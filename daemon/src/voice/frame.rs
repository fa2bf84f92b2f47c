//! The voice protocol's bytes.
//!
//! One packet format for both paths, built once per frame by the engine and
//! sent as is to every participant (no per-peer copy):
//!
//! ```text
//! voice:  kind=0xA2 tag:u32 flags:u8 seq:u32 ts:u32
//!         [flags & RED: n:u8, n × (back:u8 seq_back:u8 len:u16), n redundant payloads]
//!         primary payload (Opus; empty for a keep-alive)
//! report: kind=0xA3 tag:u32 loss_permille:u16 burst_x10:u8 delay_ms:u16
//! ```
//!
//! A QUIC datagram carries one packet. A voice stream starts with a header
//! naming the room (`"APV2" room:[u8; 16]`), then packets follow, each
//! behind a `len:u16`. The tag is derived from the room ([`call_tag`]): 4
//! bytes instead of 16 in every datagram, while a stream's header still names
//! the room in full.
//!
//! A redundant payload is an earlier packet's primary (RED, RFC 2198's idea):
//! packet `seq - seq_back`, sent `back` frames before this one.
//!
//! With `FLAG_PAIR` the first redundant entry is not a copy but the frame
//! just before the primary, sent for the first time: in a big call a packet
//! carries 20 ms (two frames) to halve the packets, and with them the
//! wake-ups and encryptions that make most of a speaker's CPU.
//!
//! Everything is from a peer and may be hostile: decoding never panics,
//! refuses oversized packets, and borrows (refcounts) the input instead of
//! copying it.

use bytes::Bytes;

use super::MAX_PACKET;

pub const MAGIC: &[u8; 4] = b"APV2";
pub const HEADER_LEN: usize = 4 + 16;

pub const KIND_VOICE: u8 = 0xA2;
pub const KIND_REPORT: u8 = 0xA3;
/// kind, tag, flags, seq, ts.
const FIXED: usize = 1 + 4 + 1 + 4 + 4;
const REPORT_LEN: usize = 1 + 4 + 2 + 1 + 2;
/// Earlier frames a packet may carry (a paired frame and two copies).
pub const MAX_REDUNDANT: usize = 3;
/// back, seq_back, len.
const COPY_HEADER: usize = 4;
pub const MAX_LEN: usize = FIXED + 1 + COPY_HEADER * MAX_REDUNDANT + (1 + MAX_REDUNDANT) * MAX_PACKET;

pub const FLAG_SPEAKING: u8 = 1;
pub const FLAG_MUTED: u8 = 2;
/// The packet carries redundant copies of earlier frames.
pub const FLAG_RED: u8 = 4;
/// The first redundant entry is the frame before the primary, never sent
/// alone (20 ms packets).
pub const FLAG_PAIR: u8 = 8;

/// The 4-byte tag of a room's call, the same on every member: a keyed hash,
/// so it says nothing about the room to someone who does not know its id.
pub fn call_tag(room: &[u8; 16]) -> u32 {
    let h = blake3::Hasher::new_derive_key("apero voice call tag v2").update(room).finalize();
    let b = h.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The tag of one channel of a room's call (docs/channels.md): general's is
/// the room's [`call_tag`], as daemons without channels use; another
/// channel's is its own, so a packet says which channel its sender is in
/// and a receiver in that channel can take the sender in at once.
pub fn channel_tag(room: &[u8; 16], channel: &str) -> u32 {
    if channel == crate::entry::host::GENERAL {
        return call_tag(room);
    }
    let h = blake3::Hasher::new_derive_key("apero voice channel tag v1").update(room).update(channel.as_bytes()).finalize();
    let b = h.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A copy of an earlier packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redundant {
    /// How many frames (of the sender's 10 ms clock) before this packet's `ts`.
    pub back: u8,
    /// How many packets before this one's `seq` (0 when this packet is a
    /// keep-alive, which reuses the last audio packet's number).
    pub seq_back: u8,
    pub payload: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceFrame {
    pub flags: u8,
    /// Per sender, +1 for every packet with audio: a gap is a loss.
    pub seq: u32,
    /// The sender's frame clock, +1 every 10 ms even when DTX sends nothing.
    pub ts: u32,
    /// Opus packet; empty for a keep-alive.
    pub payload: Bytes,
    /// Copies of earlier packets, newest first.
    pub redundant: Vec<Redundant>,
}

/// What a receiver tells a sender about its packets, once a second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Packets lost on the way, per thousand (smoothed).
    pub loss_permille: u16,
    /// Mean length of a run of lost packets, ×10 (10: losses come alone).
    pub burst_x10: u8,
    /// The playout delay the receiver's arrival statistics call for, ms.
    pub delay_ms: u16,
}

impl Report {
    pub fn loss_pct(&self) -> f64 {
        f64::from(self.loss_permille) / 10.0
    }
    pub fn burst(&self) -> f64 {
        f64::from(self.burst_x10.max(10)) / 10.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Voice(VoiceFrame),
    Report(Report),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("not a voice stream header")]
    BadHeader,
    #[error("not a voice packet")]
    BadKind,
    #[error("voice packet of {0} bytes is outside the allowed size")]
    BadLength(usize),
    #[error("voice packet's redundancy does not add up")]
    BadRedundancy,
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

/// Checks a stream packet's length prefix before its bytes are read.
pub fn check_len(len: usize) -> Result<(), FrameError> {
    if (REPORT_LEN.min(FIXED)..=MAX_LEN).contains(&len) {
        Ok(())
    } else {
        Err(FrameError::BadLength(len))
    }
}

impl VoiceFrame {
    /// A frame without redundancy.
    pub fn plain(flags: u8, seq: u32, ts: u32, payload: impl Into<Bytes>) -> VoiceFrame {
        VoiceFrame { flags, seq, ts, payload: payload.into(), redundant: Vec::new() }
    }

    /// Appends the packet (no length prefix). Copies past [`MAX_REDUNDANT`]
    /// are left out, and so is the RED flag when there are none.
    pub fn encode(&self, tag: u32, out: &mut Vec<u8>) {
        let red = &self.redundant[..self.redundant.len().min(MAX_REDUNDANT)];
        let flags = if red.is_empty() { self.flags & !FLAG_RED } else { self.flags | FLAG_RED };
        out.push(KIND_VOICE);
        out.extend_from_slice(&tag.to_be_bytes());
        out.push(flags);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ts.to_be_bytes());
        if !red.is_empty() {
            out.push(red.len() as u8);
            for r in red {
                out.push(r.back);
                out.push(r.seq_back);
                out.extend_from_slice(&(r.payload.len().min(MAX_PACKET) as u16).to_be_bytes());
            }
            for r in red {
                out.extend_from_slice(&r.payload[..r.payload.len().min(MAX_PACKET)]);
            }
        }
        out.extend_from_slice(&self.payload[..self.payload.len().min(MAX_PACKET)]);
    }

    /// Appends `len:u16` then the packet, for a stream.
    pub fn encode_framed(&self, tag: u32, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0, 0]);
        self.encode(tag, out);
        let len = (out.len() - at - 2) as u16;
        out[at..at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

impl Report {
    pub fn encode(&self, tag: u32, out: &mut Vec<u8>) {
        out.push(KIND_REPORT);
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&self.loss_permille.min(1000).to_be_bytes());
        out.push(self.burst_x10);
        out.extend_from_slice(&self.delay_ms.to_be_bytes());
    }

    pub fn encode_framed(&self, tag: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(&(REPORT_LEN as u16).to_be_bytes());
        self.encode(tag, out);
    }
}

/// Decodes one packet (a datagram, or a stream packet after its length).
/// Payloads are slices of `data`, not copies.
pub fn decode(data: &Bytes) -> Result<(u32, Packet), FrameError> {
    let d = &data[..];
    if d.len() > MAX_LEN {
        return Err(FrameError::BadLength(d.len()));
    }
    let u16_at = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    let u32_at = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    match d.first() {
        Some(&KIND_REPORT) => {
            if d.len() != REPORT_LEN {
                return Err(FrameError::BadLength(d.len()));
            }
            let report = Report { loss_permille: u16_at(5).min(1000), burst_x10: d[7], delay_ms: u16_at(8) };
            Ok((u32_at(1), Packet::Report(report)))
        }
        Some(&KIND_VOICE) => {
            if d.len() < FIXED {
                return Err(FrameError::BadLength(d.len()));
            }
            let (tag, flags, seq, ts) = (u32_at(1), d[5], u32_at(6), u32_at(10));
            let mut at = FIXED;
            let mut redundant = Vec::new();
            if flags & FLAG_RED != 0 {
                let n = *d.get(at).ok_or(FrameError::BadRedundancy)? as usize;
                at += 1;
                if n == 0 || n > MAX_REDUNDANT || d.len() < at + COPY_HEADER * n {
                    return Err(FrameError::BadRedundancy);
                }
                let mut body = at + COPY_HEADER * n;
                for k in 0..n {
                    let h = at + COPY_HEADER * k;
                    let (back, seq_back, len) = (d[h], d[h + 1], u16_at(h + 2) as usize);
                    if back == 0 || len > MAX_PACKET || body + len > d.len() {
                        return Err(FrameError::BadRedundancy);
                    }
                    redundant.push(Redundant { back, seq_back, payload: data.slice(body..body + len) });
                    body += len;
                }
                at = body;
            }
            if d.len() - at > MAX_PACKET {
                return Err(FrameError::BadLength(d.len()));
            }
            Ok((tag, Packet::Voice(VoiceFrame { flags: flags & !FLAG_RED, seq, ts, payload: data.slice(at..), redundant })))
        }
        _ => Err(FrameError::BadKind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payload() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..MAX_PACKET).prop_map(Bytes::from)
    }

    proptest! {
        #[test]
        fn voice_roundtrip(
            tag in any::<u32>(),
            flags in any::<u8>(),
            seq in any::<u32>(),
            ts in any::<u32>(),
            primary in payload(),
            red in proptest::collection::vec((1u8.., any::<u8>(), payload()), 0..=MAX_REDUNDANT),
        ) {
            let redundant: Vec<Redundant> =
                red.into_iter().map(|(back, seq_back, payload)| Redundant { back, seq_back, payload }).collect();
            let f = VoiceFrame { flags: flags & !FLAG_RED, seq, ts, payload: primary, redundant };
            let mut buf = Vec::new();
            f.encode_framed(tag, &mut buf);
            let len = u16::from_be_bytes([buf[0], buf[1]]) as usize;
            prop_assert_eq!(len, buf.len() - 2);
            prop_assert!(check_len(len).is_ok());
            let (t, p) = decode(&Bytes::from(buf[2..].to_vec())).unwrap();
            prop_assert_eq!(t, tag);
            prop_assert_eq!(p, Packet::Voice(f));
        }

        #[test]
        fn report_roundtrip(tag in any::<u32>(), loss in 0u16..=1000, burst in any::<u8>(), delay in any::<u16>()) {
            let r = Report { loss_permille: loss, burst_x10: burst, delay_ms: delay };
            let mut buf = Vec::new();
            r.encode_framed(tag, &mut buf);
            prop_assert_eq!(decode(&Bytes::from(buf[2..].to_vec())).unwrap(), (tag, Packet::Report(r)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let b = Bytes::from(data);
            let _ = decode(&b);
            let _ = decode_header(&b);
            let mut voice = vec![KIND_VOICE];
            voice.extend_from_slice(&b);
            let _ = decode(&Bytes::from(voice));
        }
    }

    #[test]
    fn bad_packets_are_refused() {
        assert_eq!(decode(&Bytes::from_static(&[0u8; 3])), Err(FrameError::BadKind));
        assert!(check_len(MAX_LEN + 1).is_err());
        assert!(check_len(u16::MAX as usize).is_err());
        assert!(check_len(3).is_err());
        assert!(matches!(decode(&Bytes::from_static(&[KIND_VOICE, 1, 2])), Err(FrameError::BadLength(3))));
        assert!(matches!(decode(&Bytes::from_static(&[KIND_REPORT, 1, 2, 3])), Err(FrameError::BadLength(4))));
        // A copy whose length runs past the end, and one that claims to be 0 frames back.
        let f = VoiceFrame {
            flags: FLAG_SPEAKING,
            seq: 9,
            ts: 9,
            payload: Bytes::from_static(&[1; 40]),
            redundant: vec![Redundant { back: 1, seq_back: 1, payload: Bytes::from_static(&[2; 40]) }],
        };
        let mut buf = Vec::new();
        f.encode(7, &mut buf);
        assert!(decode(&Bytes::from(buf[..FIXED + 4 + 10].to_vec())).is_err());
        buf[FIXED + 1] = 0;
        assert_eq!(decode(&Bytes::from(buf)), Err(FrameError::BadRedundancy));
        // The old datagram format (issue 14's first step) is not a voice packet any more.
        assert_eq!(decode(&Bytes::from_static(b"APD1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0xxxxxxxxxx")), Err(FrameError::BadKind));
    }

    #[test]
    fn tags_differ_between_rooms_and_match_within_one() {
        assert_eq!(call_tag(&[1; 16]), call_tag(&[1; 16]));
        assert_ne!(call_tag(&[1; 16]), call_tag(&[2; 16]));
        assert_eq!(channel_tag(&[1; 16], "general"), call_tag(&[1; 16]), "general is the call's tag");
        assert_ne!(channel_tag(&[1; 16], "0a0b0c0d"), call_tag(&[1; 16]));
        assert_ne!(channel_tag(&[1; 16], "0a0b0c0d"), channel_tag(&[1; 16], "0a0b0c0e"));
    }
}
