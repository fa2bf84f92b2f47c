//! Short invite codes that can be read over the phone: `7-guitar-orbit`.
//!
//! The number only locates the inviter: it is announced as a DHT provider
//! record under a key derived from the number and a ten-minute time bucket,
//! and on a LAN the peers that mDNS found are asked directly. The words are
//! the password of a SPAKE2 exchange between joiner and inviter; the key it
//! gives seals the long invite code, which the joiner then uses as usual.
//!
//! A short code answers exactly one exchange. A wrong guess therefore burns
//! it (the inviter never tells a right guess from a wrong one, so a guesser
//! learns nothing but "wrong", once), and a right one uses it up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use futures::stream::{FuturesUnordered, StreamExt};
use libp2p::PeerId;
use rand::Rng;
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use tokio::time::Instant;

use super::join::now_secs;
use super::service::Rooms;
use super::words::{index_of, WORDS};
use crate::counters::Counters;
use crate::error::{ServiceError, ServiceResult};
use crate::lock::lock;
use crate::node::Node;
use crate::wire::{PeerRequest, PeerResponse, RefuseReason};
use apero_control::{InviteInfo, Joined};

/// Numbers 1..=MAX_NUMBER: at most three digits, easy to say.
const MAX_NUMBER: u16 = 999;
const BUCKET_SECS: u64 = 600;
/// Short codes are for "now, on the phone"; long ones are for later.
pub const MAX_TTL_SECS: u64 = 30 * 60;
/// How long one inviter gets to answer before the next candidate is asked.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);
/// Lookups are repeated while the joiner waits: the inviter may not yet have
/// a relay reservation, so its record may carry no address at first.
const LOOKUP_EVERY: Duration = Duration::from_secs(1);
/// How long making a short code waits for the DHT to store its announce.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(5);
/// A lookup answers at the first provider found; on the public DHT that
/// can take a while.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(15);
/// A short code that nobody announces was most likely mistyped: the joiner
/// hears so this soon, not after the join's whole timeout (the window waits
/// a minute), and within the 15 s a person will wait for an answer. Public
/// DHT lookups take 1-5 s; the inviter is announced before its code is
/// shown.
const NOBODY_ANNOUNCES_AFTER: Duration = Duration::from_secs(12);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortCode {
    pub number: u16,
    pub words: [u8; 2],
}

impl std::fmt::Display for ShortCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.number, WORDS[self.words[0] as usize], WORDS[self.words[1] as usize])
    }
}

impl ShortCode {
    /// `7-guitar-orbit`, also with spaces instead of dashes and any case.
    pub fn parse(s: &str) -> Option<ShortCode> {
        let parts: Vec<&str> = s.trim().split(['-', ' ']).filter(|p| !p.is_empty()).collect();
        let [n, a, b] = parts.as_slice() else { return None };
        let number: u16 = n.parse().ok()?;
        if number == 0 || number > MAX_NUMBER {
            return None;
        }
        Some(ShortCode { number, words: [index_of(a)?, index_of(b)?] })
    }

    fn random(number: u16) -> ShortCode {
        let mut rng = rand::thread_rng();
        ShortCode { number, words: [rng.gen(), rng.gen()] }
    }

    fn pake(&self) -> (Spake2<Ed25519Group>, Vec<u8>) {
        let password = format!("{}-{}", WORDS[self.words[0] as usize], WORDS[self.words[1] as usize]);
        let identity = format!("apero short invite v1 / {}", self.number);
        Spake2::<Ed25519Group>::start_symmetric(&Password::new(password.as_bytes()), &Identity::new(identity.as_bytes()))
    }
}

/// Whether a code given to `join` is a short one.
pub fn looks_short(code: &str) -> bool {
    let t = code.trim();
    t.len() < 40 && t.chars().next().is_some_and(|c| c.is_ascii_digit()) && ShortCode::parse(t).is_some()
}

/// The DHT key for a number in a time bucket: a SHA-256 multihash, since
/// the other DHT implementations read keys as CIDs and refuse raw bytes.
pub fn dht_key(number: u16, bucket: u64) -> Vec<u8> {
    let digest = Sha256::digest(format!("apero/short-invite/v1/{number}/{bucket}").as_bytes());
    let mut key = vec![0x12, 0x20];
    key.extend_from_slice(&digest);
    key
}

fn bucket(secs: u64) -> u64 {
    secs / BUCKET_SECS
}

