//! The file protocol as a hostile peer may speak it: request and reply
//! headers, and file names from offers through the sanitizer.
#![no_main]
use aperod::files::names::sanitize;
use aperod::files::wire::{decode, FileReply, FileRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<FileRequest>(data);
    let _ = decode::<FileReply>(data);
    if let Ok(name) = std::str::from_utf8(data) {
        let s = sanitize(name);
        assert!(!s.is_empty() && !s.contains('/') && !s.contains("..") && !s.starts_with('.'));
    }
});
