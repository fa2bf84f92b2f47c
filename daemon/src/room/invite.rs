//! Long invite codes: one base58 token that carries everything a stranger
//! needs to reach the inviter and prove it was invited.
//!
//! Layout before base58 (all integers big-endian):
//! `version(1) room(16) keylen(1) inviter_key expires(8) secret(16) once(1)
//!  naddrs(1) [addrlen(2) addr]* siglen(1) sig`, where the signature by the
//! inviter covers every byte before `siglen`. The room's name, members and
//! history are deliberately absent: a code that leaks proves nothing until the
//! inviter checks its secret.
//!
//! The addresses are the inviter's, then (each ending in `/p2p/<peer id>`) a
//! few other members', so that the code still leads somewhere while the
//! inviter is away. The room learns of the code through an `invite` entry that
//! carries two one-way hashes of the secret: [`check_hash`], with which any
//! member recognises the code, and [`rendezvous_hash`], the DHT key under which
//! members announce themselves to its holders. Neither lets anyone make a code,
//! and the DHT key says nothing about the room to those without the code.

use libp2p::identity::{Keypair, PublicKey};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
/// Room id and secret are 16 bytes; addresses are capped so a code stays
/// pasteable (the inviter's, and a few other members').
pub const MAX_ADDRS: usize = 12;
const MAX_CODE_CHARS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub room: [u8; 16],
    pub inviter: PublicKey,
    pub addrs: Vec<Multiaddr>,
    /// Unix seconds.
    pub expires: u64,
    pub secret: [u8; 16],
    pub once: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InviteError {
    #[error("this is not an apero invite code (it may be cut off or mistyped)")]
    Malformed,
    #[error("this invite code has been altered: its signature does not match")]
    BadSignature,
}

impl Invite {
    pub fn room_id(&self) -> String {
        hex::encode(self.room)
    }

    pub fn inviter_peer(&self) -> PeerId {
        self.inviter.to_peer_id()
    }

    /// A short, stable handle for `invite list` / `invite revoke`.
    pub fn id(&self) -> String {
        invite_id(&self.secret)
    }

    fn body_bytes(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        out.extend_from_slice(&self.room);
        let key = self.inviter.encode_protobuf();
        out.push(key.len() as u8);
        out.extend_from_slice(&key);
        out.extend_from_slice(&self.expires.to_be_bytes());
        out.extend_from_slice(&self.secret);
        out.push(self.once as u8);
        let addrs: Vec<&Multiaddr> = self.addrs.iter().take(MAX_ADDRS).collect();
        out.push(addrs.len() as u8);
        for a in addrs {
            let b = a.to_vec();
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(&b);
        }
        out
    }

    /// Signs with the inviter's key and returns the code.
    pub fn encode(&self, key: &Keypair) -> String {
        let mut bytes = self.body_bytes();
        let sig = key.sign(&bytes).unwrap_or_default();
        bytes.push(sig.len() as u8);
        bytes.extend_from_slice(&sig);
        bs58::encode(bytes).into_string()
    }

    /// Parses a code and checks its signature. Expiry is the caller's business
    /// (it needs a clock).
    pub fn decode(code: &str) -> Result<Invite, InviteError> {
        let code = code.trim();
        if code.is_empty() || code.len() > MAX_CODE_CHARS {
            return Err(InviteError::Malformed);
        }
        let bytes = bs58::decode(code).into_vec().map_err(|_| InviteError::Malformed)?;
        let mut r = Reader { buf: &bytes, pos: 0 };
        if r.u8()? != VERSION {
            return Err(InviteError::Malformed);
        }
        let room: [u8; 16] = r.take(16)?.try_into().map_err(|_| InviteError::Malformed)?;
        let klen = r.u8()? as usize;
        let inviter = PublicKey::try_decode_protobuf(r.take(klen)?).map_err(|_| InviteError::Malformed)?;
        let expires = u64::from_be_bytes(r.take(8)?.try_into().map_err(|_| InviteError::Malformed)?);
        let secret: [u8; 16] = r.take(16)?.try_into().map_err(|_| InviteError::Malformed)?;
        let once = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(InviteError::Malformed),
        };
        let n = r.u8()? as usize;
        if n > MAX_ADDRS {
            return Err(InviteError::Malformed);
        }
        let mut addrs = Vec::with_capacity(n);
        for _ in 0..n {
            let len = u16::from_be_bytes(r.take(2)?.try_into().map_err(|_| InviteError::Malformed)?) as usize;
            addrs.push(Multiaddr::try_from(r.take(len)?.to_vec()).map_err(|_| InviteError::Malformed)?);
        }
        let signed_len = r.pos;
        let slen = r.u8()? as usize;
        let sig = r.take(slen)?;
        if r.pos != bytes.len() {
            return Err(InviteError::Malformed);
        }
        if !inviter.verify(&bytes[..signed_len], sig) {
            return Err(InviteError::BadSignature);
        }
        Ok(Invite { room, inviter, addrs, expires, secret, once })
    }
}

