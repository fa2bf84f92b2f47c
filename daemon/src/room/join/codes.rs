//! Making invite codes, and the room's record of them: each code is an
//! `invite` entry any member can check, and is announced at its DHT
//! rendezvous while it still works.

use std::collections::HashSet;
use std::sync::Arc;

use apero_control::InviteInfo;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use rand::RngCore;

use super::now_secs;
use crate::entry::Body;
use crate::error::{ServiceError, ServiceResult};
use crate::node::addrs::{is_loopback, is_relayed};
use crate::room::invite::{check_hash, rendezvous_hash, rendezvous_key, Invite, MAX_ADDRS};
use crate::room::service::Rooms;
use crate::store::InviteRow;

/// What a code carries besides the inviter's own addresses: a few members,
/// a couple of addresses each (one direct, one relayed when they have both).
const OWN_ADDRS: usize = 6;
const CODE_MEMBERS: usize = 3;
const ADDRS_PER_MEMBER: usize = 2;

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

/// `a` ending in `/p2p/<peer>`, as a code names another member's address.
fn with_peer(a: &Multiaddr, peer: PeerId) -> Multiaddr {
    match a.iter().last() {
        Some(Protocol::P2p(p)) if p == peer => a.clone(),
        _ => a.clone().with(Protocol::P2p(peer)),
    }
}

