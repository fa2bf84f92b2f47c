//! Downloads: pull verified chunks from every member who has the file (or,
//! still fetching it, part of it), write them in place into a hidden partial
//! file, remember which chunks are done (so a restart resumes), serve them to
//! others meanwhile, and rename into place only when all are verified. A
//! paused download starts again by itself when a source comes back.

mod resume;
mod sources;

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apero_control::{Event, TransferInfo, TransferState};
use libp2p::PeerId;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::fetch::{pace_source, GiveUp, SourcePath, Why, Worker};
use super::pace::DelayControl;
use super::running::Running;
use super::service::Files;
use super::wire::FileRefusal;
use super::{names, Bitmap, Manifest};
use crate::entry::Body;
use crate::error::{ServiceError, ServiceResult};
use crate::lock::lock;
use crate::store::{log_error as log_store, DownloadRow, OfferRow, SharedRow};

/// Chunk requests in flight per source (one stream each).
const PER_SOURCE: usize = 4;
const SAVE_EVERY: Duration = Duration::from_millis(500);
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Why a download stopped short.
enum Stop {
    Cancelled,
    /// Worth retrying later (sources went away): state `paused`.
    Paused(String),
    Failed(String),
}

impl Files {
    /// Starts (or resumes, or reports) the download of `file` (an id or a
    /// unique prefix of one).
    pub async fn get(self: &Arc<Self>, file: &str, dir: Option<String>) -> ServiceResult<TransferInfo> {
        let offer = self.resolve_offer(file)?;
        if let Some(r) = self.running().get(&offer.file) {
            return Ok(r.info(TransferState::Running, None, None));
        }
        let existing = self.deps.store.download(&offer.file)?;
        if let Some(d) = &existing {
            if d.state == TransferState::Done && d.final_path.as_deref().is_some_and(|p| Path::new(p).exists()) {
                return Ok(row_info(d));
            }
        }
        if offer.author == self.peer_id.to_string() && !self.deps.store.shared(&offer.file)?.is_empty() {
            return Err(ServiceError::BadRequest("you offered this file: it is already on this machine".into()));
        }
        let dir = match dir {
            Some(d) => PathBuf::from(d),
            None => default_download_dir(),
        };
        if !dir.is_absolute() {
            return Err(ServiceError::BadRequest("the download directory must be an absolute path".into()));
        }
        std::fs::create_dir_all(&dir).map_err(|e| ServiceError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let chunks = super::chunk_count(offer.size, offer.chunk_size);
        let row = match existing {
            // Resume where the verified chunks are, even if asked for another dir.
            Some(d) if d.state != TransferState::Done && Path::new(&d.part).exists() => d,
            _ => {
                let safe = names::sanitize(&offer.name);
                // Ours alone, even when two daemons (two people, or one
                // with two homes) fetch the same file into one folder.
                let me = self.peer_id.to_string();
                let part = dir.join(format!(".{}.{}.{}.apero-part", safe, &offer.file[..12], &me[me.len().saturating_sub(8)..]));
                DownloadRow {
                    file: offer.file.clone(),
                    room: offer.room.clone(),
                    name: offer.name.clone(),
                    size: offer.size,
                    chunk_size: offer.chunk_size,
                    dir: dir.to_string_lossy().into_owned(),
                    part: part.to_string_lossy().into_owned(),
                    hashes: None,
                    bitmap: Bitmap::new(chunks).bytes().to_vec(),
                    state: TransferState::Running,
                    final_path: None,
                    error: None,
                }
            }
        };
        self.deps.store.download_put(&DownloadRow { state: TransferState::Running, error: None, ..row.clone() })?;
        let bitmap = Bitmap::from_bytes(row.bitmap.clone(), chunks);
        let (cancel, _) = watch::channel(false);
        let running = Arc::new(Running {
            done: AtomicU64::new(verified_bytes(&bitmap, offer.size, offer.chunk_size)),
            offer,
            fetched: AtomicU64::new(0),
            partial: AtomicU64::new(0),
            bad: AtomicU64::new(0),
            sources: AtomicUsize::new(0),
            rate: Mutex::new(VecDeque::new()),
            paces: Mutex::new(HashMap::new()),
            cancel,
        });
        {
            // Checked again under the lock: two resumes (a peer connecting
            // and a new source announced) may race here from two threads.
            let mut all = self.running();
            if let Some(r) = all.get(&row.file) {
                return Ok(r.info(TransferState::Running, None, None));
            }
            all.insert(row.file.clone(), running.clone());
        }
        let info = running.info(TransferState::Running, None, None);
        let files = self.clone();
        tokio::spawn(async move { files.run_download(running, row, bitmap).await });
        Ok(info)
    }

    pub fn transfers_list(&self) -> ServiceResult<Vec<TransferInfo>> {
        // The running set first: a download that ends meanwhile has its
        // final row in the database by the time we read it.
        let running = self.running();
        let downloads = self.deps.store.downloads()?;
        Ok(downloads
            .iter()
            .map(|d| match running.get(&d.file) {
                Some(r) => r.info(TransferState::Running, None, None),
                None => row_info(d),
            })
            .collect())
    }

    pub async fn cancel(&self, file: &str) -> ServiceResult<TransferInfo> {
        let id = match self.resolve_offer(file) {
            Ok(o) => o.file,
            Err(_) => self
                .deps
                .store
                .downloads()?
                .into_iter()
                .find(|d| d.file.starts_with(file))
                .map(|d| d.file)
                .ok_or_else(|| ServiceError::NotFound(format!("no transfer {file}")))?,
        };
        let running = self.running().get(&id).cloned();
        if let Some(r) = running {
            let _ = r.cancel.send(true);
            // The task removes the partial file and the row.
            for _ in 0..100 {
                if !self.running().contains_key(&id) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let info = r.info(TransferState::Cancelled, None, None);
            self.drop_partial(&info.room, &id).await;
            return Ok(info);
        }
        let d = self.deps.store.download(&id)?.ok_or_else(|| ServiceError::NotFound(format!("no transfer {file}")))?;
        if d.state == TransferState::Done {
            return Err(ServiceError::BadRequest("this download is already complete".into()));
        }
        let _ = std::fs::remove_file(&d.part);
        self.deps.store.download_delete(&id)?;
        let mut info = row_info(&d);
        info.state = TransferState::Cancelled;
        self.drop_partial(&info.room, &id).await;
        Ok(info)
    }

    /// After a cancel: the part is gone, so a partial copy we announced is
    /// withdrawn and members stop asking us for its chunks.
    async fn drop_partial(&self, room: &str, file: &str) {
        let me = self.peer_id.to_string();
        if !self.deps.store.announced_partial(room, file, &me).unwrap_or(false) {
            return;
        }
        if let Err(e) = self.deps.publisher.publish(room.to_string(), Body::Dropped { file: file.to_string() }).await {
            tracing::warn!("could not withdraw a partial copy: {e}");
        }
    }

    pub fn resolve_offer(&self, file: &str) -> ServiceResult<OfferRow> {
        let prefix = file.trim().to_ascii_lowercase();
        if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::BadRequest(format!("{file:?} is not a file id (see `apero files ROOM`)")));
        }
        let mut offers = self.deps.store.offers_matching(&prefix)?;
        offers.dedup_by(|a, b| a.file == b.file);
        match offers.len() {
            0 => Err(ServiceError::NotFound(format!("no file {file} in your rooms (`apero files ROOM` lists them)"))),
            1 => Ok(offers.remove(0)),
            _ => Err(ServiceError::Ambiguous(format!("{file} matches several files; give more of the id"))),
        }
    }

