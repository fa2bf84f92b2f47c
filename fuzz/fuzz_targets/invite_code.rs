//! Invite codes come from anyone: pasted text and raw bytes behind base58.
#![no_main]
use aperod::room::invite::Invite;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Invite::decode(text);
    }
    let _ = Invite::decode(&bs58::encode(data).into_string());
});
