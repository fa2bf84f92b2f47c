//! The control socket: capped line framing, then request decoding.
#![no_main]
use apero_control::{read_line_capped, LineBuf, LineRead, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let mut reader = tokio::io::BufReader::with_capacity(64, data);
        let mut buf = LineBuf::default();
        loop {
            match read_line_capped(&mut reader, 256, &mut buf).await {
                Ok(LineRead::Line) => {
                    assert!(buf.len() <= 256);
                    let _ = serde_json::from_slice::<Request>(&buf);
                }
                Ok(LineRead::TooLong) => {}
                Ok(LineRead::Eof) | Err(_) => break,
            }
        }
    });
});
