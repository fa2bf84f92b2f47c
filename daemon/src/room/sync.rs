//! Anti-entropy: when two members meet (and every 30 s while connected) they
//! compare per-author digests, fetch what they lack and push what the other
//! lacks. Any online member can therefore bring anyone up to date, not only
//! the author of a message.

use std::collections::HashSet;
use std::sync::Arc;

use libp2p::PeerId;

use super::service::{batches, Rooms};
use crate::counters::Counters;
use crate::entry::Entry;
use crate::error::ServiceResult;
use crate::wire::{Digest, PeerRequest, PeerResponse, RefuseReason, BATCH_BYTES};

/// A peer may ask for at most this many ids at once.
const MAX_IDS_PER_REQUEST: usize = 100_000;
const MAX_ENTRIES_PER_PUSH: usize = 10_000;

impl Rooms {
    pub async fn sync_peer(self: &Arc<Self>, peer: PeerId) {
        let rooms = self.store.shared_rooms(&peer.to_string()).unwrap_or_default();
        for room in rooms {
            self.sync_room(peer, &room).await;
        }
    }

    /// One full exchange with `peer` for `room`. Errors are logged, not
    /// returned: the next sync tries again.
    pub async fn sync_room(self: &Arc<Self>, peer: PeerId, room: &str) {
        if let Err(e) = self.try_sync_room(peer, room).await {
            tracing::debug!(%peer, room, "sync incomplete: {e}");
        }
    }

    async fn try_sync_room(self: &Arc<Self>, peer: PeerId, room: &str) -> ServiceResult<()> {
        let digests = self.store.digests(room)?;
        let resp = self.node.request(peer, vec![], PeerRequest::Sync { room: room.to_string(), digests }).await?;
        let (authors, theirs) = match resp {
            PeerResponse::SyncIds { authors, ids } => (authors, ids),
            PeerResponse::Refused { reason } => {
                tracing::debug!(%peer, room, ?reason, "peer refused to sync");
                return Ok(());
            }
            _ => return Ok(()),
        };
        let mine: HashSet<String> = self.store.ids_by_authors(room, &authors)?.into_iter().collect();
        let theirs: HashSet<String> = theirs.into_iter().take(MAX_IDS_PER_REQUEST).collect();

        let mut want: Vec<String> = theirs.difference(&mine).cloned().collect();
        while !want.is_empty() {
            let resp = self.node.request(peer, vec![], PeerRequest::Fetch { room: room.to_string(), ids: want.clone() }).await?;
            let PeerResponse::Entries { entries } = resp else { break };
            if entries.is_empty() {
                break;
            }
            let got: HashSet<String> = entries.iter().map(Entry::id).collect();
            want.retain(|id| !got.contains(id));
            let result = self.store.ingest(room, entries, false)?;
            self.count_rejects(&result);
            self.announce(room, &result.inserted);
            if !result.inserted.is_empty() {
                let fresh = result.inserted.iter().map(|v| v.entry.clone()).collect();
                self.spread(room, fresh, Some(peer)).await;
            }
        }

        let extra: Vec<String> = mine.difference(&theirs).cloned().collect();
        let mut offset = 0;
        while offset < extra.len() {
            let chunk = &extra[offset..(offset + 2000).min(extra.len())];
            offset += chunk.len();
            let entries = self.store.entries_by_ids(room, chunk, usize::MAX)?;
            for batch in batches(&entries) {
                self.node.request(peer, vec![], PeerRequest::Push { room: room.to_string(), entries: batch }).await?;
            }
        }
        // The peer, a member, now holds everything we hold: our leave too.
        if self.store.leave_delivered(room)? {
            tracing::info!(%peer, room, "our leave reached a member; the room carries it on");
        }
        Ok(())
    }

    /// Refuses anyone who is not a current member, without saying whether
    /// the room exists.
    fn check_member(&self, peer: PeerId, room: &str) -> ServiceResult<Option<PeerResponse>> {
        if self.store.is_member(room, &peer.to_string())? && self.store.room(room)?.is_some() {
            return Ok(None);
        }
        Counters::bump(&self.counters.not_members, 1);
        Ok(Some(PeerResponse::Refused { reason: RefuseReason::UnknownRoom }))
    }

    pub fn handle_sync(&self, peer: PeerId, room: &str, theirs: Vec<Digest>) -> ServiceResult<PeerResponse> {
        if let Some(refusal) = self.check_member(peer, room)? {
            return Ok(refusal);
        }
        let mine = self.store.digests(room)?;
        let mut authors: Vec<String> = Vec::new();
        for d in &mine {
            if !theirs.contains(d) {
                authors.push(d.author.clone());
            }
        }
        for d in theirs.iter().take(MAX_IDS_PER_REQUEST) {
            if !mine.iter().any(|m| m.author == d.author) && !authors.contains(&d.author) {
                authors.push(d.author.clone());
            }
        }
        let ids = self.store.ids_by_authors(room, &authors)?;
        Ok(PeerResponse::SyncIds { authors, ids })
    }

    pub fn handle_fetch(&self, peer: PeerId, room: &str, ids: &[String]) -> ServiceResult<PeerResponse> {
        if let Some(refusal) = self.check_member(peer, room)? {
            return Ok(refusal);
        }
        let ids = &ids[..ids.len().min(MAX_IDS_PER_REQUEST)];
        Ok(PeerResponse::Entries { entries: self.store.entries_by_ids(room, ids, BATCH_BYTES)? })
    }

    pub async fn handle_push(self: &Arc<Self>, peer: PeerId, room: &str, mut entries: Vec<Entry>) -> ServiceResult<PeerResponse> {
        if let Some(refusal) = self.check_member(peer, room)? {
            return Ok(refusal);
        }
        if entries.len() > MAX_ENTRIES_PER_PUSH {
            Counters::bump(&self.counters.bad_frames, 1);
            entries.truncate(MAX_ENTRIES_PER_PUSH);
        }
        let result = self.store.ingest(room, entries, false)?;
        self.count_rejects(&result);
        self.announce(room, &result.inserted);
        if result.not_member > 0 {
            // Usually we simply have not heard of an admission yet: ask the
            // sender, who evidently has.
            self.schedule_repair(peer, room);
        }
        let accepted = result.inserted.len() as u32;
        if !result.inserted.is_empty() {
            let fresh = result.inserted.into_iter().map(|v| v.entry).collect();
            let rooms = self.clone();
            let room = room.to_string();
            tokio::spawn(async move { rooms.spread(&room, fresh, Some(peer)).await });
        }
        Ok(PeerResponse::Ack { accepted })
    }
}
