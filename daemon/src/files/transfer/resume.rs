//! Picking downloads up again: those the daemon's stop interrupted, and
//! paused ones once a source is back online.

use std::path::Path;
use std::sync::Arc;

use apero_control::TransferState;
use libp2p::PeerId;

use crate::files::service::Files;
use crate::store::{log_error as log_store, DownloadRow, SharedRow};

impl Files {
    /// Downloads that were running when the daemon stopped are paused, or
    /// done if the stop came between moving the file into place and noting it.
    pub(in crate::files) fn pause_interrupted(&self) {
        let Ok(ds) = self.deps.store.downloads() else { return };
        for d in ds.iter().filter(|d| d.state == TransferState::Running) {
            if let Some(path) = self.finished_before_the_stop(d) {
                tracing::info!(%path, "a download finished just before the daemon stopped");
                continue;
            }
            let _ = self.deps.store.download_state(&d.file, TransferState::Paused, None, Some("interrupted: the daemon stopped"));
        }
    }

    /// The final file of `d` if it is in place, whole, and its partial file
    /// gone (the rename happened): then it is recorded as done and shared.
    fn finished_before_the_stop(&self, d: &DownloadRow) -> Option<String> {
        let path = d.final_path.clone()?;
        let meta = std::fs::metadata(&path).ok()?;
        let hashes = d.hashes.clone()?;
        if Path::new(&d.part).exists() || meta.len() != d.size {
            return None;
        }
        log_store(self.deps.store.download_state(&d.file, TransferState::Done, Some(&path), None));
        log_store(self.deps.store.shared_add(&SharedRow {
            file: d.file.clone(),
            path: path.clone(),
            size: d.size,
            mtime_ns: crate::files::mtime_ns(&meta),
            chunk_size: d.chunk_size,
            hashes,
        }));
        Some(path)
    }

    /// Paused downloads start again by themselves when a member who has the
    /// file, or part of it, is online: `peer` connected (only its files), or
    /// (`None`) the room learned of a new source.
    pub fn resume_paused(self: &Arc<Self>, peer: Option<PeerId>) {
        let files = self.clone();
        // Off the caller's task: it routes network events and must not wait
        // on the database.
        tokio::spawn(async move {
            let paused: Vec<DownloadRow> = match files.deps.store.downloads() {
                Ok(ds) => {
                    let running = files.running();
                    ds.into_iter().filter(|d| d.state == TransferState::Paused && !running.contains_key(&d.file)).collect()
                }
                Err(e) => return tracing::warn!("cannot list downloads: {e}"),
            };
            if paused.is_empty() {
                return;
            }
            let connected: Vec<String> = match peer {
                Some(p) => vec![p.to_string()],
                None => files.deps.node.info().await.map(|i| i.peers.iter().map(|p| p.peer.to_string()).collect()).unwrap_or_default(),
            };
            let me = files.peer_id.to_string();
            for d in paused {
                let mut sources = files.deps.store.holders(&d.room, &d.file).unwrap_or_default();
                sources.extend(files.deps.store.partial_holders(&d.room, &d.file).unwrap_or_default());
                if !sources.iter().any(|s| *s != me && connected.contains(s)) {
                    continue;
                }
                tracing::info!(file = %&d.file[..12.min(d.file.len())], "a source is online: resuming the download");
                if let Err(e) = files.get(&d.file, Some(d.dir.clone())).await {
                    tracing::warn!("could not resume a download: {e}");
                }
            }
        });
    }
}