fn cipher(key: &[u8]) -> ChaCha20Poly1305 {
    // SPAKE2 gives 32 bytes (SHA-256); hash anyway so any length works.
    ChaCha20Poly1305::new(Key::from_slice(&Sha256::digest(key)))
}

/// Each key seals exactly one message, so a fixed nonce is safe.
const NONCE: [u8; 12] = *b"apero-short\0";

#[derive(Debug)]
struct Live {
    code: ShortCode,
    room: String,
    expires: u64,
    /// Answered once (right or wrong guess): refused from now on.
    spent: bool,
}

/// The short-code service: the codes this daemon handed out, by number,
/// and both sides of the exchange. In memory only: codes live minutes, and
/// a restart simply ends them. It makes and uses long codes through the
/// room service.
pub struct ShortCodes {
    rooms: Arc<Rooms>,
    node: Node,
    counters: Arc<Counters>,
    live: Mutex<HashMap<u16, Live>>,
}

fn forget_expired(map: &mut HashMap<u16, Live>, now: u64) {
    map.retain(|_, l| now <= l.expires);
}

impl ShortCodes {
    pub fn new(rooms: Arc<Rooms>, node: Node, counters: Arc<Counters>) -> Arc<ShortCodes> {
        Arc::new(ShortCodes { rooms, node, counters, live: Mutex::default() })
    }

