//! Invites and joining, on both sides.
//!
//! The inviter keeps each code's secret in its database and is the one who
//! admits: it checks the signature, expiry, revocation and single use, then
//! signs an `admit` entry for the newcomer. The joiner verifies the code
//! locally first (a forged or expired code never touches the network) and
//! stores nothing of the room until the inviter's welcome has arrived.

use std::sync::Arc;
use std::time::Duration;

use apero_control::{InviteInfo, Joined};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use rand::RngCore;

use super::service::{log_store, Rooms};
use crate::counters::Counters;
use crate::entry::{Body, MAX_NAME_CHARS};
use crate::error::{ServiceError, ServiceResult};
use crate::room::invite::{Invite, InviteError, MAX_ADDRS};
use crate::store::InviteRow;
use crate::wire::{PeerAddrs, PeerRequest, PeerResponse, RefuseReason};

pub fn now_secs() -> u64 {
    crate::store::now_ms() / 1000
}

fn invite_info(row: &InviteRow) -> InviteInfo {
    InviteInfo {
        id: row.id.clone(),
        code: row.code.clone(),
        room: row.room.clone(),
        expires: row.expires,
        once: row.once,
        uses: row.uses,
        revoked: row.revoked,
    }
}

fn is_loopback(a: &Multiaddr) -> bool {
    a.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

impl Rooms {
    /// A long invite code (short ones are the short-code service's).
    pub async fn invite_create(self: &Arc<Self>, room: &str, ttl_secs: u64, once: bool) -> ServiceResult<InviteInfo> {
        let room = self.resolve_room(room)?;
        if ttl_secs == 0 {
            return Err(ServiceError::BadRequest("an invite must live at least one second".into()));
        }
        let mut addrs = self.my_addrs().await?;
        addrs.truncate(MAX_ADDRS);
        let mut secret = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut secret);
        let mut room_bytes = [0u8; 16];
        hex::decode_to_slice(&room.id, &mut room_bytes)
            .map_err(|_| ServiceError::Internal(format!("corrupt room id {:?} in the database", room.id)))?;
        let invite =
            Invite { room: room_bytes, inviter: self.me.key.public(), addrs, expires: now_secs().saturating_add(ttl_secs), secret, once };
        let row = InviteRow {
            id: invite.id(),
            room: room.id,
            code: invite.encode(&self.me.key),
            secret: hex::encode(secret),
            expires: invite.expires,
            once,
            uses: 0,
            revoked: false,
        };
        self.store.add_invite(&row)?;
        Ok(invite_info(&row))
    }

    pub fn invite_list(&self, room: &str) -> ServiceResult<Vec<InviteInfo>> {
        let room = self.resolve_room(room)?;
        Ok(self.store.invites(&room.id)?.iter().map(invite_info).collect())
    }

    pub fn invite_revoke(&self, code_or_id: &str) -> ServiceResult<()> {
        let id = match Invite::decode(code_or_id) {
            Ok(inv) => inv.id(),
            Err(_) => code_or_id.trim().to_string(),
        };
        if self.store.revoke_invite(&id)? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("no invite of yours has the id or code {id:?}; `apero invite list ROOM` shows them")))
        }
    }

    /// Where others can reach us: our listen addresses, then relayed ones,
    /// then loopback (useful only on this machine).
    pub async fn my_addrs(&self) -> ServiceResult<Vec<Multiaddr>> {
        let info = self.node.info().await?;
        let mut addrs = info.listen;
        for a in info.external {
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        let relayed = |a: &Multiaddr| a.iter().any(|p| matches!(p, Protocol::P2pCircuit));
        addrs.sort_by_key(|a| (is_loopback(a), relayed(a)));
        Ok(addrs)
    }

    /// Joiner side, with a long code (short codes are turned into one by
    /// the short-code service first).
    pub async fn join(self: &Arc<Self>, code: &str, timeout: Duration) -> ServiceResult<Joined> {
        let invite = Invite::decode(code).map_err(|e| match e {
            InviteError::Malformed => ServiceError::InvalidCode(e.to_string()),
            InviteError::BadSignature => ServiceError::InvalidCode(e.to_string()),
        })?;
        if now_secs() > invite.expires {
            return Err(ServiceError::Expired("this invite code has expired; ask for a new one".into()));
        }
        let inviter = invite.inviter_peer();
        if inviter == self.me.peer_id {
            return Err(ServiceError::BadRequest("this is your own invite code; give it to a friend".into()));
        }
        let room = invite.room_id();
        let known = self.store.room(&room)?;
        if known.as_ref().is_some_and(|r| !r.left) {
            return Err(ServiceError::AlreadyMember(format!(
                "you are already in this room ({})",
                known.map(|r| r.name).unwrap_or_default()
            )));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let request = PeerRequest::Join { code: code.trim().to_string(), name: self.me.name.clone() };
        let unreachable = |why: String| {
            ServiceError::Unreachable(format!(
                "could not reach the person who made this code (peer {inviter}) within {} s: {why}. \
                 They may be offline; try again when their apero is running",
                timeout.as_secs()
            ))
        };
        let resp = match tokio::time::timeout_at(deadline, self.node.request(inviter, invite.addrs.clone(), request)).await {
            Err(_) => return Err(unreachable("no answer".into())),
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Ok(Ok(r)) => r,
        };
        let (name, entries, peers) = match resp {
            PeerResponse::Welcome { room: r, name, entries, peers } if r == room => (name, entries, peers),
            PeerResponse::Refused { reason } => return Err(refusal_error(reason)),
            _ => return Err(ServiceError::Refused("the inviter sent an answer this version of apero does not understand".into())),
        };
        let result = self.store.ingest(&room, entries, known.is_none())?;
        self.count_rejects(&result);
        if !self.store.is_member(&room, &self.me.peer_id.to_string())? {
            self.store.forget_room(&room)?;
            return Err(ServiceError::Refused("the inviter's welcome did not admit us; nothing was kept".into()));
        }
        self.store.set_room_left(&room, false)?;
        self.remember_peers(&peers).await;
        // Fetch the history before answering, so `join` returning means the
        // room is complete here.
        let _ = tokio::time::timeout_at(deadline, self.sync_room(inviter, &room)).await;
        Ok(Joined { room, name })
    }

    async fn remember_peers(&self, peers: &[PeerAddrs]) {
        for p in peers.iter().take(256) {
            let Ok(peer) = p.peer_id.parse::<PeerId>() else { continue };
            if peer == self.me.peer_id {
                continue;
            }
            let addrs: Vec<String> = p.addrs.iter().take(16).cloned().collect();
            log_store(self.store.save_addrs(&p.peer_id, &addrs));
            self.node.dial(peer, addrs.iter().filter_map(|a| a.parse().ok()).collect()).await;
        }
    }

    /// Inviter side.
    pub async fn handle_join(self: &Arc<Self>, peer: PeerId, code: &str, name: &str) -> ServiceResult<PeerResponse> {
        let verdict = self.check_code(peer, code)?;
        let (room, room_name) = match verdict {
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
            self.publish(&room, Body::Admit { member: peer.to_string(), name }).await?;
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
        Ok(PeerResponse::Welcome { room, name: room_name, entries, peers })
    }

    /// Decides on a code. The outer error is ours (database); the inner one
    /// is the refusal to send.
    fn check_code(&self, peer: PeerId, code: &str) -> ServiceResult<Result<(String, String), RefuseReason>> {
        let Ok(invite) = Invite::decode(code) else { return Ok(Err(RefuseReason::InvalidCode)) };
        if invite.inviter != self.me.key.public() {
            return Ok(Err(RefuseReason::InvalidCode));
        }
        let Some(row) = self.store.invite(&invite.id())? else { return Ok(Err(RefuseReason::InvalidCode)) };
        if row.secret != hex::encode(invite.secret) || row.room != invite.room_id() {
            return Ok(Err(RefuseReason::InvalidCode));
        }
        let room = match self.store.room(&row.room)? {
            Some(r) if !r.left => r,
            _ => return Ok(Err(RefuseReason::InvalidCode)),
        };
        // Someone already admitted may re-present the code (a retried join).
        if self.store.is_member(&room.id, &peer.to_string())? {
            return Ok(Ok((room.id, room.name)));
        }
        if row.revoked {
            return Ok(Err(RefuseReason::Revoked));
        }
        if now_secs() > row.expires {
            return Ok(Err(RefuseReason::Expired));
        }
        if !self.store.use_invite(&row.id)? {
            return Ok(Err(if row.revoked { RefuseReason::Revoked } else { RefuseReason::AlreadyUsed }));
        }
        Ok(Ok((room.id, room.name)))
    }
}

fn refusal_error(reason: RefuseReason) -> ServiceError {
    match reason {
        RefuseReason::Expired => ServiceError::Expired("the inviter says this code has expired; ask for a new one".into()),
        RefuseReason::Revoked => ServiceError::Revoked,
        RefuseReason::AlreadyUsed => ServiceError::AlreadyUsed,
        RefuseReason::InvalidCode | RefuseReason::UnknownRoom => {
            ServiceError::InvalidCode("the inviter does not recognise this code (it may be forged, or the room was deleted)".into())
        }
        RefuseReason::BadRequest => ServiceError::Refused("the inviter could not process the request".into()),
        RefuseReason::NoShortCode => ServiceError::Refused("that peer has no such short code".into()),
    }
}
