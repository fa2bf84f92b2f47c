use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What one call to [`read_line_capped`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A complete line (without its `\n`) is in the buffer.
    Line,
    /// The line was longer than the cap; it was consumed and discarded so the
    /// stream stays in sync, and the buffer is empty.
    TooLong,
    /// The peer closed the stream (a partial last line is dropped).
    Eof,
}

/// A line being read, kept between calls of [`read_line_capped`]: what has
/// been taken off the stream lives here, not in the future, so a read that
/// is cancelled (a `select!` whose other branch won) loses nothing and the
/// next call goes on where it stopped.
#[derive(Debug, Default)]
pub struct LineBuf {
    bytes: Vec<u8>,
    overflow: bool,
    /// The last call returned a whole line: the next one starts afresh.
    complete: bool,
}

impl std::ops::Deref for LineBuf {
    type Target = [u8];

    /// The line [`read_line_capped`] returned (empty after `TooLong`).
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads one `\n`-terminated line into `buf` without ever holding more than
/// `max` bytes of it, so a client cannot make the daemon allocate without bound.
/// Cancel-safe: the only await is `fill_buf`, which consumes nothing, and the
/// partial line is kept in `buf`.
pub async fn read_line_capped<R>(reader: &mut R, max: usize, buf: &mut LineBuf) -> std::io::Result<LineRead>
where
    R: AsyncBufRead + Unpin,
{
    if buf.complete {
        *buf = LineBuf::default();
    }
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            *buf = LineBuf::default();
            return Ok(LineRead::Eof);
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if !buf.overflow {
            if buf.bytes.len() + chunk.len() > max {
                buf.overflow = true;
                buf.bytes = Vec::new();
            } else {
                buf.bytes.extend_from_slice(chunk);
            }
        }
        let consumed = found.unwrap_or(available.len());
        reader.consume(consumed);
        if found.is_some() {
            buf.complete = true;
            return Ok(if buf.overflow { LineRead::TooLong } else { LineRead::Line });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn lines(input: &[u8], max: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut r = BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        let mut buf = LineBuf::default();
        loop {
            let res = read_line_capped(&mut r, max, &mut buf).await.unwrap();
            let done = res == LineRead::Eof;
            out.push((res, buf.to_vec()));
            if done {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn long_line_is_skipped_and_next_line_survives() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\nok\n");
        let got = lines(&input, 10).await;
        assert_eq!(got[0].0, LineRead::TooLong);
        assert_eq!(got[1], (LineRead::Line, b"ok".to_vec()));
        assert_eq!(got[2].0, LineRead::Eof);
    }

    /// `apero chat` reads events inside `select!` with the keyboard: a read
    /// cut off mid-line by a key press must not lose the part already taken.
    #[tokio::test]
    async fn a_cancelled_read_loses_nothing() {
        use tokio::io::AsyncWriteExt;
        let (mut w, r) = tokio::io::duplex(64);
        let mut r = BufReader::new(r);
        let mut buf = LineBuf::default();
        w.write_all(b"{\"first\": \"hal").await.unwrap();
        let cut = tokio::time::timeout(std::time::Duration::from_millis(50), read_line_capped(&mut r, 100, &mut buf)).await;
        assert!(cut.is_err(), "no whole line yet: the read is cancelled");
        w.write_all(b"f\"}\n{\"second\": 2}\n").await.unwrap();
        assert_eq!(read_line_capped(&mut r, 100, &mut buf).await.unwrap(), LineRead::Line);
        assert_eq!(&*buf, b"{\"first\": \"half\"}");
        assert_eq!(read_line_capped(&mut r, 100, &mut buf).await.unwrap(), LineRead::Line);
        assert_eq!(&*buf, b"{\"second\": 2}");
    }

    #[tokio::test]
    async fn exact_cap_is_accepted() {
        let got = lines(b"abcdefghij\n", 10).await;
        assert_eq!(got[0], (LineRead::Line, b"abcdefghij".to_vec()));
    }

    proptest::proptest! {
        #[test]
        fn never_returns_more_than_cap(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400), max in 1usize..50) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let got = rt.block_on(lines(&data, max));
            let mut complete = 0;
            for (kind, line) in &got {
                proptest::prop_assert!(line.len() <= max);
                if *kind != LineRead::Eof { complete += 1; }
            }
            let newlines = data.iter().filter(|&&b| b == b'\n').count();
            proptest::prop_assert_eq!(complete, newlines);
        }
    }
}
