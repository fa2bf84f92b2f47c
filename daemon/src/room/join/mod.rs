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

mod admit;
mod codes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use apero_control::Joined;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use libp2p::{Multiaddr, PeerId};

use super::service::{log_store, Rooms};
use crate::counters::Counters;
use crate::entry::{Body, Entry};
use crate::error::{ServiceError, ServiceResult};
use crate::room::invite::{check_hash, rendezvous_hash, rendezvous_key, Invite, InviteError};
use crate::wire::{PeerAddrs, PeerRequest, PeerResponse, RefuseReason};

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

pub fn now_secs() -> u64 {
    crate::store::now_ms() / 1000
}

/// What came of asking one member to admit us.
type Answer = (PeerId, Result<Result<PeerResponse, crate::node::NodeError>, tokio::time::error::Elapsed>);

impl Rooms {
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
        let request = PeerRequest::Join { code: code.trim().to_string(), name: self.me.name.get() };
        let mut contacts = invite.contacts();
        // Those the signed code names (and `via`, whom the user chose) get the
        // code; anyone the DHT turns up gets a proof bound to them, and its
        // refusals are not taken as final.
        let named: HashSet<PeerId> = contacts.iter().map(|(p, _)| *p).chain(via).collect();
        let check = check_hash(&invite.secret);
        let me = self.me.peer_id;
        let name = self.me.name.get();
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
