//! QUIC datagrams of the voice protocol, as a hostile member would send
//! them: split into datagram-sized pieces, each decoded and, when it decodes
//! as voice (redundant copies included), fed into a jitter buffer and played
//! out.
#![no_main]
use aperod::voice::codec::Decoder;
use aperod::voice::frame::{decode, Packet, MAX_LEN};
use aperod::voice::jitter::JitterBuffer;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut jb = JitterBuffer::new(Decoder::new().unwrap());
    let mut out = [0i16; aperod::voice::FRAME];
    let mut now = 0.0;
    let mut rest = data;
    while !rest.is_empty() {
        // The first byte picks the datagram's length, as datagrams come whole.
        let len = (rest[0] as usize * 7).min(MAX_LEN).min(rest.len() - 1);
        let d = Bytes::copy_from_slice(&rest[1..1 + len]);
        rest = &rest[1 + len..];
        if let Ok((_tag, Packet::Voice(frame))) = decode(&d) {
            jb.push(frame, now);
            jb.pop(now, &mut out);
        }
        now += 10.0;
    }
});
