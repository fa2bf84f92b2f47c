//! Serving chunks to room members. Every request is checked: the asker is a
//! member of the room, the file was offered there, we hold a copy that still
//! matches the offer (size and mtime, and each chunk's hash before it goes
//! out), or we are fetching it ourselves and have verified that chunk.
//! Anything else is refused with a reason and counted.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use tokio::sync::Semaphore;

use super::pace::{self, TokenBucket};
use super::service::Files;
use super::wire::{self, FileRefusal, FileReply, FileRequest, WireError};
use super::{chunk_count, chunk_len, hash_chunk, mtime_ns, root_of, Bitmap};
use crate::node::inbound::{Inbound, IncomingStream};
use crate::store::SharedRow;

/// A downloader keeps a few streams open per source; more than this at once
/// from one peer is a flood.
const STREAMS_PER_PEER: usize = 16;
/// Requests per second per stream, well above 1 GiB/s in 1 MiB chunks.
const REQUESTS_PER_SEC: f64 = 2000.0;
const IDLE: Duration = Duration::from_secs(60);

impl Files {
    /// Starts serving chunks to room members.
    pub fn spawn_server(self: &Arc<Self>) {
        tokio::spawn(accept_loop(self.deps.node.inbound.clone(), self.clone(), self.deps.upload_limit_kbit));
    }
}

async fn accept_loop(inbound: Inbound, files: Arc<Files>, upload_limit_kbit: u64) {
    // `--upload-limit`: over all file bytes we send, so a user can keep
    // uplink for calls; up to a quarter second of burst.
    let limit = (upload_limit_kbit > 0).then(|| Arc::new(TokenBucket::new(upload_limit_kbit * 1000 / 8, Duration::from_millis(250))));
    let mut incoming = match inbound.accept(wire::PROTOCOL) {
        Ok(i) => i,
        Err(e) => return tracing::error!("cannot accept file streams: {e}"),
    };
    // Per peer: its streams, and the pace it asked for (shared by all of
    // its streams, since they cross the same path).
    let mut per_peer: HashMap<PeerId, (Arc<Semaphore>, Arc<TokenBucket>)> = HashMap::new();
    while let Some(IncomingStream { peer, stream, slot }) = incoming.recv().await {
        per_peer.retain(|_, s| s.0.available_permits() < STREAMS_PER_PEER);
        let (sem, pacer) = per_peer
            .entry(peer)
            .or_insert_with(|| (Arc::new(Semaphore::new(STREAMS_PER_PEER)), Arc::new(TokenBucket::new(0, Duration::from_millis(2)))))
            .clone();
        let Ok(permit) = sem.try_acquire_owned() else {
            files.bad_input();
            continue; // dropping the stream resets it
        };
        let files = files.clone();
        let limits = Limits { pacer, upload: limit.clone() };
        tokio::spawn(async move {
            serve_stream(&files, peer, stream, limits).await;
            drop((permit, slot));
        });
    }
}

struct Limits {
    /// The rate this peer's downloader asked for (`Pace`), 0 for none.
    pacer: Arc<TokenBucket>,
    upload: Option<Arc<TokenBucket>>,
}

struct Open {
    row: SharedRow,
    file: Arc<File>,
    /// Our own download of it, under way: only chunks its bitmap marks
    /// verified go out (the partial file changes as it fills, so size and
    /// mtime say nothing).
    partial: bool,
}