pub fn invite_id(secret: &[u8]) -> String {
    hex::encode(&blake3::hash(secret).as_bytes()[..6])
}

/// What members keep to recognise a presented code (hex).
pub fn check_hash(secret: &[u8]) -> String {
    hex::encode(blake3::derive_key("apero 2026 invite check v1", secret))
}

/// The DHT rendezvous of a code's holder and the room's members (hex).
pub fn rendezvous_hash(secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"apero/invite-rendezvous/v1/");
    h.update(secret);
    hex::encode(h.finalize())
}

/// The DHT key for a rendezvous hash: a SHA-256 multihash, as other DHT
/// implementations read keys as CIDs. `None` for a malformed hash.
pub fn rendezvous_key(hash_hex: &str) -> Option<Vec<u8>> {
    let digest = hex::decode(hash_hex).ok().filter(|d| d.len() == 32)?;
    let mut key = vec![0x12, 0x20];
    key.extend_from_slice(&digest);
    Some(key)
}

impl Invite {
    /// Whom the code leads to: the inviter first, then the other members whose
    /// addresses it carries, each with its addresses.
    pub fn contacts(&self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let inviter = self.inviter_peer();
        let mut out: Vec<(PeerId, Vec<Multiaddr>)> = vec![(inviter, Vec::new())];
        for a in &self.addrs {
            let peer = match a.iter().last() {
                Some(Protocol::P2p(p)) => p,
                _ => inviter,
            };
            match out.iter_mut().find(|(p, _)| *p == peer) {
                Some((_, addrs)) => addrs.push(a.clone()),
                None => out.push((peer, vec![a.clone()])),
            }
        }
        out
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], InviteError> {
        let end = self.pos.checked_add(n).ok_or(InviteError::Malformed)?;
        let s = self.buf.get(self.pos..end).ok_or(InviteError::Malformed)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, InviteError> {
        Ok(self.take(1)?[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(key: &Keypair) -> Invite {
        Invite {
            room: [7; 16],
            inviter: key.public(),
            addrs: vec!["/ip4/127.0.0.1/udp/4001/quic-v1".parse().unwrap(), "/ip4/10.0.0.2/tcp/4001".parse().unwrap()],
            expires: 1_900_000_000,
            secret: [9; 16],
            once: true,
        }
    }

    #[test]
    fn roundtrip() {
        let key = Keypair::generate_ed25519();
        let inv = sample(&key);
        let code = inv.encode(&key);
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "safe to paste anywhere: {code}");
        assert_eq!(Invite::decode(&code).unwrap(), inv);
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let key = Keypair::generate_ed25519();
        let code = sample(&key).encode(&key);
        for i in 0..code.len() {
            let mut chars: Vec<char> = code.chars().collect();
            chars[i] = if chars[i] == 'z' { 'y' } else { 'z' };
            let forged: String = chars.into_iter().collect();
            assert!(Invite::decode(&forged).is_err(), "position {i} accepted");
        }
    }

    #[test]
    fn contacts_put_the_inviter_first_and_group_members_addresses() {
        let key = Keypair::generate_ed25519();
        let bob = PeerId::random();
        let mut inv = sample(&key);
        inv.addrs.push(format!("/ip4/10.0.0.3/udp/5/quic-v1/p2p/{bob}").parse().unwrap());
        inv.addrs.push(format!("/ip4/10.0.0.3/tcp/5/p2p/{bob}").parse().unwrap());
        let c = Invite::decode(&inv.encode(&key)).unwrap().contacts();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].0, c[0].1.len()), (key.public().to_peer_id(), 2));
        assert_eq!((c[1].0, c[1].1.len()), (bob, 2));
    }

    #[test]
    fn hashes_of_the_secret_differ_and_make_a_dht_key() {
        let (check, rv) = (check_hash(&[1; 16]), rendezvous_hash(&[1; 16]));
        assert_ne!(check, rv);
        assert_ne!(rv, rendezvous_hash(&[2; 16]));
        assert_eq!(rendezvous_key(&rv).unwrap().len(), 34);
        assert!(rendezvous_key("zz").is_none());
    }

    #[test]
    fn signed_by_someone_else_is_refused() {
        let key = Keypair::generate_ed25519();
        let other = Keypair::generate_ed25519();
        let code = sample(&key).encode(&other);
        assert_eq!(Invite::decode(&code).unwrap_err(), InviteError::BadSignature);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,300}") {
            let _ = Invite::decode(&s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Invite::decode(&bs58::encode(data).into_string());
        }

        #[test]
        fn byte_flips_are_refused(pos in any::<usize>(), flip in 1u8..=255) {
            let key = Keypair::generate_ed25519();
            let code = sample(&key).encode(&key);
            let mut bytes = bs58::decode(&code).into_vec().unwrap();
            let i = pos % bytes.len();
            bytes[i] ^= flip;
            prop_assert!(Invite::decode(&bs58::encode(bytes).into_string()).is_err());
        }
    }
}
