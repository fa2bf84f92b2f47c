//! One download's workers: for each source, a few streams that fetch,
//! verify and write chunks (`Worker`), and a task that tells the source how
//! fast to send while a call is on (`pace_source`).

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use tokio::sync::mpsc;

use super::pace::{self, DelayControl};
use super::running::{Running, CHUNK_TIMEOUT};
use super::service::Files;
use super::wire::{self, FileRefusal, FileReply, FileRequest};
use super::{hash_chunk, Bitmap, Manifest};
use crate::lock::lock;

/// A source that sends this many bad chunks is dropped.
const MAX_BAD_PER_SOURCE: u64 = 3;
/// A member still fetching the file is asked for its bitmap this often while
/// it has none of the chunks we miss, and given up on after `PARTIAL_IDLE`.
const PARTIAL_POLL: Duration = Duration::from_millis(500);
const PARTIAL_IDLE: Duration = Duration::from_secs(10);

/// Why the workers for one source stopped asking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Why {
    /// It refused, for a reason it gave.
    Refused(FileRefusal),
    /// It kept sending chunks that failed verification.
    BadChunks,
    /// Its chunk list does not match the offer.
    BadManifest,
    NoStream(String),
    Lost(String),
    TimedOut,
    /// A member still fetching the file got none of the chunks we miss.
    NothingNew,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Refused(r) => write!(f, "{r}"),
            Why::BadChunks => f.write_str("sent chunks that failed verification"),
            Why::BadManifest => f.write_str("sent a chunk list that does not match the offer"),
            Why::NoStream(e) => write!(f, "cannot open a stream: {e}"),
            Why::Lost(e) => write!(f, "connection lost ({e})"),
            Why::TimedOut => f.write_str("timed out"),
            Why::NothingNew => f.write_str("is still fetching the file and has none of the missing chunks"),
        }
    }
}

/// One source's reason, with the name to show for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GiveUp {
    pub(super) source: String,
    pub(super) why: Why,
}

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.why)
    }
}

pub(super) struct Worker {
    pub(super) files: Arc<Files>,
    pub(super) peer: PeerId,
    pub(super) room: String,
    pub(super) manifest: Arc<Manifest>,
    /// The partial file, behind a lock: parallel writes into one file make
    /// the kernel spin on its inode lock, costing more CPU than the copy.
    pub(super) part: Arc<Mutex<File>>,
    pub(super) queue: Arc<Mutex<VecDeque<u64>>>,
    pub(super) done: mpsc::Sender<u64>,
    pub(super) running: Arc<Running>,
    pub(super) source_bad: Arc<AtomicU64>,
    pub(super) reasons: Arc<Mutex<Vec<GiveUp>>>,
    pub(super) path: Arc<SourcePath>,
    /// What a member still fetching the file can send (shared by its
    /// workers); `None` for a complete copy.
    pub(super) avail: Option<Arc<Mutex<Bitmap>>>,
}

/// What the workers fetching from one source learn about the path to it.
pub(super) struct SourcePath {
    pub(super) control: Mutex<DelayControl>,
    /// The source said it is in a call.
    pub(super) voice: AtomicBool,
    /// The rate last asked of the source (bytes/s, 0: unpaced).
    pub(super) rate: AtomicU64,
}

impl SourcePath {
    /// One tick of the controller; returns the rate to ask for.
    pub(super) fn decide(&self, files: &Files) -> u64 {
        let paced = files.deps.pace_transfers && (files.in_call() || self.voice.load(Ordering::Relaxed));
        let rate = lock(&self.control).tick(paced, Instant::now());
        self.rate.store(rate, Ordering::Relaxed);
        rate
    }
}

