//! A frame body on the room protocol, as a hostile peer may send it, and every
//! entry inside it through signature verification.
#![no_main]
use aperod::wire::{decode, PeerRequest, PeerResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(PeerRequest::Push { entries, .. }) = decode::<PeerRequest>(data) {
        for e in entries {
            let _ = e.verify();
        }
    }
    if let Ok(PeerResponse::Entries { entries } | PeerResponse::Welcome { entries, .. }) = decode::<PeerResponse>(data) {
        for e in entries {
            let _ = e.verify();
        }
    }
});
