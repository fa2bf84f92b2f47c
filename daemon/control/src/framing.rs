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

/// Reads one `\n`-terminated line into `buf` without ever holding more than
/// `max` bytes of it, so a client cannot make the daemon allocate without bound.
pub async fn read_line_capped<R>(reader: &mut R, max: usize, buf: &mut Vec<u8>) -> std::io::Result<LineRead>
where
    R: AsyncBufRead + Unpin,
{
    buf.clear();
    let mut overflow = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            buf.clear();
            return Ok(LineRead::Eof);
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if !overflow {
            if buf.len() + chunk.len() > max {
                overflow = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let consumed = found.unwrap_or(available.len());
        reader.consume(consumed);
        if found.is_some() {
            return Ok(if overflow { LineRead::TooLong } else { LineRead::Line });
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
        let mut buf = Vec::new();
        loop {
            let res = read_line_capped(&mut r, max, &mut buf).await.unwrap();
            let done = res == LineRead::Eof;
            out.push((res, buf.clone()));
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