/// Tells one source how fast to send: paced below the path's capacity while
/// either of us is in a call, as fast as it can otherwise. The stream stays
/// open (a `Pace` every few seconds) so a call that starts mid-transfer is
/// felt within a tick.
pub(super) async fn pace_source(files: Arc<Files>, running: Arc<Running>, peer: PeerId, path: Arc<SourcePath>) {
    let Ok(mut s) = files.deps.node.streams.clone().open_stream(peer, wire::PROTOCOL).await else { return };
    let mut tick = tokio::time::interval(pace::TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent: Option<(u64, Instant)> = None;
    let mut last_log = Instant::now();
    loop {
        tick.tick().await;
        let rate = path.decide(&files);
        lock(&running.paces).insert(peer, rate);
        if last_log.elapsed() > Duration::from_secs(1) {
            let q = lock(&path.control).last_queuing;
            tracing::debug!(%peer, rate, ?q, "file pace");
            last_log = Instant::now();
        }
        let due = match last_sent {
            None => true,
            Some((r, at)) => r != rate || at.elapsed() > Duration::from_secs(5),
        };
        if !due {
            continue;
        }
        if wire::write_frame(&mut s, &FileRequest::Pace { rate }).await.is_err() || futures::AsyncWriteExt::flush(&mut s).await.is_err() {
            return;
        }
        last_sent = Some((rate, Instant::now()));
    }
}

/// Asks a source which chunks it has (on an open file stream).
pub(super) async fn ask_have(s: &mut libp2p::Stream, room: &str, file: &str, chunks: u64) -> Result<Bitmap, Why> {
    let lost = |e: &dyn std::fmt::Display| Why::Lost(e.to_string());
    wire::write_frame(s, &FileRequest::Have { room: room.to_string(), file: file.to_string() }).await.map_err(|e| lost(&e))?;
    futures::AsyncWriteExt::flush(s).await.map_err(|e| lost(&e))?;
    match wire::read_frame::<FileReply, _>(s).await.map_err(|e| lost(&e))? {
        Some(FileReply::Have { chunks: n, len }) if n == chunks && len == chunks.div_ceil(8) => {
            let mut bits = vec![0u8; len as usize];
            futures::AsyncReadExt::read_exact(s, &mut bits).await.map_err(|e| lost(&e))?;
            Ok(Bitmap::from_bytes(bits, chunks))
        }
        Some(FileReply::Refused { reason }) => Err(Why::Refused(reason)),
        _ => Err(Why::Lost("sent a malformed answer".into())),
    }
}

impl Worker {
    /// The next missing chunk this source can send.
    fn next(&self) -> Option<u64> {
        let mut queue = lock(&self.queue);
        match &self.avail {
            None => queue.pop_front(),
            Some(avail) => {
                let avail = lock(avail);
                let at = queue.iter().position(|&i| avail.get(i))?;
                queue.remove(at)
            }
        }
    }
    fn queue_empty(&self) -> bool {
        lock(&self.queue).is_empty()
    }

    /// Waits for a member still fetching the file to have more of what we
    /// miss; false once it has had nothing new for `PARTIAL_IDLE`.
    async fn wait_for_more(&self, stream: &mut libp2p::Stream, idle_since: Instant) -> Result<bool, Why> {
        let Some(avail) = &self.avail else { return Ok(false) };
        if idle_since.elapsed() > PARTIAL_IDLE {
            return Ok(false);
        }
        tokio::time::sleep(PARTIAL_POLL).await;
        let ask = ask_have(stream, &self.room, &self.running.offer.file, self.manifest.chunks());
        let fresh = tokio::time::timeout(PARTIAL_IDLE, ask).await.map_err(|_| Why::TimedOut)??;
        *lock(avail) = fresh;
        Ok(true)
    }
    fn give_back(&self, i: u64) {
        lock(&self.queue).push_back(i);
    }
    fn give_up(&self, why: Why) {
        let line = GiveUp { source: self.files.peer_label(&self.peer), why };
        let mut r = lock(&self.reasons);
        if !r.contains(&line) {
            r.push(line);
        }
    }

    pub(super) async fn run(self) {
        let mut stream = match self.files.deps.node.streams.clone().open_stream(self.peer, wire::PROTOCOL).await {
            Ok(s) => s,
            Err(e) => return self.give_up(Why::NoStream(e.to_string())),
        };
        // On this stream, ahead of the first request: the source reads it
        // before it sends a byte of a chunk (0 too: a pace left over from an
        // earlier download from this source must not hold this one back).
        let rate = self.path.rate.load(Ordering::Relaxed);
        if wire::write_frame(&mut stream, &FileRequest::Pace { rate }).await.is_err() {
            return self.give_up(Why::Lost("could not send the pace".into()));
        }
        let mut buf = Vec::new();
        let mut idle_since = Instant::now();
        loop {
            let Some(i) = self.next() else {
                if self.queue_empty() {
                    return;
                }
                match self.wait_for_more(&mut stream, idle_since).await {
                    Ok(true) => continue,
                    Ok(false) if self.avail.is_none() => return,
                    Ok(false) => return self.give_up(Why::NothingNew),
                    Err(why) => return self.give_up(why),
                }
            };
            idle_since = Instant::now();
            if self.source_bad.load(Ordering::Relaxed) >= MAX_BAD_PER_SOURCE {
                self.give_back(i);
                return self.give_up(Why::BadChunks);
            }
            match tokio::time::timeout(CHUNK_TIMEOUT, self.fetch(&mut stream, i, &mut buf)).await {
                Ok(Ok(())) => {}
                Ok(Err(FetchError::Bad)) => {
                    self.give_back(i);
                    self.running.bad.fetch_add(1, Ordering::Relaxed);
                    self.source_bad.fetch_add(1, Ordering::Relaxed);
                    self.files.bad_input();
                    tracing::warn!(peer = %self.peer, chunk = i, "chunk failed verification; fetching it again");
                    if self.source_bad.load(Ordering::Relaxed) >= MAX_BAD_PER_SOURCE {
                        return self.give_up(Why::BadChunks);
                    }
                }
                // Its bitmap was a moment old: ask again later.
                Ok(Err(FetchError::Refused(FileRefusal::Missing))) if self.avail.is_some() => {
                    self.give_back(i);
                    if let Some(a) = &self.avail {
                        *lock(a) = Bitmap::new(self.manifest.chunks());
                    }
                }
                Ok(Err(FetchError::Refused(reason))) => {
                    self.give_back(i);
                    return self.give_up(Why::Refused(reason));
                }
                Ok(Err(FetchError::Gone(e))) => {
                    self.give_back(i);
                    return self.give_up(Why::Lost(e));
                }
                Err(_) => {
                    self.give_back(i);
                    return self.give_up(Why::TimedOut);
                }
            }
        }
    }

    async fn fetch(&self, s: &mut libp2p::Stream, index: u64, buf: &mut Vec<u8>) -> Result<(), FetchError> {
        let req = FileRequest::Chunk { room: self.room.clone(), file: self.running.offer.file.clone(), index };
        wire::write_frame(s, &req).await.map_err(|e| FetchError::Gone(e.to_string()))?;
        futures::AsyncWriteExt::flush(s).await.map_err(|e| FetchError::Gone(e.to_string()))?;
        let expected = self.manifest.chunk_len(index);
        match wire::read_frame::<FileReply, _>(s).await {
            Ok(Some(FileReply::Chunk { index: got, len, voice })) if got == index && len == expected => {
                self.path.voice.store(voice, Ordering::Relaxed);
            }
            Ok(Some(FileReply::Refused { reason })) => return Err(FetchError::Refused(reason)),
            Ok(Some(_)) => return Err(FetchError::Gone("malformed answer".into())),
            Ok(None) => return Err(FetchError::Gone("stream closed".into())),
            Err(e) => return Err(FetchError::Gone(e.to_string())),
        }
        buf.resize(expected as usize, 0);
        // Counted as it arrives, released once the chunk is settled (done,
        // bad or lost), so the progress never steps back by a chunk.
        let partial = Partial { count: &self.running.partial, bytes: AtomicU64::new(0) };
        wire::read_pieces(s, buf, |sent, n| {
            let now = pace::now_us();
            lock(&self.path.control).sample(sent, now, n, Instant::now());
            partial.add(n as u64);
        })
        .await
        .map_err(|e| FetchError::Gone(e.to_string()))?;
        self.running.fetched.fetch_add(expected, Ordering::Relaxed);
        let data = std::mem::take(buf);
        let want = self.manifest.chunk_hash(index).map(<[u8]>::to_vec);
        let part = self.part.clone();
        let offset = index * u64::from(self.manifest.chunk_size);
        let (ok, data) = tokio::task::spawn_blocking(move || {
            if want.as_deref() != Some(&hash_chunk(&data)[..]) {
                return (Ok(false), data);
            }
            let part = lock(&part);
            (part.write_all_at(&data, offset).map(|_| true), data)
        })
        .await
        .map_err(|e| FetchError::Gone(e.to_string()))?;
        *buf = data;
        match ok {
            Ok(true) => {
                self.running.done.fetch_add(expected, Ordering::Relaxed);
                let _ = self.done.send(index).await;
                Ok(())
            }
            Ok(false) => Err(FetchError::Bad),
            Err(e) => Err(FetchError::Gone(format!("cannot write: {e}"))),
        }
    }
}

/// Bytes of one chunk counted in [`Running::partial`] until dropped.
struct Partial<'a> {
    count: &'a AtomicU64,
    bytes: AtomicU64,
}

impl Partial<'_> {
    fn add(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.count.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Partial<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(*self.bytes.get_mut(), Ordering::Relaxed);
    }
}

enum FetchError {
    Bad,
    Refused(FileRefusal),
    Gone(String),
}
