//! Where a download's chunks come from: the members online who have the
//! file or part of it, what a partial holder has so far, and the chunk-hash
//! list from the first source that sends one.

use std::time::{Duration, Instant};

use libp2p::PeerId;

use super::{join, Stop};
use crate::files::fetch::{ask_have, GiveUp, Why};
use crate::files::running::CHUNK_TIMEOUT;
use crate::files::service::Files;
use crate::files::wire::{self, FileRefusal, FileReply, FileRequest};
use crate::files::{Bitmap, Manifest};
use crate::store::OfferRow;

const WAIT_FOR_SOURCES: Duration = Duration::from_secs(10);

impl Files {
    /// Members of the room who have the file (complete holders first), or
    /// part of it (`true`), whichever are online, waiting a little for them
    /// to connect.
    pub(super) async fn sources(&self, offer: &OfferRow) -> Vec<(PeerId, bool)> {
        let me = self.peer_id.to_string();
        let parse = |list: Vec<String>| -> Vec<PeerId> { list.iter().filter(|p| **p != me).filter_map(|p| p.parse().ok()).collect() };
        let full = parse(self.deps.store.holders(&offer.room, &offer.file).unwrap_or_default());
        let partial = parse(self.deps.store.partial_holders(&offer.room, &offer.file).unwrap_or_default());
        let all: Vec<(PeerId, bool)> = full.iter().map(|p| (*p, false)).chain(partial.iter().map(|p| (*p, true))).collect();
        let deadline = Instant::now() + WAIT_FOR_SOURCES;
        loop {
            let connected: Vec<PeerId> = self.deps.node.info().await.map(|i| i.peers.iter().map(|p| p.peer).collect()).unwrap_or_default();
            let online: Vec<(PeerId, bool)> = all.iter().filter(|(h, _)| connected.contains(h)).copied().collect();
            if !online.is_empty() || Instant::now() > deadline {
                return online;
            }
            for (h, _) in &all {
                let addrs = self.deps.store.known_addrs(&h.to_string());
                if !addrs.is_empty() {
                    self.deps.node.dial(*h, addrs).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// What a member still fetching the file has now (`None`: it cannot say).
    pub(super) async fn partial_bitmap(&self, offer: &OfferRow, peer: PeerId, chunks: u64) -> Option<Bitmap> {
        let attempt = async {
            let mut s = self.deps.node.streams.clone().open_stream(peer, wire::PROTOCOL).await.map_err(|e| Why::NoStream(e.to_string()))?;
            ask_have(&mut s, &offer.room, &offer.file, chunks).await
        };
        match tokio::time::timeout(CHUNK_TIMEOUT, attempt).await {
            Ok(Ok(b)) => Some(b),
            Ok(Err(why)) => {
                tracing::debug!(%peer, "no bitmap from a partial source: {why}");
                None
            }
            Err(_) => None,
        }
    }

    /// The chunk-hash list from the first source that has it, and that
    /// source if it says it is in a call.
    pub(super) async fn fetch_manifest(&self, offer: &OfferRow, sources: &[PeerId]) -> Result<(Manifest, Option<PeerId>), Stop> {
        let mut why: Vec<GiveUp> = Vec::new();
        let expected_len = crate::files::chunk_count(offer.size, offer.chunk_size) * 32;
        for peer in sources {
            let attempt = async {
                let lost = |e: &dyn std::fmt::Display| Why::Lost(e.to_string());
                let mut s =
                    self.deps.node.streams.clone().open_stream(*peer, wire::PROTOCOL).await.map_err(|e| Why::NoStream(e.to_string()))?;
                wire::write_frame(&mut s, &FileRequest::Hashes { room: offer.room.clone(), file: offer.file.clone() })
                    .await
                    .map_err(|e| lost(&e))?;
                futures::AsyncWriteExt::flush(&mut s).await.map_err(|e| lost(&e))?;
                match wire::read_frame::<FileReply, _>(&mut s).await.map_err(|e| lost(&e))? {
                    Some(FileReply::Hashes { size, chunk_size, len, voice })
                        if size == offer.size && chunk_size == offer.chunk_size && len == expected_len =>
                    {
                        let mut h = vec![0u8; len as usize];
                        futures::AsyncReadExt::read_exact(&mut s, &mut h).await.map_err(|e| lost(&e))?;
                        if crate::files::root_of(size, chunk_size, &h) != offer.file {
                            return Err(Why::BadManifest);
                        }
                        Ok((Manifest { size, chunk_size, hashes: h }, voice.then_some(*peer)))
                    }
                    Some(FileReply::Refused { reason }) => Err(Why::Refused(reason)),
                    _ => Err(Why::Lost("sent a malformed answer".into())),
                }
            };
            let result = tokio::time::timeout(CHUNK_TIMEOUT, attempt).await.unwrap_or(Err(Why::TimedOut));
            match result {
                Ok(m) => return Ok(m),
                Err(w) => why.push(GiveUp { source: self.peer_label(peer), why: w }),
            }
        }
        let all = join(&why);
        Err(if why.iter().any(|g| g.why == Why::Refused(FileRefusal::Changed)) {
            Stop::Failed(format!("the file changed on the sender's disk after it was offered ({all}); ask them to send it again"))
        } else {
            Stop::Paused(format!("could not get the file's chunk list: {all}"))
        })
    }
}