    async fn run_download(self: Arc<Self>, r: Arc<Running>, row: DownloadRow, bitmap: Bitmap) {
        let result = self.download(&r, &row, bitmap).await;
        let file = r.offer.file.clone();
        let info = match result {
            Ok(path) => {
                let p = path.to_string_lossy().into_owned();
                log_store(self.deps.store.download_state(&file, TransferState::Done, Some(&p), None));
                if let Err(e) = self.deps.publisher.publish(r.offer.room.clone(), Body::Have { file: file.clone() }).await {
                    tracing::warn!("could not announce that we have {file}: {e}");
                }
                r.info(TransferState::Done, Some(p), None)
            }
            Err(Stop::Cancelled) => {
                let _ = std::fs::remove_file(&row.part);
                log_store(self.deps.store.download_delete(&file));
                r.info(TransferState::Cancelled, None, None)
            }
            Err(Stop::Paused(e)) => {
                log_store(self.deps.store.download_state(&file, TransferState::Paused, None, Some(&e)));
                r.info(TransferState::Paused, None, Some(e))
            }
            Err(Stop::Failed(e)) => {
                log_store(self.deps.store.download_state(&file, TransferState::Failed, None, Some(&e)));
                r.info(TransferState::Failed, None, Some(e))
            }
        };
        self.running().remove(&file);
        self.emit(Event::Transfer { transfer: info });
    }

