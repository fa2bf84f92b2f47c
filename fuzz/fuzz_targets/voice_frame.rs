//! Bytes on the voice protocol: the stream header, then length-prefixed
//! frames, fed into a jitter buffer as a hostile member would.
#![no_main]
use aperod::voice::codec::Decoder;
use aperod::voice::frame::{decode_header, VoiceFrame, HEADER_LEN};
use aperod::voice::jitter::JitterBuffer;
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
        if VoiceFrame::check_len(len).is_err() || rest.len() < 2 + len {
            return;
        }
        if let Ok(f) = VoiceFrame::decode(&rest[2..2 + len]) {
            jb.push(f, now);
        }
        jb.pop(now, &mut out);
        now += 10.0;
        rest = &rest[2 + len..];
    }
});