async fn serve_stream(files: &Arc<Files>, peer: PeerId, mut stream: libp2p::Stream, limits: Limits) {
    let mut open: HashMap<String, Open> = HashMap::new();
    let mut tokens = 50.0f64;
    let mut last = Instant::now();
    loop {
        let req = match tokio::time::timeout(IDLE, wire::read_frame::<FileRequest, _>(&mut stream)).await {
            Ok(Ok(Some(r))) => r,
            Ok(Ok(None)) | Err(_) => return,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "bad file request: {e}");
                files.bad_input();
                let _ = wire::write_reply(&mut stream, &FileReply::Refused { reason: FileRefusal::BadRequest }, &[]).await;
                return;
            }
        };
        let now = Instant::now();
        tokens = (tokens + now.duration_since(last).as_secs_f64() * REQUESTS_PER_SEC).min(50.0);
        last = now;
        let answer = if tokens < 1.0 {
            Err(FileRefusal::Busy)
        } else {
            tokens -= 1.0;
            if let FileRequest::Pace { rate } = req {
                limits.pacer.set_rate(rate);
                continue;
            }
            answer(files, peer, &mut open, req).await
        };
        let result = match answer {
            Ok((reply @ FileReply::Chunk { .. }, payload)) => send_chunk(&mut stream, &reply, &payload, &limits).await,
            Ok((reply, payload)) => {
                if let Some(l) = &limits.upload {
                    l.take(payload.len()).await;
                }
                wire::write_reply(&mut stream, &reply, &payload).await
            }
            Err(reason) => {
                if reason != FileRefusal::Missing {
                    files.bad_input();
                }
                tracing::debug!(%peer, "refused a file request: {reason}");
                wire::write_reply(&mut stream, &FileReply::Refused { reason }, &[]).await
            }
        };
        if result.is_err() {
            return;
        }
    }
}

/// A chunk in stamped pieces: small and spaced out when the downloader
/// paces us (someone is in a call), one piece at full speed otherwise.
async fn send_chunk(stream: &mut libp2p::Stream, reply: &FileReply, data: &[u8], limits: &Limits) -> Result<(), WireError> {
    use futures::AsyncWriteExt;
    wire::write_frame(stream, reply).await?;
    let rate = match (limits.pacer.rate(), limits.upload.as_ref().map(|u| u.rate())) {
        (0, None) => 0,
        (0, Some(u)) => u,
        (p, u) => p.min(u.unwrap_or(u64::MAX)),
    };
    let piece = if rate > 0 { pace::piece_len(rate) } else { data.len().max(1) };
    for part in data.chunks(piece) {
        limits.pacer.take(part.len()).await;
        if let Some(u) = &limits.upload {
            u.take(part.len()).await;
        }
        stream.write_all(&wire::piece_header(pace::now_us(), part.len() as u32)).await?;
        stream.write_all(part).await?;
        if rate > 0 {
            // The stamp says when the piece left; it must not sit here.
            stream.flush().await?;
        }
    }
    stream.flush().await?;
    Ok(())
}

