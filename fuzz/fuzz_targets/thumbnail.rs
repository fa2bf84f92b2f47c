//! Pictures offered in a room come from anyone: the thumbnail maker must
//! refuse what it cannot read, never crash or eat all memory.
#![no_main]
use aperod::files::thumbs::from_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = from_bytes(data);
});
