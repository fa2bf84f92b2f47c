//! Any member's side of a join: checking a presented code (or a proof of
//! one) against the room's `invite` entry, settling who gets a single-use
//! code, and admitting and welcoming its holder.

use std::sync::Arc;
use std::time::Duration;

use libp2p::PeerId;

use super::{join_proof, now_secs};
use crate::counters::Counters;
use crate::entry::{Body, INVITE_ID_CHARS, MAX_NAME_CHARS};
use crate::error::ServiceResult;
use crate::room::invite::{check_hash, Invite};
use crate::room::service::Rooms;
use crate::store::RoomInvite;
use crate::wire::{PeerAddrs, PeerRequest, PeerResponse, RefuseReason};

/// A hold on a single-use code whose admission never came (its member died
/// mid-way) lapses after this, so the code is not lost.
const CLAIM_STALE_MS: u64 = 60_000;
/// How long the other members get to say whom they hold a code for.
const CLAIM_WAIT: Duration = Duration::from_secs(3);

impl Rooms {
    /// Any member's side of a join.
    pub async fn handle_join(self: &Arc<Self>, peer: PeerId, code: &str, name: &str) -> ServiceResult<PeerResponse> {
        let verdict = self.check_code(peer, code).await?;
        self.admit(peer, name, verdict).await
    }

    /// Admits `peer` (unless already in) and welcomes it, or refuses.
    async fn admit(
        self: &Arc<Self>,
        peer: PeerId,
        name: &str,
        verdict: Result<(String, String, String), RefuseReason>,
    ) -> ServiceResult<PeerResponse> {
        let (room, room_name, invite) = match verdict {
            Ok(r) => r,
            Err(reason) => {
                Counters::bump(&self.counters.refused_joins, 1);
                tracing::info!(%peer, ?reason, "refused a join");
                return Ok(PeerResponse::Refused { reason });
            }
        };
        if !self.store.is_member(&room, &peer.to_string())? {
            let name: String = name.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
            let name = if name.trim().is_empty() { "friend".to_string() } else { name };
            self.publish(&room, Body::Admit { member: peer.to_string(), name, invite: Some(invite) }).await?;
        }
        let entries = self.store.membership_entries(&room)?;
        let mut peers = Vec::new();
        for m in self.store.members(&room)? {
            if m.peer_id == peer.to_string() {
                continue;
            }
            let addrs = if m.peer_id == self.me.peer_id.to_string() {
                self.my_addrs().await?.iter().map(|a| a.to_string()).collect()
            } else {
                self.store.addrs(&m.peer_id)?
            };
            peers.push(PeerAddrs { peer_id: m.peer_id, addrs });
        }
        self.refresh_rendezvous().await;
        Ok(PeerResponse::Welcome { room, name: room_name, entries, peers })
    }

    /// Decides on a code as the room knows it. The outer error is ours
    /// (database); the inner one is the refusal to send. Gives the room, its
    /// name and the invite's id.
    async fn check_code(self: &Arc<Self>, peer: PeerId, code: &str) -> ServiceResult<Result<(String, String, String), RefuseReason>> {
        let Ok(invite) = Invite::decode(code) else { return Ok(Err(RefuseReason::InvalidCode)) };
        let (inviter, check) = (invite.inviter_peer().to_string(), check_hash(&invite.secret));
        self.check_invite(peer, &invite.room_id(), &invite.id(), |known| known.inviter == inviter && known.check == check).await
    }

    /// A holder's proof instead of its code (it found us in the DHT).
    pub async fn handle_join_proof(
        self: &Arc<Self>,
        peer: PeerId,
        room: &str,
        id: &str,
        proof: &str,
        name: &str,
    ) -> ServiceResult<PeerResponse> {
        let me = self.me.peer_id;
        let verdict = if !crate::entry::is_room_id(room) || !crate::entry::is_hex(id, INVITE_ID_CHARS) {
            Err(RefuseReason::BadRequest)
        } else {
            self.check_invite(peer, room, id, |known| !proof.is_empty() && join_proof(&known.check, &peer, &me) == proof).await?
        };
        self.admit(peer, name, verdict).await
    }