async fn answer(
    files: &Arc<Files>,
    peer: PeerId,
    open: &mut HashMap<String, Open>,
    req: FileRequest,
) -> Result<(FileReply, Vec<u8>), FileRefusal> {
    let (room, file) = match &req {
        FileRequest::Hashes { room, file } | FileRequest::Chunk { room, file, .. } | FileRequest::Have { room, file } => {
            (room.clone(), file.clone())
        }
        FileRequest::Pace { .. } => return Err(FileRefusal::BadRequest),
    };
    if !open.contains_key(&file) {
        if !files.deps.store.is_member(&room, &peer.to_string()).unwrap_or(false) {
            return Err(FileRefusal::NotMember);
        }
        if !files.deps.store.offered_in(&room, &file).unwrap_or(false) {
            return Err(FileRefusal::Unknown);
        }
        let o = match open_copy(files, &file) {
            Err(FileRefusal::Unknown) => open_partial(files, &file)?,
            other => other?,
        };
        if open.len() >= 8 {
            open.clear();
        }
        open.insert(file.clone(), o);
    }
    let o = &open[&file];
    // Edited since it was offered? Then what we would send is not what the
    // offer promised.
    let still =
        o.partial || std::fs::metadata(&o.row.path).map(|m| m.len() == o.row.size && mtime_ns(&m) == o.row.mtime_ns).unwrap_or(false);
    if !still {
        open.remove(&file);
        return Err(FileRefusal::Changed);
    }
    let chunks = chunk_count(o.row.size, o.row.chunk_size);
    match req {
        FileRequest::Pace { .. } => Err(FileRefusal::BadRequest),
        FileRequest::Hashes { .. } => Ok((
            FileReply::Hashes { size: o.row.size, chunk_size: o.row.chunk_size, len: o.row.hashes.len() as u64, voice: files.in_call() },
            o.row.hashes.clone(),
        )),
        FileRequest::Have { .. } => {
            let bitmap = if o.partial { partial_bitmap(files, &file, chunks)? } else { full(chunks) };
            Ok((FileReply::Have { chunks, len: bitmap.bytes().len() as u64 }, bitmap.bytes().to_vec()))
        }
        FileRequest::Chunk { index, .. } => {
            if index >= chunks {
                return Err(FileRefusal::OutOfRange);
            }
            if o.partial && !partial_bitmap(files, &file, chunks)?.get(index) {
                return Err(FileRefusal::Missing);
            }
            let len = chunk_len(o.row.size, o.row.chunk_size, index) as usize;
            let offset = index * u64::from(o.row.chunk_size);
            let f = o.file.clone();
            let expected: [u8; 32] =
                o.row.hashes[index as usize * 32..index as usize * 32 + 32].try_into().map_err(|_| FileRefusal::Changed)?;
            let data = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, FileRefusal> {
                let mut buf = vec![0u8; len];
                f.read_exact_at(&mut buf, offset).map_err(|_| FileRefusal::Changed)?;
                // Catches edits that kept size and mtime.
                if hash_chunk(&buf) != expected {
                    return Err(FileRefusal::Changed);
                }
                Ok(buf)
            })
            .await
            .map_err(|_| FileRefusal::Changed)?
            // A copy still being fetched is not "changed": what we hold open
            // may be a partial file cancelled and begun again since.
            .map_err(|e| if o.partial { FileRefusal::Missing } else { e })?;
            Ok((FileReply::Chunk { index, len: len as u64, voice: files.in_call() }, data))
        }
    }
}

/// Every chunk.
fn full(chunks: u64) -> Bitmap {
    let mut b = Bitmap::new(chunks);
    for i in 0..chunks {
        b.set(i);
    }
    b
}

/// Our download of `file`, under way, once its chunk list is known.
fn open_partial(files: &Files, file: &str) -> Result<Open, FileRefusal> {
    let d = files.deps.store.download(file).ok().flatten().ok_or(FileRefusal::Unknown)?;
    if d.state == apero_control::TransferState::Done {
        return Err(FileRefusal::Unknown);
    }
    let hashes = d.hashes.filter(|h| root_of(d.size, d.chunk_size, h) == file).ok_or(FileRefusal::Unknown)?;
    let f = File::open(&d.part).map_err(|_| FileRefusal::Unknown)?;
    let row = SharedRow { file: file.to_string(), path: d.part, size: d.size, mtime_ns: 0, chunk_size: d.chunk_size, hashes };
    Ok(Open { row, file: Arc::new(f), partial: true })
}

/// The chunks our download of `file` has verified (saved a moment after the
/// data is written, so never a chunk that is not on disk).
fn partial_bitmap(files: &Files, file: &str, chunks: u64) -> Result<Bitmap, FileRefusal> {
    let bits = files.deps.store.download_bitmap(file).ok().flatten().ok_or(FileRefusal::Unknown)?;
    Ok(Bitmap::from_bytes(bits, chunks))
}

/// The first local copy of `file` that still matches what was offered.
fn open_copy(files: &Files, file: &str) -> Result<Open, FileRefusal> {
    let rows = files.deps.store.shared(file).map_err(|_| FileRefusal::Unknown)?;
    if rows.is_empty() {
        return Err(FileRefusal::Unknown);
    }
    for row in rows {
        let Ok(f) = File::open(&row.path) else { continue };
        let Ok(m) = f.metadata() else { continue };
        if m.len() == row.size && mtime_ns(&m) == row.mtime_ns {
            return Ok(Open { row, file: Arc::new(f), partial: false });
        }
    }
    Err(FileRefusal::Changed)
}
