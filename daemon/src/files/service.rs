//! The file service: offers, serving chunks and downloads. It owns the
//! running downloads; it publishes offers and "have" entries through the
//! room service's [`Publisher`] handle, reads whether we are in a call from
//! [`InCall`], and hears of new offers as an [`EntryListener`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use apero_control::Event;
use libp2p::PeerId;

use super::running::Running;
use crate::counters::Counters;
use crate::entry::{Body, Verified};
use crate::events::EventSink;
use crate::handles::{EntryListener, InCall, Publisher};
use crate::lock::lock;
use crate::node::Node;
use crate::store::Store;

/// What the file service is given.
pub struct FileDeps {
    pub store: Arc<Store>,
    pub node: Node,
    pub events: EventSink,
    pub counters: Arc<Counters>,
    pub publisher: Arc<dyn Publisher>,
    pub in_call: InCall,
    /// `--upload-limit`, kbit/s over everything we serve (0: none).
    pub upload_limit_kbit: u64,
    /// Downloads pace themselves while a call runs (off only to measure
    /// what a call suffers without it).
    pub pace_transfers: bool,
    /// Where thumbnails of offered pictures are kept (`thumbs`).
    pub thumbs: std::path::PathBuf,
}

pub struct Files {
    pub(super) deps: FileDeps,
    pub(super) peer_id: PeerId,
    /// Downloads under way, by file id.
    pub(super) running: Mutex<HashMap<String, Arc<Running>>>,
    /// Ourselves, for the listener callback that may resume downloads.
    me: Weak<Files>,
}

impl Files {
    /// Makes the thumbnail of picture `id` at `src`, before the offer or
    /// the finished download is announced (so that a window asking then
    /// finds it); a picture that does not decode simply has none.
    pub(super) async fn thumbnail(&self, id: &str, src: &std::path::Path, mime: &str) {
        if !mime.starts_with("image/") {
            return;
        }
        let (src, dest) = (src.to_path_buf(), super::thumbs::path(&self.deps.thumbs, id));
        if dest.exists() {
            return;
        }
        let made =
            tokio::task::spawn_blocking(move || super::thumbs::make(&src, &dest).map_err(|e| format!("{}: {e}", src.display()))).await;
        if let Ok(Err(e)) = made {
            tracing::info!("no thumbnail for {e}");
        }
    }

    /// Downloads that were running when the daemon stopped are marked
    /// paused here.
    pub fn new(deps: FileDeps) -> Arc<Files> {
        let files = Arc::new_cyclic(|me| Files { peer_id: deps.node.peer_id, deps, running: Mutex::default(), me: me.clone() });
        files.pause_interrupted();
        files
    }

    pub(super) fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Running>>> {
        lock(&self.running)
    }

    pub(super) fn in_call(&self) -> bool {
        self.deps.in_call.get()
    }

    pub(super) fn peer_label(&self, peer: &PeerId) -> String {
        self.deps.store.peer_name(&peer.to_string()).ok().flatten().unwrap_or_else(|| peer.to_string())
    }

    pub(super) fn emit(&self, event: Event) {
        self.deps.events.emit(event);
    }

    pub(super) fn bad_input(&self) {
        Counters::bump(&self.deps.counters.files, 1);
    }
}

impl EntryListener for Files {
    fn inserted(&self, room: &str, entries: &[Verified]) {
        let mut new_source = false;
        for v in entries {
            match &v.entry.body {
                Body::Offer { file, .. } => {
                    if let Ok(Some(info)) = self.file_info(room, file) {
                        self.emit(Event::FileOffered { room: room.to_string(), file: info });
                    }
                }
                Body::Have { .. } | Body::Partial { .. } => new_source = true,
                _ => {}
            }
        }
        if let (true, Some(me)) = (new_source, self.me.upgrade()) {
            me.resume_paused(None);
        }
    }
}