/// A member's addresses for a code: a direct one first, then a relayed one.
fn pick_addrs(mut addrs: Vec<Multiaddr>) -> Vec<Multiaddr> {
    addrs.sort_by_key(|a| (is_loopback(a), is_relayed(a)));
    let mut out: Vec<Multiaddr> = addrs.iter().filter(|a| !is_relayed(a)).take(1).cloned().collect();
    out.extend(addrs.iter().filter(|a| is_relayed(a)).take(1).cloned());
    for a in addrs {
        if out.len() >= ADDRS_PER_MEMBER {
            break;
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out.truncate(ADDRS_PER_MEMBER);
    out
}

impl Rooms {
    /// A long invite code (short ones are the short-code service's).
    pub async fn invite_create(self: &Arc<Self>, room: &str, ttl_secs: u64, once: bool) -> ServiceResult<InviteInfo> {
        let room = self.resolve_room(room)?;
        if ttl_secs == 0 {
            return Err(ServiceError::BadRequest("an invite must live at least one second".into()));
        }
        let mut addrs = self.my_addrs().await?;
        addrs.truncate(OWN_ADDRS);
        addrs.extend(self.member_addrs(&room.id).await?);
        addrs.truncate(MAX_ADDRS);
        let mut secret = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut secret);
        let mut room_bytes = [0u8; 16];
        hex::decode_to_slice(&room.id, &mut room_bytes)
            .map_err(|_| ServiceError::Internal(format!("corrupt room id {:?} in the database", room.id)))?;
        let invite =
            Invite { room: room_bytes, inviter: self.me.key.public(), addrs, expires: now_secs().saturating_add(ttl_secs), secret, once };
        // The room hears of the code before anyone can hold it, so that any
        // member, not only us, can admit its holder.
        let body = Body::Invite {
            id: invite.id(),
            check: check_hash(&secret),
            rendezvous: rendezvous_hash(&secret),
            expires: invite.expires,
            once,
        };
        self.publish(&room.id, body).await?;
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
        self.refresh_rendezvous().await;
        Ok(invite_info(&row))
    }

    /// Addresses of a few other members for a code, each ending in its peer
    /// id: those we are connected to first (likely online later too).
    async fn member_addrs(&self, room: &str) -> ServiceResult<Vec<Multiaddr>> {
        let connected: Vec<PeerId> = self.node.info().await?.peers.iter().map(|p| p.peer).collect();
        let mut members: Vec<(bool, PeerId)> = Vec::new();
        for m in self.store.members(room)? {
            let Ok(peer) = m.peer_id.parse::<PeerId>() else { continue };
            if peer != self.me.peer_id {
                members.push((!connected.contains(&peer), peer));
            }
        }
        members.sort_by_key(|(offline, _)| *offline);
        let mut out = Vec::new();
        for (_, peer) in members {
            let addrs = pick_addrs(self.store.known_addrs(&peer.to_string()));
            if addrs.is_empty() {
                continue;
            }
            out.extend(addrs.iter().map(|a| with_peer(a, peer)));
            if out.len() >= CODE_MEMBERS * ADDRS_PER_MEMBER {
                break;
            }
        }
        Ok(out)
    }

    pub fn invite_list(&self, room: &str) -> ServiceResult<Vec<InviteInfo>> {
        let room = self.resolve_room(room)?;
        Ok(self.store.invites(&room.id)?.iter().map(invite_info).collect())
    }

    /// Revokes one of our codes, for the whole room: every member refuses
    /// it from then on (members offline now learn it by anti-entropy).
    pub async fn invite_revoke(self: &Arc<Self>, code_or_id: &str) -> ServiceResult<()> {
        let id = match Invite::decode(code_or_id) {
            Ok(inv) => inv.id(),
            Err(_) => code_or_id.trim().to_string(),
        };
        let Some(row) = self.store.invite(&id)? else {
            return Err(ServiceError::NotFound(format!(
                "no invite of yours has the id or code {id:?}; `apero invite list ROOM` shows them"
            )));
        };
        self.store.revoke_invite(&id)?;
        if self.store.room(&row.room)?.is_some_and(|r| !r.left) {
            self.publish(&row.room, Body::Revoke { invite: id }).await?;
        }
        self.refresh_rendezvous().await;
        Ok(())
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
        addrs.sort_by_key(|a| (is_loopback(a), is_relayed(a)));
        Ok(addrs)
    }

    /// Codes made by a version that kept them to itself get their `invite`
    /// entry now, so that the room, not only we, can admit their holders.
    pub async fn share_old_invites(self: &Arc<Self>) {
        let rows = match self.store.unshared_invites(now_secs()) {
            Ok(r) => r,
            Err(e) => return tracing::warn!("cannot list our invites: {e}"),
        };
        for row in rows {
            let Ok(invite) = Invite::decode(&row.code) else { continue };
            let body = Body::Invite {
                id: row.id.clone(),
                check: check_hash(&invite.secret),
                rendezvous: rendezvous_hash(&invite.secret),
                expires: invite.expires,
                once: invite.once,
            };
            match self.publish(&row.room, body).await {
                Ok(_) => tracing::info!(id = %row.id, "shared an older invite code with its room"),
                Err(e) => tracing::warn!("could not share invite {}: {e}", row.id),
            }
        }
    }

    /// Announces us in the DHT at the rendezvous of every code that still
    /// works in our rooms, and withdraws the others: a code's holder finds
    /// whoever is online even when the addresses in the code are stale.
    pub async fn refresh_rendezvous(&self) {
        // Held from reading the codes until the commands are queued to the
        // node, which carries them out in order: a later refresh (after a
        // revoke) can neither read before nor announce before this one.
        let mut provided = self.rendezvous.lock().await;
        let live = match self.store.live_rendezvous(&self.me.peer_id.to_string(), now_secs()) {
            Ok(l) => l,
            Err(e) => return tracing::warn!("cannot list live invites: {e}"),
        };
        let live: HashSet<Vec<u8>> = live.iter().filter_map(|h| rendezvous_key(h)).collect();
        let add: Vec<Vec<u8>> = live.difference(&provided).cloned().collect();
        let remove: Vec<Vec<u8>> = provided.difference(&live).cloned().collect();
        *provided = live;
        if !add.is_empty() {
            tracing::info!("announcing {} invite code(s) at their DHT rendezvous", add.len());
        }
        for key in add {
            self.node.provide(key).await;
        }
        for key in remove {
            self.node.unprovide(key).await;
        }
    }
}