    /// Inviter: a new short code for `room`.
    pub async fn create(&self, room: &str, ttl_secs: u64) -> ServiceResult<InviteInfo> {
        let room = self.rooms.resolve_room(room)?;
        if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
            return Err(ServiceError::BadRequest(format!(
                "a short code lives between 1 second and {} minutes; use a long code for longer",
                MAX_TTL_SECS / 60
            )));
        }
        let now = now_secs();
        let expires = now + ttl_secs;
        let mut taken: Vec<u16> = {
            let mut live = lock(&self.live);
            forget_expired(&mut live, now);
            live.keys().copied().collect()
        };
        // Avoid numbers somebody else announces right now: a joiner would
        // ask them too, and burn their code with our words.
        let mut number = None;
        for _ in 0..4 {
            let n = pick_number(&taken)
                .ok_or_else(|| ServiceError::BadRequest("too many short codes are live; wait for some to expire".into()))?;
            let busy = tokio::time::timeout(Duration::from_secs(3), self.node.providers(dht_key(n, bucket(now))))
                .await
                .ok()
                .and_then(Result::ok)
                .is_some_and(|p| !p.is_empty());
            if !busy {
                number = Some(n);
                break;
            }
            taken.push(n);
        }
        let number = number.ok_or_else(|| ServiceError::Unreachable("could not find a free short number; try again".into()))?;
        let code = ShortCode::random(number);
        lock(&self.live).insert(number, Live { code, room: room.id.clone(), expires, spent: false });
        // The code is given out only once the DHT can answer for it (or
        // after a few seconds, on a DHT that is slow or absent: LAN peers
        // found by mDNS are asked directly), so the friend's first lookup
        // finds us.
        let stores = (bucket(now)..=bucket(expires)).map(|b| self.node.provide_stored(dht_key(number, b), ANNOUNCE_WAIT));
        let stored = futures::future::join_all(stores).await;
        tracing::debug!(?stored, "short code announced");
        let node = self.node.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(ttl_secs + 1)).await;
            for b in bucket(now)..=bucket(expires) {
                node.unprovide(dht_key(number, b)).await;
            }
        });
        tracing::info!(number, room = %room.id, "short invite code created");
        Ok(InviteInfo {
            id: format!("short-{number}"),
            code: code.to_string(),
            room: room.id,
            expires,
            once: true,
            uses: 0,
            revoked: false,
        })
    }

    /// Inviter: one PAKE exchange for a number. Spends the code whatever
    /// the outcome.
    pub async fn handle_short_join(&self, peer: PeerId, number: u16, pake: &str) -> ServiceResult<PeerResponse> {
        let now = now_secs();
        let (code, room, expires) = {
            let mut live = lock(&self.live);
            forget_expired(&mut live, now);
            let Some(l) = live.get_mut(&number) else {
                return Ok(PeerResponse::Refused { reason: RefuseReason::NoShortCode });
            };
            if l.spent {
                Counters::bump(&self.counters.refused_joins, 1);
                return Ok(PeerResponse::Refused { reason: RefuseReason::AlreadyUsed });
            }
            l.spent = true;
            (l.code, l.room.clone(), l.expires)
        };
        tracing::info!(%peer, number, "short code presented; it is now spent");
        let Ok(their) = hex::decode(pake) else { return Ok(PeerResponse::Refused { reason: RefuseReason::InvalidCode }) };
        let (state, ours) = code.pake();
        let Ok(key) = state.finish(&their) else { return Ok(PeerResponse::Refused { reason: RefuseReason::InvalidCode }) };
        // The long code behind it: single use, and no longer-lived than the short one.
        let long = self.rooms.invite_create(&room, expires.saturating_sub(now).max(60), true).await?;
        let sealed = cipher(&key)
            .encrypt(Nonce::from_slice(&NONCE), long.code.as_bytes())
            .map_err(|_| ServiceError::Internal("sealing the long invite code failed".into()))?;
        Ok(PeerResponse::ShortOffer { pake: hex::encode(ours), sealed: hex::encode(sealed) })
    }

    /// Joiner: finds the inviter, proves the words, and joins with the long
    /// code it receives. When nobody announces the number, the person most
    /// likely mistyped the code: that is said after [`NOBODY_ANNOUNCES_AFTER`]
    /// rather than at the end of `timeout`, which is kept for an inviter who
    /// was found but is slow to reach.
    pub async fn join(&self, text: &str, timeout: Duration) -> ServiceResult<Joined> {
        let code =
            ShortCode::parse(text).ok_or_else(|| ServiceError::InvalidCode("this short code is not of the form 7-guitar-orbit".into()))?;
        let start = Instant::now();
        let deadline = start + timeout;
        let nobody_by = start + timeout.min(NOBODY_ANNOUNCES_AFTER);
        let mut asked: Vec<PeerId> = Vec::new();
        // Announcers the DHT named that have not said "not me": while there
        // is one, the search lasts until `deadline`.
        let mut unanswered: Vec<PeerId> = Vec::new();
        let mut next_lookup = Instant::now();
        // Without a lead, nothing may wait past the time to say so.
        let limit = |unanswered: &[PeerId]| if unanswered.is_empty() { nobody_by } else { deadline };
        loop {
            // Peers we are connected to first (mDNS finds LAN peers and dials
            // them); then whoever the DHT says announces the number.
            let mut candidates: Vec<PeerId> = self.node.info().await?.peers.iter().map(|p| p.peer).collect();
            if Instant::now() >= next_lookup {
                let until = limit(&unanswered).min(Instant::now() + LOOKUP_TIMEOUT);
                for peer in self.announcers(code.number, until).await {
                    if !asked.contains(&peer) && !unanswered.contains(&peer) {
                        unanswered.push(peer);
                    }
                    candidates.push(peer);
                }
                next_lookup = Instant::now() + LOOKUP_EVERY;
            }
            let mut tried: Vec<PeerId> = Vec::new();
            for peer in candidates {
                if peer == self.rooms.peer_id() || asked.contains(&peer) || tried.contains(&peer) {
                    continue;
                }
                tried.push(peer);
                match self.ask_short(peer, code, limit(&unanswered)).await? {
                    Asked::Code(long) => return self.rooms.join(&long, deadline.saturating_duration_since(Instant::now()), None).await,
                    Asked::NotThem => {
                        asked.push(peer);
                        unanswered.retain(|p| *p != peer);
                    }
                    // Not reachable (yet): try again on the next round.
                    Asked::NoAnswer => {}
                }
            }
            let now = Instant::now();
            if unanswered.is_empty() && now >= nobody_by {
                return Err(ServiceError::NoSuchCode(format!(
                    "no room was found for {code}: check the number and the two words with your friend. A short code \
                     works for a few minutes only, while their apero is running"
                )));
            }
            if now >= deadline {
                return Err(ServiceError::Unreachable(format!(
                    "the person who made short code {} was found but could not be reached within {} s. They may have \
                     just gone offline; try again in a moment",
                    code.number,
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep_until((now + Duration::from_millis(500)).min(limit(&unanswered))).await;
        }
    }

    /// Who the DHT says announces `number`, in our time bucket or a
    /// neighbouring one (the inviter's clock may be a little off from ours):
    /// the first bucket that names someone, or nobody by `until`.
    async fn announcers(&self, number: u16, until: Instant) -> Vec<PeerId> {
        let current = bucket(now_secs());
        let mut lookups: FuturesUnordered<_> =
            [current, current.saturating_sub(1), current + 1].into_iter().map(|b| self.node.providers(dht_key(number, b))).collect();
        while let Ok(Some(found)) = tokio::time::timeout_at(until, lookups.next()).await {
            match found {
                Ok(peers) if !peers.is_empty() => return peers,
                Ok(_) => {}
                Err(e) => tracing::debug!("short code lookup: {e}"),
            }
        }
        Vec::new()
    }

    /// Asks one peer for the code, waiting until `limit` at most.
    async fn ask_short(&self, peer: PeerId, code: ShortCode, limit: Instant) -> ServiceResult<Asked> {
        let (state, ours) = code.pake();
        let request = PeerRequest::ShortJoin { number: code.number, pake: hex::encode(ours) };
        let until = limit.min(Instant::now() + ASK_TIMEOUT);
        let resp = match tokio::time::timeout_at(until, self.node.request(peer, vec![], request)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "no answer about a short code: {e}");
                return Ok(Asked::NoAnswer);
            }
            Err(_) => return Ok(Asked::NoAnswer),
        };
        match resp {
            PeerResponse::ShortOffer { pake, sealed } => {
                let wrong = || {
                    ServiceError::InvalidCode(format!(
                        "the words do not match short code {}; the code is now burned (ask your friend for a new one)",
                        code.number
                    ))
                };
                let their = hex::decode(pake).map_err(|_| wrong())?;
                let key = state.finish(&their).map_err(|_| wrong())?;
                let sealed = hex::decode(sealed).map_err(|_| wrong())?;
                let long = cipher(&key).decrypt(Nonce::from_slice(&NONCE), sealed.as_slice()).map_err(|_| wrong())?;
                let long = String::from_utf8(long).map_err(|_| wrong())?;
                tracing::info!(%peer, "short code accepted, joining with the long code");
                Ok(Asked::Code(long))
            }
            PeerResponse::Refused { reason: RefuseReason::AlreadyUsed } => Err(ServiceError::InvalidCode(format!(
                "short code {} was already used, or burned by a wrong guess; ask your friend for a new one",
                code.number
            ))),
            // No such code there, or not an apero that knows short codes.
            _ => Ok(Asked::NotThem),
        }
    }
}

enum Asked {
    /// The long invite code, unsealed.
    Code(String),
    /// That peer has no live code with our number.
    NotThem,
    /// Unreachable or silent for now.
    NoAnswer,
}

fn pick_number(taken: &[u16]) -> Option<u16> {
    let free: Vec<u16> = (1..=MAX_NUMBER).filter(|n| !taken.contains(n)).collect();
    if free.is_empty() {
        return None;
    }
    Some(free[rand::thread_rng().gen_range(0..free.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_forgive_spelling() {
        let c = ShortCode { number: 7, words: [3, 200] };
        let s = c.to_string();
        assert_eq!(ShortCode::parse(&s), Some(c));
        assert_eq!(ShortCode::parse(&s.to_uppercase().replace('-', " ")), Some(c));
        assert!(looks_short(&s));
        for bad in
            ["", "7", "7-guitar", "0-guitar-orbit", "1000-guitar-orbit", "7-guitar-notaword", "x-guitar-orbit", "7-guitar-orbit-extra"]
        {
            assert_eq!(ShortCode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn pake_agrees_only_on_the_same_words() {
        let c = ShortCode { number: 7, words: [1, 2] };
        let (a, ma) = c.pake();
        let (b, mb) = c.pake();
        assert_eq!(a.finish(&mb).unwrap(), b.finish(&ma).unwrap());
        let wrong = ShortCode { number: 7, words: [1, 3] };
        let (a, ma) = c.pake();
        let (b, mb) = wrong.pake();
        assert_ne!(a.finish(&mb).unwrap(), b.finish(&ma).unwrap());
    }

    #[test]
    fn sealed_invite_opens_only_with_the_right_key() {
        let sealed = cipher(b"k1").encrypt(Nonce::from_slice(&NONCE), b"long code".as_slice()).unwrap();
        assert_eq!(cipher(b"k1").decrypt(Nonce::from_slice(&NONCE), sealed.as_slice()).unwrap(), b"long code");
        assert!(cipher(b"k2").decrypt(Nonce::from_slice(&NONCE), sealed.as_slice()).is_err());
    }

    #[test]
    fn dht_keys_are_sha256_multihashes_that_change_with_the_bucket() {
        let k = dht_key(7, 100);
        assert_eq!((k.len(), k[0], k[1]), (34, 0x12, 0x20));
        assert_ne!(k, dht_key(7, 101));
        assert_ne!(k, dht_key(8, 100));
    }
}