    async fn download(self: &Arc<Self>, r: &Arc<Running>, row: &DownloadRow, mut bitmap: Bitmap) -> Result<PathBuf, Stop> {
        let offer = &r.offer;
        let mut cancel = r.cancel.subscribe();
        let sources = self.sources(offer).await;
        let known = self.deps.store.holders(&offer.room, &offer.file).map(|h| h.len()).unwrap_or(0);
        if sources.is_empty() && bitmap.count() < super::chunk_count(offer.size, offer.chunk_size) {
            return Err(Stop::Paused(format!(
                "nobody who has this file is online ({known} member(s) have it); it resumes by itself when one comes online"
            )));
        }
        // The chunk-hash list, checked against the file id; and whether the
        // member who sent it is in a call.
        let (manifest, in_call_source) = match row.hashes.clone() {
            Some(h) if super::root_of(offer.size, offer.chunk_size, &h) == offer.file => {
                (Manifest { size: offer.size, chunk_size: offer.chunk_size, hashes: h }, None)
            }
            _ => {
                let peers: Vec<PeerId> = sources.iter().map(|(p, _)| *p).collect();
                let (m, voice) = self.fetch_manifest(offer, &peers).await?;
                log_store(self.deps.store.download_progress(&offer.file, Some(&m.hashes), bitmap.bytes()));
                (m, voice)
            }
        };
        let part = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&row.part)
            .map_err(|e| Stop::Failed(format!("cannot write {}: {e}", row.part)))?;
        part.set_len(offer.size).map_err(|e| Stop::Failed(format!("cannot size {}: {e}", row.part)))?;
        let part = Arc::new(Mutex::new(part));
        let total = manifest.chunks();
        // From here on we serve what we verify: tell the room, once.
        let me = self.peer_id.to_string();
        if !self.deps.store.announced_partial(&offer.room, &offer.file, &me).unwrap_or(true) {
            let (publisher, room, file) = (self.deps.publisher.clone(), offer.room.clone(), offer.file.clone());
            tokio::spawn(async move {
                if let Err(e) = publisher.publish(room, Body::Partial { file }).await {
                    tracing::warn!("could not announce a partial copy: {e}");
                }
            });
        }
        let queue: Arc<Mutex<VecDeque<u64>>> = Arc::new(Mutex::new((0..total).filter(|&i| !bitmap.get(i)).collect()));
        let manifest = Arc::new(manifest);
        let (done_tx, mut done_rx) = mpsc::channel::<u64>(64);
        let mut workers = JoinSet::new();
        let reasons: Arc<Mutex<Vec<GiveUp>>> = Arc::default();
        let mut used = 0;
        for (peer, is_partial) in &sources {
            let avail = if *is_partial {
                match self.partial_bitmap(offer, *peer, total).await {
                    Some(b) => Some(Arc::new(Mutex::new(b))),
                    None => continue,
                }
            } else {
                None
            };
            used += 1;
            let bad = Arc::new(AtomicU64::new(0));
            let path = Arc::new(SourcePath {
                control: Mutex::new(DelayControl::default()),
                voice: AtomicBool::new(in_call_source == Some(*peer)),
                rate: AtomicU64::new(0),
            });
            // Decided before the first request: an unpaced first round of
            // chunks would put seconds of file in front of the call.
            path.decide(self);
            workers.spawn(pace_source(self.clone(), r.clone(), *peer, path.clone()));
            for _ in 0..PER_SOURCE {
                let w = Worker {
                    files: self.clone(),
                    peer: *peer,
                    room: offer.room.clone(),
                    manifest: manifest.clone(),
                    part: part.clone(),
                    queue: queue.clone(),
                    done: done_tx.clone(),
                    running: r.clone(),
                    source_bad: bad.clone(),
                    reasons: reasons.clone(),
                    path: path.clone(),
                    avail: avail.clone(),
                };
                workers.spawn(w.run());
            }
        }
        r.sources.store(used, Ordering::Relaxed);
        drop(done_tx);
        let mut last_save = Instant::now();
        let mut last_progress = Instant::now();
        let mut dirty = false;
        // Progress is told while a slow chunk arrives too, not only as each completes.
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while bitmap.count() < total {
            tokio::select! {
                _ = tick.tick() => {}
                got = done_rx.recv() => match got {
                    Some(i) => {
                        bitmap.set(i);
                        dirty = true;
                    }
                    // Every worker gave up (the pacing tasks never end on their own).
                    None => break,
                },
                _ = cancel.changed() => {
                    workers.abort_all();
                    return Err(Stop::Cancelled);
                }
            }
            if last_save.elapsed() > SAVE_EVERY {
                // The data was written before its bit: a crash loses at most
                // some bits (chunks fetched again), never marks a chunk that
                // is not on disk.
                log_store(self.deps.store.download_progress(&offer.file, None, bitmap.bytes()));
                last_save = Instant::now();
                dirty = false;
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                self.emit(Event::Transfer { transfer: r.info(TransferState::Running, None, None) });
                last_progress = Instant::now();
            }
        }
        workers.abort_all();
        if dirty {
            log_store(self.deps.store.download_progress(&offer.file, None, bitmap.bytes()));
        }
        if bitmap.count() < total {
            let reasons = lock(&reasons).clone();
            return Err(why_stopped(&reasons, r.bad.load(Ordering::Relaxed), &offer.file, bitmap.count()));
        }
        let dir = PathBuf::from(&row.dir);
        let part_path = PathBuf::from(&row.part);
        let name = names::sanitize(&offer.name);
        let (store, file) = (self.deps.store.clone(), offer.file.clone());
        let final_path = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
            lock(&part).sync_all()?;
            let dest = names::unique_path(&dir, &name);
            // Written down before the link: killed between the two, the next
            // start finds the finished file and marks it done
            // (`pause_interrupted`) instead of fetching it again beside it.
            store
                .download_state(&file, TransferState::Running, Some(&dest.to_string_lossy()), None)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            // link + unlink never replaces an existing file, even one created
            // since unique_path looked.
            std::fs::hard_link(&part_path, &dest).or_else(|_| std::fs::rename(&part_path, &dest))?;
            let _ = std::fs::remove_file(&part_path);
            Ok(dest)
        })
        .await
        .map_err(|e| Stop::Failed(format!("the task finishing the file failed: {e}")))?
        .map_err(|e| Stop::Failed(format!("cannot move the finished file into place: {e}")))?;
        let meta = std::fs::metadata(&final_path).map_err(|e| Stop::Failed(e.to_string()))?;
        log_store(self.deps.store.shared_add(&SharedRow {
            file: offer.file.clone(),
            path: final_path.to_string_lossy().into_owned(),
            size: offer.size,
            mtime_ns: super::mtime_ns(&meta),
            chunk_size: offer.chunk_size,
            hashes: manifest.hashes.clone(),
        }));
        self.thumbnail(&offer.file, &final_path, super::guess_mime(&final_path.to_string_lossy())).await;
        Ok(final_path)
    }
}

