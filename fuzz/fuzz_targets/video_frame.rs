//! A share's stream comes from a peer: its header and messages must be
//! refused when malformed, never crash the viewer's daemon.
#![no_main]
use aperod::video::wire::{decode_header, decode_message, decode_note, HEADER_LEN, NOTE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(h) = data.get(..HEADER_LEN).and_then(|h| <&[u8; HEADER_LEN]>::try_from(h).ok()) {
        let _ = decode_header(h);
    }
    if let Some(n) = data.get(..NOTE_LEN).and_then(|n| <&[u8; NOTE_LEN]>::try_from(n).ok()) {
        let _ = decode_note(n);
    }
    let _ = decode_message(data);
});