    /// The checks shared by a code and a proof; `genuine` says whether what
    /// the joiner showed matches the room's entry for the invite.
    async fn check_invite(
        self: &Arc<Self>,
        peer: PeerId,
        room: &str,
        id: &str,
        genuine: impl Fn(&RoomInvite) -> bool,
    ) -> ServiceResult<Result<(String, String, String), RefuseReason>> {
        let room = match self.store.room(room)? {
            Some(r) if !r.left && self.store.is_member(&r.id, &self.me.peer_id.to_string())? => r,
            _ => return Ok(Err(RefuseReason::UnknownRoom)),
        };
        let Some(known) = self.store.room_invite(&room.id, id)? else { return Ok(Err(RefuseReason::UnknownInvite)) };
        if !genuine(&known) {
            return Ok(Err(RefuseReason::InvalidCode));
        }
        let joiner = peer.to_string();
        // Someone already admitted may re-present the code (a retried join).
        if self.store.is_member(&room.id, &joiner)? {
            return Ok(Ok((room.id, room.name, known.id)));
        }
        if known.revoked {
            return Ok(Err(RefuseReason::Revoked));
        }
        if now_secs() > known.expires {
            return Ok(Err(RefuseReason::Expired));
        }
        // A member who left takes their codes along.
        if !self.store.is_member(&room.id, &known.inviter)? {
            return Ok(Err(RefuseReason::Revoked));
        }
        if known.once && (known.used_by.iter().any(|m| *m != joiner) || !self.win_claim(&room.id, &known.id, &joiner).await?) {
            return Ok(Err(RefuseReason::AlreadyUsed));
        }
        Ok(Ok((room.id, room.name, known.id)))
    }

    /// Holds a single-use code for `joiner` here, then asks every member we
    /// are connected to whom they hold it for. The smallest joiner id seen
    /// wins: two members asked at once both see both joiners (each holds its
    /// own before asking the other) and agree. A member that does not answer
    /// in time is left out: across a partition the rule cannot hold, and
    /// docs/invites.md says what then happens.
    async fn win_claim(&self, room: &str, id: &str, joiner: &str) -> ServiceResult<bool> {
        let (holder, _) = self.store.claim_invite(id, joiner, CLAIM_STALE_MS)?;
        if holder != joiner {
            return Ok(false);
        }
        let mut asks = Vec::new();
        for p in self.node.info().await?.peers {
            let member = p.peer.to_string();
            if member == joiner || !self.store.is_member(room, &member)? {
                continue;
            }
            let req = PeerRequest::Claim { room: room.to_string(), invite: id.to_string(), joiner: joiner.to_string() };
            let node = self.node.clone();
            asks.push(async move { (p.peer, tokio::time::timeout(CLAIM_WAIT, node.request(p.peer, vec![], req)).await) });
        }
        let mut winner = joiner.to_string();
        for (peer, answer) in futures::future::join_all(asks).await {
            match answer {
                Ok(Ok(PeerResponse::Claimed { holder, used })) if holder.parse::<PeerId>().is_ok() => {
                    if used {
                        winner = holder;
                        break;
                    }
                    if holder < winner {
                        winner = holder;
                    }
                }
                other => tracing::debug!(%peer, "no usable answer to a claim: {other:?}"),
            }
        }
        if winner != joiner {
            tracing::info!(%winner, "a single-use code went to another joiner");
            self.store.yield_claim(id, &winner)?;
            return Ok(false);
        }
        Ok(self.store.decide_claim(id, joiner)?)
    }

    /// Another member asks whom we hold a single-use code for.
    pub fn handle_claim(&self, peer: PeerId, room: &str, id: &str, joiner: &str) -> ServiceResult<PeerResponse> {
        let refuse = |reason| Ok(PeerResponse::Refused { reason });
        if !crate::entry::is_room_id(room) || !crate::entry::is_hex(id, INVITE_ID_CHARS) || joiner.parse::<PeerId>().is_err() {
            Counters::bump(&self.counters.bad_frames, 1);
            return refuse(RefuseReason::BadRequest);
        }
        let me = self.me.peer_id.to_string();
        if !self.store.is_member(room, &me)? || !self.store.is_member(room, &peer.to_string())? {
            return refuse(RefuseReason::UnknownRoom);
        }
        if let Some(first) = self.store.room_invite(room, id)?.and_then(|k| k.used_by.into_iter().next()) {
            return Ok(PeerResponse::Claimed { holder: first, used: true });
        }
        let (holder, used) = self.store.claim_invite(id, joiner, CLAIM_STALE_MS)?;
        Ok(PeerResponse::Claimed { holder, used })
    }
}