fn join(reasons: &[GiveUp]) -> String {
    reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Why a download ended with chunks missing, from what each source's
/// workers gave up on: a source whose copy changed, sources that only sent
/// bad chunks, or sources that went away (resumable).
fn why_stopped(reasons: &[GiveUp], bad_chunks: u64, file: &str, verified: u64) -> Stop {
    let all = join(reasons);
    if reasons.iter().any(|g| g.why == Why::Refused(FileRefusal::Changed)) {
        Stop::Failed(format!(
            "the file changed on the sender's disk after it was offered, and no other member has the original; \
             {all} — ask them to send it again"
        ))
    } else if bad_chunks > 0 && reasons.iter().all(|g| g.why == Why::BadChunks) {
        Stop::Failed(format!("every source sent chunks that failed verification: {all}"))
    } else {
        Stop::Paused(format!(
            "lost every source ({all}); it resumes by itself from the {verified} verified chunks when a source is back \
             (or `apero get {}`)",
            &file[..12.min(file.len())]
        ))
    }
}

fn verified_bytes(bitmap: &Bitmap, size: u64, chunk_size: u32) -> u64 {
    (0..super::chunk_count(size, chunk_size)).filter(|&i| bitmap.get(i)).map(|i| super::chunk_len(size, chunk_size, i)).sum()
}

fn row_info(d: &DownloadRow) -> TransferInfo {
    let done = if d.state == TransferState::Done {
        d.size
    } else {
        let bitmap = Bitmap::from_bytes(d.bitmap.clone(), super::chunk_count(d.size, d.chunk_size));
        verified_bytes(&bitmap, d.size, d.chunk_size)
    };
    TransferInfo {
        id: d.file.clone(),
        room: d.room.clone(),
        name: names::sanitize(&d.name),
        size: d.size,
        state: d.state,
        done_bytes: done,
        fetched_bytes: 0,
        partial_bytes: 0,
        rate_bps: 0.0,
        sources: 0,
        bad_chunks: 0,
        paced_bps: 0,
        path: d.final_path.clone(),
        error: d.error.clone(),
    }
}

pub fn default_download_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(Path::to_path_buf))
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join("Downloads")))
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gave_up(why: Why) -> GiveUp {
        GiveUp { source: "bob".into(), why }
    }

    const FILE: &str = "0123456789abcdef0123";

    #[test]
    fn a_changed_copy_fails_the_download_whatever_else_happened() {
        let reasons = [gave_up(Why::TimedOut), gave_up(Why::Refused(FileRefusal::Changed))];
        let Stop::Failed(why) = why_stopped(&reasons, 0, FILE, 3) else { panic!("a changed copy is final") };
        assert!(why.contains("changed on the sender's disk"), "{why}");
    }

    #[test]
    fn only_bad_chunks_fail_the_download_and_anything_else_pauses_it() {
        let Stop::Failed(why) = why_stopped(&[gave_up(Why::BadChunks)], 3, FILE, 0) else { panic!("only bad chunks") };
        assert!(why.contains("failed verification"), "{why}");
        // One source sent bad chunks, another went away: worth resuming later.
        let mixed = [gave_up(Why::BadChunks), gave_up(Why::Lost("reset".into()))];
        let Stop::Paused(why) = why_stopped(&mixed, 3, FILE, 7) else { panic!("resumable") };
        assert!(why.contains("7 verified chunks") && why.contains("apero get 0123456789ab"), "{why}");
        // A reason that merely mentions the words no longer decides anything.
        let wordy = [gave_up(Why::Lost("peer said: changed verification".into()))];
        assert!(matches!(why_stopped(&wordy, 0, FILE, 0), Stop::Paused(_)));
    }
}
