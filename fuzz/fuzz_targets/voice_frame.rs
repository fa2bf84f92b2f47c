//! Bytes on the voice protocol: the stream header, then length-prefixed
//! packets (voice with redundancy, or reports), fed into a jitter buffer as a
//! hostile member would.
#![no_main]
use aperod::voice::codec::Decoder;
use aperod::voice::frame::{check_len, decode, decode_header, Packet, HEADER_LEN};
use aperod::voice::jitter::JitterBuffer;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER_LEN || decode_header(&data[..HEADER_LEN]).is_err() {
        return;
    }
    let mut jb = JitterBuffer::new(Decoder::new().unwrap());
    let mut rest = &data[HEADER_LEN..];
    let mut out = [0i16; aperod::voice::FRAME];
    let mut now = 0.0;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        if check_len(len).is_err() || rest.len() < 2 + len {
            return;
        }
        if let Ok((_tag, Packet::Voice(f))) = decode(&Bytes::copy_from_slice(&rest[2..2 + len])) {
            jb.push(f, now);
        }
        jb.pop(now, &mut out);
        let _ = jb.report();
        now += 10.0;
        rest = &rest[2 + len..];
    }
});
