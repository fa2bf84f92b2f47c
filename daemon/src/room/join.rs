//! Invites and joining, on both sides.
//!
//! Making a code publishes an `invite` entry, so every member can check a
//! presented code (its signature, the inviter's entry, expiry, revocation)
//! and admit its holder: the inviter need not be online. A single-use code
//! admits one person even when two members are asked at the same moment:
//! before admitting, a member holds the code for its joiner and asks every
//! member it is connected to whom they hold it for; the smallest joiner id
//! seen wins, everywhere, and the winner's hold is settled before its
//! admission is published (docs/invites.md walks through the cases).
//!
//! The joiner verifies the code locally first (a forged or expired code never
//! touches the network), asks the inviter, then the other members the code
//! names and those the DHT finds at the code's rendezvous key, and stores
//! nothing of the room until a member's welcome has arrived.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use apero_control::{InviteInfo, Joined};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use rand::RngCore;

use super::service::{lock, log_store, Rooms};
use crate::counters::Counters;
use crate::entry::{Body, Entry, INVITE_ID_CHARS, MAX_NAME_CHARS};
use crate::error::{ServiceError, ServiceResult};
use crate::node::addrs::{is_loopback, is_relayed};
use crate::room::invite::{check_hash, rendezvous_hash, rendezvous_key, Invite, InviteError, MAX_ADDRS};
use crate::store::{InviteRow, RoomInvite};
use crate::wire::{PeerAddrs, PeerRequest, PeerResponse, RefuseReason};

/// A hold on a single-use code whose admission never came (its member died
/// mid-way) lapses after this, so the code is not lost.
const CLAIM_STALE_MS: u64 = 60_000;
/// How long the other members get to say whom they hold a code for.
const CLAIM_WAIT: Duration = Duration::from_secs(3);
/// The joiner asks the inviter (or `--via`) alone this long before also
/// asking the code's other members and the DHT.
const OTHERS_AFTER: Duration = Duration::from_millis(1500);
const LOOKUP_EVERY: Duration = Duration::from_secs(2);
/// A member we could not reach is asked again this long after: a relay
/// that has just come back takes a few seconds to carry its members again
/// (seen in the chaos test: every dial failed once, and the join gave up
/// at its deadline without asking anyone twice).
const RETRY_AFTER: Duration = Duration::from_secs(3);
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// What a code carries besides the inviter's own addresses: a few members,
/// a couple of addresses each (one direct, one relayed when they have both).
const OWN_ADDRS: usize = 6;
const CODE_MEMBERS: usize = 3;
const ADDRS_PER_MEMBER: usize = 2;

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

