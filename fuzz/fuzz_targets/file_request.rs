//! The file protocol as a hostile peer may speak it: request and reply
//! headers, a chunk's stamped pieces, and file names from offers through the
//! sanitizer.
#![no_main]
use aperod::files::names::sanitize;
use aperod::files::wire::{decode, read_pieces, FileReply, FileRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<FileRequest>(data);
    let _ = decode::<FileReply>(data);
    if let Ok(name) = std::str::from_utf8(data) {
        let s = sanitize(name);
        assert!(!s.is_empty() && !s.contains('/') && !s.contains("..") && !s.starts_with('.'));
    }
    // The first two bytes say how long the announced chunk is; the rest is
    // what the peer sends as its pieces.
    if data.len() >= 2 {
        let want = u16::from_be_bytes([data[0], data[1]]) as usize;
        let mut buf = vec![0u8; want];
        let mut seen = 0;
        let mut src = futures::io::Cursor::new(&data[2..]);
        let ok = futures::executor::block_on(read_pieces(&mut src, &mut buf, |_, n| seen += n)).is_ok();
        assert!(!ok || seen == want, "accepted pieces that do not add up to the chunk");
        assert!(seen <= want);
    }
});