/// What came of asking one member to admit us.
type Answer = (PeerId, Result<Result<PeerResponse, crate::node::NodeError>, tokio::time::error::Elapsed>);

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
        let live = match self.store.live_rendezvous(&self.me.peer_id.to_string(), now_secs()) {
            Ok(l) => l,
            Err(e) => return tracing::warn!("cannot list live invites: {e}"),
        };
        let live: HashSet<Vec<u8>> = live.iter().filter_map(|h| rendezvous_key(h)).collect();
        let (add, remove) = {
            let mut provided = lock(&self.rendezvous);
            let add: Vec<Vec<u8>> = live.difference(&provided).cloned().collect();
            let remove: Vec<Vec<u8>> = provided.difference(&live).cloned().collect();
            *provided = live;
            (add, remove)
        };
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

    /// Joiner side, with a long code (short codes are turned into one by
    /// the short-code service first).
    pub async fn join(self: &Arc<Self>, code: &str, timeout: Duration, via: Option<PeerId>) -> ServiceResult<Joined> {
        let invite = Invite::decode(code).map_err(|e| match e {
            InviteError::Malformed => ServiceError::InvalidCode(e.to_string()),
            InviteError::BadSignature => ServiceError::InvalidCode(e.to_string()),
        })?;
        if now_secs() > invite.expires {
            return Err(ServiceError::Expired("this invite code has expired; ask for a new one".into()));
        }
        if invite.inviter_peer() == self.me.peer_id {
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
        let (welcomer, name, entries, peers) = self.admission(&invite, code, deadline, via).await?;
        let result = self.store.ingest(&room, entries, known.is_none())?;
        self.count_rejects(&result);
        if !self.store.is_member(&room, &self.me.peer_id.to_string())? {
            // A room we were in before keeps its history.
            if known.is_none() {
                self.store.forget_room(&room)?;
            }
            return Err(ServiceError::Refused("the member's welcome did not admit us; nothing was kept".into()));
        }
        self.store.set_room_left(&room, false)?;
        self.remember_peers(&peers).await;
        // Fetch the history before answering, so `join` returning means the
        // room is complete here.
        let _ = tokio::time::timeout_at(deadline, self.sync_room(welcomer, &room)).await;
        self.refresh_rendezvous().await;
        Ok(Joined { room, name })
    }

    /// Asks the inviter (or `via`) to admit us, then also the code's other
    /// members and those the DHT finds at its rendezvous, and takes the first
    /// welcome. A refusal that settles the matter (expired, revoked, used)
    /// ends the search; "I do not know this code" only moves on.
    async fn admission(
        &self,
        invite: &Invite,
        code: &str,
        deadline: tokio::time::Instant,
        via: Option<PeerId>,
    ) -> ServiceResult<(PeerId, String, Vec<Entry>, Vec<PeerAddrs>)> {
        let room = invite.room_id();
        let inviter = invite.inviter_peer();
        let request = PeerRequest::Join { code: code.trim().to_string(), name: self.me.name.clone() };
        let mut contacts = invite.contacts();
        // Those the signed code names (and `via`, whom the user chose) get the
        // code; anyone the DHT turns up gets a proof bound to them, and its
        // refusals are not taken as final.
        let named: HashSet<PeerId> = contacts.iter().map(|(p, _)| *p).chain(via).collect();
        let check = check_hash(&invite.secret);
        let me = self.me.peer_id;
        let name = self.me.name.clone();
        contacts.retain(|(p, _)| *p != self.me.peer_id);
        if let Some(v) = via {
            let addrs = contacts.iter().position(|(p, _)| *p == v).map(|i| contacts.remove(i).1).unwrap_or_default();
            contacts.insert(0, (v, addrs));
        }
        let ask = |peer: PeerId, addrs: Vec<Multiaddr>| {
            let node = self.node.clone();
            let request = if named.contains(&peer) {
                request.clone()
            } else {
                PeerRequest::JoinProof {
                    room: room.clone(),
                    invite: invite.id(),
                    proof: join_proof(&check, &me, &peer),
                    name: name.clone(),
                }
            };
            async move { (peer, tokio::time::timeout_at(deadline, node.request(peer, addrs, request)).await) }.boxed()
        };
        let mut asked: HashSet<PeerId> = HashSet::new();
        let addrs_of: HashMap<PeerId, Vec<Multiaddr>> = contacts.iter().cloned().collect();
        let mut retries: Vec<(tokio::time::Instant, PeerId)> = Vec::new();
        let mut pending: FuturesUnordered<futures::future::BoxFuture<'static, Answer>> = FuturesUnordered::new();
        let mut contacts = contacts.into_iter();
        if let Some((peer, addrs)) = contacts.next() {
            asked.insert(peer);
            pending.push(ask(peer, addrs));
        }
        let rendezvous = rendezvous_key(&rendezvous_hash(&invite.secret));
        let others_at = tokio::time::Instant::now() + OTHERS_AFTER;
        let mut others_started = false;
        let mut next_lookup = others_at;
        let mut lookup: Option<futures::future::BoxFuture<'static, Vec<PeerId>>> = None;
        let mut soft: Option<RefuseReason> = None;
        let mut failures: Vec<String> = Vec::new();
        loop {
            // Nobody left to wait for: ask the others now rather than later.
            if !others_started && (pending.is_empty() || tokio::time::Instant::now() >= others_at) {
                others_started = true;
                for (peer, addrs) in contacts.by_ref() {
                    if asked.insert(peer) {
                        pending.push(ask(peer, addrs));
                    }
                }
                next_lookup = next_lookup.min(tokio::time::Instant::now());
            }
            let next_retry = retries.iter().map(|(t, _)| *t).min().unwrap_or(deadline);
            tokio::select! {
                Some((peer, answer)) = pending.next() => match answer {
                    Ok(Ok(PeerResponse::Welcome { room: r, name, entries, peers })) if r == room => {
                        // Only the room holds the inviter's signed entry for
                        // this code: a stranger's "welcome" to a room of its
                        // own making is dropped, and the search goes on.
                        if !welcome_is_genuine(invite, &entries) {
                            tracing::warn!(%peer, "a welcome without the inviter's entry for the code: ignored");
                            Counters::bump(&self.counters.bad_frames, 1);
                            soft = Some(soft.unwrap_or(RefuseReason::BadRequest));
                            continue;
                        }
                        tracing::info!(%peer, "admitted to a room");
                        return Ok((peer, name, entries, peers));
                    }
                    Ok(Ok(PeerResponse::Refused { reason })) if !named.contains(&peer) => {
                        tracing::debug!(%peer, ?reason, "a member found in the DHT refused");
                        soft = Some(soft.unwrap_or(RefuseReason::UnknownInvite).max_info(reason));
                    }
                    Ok(Ok(PeerResponse::Refused { reason })) => match reason {
                        // Only the inviter's word on the code itself is final.
                        RefuseReason::InvalidCode if peer == inviter => return Err(refusal_error(reason)),
                        RefuseReason::InvalidCode | RefuseReason::UnknownInvite | RefuseReason::UnknownRoom
                        | RefuseReason::BadRequest | RefuseReason::NoShortCode => soft = Some(soft.unwrap_or(reason).max_info(reason)),
                        RefuseReason::Expired | RefuseReason::Revoked | RefuseReason::AlreadyUsed => return Err(refusal_error(reason)),
                    },
                    Ok(Ok(_)) => soft = Some(soft.unwrap_or(RefuseReason::BadRequest)),
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "no answer to our join: {e}");
                        failures.push(e.to_string());
                        let again = tokio::time::Instant::now() + RETRY_AFTER;
                        if again < deadline {
                            retries.push((again, peer));
                        }
                    }
                    Err(_) => failures.push("no answer".into()),
                },
                found = async {
                    match lookup.as_mut() {
                        Some(l) => l.await,
                        None => std::future::pending().await,
                    }
                }, if lookup.is_some() => {
                    lookup = None;
                    next_lookup = tokio::time::Instant::now() + LOOKUP_EVERY;
                    for peer in found {
                        if peer != self.me.peer_id && asked.insert(peer) {
                            tracing::debug!(%peer, "the DHT found a member for our code");
                            pending.push(ask(peer, Vec::new()));
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_lookup), if others_started && lookup.is_none() && rendezvous.is_some() => {
                    let node = self.node.clone();
                    let key = rendezvous.clone().unwrap_or_default();
                    let until = deadline.min(tokio::time::Instant::now() + LOOKUP_TIMEOUT);
                    lookup = Some(async move {
                        tokio::time::timeout_at(until, node.providers(key)).await.ok().and_then(Result::ok).unwrap_or_default()
                    }.boxed());
                }
                _ = tokio::time::sleep_until(next_retry), if !retries.is_empty() => {
                    let now = tokio::time::Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) = retries.drain(..).partition(|(t, _)| *t <= now);
                    retries = later;
                    for (_, peer) in due {
                        tracing::debug!(%peer, "asking again");
                        pending.push(ask(peer, addrs_of.get(&peer).cloned().unwrap_or_default()));
                    }
                }
                _ = tokio::time::sleep_until(others_at), if !others_started => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        Err(match soft {
            Some(RefuseReason::UnknownInvite) => ServiceError::Refused(
                "the members who answered do not know this code yet: the person who made it has to be online once \
                 after making it so the room hears of it. Try again later"
                    .into(),
            ),
            Some(reason) => refusal_error(reason),
            None => ServiceError::Unreachable(format!(
                "could not reach the person who made this code (peer {inviter}) or any other member of the room: {}. \
                 They may be offline; try again when one of them is running apero",
                failures.last().map(String::as_str).unwrap_or("no answer")
            )),
        })
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

/// What a holder shows a member it found in the DHT: a MAC of both peer ids
/// under the code's check hash. Only members (who keep the check hash) can
/// verify it, and it is good for that one member only, so a stranger who
/// announced itself at the rendezvous learns nothing it could use.
pub fn join_proof(check_hex: &str, joiner: &PeerId, member: &PeerId) -> String {
    let mut key = [0u8; 32];
    if hex::decode_to_slice(check_hex, &mut key).is_err() {
        return String::new();
    }
    let mut h = blake3::Hasher::new_keyed(&key);
    h.update(b"apero/join-proof/v1\0");
    h.update(&joiner.to_bytes());
    h.update(b"\0");
    h.update(&member.to_bytes());
    h.finalize().to_hex().to_string()
}

/// Whether a welcome carries the inviter's own signed `invite` entry for
/// this code: only the room has it.
fn welcome_is_genuine(invite: &Invite, entries: &[Entry]) -> bool {
    let (id, check, inviter) = (invite.id(), check_hash(&invite.secret), invite.inviter_peer());
    entries.iter().any(|e| {
        matches!(&e.body, Body::Invite { id: i, check: c, .. } if *i == id && *c == check)
            && e.clone().verify().is_ok_and(|v| v.author == inviter && v.entry.room == invite.room_id())
    })
}

impl RefuseReason {
    /// Of two "ask someone else" refusals, the one that says more.
    fn max_info(self, other: RefuseReason) -> RefuseReason {
        let rank = |r: RefuseReason| match r {
            RefuseReason::UnknownInvite => 3,
            RefuseReason::InvalidCode => 2,
            RefuseReason::UnknownRoom => 1,
            _ => 0,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

fn refusal_error(reason: RefuseReason) -> ServiceError {
    match reason {
        RefuseReason::Expired => ServiceError::Expired("the room says this code has expired; ask for a new one".into()),
        RefuseReason::Revoked => ServiceError::Revoked,
        RefuseReason::AlreadyUsed => ServiceError::AlreadyUsed,
        RefuseReason::InvalidCode | RefuseReason::UnknownRoom => {
            ServiceError::InvalidCode("the room does not recognise this code (it may be forged, or the room was deleted)".into())
        }
        RefuseReason::UnknownInvite => ServiceError::Refused("the members who answered do not know this code yet; try again later".into()),
        RefuseReason::BadRequest => ServiceError::Refused("the member asked could not process the request".into()),
        RefuseReason::NoShortCode => ServiceError::Refused("that peer has no such short code".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::Keypair;

    fn code_and_entry(inviter: &Keypair, signer: &Keypair) -> (Invite, Entry) {
        let invite = Invite { room: [3; 16], inviter: inviter.public(), addrs: vec![], expires: u64::MAX, secret: [5; 16], once: false };
        let body = Body::Invite {
            id: invite.id(),
            check: check_hash(&invite.secret),
            rendezvous: rendezvous_hash(&invite.secret),
            expires: invite.expires,
            once: false,
        };
        (invite.clone(), Entry::sign(signer, &invite.room_id(), 2, 0, body).entry)
    }

    #[test]
    fn only_a_welcome_with_the_inviters_own_entry_is_believed() {
        let inviter = Keypair::generate_ed25519();
        let (invite, genuine) = code_and_entry(&inviter, &inviter);
        assert!(welcome_is_genuine(&invite, std::slice::from_ref(&genuine)));
        // A stranger cannot sign as the inviter, nor make the entry without the secret.
        let (_, forged) = code_and_entry(&inviter, &Keypair::generate_ed25519());
        assert!(!welcome_is_genuine(&invite, &[forged]));
        assert!(!welcome_is_genuine(&invite, &[]));
        let mut other_check = genuine;
        other_check.body = Body::Invite { id: invite.id(), check: "00".repeat(32), rendezvous: "00".repeat(32), expires: 1, once: false };
        assert!(!welcome_is_genuine(&invite, &[other_check]));
    }

    #[test]
    fn a_join_proof_is_good_for_one_member_only() {
        let check = check_hash(&[5; 16]);
        let (joiner, bob, mallory) = (PeerId::random(), PeerId::random(), PeerId::random());
        let for_bob = join_proof(&check, &joiner, &bob);
        assert_eq!(for_bob.len(), 64);
        assert_eq!(for_bob, join_proof(&check, &joiner, &bob));
        assert_ne!(for_bob, join_proof(&check, &joiner, &mallory), "bound to the member asked");
        assert_ne!(for_bob, join_proof(&check, &mallory, &bob), "bound to the joiner");
        assert_ne!(for_bob, join_proof(&check_hash(&[6; 16]), &joiner, &bob), "bound to the code");
        assert!(join_proof("not hex", &joiner, &bob).is_empty());
    }
}
