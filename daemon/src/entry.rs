//! A room's history is a set of signed entries that every member keeps.
//!
//! Each entry is signed by its author's identity key over a canonical byte
//! encoding (not over JSON, whose spelling is not unique), so any member can
//! relay any other member's entries and the receiver still verifies the author.
//! Entries are totally ordered by `(lamport, author, id)`.

use libp2p::identity::{Keypair, PublicKey};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use apero_control::{MAX_MESSAGE_BYTES, REACTIONS};

pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_ROOM_NAME_CHARS: usize = 100;
/// Chunk sizes an offer may declare: small enough to verify and resend
/// cheaply, large enough that the chunk-hash list stays short.
pub const MIN_CHUNK: u32 = 16 * 1024;
pub const MAX_CHUNK: u32 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Room id: 32 lowercase hex characters.
    pub room: String,
    /// The author's public key, protobuf-encoded, in hex.
    pub author: String,
    pub lamport: u64,
    /// The author's wall clock, Unix milliseconds (display only, not ordering).
    pub time: u64,
    pub body: Body,
    /// ed25519 signature over [`Entry::signing_bytes`], in hex.
    pub sig: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Create {
        name: String,
        creator_name: String,
    },
    /// `invite` names the code that let `member` in (absent when the room
    /// was joined another way), so every member can count a code's uses.
    Admit {
        member: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
    },
    Leave,
    /// `reply_to` names the message this one answers (absent for most,
    /// which keeps messages signed before replies existed verifiable).
    Message {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// The author's new text for one of its messages. Only the message's
    /// author may edit it; the newest edit in the room's order wins.
    Edit {
        message: String,
        text: String,
    },
    /// The author takes one of its messages back: every member removes its
    /// text (and its edits and reactions) from view and from the store.
    Delete {
        message: String,
    },
    /// A reaction from the author to a message, set (`on`) or taken back;
    /// the newest per (author, message, emoji) in the room's order counts.
    React {
        message: String,
        emoji: String,
        on: bool,
    },
    /// A file offered to the room. `file` is its BLAKE3 root hash (hex),
    /// which commits to every chunk. `name` is as the sender gave it:
    /// receivers sanitize it before showing or saving.
    Offer {
        file: String,
        name: String,
        size: u64,
        chunk_size: u32,
        mime: String,
    },
    /// "I now have a complete, verified copy of this file and can serve it."
    Have {
        file: String,
    },
    /// "I am fetching this file and serve the chunks I have verified so far
    /// (ask me for my bitmap)": a file spreads while it is still arriving.
    Partial {
        file: String,
    },
    /// "I no longer serve my partial copy of this file" (the download was
    /// cancelled and its part deleted): members stop asking us for it. A
    /// later `partial` of the same file (fetched again) counts anew.
    Dropped {
        file: String,
    },
    /// An invite code the author made, shared with the room so that any
    /// online member can admit its holder. The code's secret stays out: `check`
    /// and `rendezvous` are one-way hashes of it ([`crate::room::invite`]),
    /// enough to recognise a presented code and to meet its holder in the
    /// DHT, not to make one.
    Invite {
        id: String,
        check: String,
        rendezvous: String,
        /// Unix seconds.
        expires: u64,
        once: bool,
    },
    /// The author revokes one of its invite codes.
    Revoke {
        invite: String,
    },
    /// The author's display name from now on (`apero name`). The newest
    /// in the room's order wins, unless a later admission (a rejoin)
    /// brought a name of its own.
    Rename {
        name: String,
    },
}

pub const MAX_FILE_NAME_BYTES: usize = 1024;
pub const MAX_MIME_BYTES: usize = 128;

pub fn is_file_id(s: &str) -> bool {
    is_hex(s, 64)
}

/// An invite's id: 6 bytes of hash, in hex.
pub const INVITE_ID_CHARS: usize = 12;

/// Lowercase hex of exactly `len` characters.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Body {
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Create { .. } => "create",
            Body::Admit { .. } => "admit",
            Body::Leave => "leave",
            Body::Message { .. } => "message",
            Body::Edit { .. } => "edit",
            Body::Delete { .. } => "delete",
            Body::React { .. } => "react",
            Body::Offer { .. } => "offer",
            Body::Have { .. } => "have",
            Body::Partial { .. } => "partial",
            Body::Dropped { .. } => "dropped",
            Body::Invite { .. } => "invite",
            Body::Revoke { .. } => "revoke",
            Body::Rename { .. } => "rename",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("malformed entry: {0}")]
    Malformed(&'static str),
    #[error("entry signature does not verify")]
    BadSignature,
}

/// An entry whose signature and shape were checked.
#[derive(Debug, Clone)]
pub struct Verified {
    pub entry: Entry,
    pub id: String,
    pub author: PeerId,
}

pub fn is_room_id(s: &str) -> bool {
    is_hex(s, 32)
}

/// An entry's id ([`entry_id`]): what edits, deletes, reactions and replies name.
pub fn is_entry_id(s: &str) -> bool {
    is_hex(s, 32)
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

impl Entry {
    pub fn signing_bytes(room: &str, author_hex: &str, lamport: u64, time: u64, body: &Body) -> Vec<u8> {
        let mut out = b"apero/entry/v1\0".to_vec();
        put(&mut out, room.as_bytes());
        put(&mut out, author_hex.as_bytes());
        out.extend_from_slice(&lamport.to_be_bytes());
        out.extend_from_slice(&time.to_be_bytes());
        put(&mut out, body.kind().as_bytes());
        match body {
            Body::Create { name, creator_name } => {
                put(&mut out, name.as_bytes());
                put(&mut out, creator_name.as_bytes());
            }
            Body::Admit { member, name, invite } => {
                put(&mut out, member.as_bytes());
                put(&mut out, name.as_bytes());
                // Absent adds nothing, so admissions signed before codes
                // were shared still verify.
                if let Some(id) = invite {
                    put(&mut out, id.as_bytes());
                }
            }
            Body::Leave => {}
            Body::Message { text, reply_to } => {
                put(&mut out, text.as_bytes());
                // Absent adds nothing, so messages signed before replies still verify.
                if let Some(id) = reply_to {
                    put(&mut out, id.as_bytes());
                }
            }
            Body::Edit { message, text } => {
                put(&mut out, message.as_bytes());
                put(&mut out, text.as_bytes());
            }
            Body::Delete { message } => put(&mut out, message.as_bytes()),
            Body::React { message, emoji, on } => {
                put(&mut out, message.as_bytes());
                put(&mut out, emoji.as_bytes());
                out.push(*on as u8);
            }
            Body::Offer { file, name, size, chunk_size, mime } => {
                put(&mut out, file.as_bytes());
                put(&mut out, name.as_bytes());
                out.extend_from_slice(&size.to_be_bytes());
                out.extend_from_slice(&chunk_size.to_be_bytes());
                put(&mut out, mime.as_bytes());
            }
            Body::Have { file } | Body::Partial { file } | Body::Dropped { file } => put(&mut out, file.as_bytes()),
            Body::Invite { id, check, rendezvous, expires, once } => {
                put(&mut out, id.as_bytes());
                put(&mut out, check.as_bytes());
                put(&mut out, rendezvous.as_bytes());
                out.extend_from_slice(&expires.to_be_bytes());
                out.push(*once as u8);
            }
            Body::Revoke { invite } => put(&mut out, invite.as_bytes()),
            Body::Rename { name } => put(&mut out, name.as_bytes()),
        }
        out
    }

    pub fn sign(key: &Keypair, room: &str, lamport: u64, time: u64, body: Body) -> Verified {
        let author = hex::encode(key.public().encode_protobuf());
        let bytes = Self::signing_bytes(room, &author, lamport, time, &body);
        // ed25519 signing cannot fail; the Result exists for other key types.
        let sig = key.sign(&bytes).unwrap_or_default();
        let entry = Entry { room: room.to_string(), author, lamport, time, body, sig: hex::encode(sig) };
        Verified { id: entry_id(&bytes), author: key.public().to_peer_id(), entry }
    }

    /// Checks the shape, the sizes and the signature.
    pub fn verify(self) -> Result<Verified, EntryError> {
        if !is_room_id(&self.room) {
            return Err(EntryError::Malformed("room id"));
        }
        match &self.body {
            Body::Create { name, creator_name } => {
                check_name(name, MAX_ROOM_NAME_CHARS)?;
                check_name(creator_name, MAX_NAME_CHARS)?;
                if self.lamport != 1 {
                    return Err(EntryError::Malformed("create must be the first entry"));
                }
            }
            Body::Admit { member, name, invite } => {
                member.parse::<PeerId>().map_err(|_| EntryError::Malformed("member peer id"))?;
                check_name(name, MAX_NAME_CHARS)?;
                if invite.as_ref().is_some_and(|id| !is_hex(id, INVITE_ID_CHARS)) {
                    return Err(EntryError::Malformed("invite id"));
                }
            }
            Body::Leave => {}
            Body::Message { text, reply_to } => {
                if text.len() > MAX_MESSAGE_BYTES {
                    return Err(EntryError::Malformed("message too long"));
                }
                if reply_to.as_ref().is_some_and(|id| !is_entry_id(id)) {
                    return Err(EntryError::Malformed("reply_to"));
                }
            }
            Body::Edit { message, text } => {
                if !is_entry_id(message) || text.len() > MAX_MESSAGE_BYTES {
                    return Err(EntryError::Malformed("edit"));
                }
            }
            Body::Delete { message } => {
                if !is_entry_id(message) {
                    return Err(EntryError::Malformed("delete"));
                }
            }
            Body::React { message, emoji, on: _ } => {
                if !is_entry_id(message) || !REACTIONS.contains(&emoji.as_str()) {
                    return Err(EntryError::Malformed("reaction"));
                }
            }
            Body::Offer { file, name, size: _, chunk_size, mime } => {
                // Hostile names are allowed in (receivers sanitize them), but
                // not unbounded ones.
                if !is_file_id(file) || name.is_empty() || name.len() > MAX_FILE_NAME_BYTES || mime.len() > MAX_MIME_BYTES {
                    return Err(EntryError::Malformed("file offer"));
                }
                if !(MIN_CHUNK..=MAX_CHUNK).contains(chunk_size) {
                    return Err(EntryError::Malformed("chunk size"));
                }
            }
            Body::Have { file } | Body::Partial { file } | Body::Dropped { file } => {
                if !is_file_id(file) {
                    return Err(EntryError::Malformed("file id"));
                }
            }
            Body::Invite { id, check, rendezvous, expires: _, once: _ } => {
                if !is_hex(id, INVITE_ID_CHARS) || !is_hex(check, 64) || !is_hex(rendezvous, 64) {
                    return Err(EntryError::Malformed("invite"));
                }
            }
            Body::Revoke { invite } => {
                if !is_hex(invite, INVITE_ID_CHARS) {
                    return Err(EntryError::Malformed("invite id"));
                }
            }
            Body::Rename { name } => check_name(name, MAX_NAME_CHARS)?,
        }
        if self.lamport == 0 {
            return Err(EntryError::Malformed("lamport 0"));
        }
        let key_bytes = hex::decode(&self.author).map_err(|_| EntryError::Malformed("author key"))?;
        let key = PublicKey::try_decode_protobuf(&key_bytes).map_err(|_| EntryError::Malformed("author key"))?;
        let sig = hex::decode(&self.sig).map_err(|_| EntryError::Malformed("signature"))?;
        let bytes = Self::signing_bytes(&self.room, &self.author, self.lamport, self.time, &self.body);
        if !key.verify(&bytes, &sig) {
            return Err(EntryError::BadSignature);
        }
        Ok(Verified { id: entry_id(&bytes), author: key.to_peer_id(), entry: self })
    }
}

fn check_name(name: &str, max_chars: usize) -> Result<(), EntryError> {
    if name.trim().is_empty() || name.chars().count() > max_chars || name.chars().any(|c| c.is_control()) {
        return Err(EntryError::Malformed("name"));
    }
    Ok(())
}

/// 128 bits of BLAKE3 over the signed bytes: unique per entry, short in URLs and JSON.
fn entry_id(signing_bytes: &[u8]) -> String {
    hex::encode(&blake3::hash(signing_bytes).as_bytes()[..16])
}

impl Entry {
    /// The id without checking the signature (for bookkeeping only).
    pub fn id(&self) -> String {
        entry_id(&Self::signing_bytes(&self.room, &self.author, self.lamport, self.time, &self.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROOM: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn signed_entry_verifies_and_tampering_is_caught() {
        let key = Keypair::generate_ed25519();
        let v = Entry::sign(&key, ROOM, 3, 1000, Body::Message { text: "salut".into(), reply_to: None });
        let ok = v.entry.clone().verify().unwrap();
        assert_eq!(ok.id, v.id);
        assert_eq!(ok.author, key.public().to_peer_id());

        let mut changed = v.entry.clone();
        changed.body = Body::Message { text: "salud".into(), reply_to: None };
        assert_eq!(changed.verify().unwrap_err(), EntryError::BadSignature);

        let mut relabelled = v.entry.clone();
        relabelled.author = hex::encode(Keypair::generate_ed25519().public().encode_protobuf());
        assert_eq!(relabelled.verify().unwrap_err(), EntryError::BadSignature);

        let mut reordered = v.entry;
        reordered.lamport = 4;
        assert_eq!(reordered.verify().unwrap_err(), EntryError::BadSignature);
    }

    #[test]
    fn invite_entries_and_admissions_naming_a_code_verify_and_are_checked() {
        let key = Keypair::generate_ed25519();
        let member = key.public().to_peer_id().to_string();
        let admit =
            Entry::sign(&key, ROOM, 2, 0, Body::Admit { member: member.clone(), name: "eve".into(), invite: Some("0a1b2c3d4e5f".into()) });
        let mut changed = admit.entry.clone();
        changed.body = Body::Admit { member: member.clone(), name: "eve".into(), invite: Some("0a1b2c3d4e50".into()) };
        assert_eq!(changed.verify().unwrap_err(), EntryError::BadSignature, "the code an admission names is signed");
        assert!(admit.entry.verify().is_ok());
        let bad = Entry::sign(&key, ROOM, 2, 0, Body::Admit { member, name: "eve".into(), invite: Some("zz".into()) });
        assert!(matches!(bad.entry.verify(), Err(EntryError::Malformed(_))));
        let h = "ab".repeat(32);
        let inv = Body::Invite { id: "0a1b2c3d4e5f".into(), check: h.clone(), rendezvous: h.clone(), expires: 9, once: true };
        assert!(Entry::sign(&key, ROOM, 3, 0, inv).entry.verify().is_ok());
        let short = Body::Invite { id: "0a1b".into(), check: h.clone(), rendezvous: h, expires: 9, once: true };
        assert!(matches!(Entry::sign(&key, ROOM, 3, 0, short).entry.verify(), Err(EntryError::Malformed(_))));
        // An admission without a code keeps the old signed bytes.
        let plain = Body::Admit { member: "m".into(), name: "n".into(), invite: None };
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("invite"), "{json}");
    }

    #[test]
    fn oversized_message_is_malformed() {
        let key = Keypair::generate_ed25519();
        let v = Entry::sign(&key, ROOM, 2, 0, Body::Message { text: "x".repeat(MAX_MESSAGE_BYTES + 1), reply_to: None });
        assert!(matches!(v.entry.verify(), Err(EntryError::Malformed(_))));
    }

    #[test]
    fn replies_edits_deletes_and_reactions_are_signed_and_checked() {
        let key = Keypair::generate_ed25519();
        let target = "0123456789abcdef0123456789abcdef".to_string();
        let reply = Entry::sign(&key, ROOM, 3, 0, Body::Message { text: "oui".into(), reply_to: Some(target.clone()) });
        let mut unlinked = reply.entry.clone();
        unlinked.body = Body::Message { text: "oui".into(), reply_to: None };
        assert_eq!(unlinked.verify().unwrap_err(), EntryError::BadSignature, "what a reply answers is signed");
        assert!(reply.entry.verify().is_ok());
        let plain = serde_json::to_string(&Body::Message { text: "a".into(), reply_to: None }).unwrap();
        assert!(!plain.contains("reply_to"), "old messages keep their old shape: {plain}");
        let old: Body = serde_json::from_str(r#"{"kind":"message","text":"a"}"#).unwrap();
        assert_eq!(old, Body::Message { text: "a".into(), reply_to: None });

        let ok = [
            Body::Edit { message: target.clone(), text: "b".into() },
            Body::Delete { message: target.clone() },
            Body::React { message: target.clone(), emoji: "🎉".into(), on: true },
        ];
        for body in ok {
            assert!(Entry::sign(&key, ROOM, 4, 0, body.clone()).entry.verify().is_ok(), "{body:?}");
        }
        let bad = [
            Body::Message { text: "a".into(), reply_to: Some("nope".into()) },
            Body::Edit { message: "short".into(), text: "b".into() },
            Body::Edit { message: target.clone(), text: "x".repeat(MAX_MESSAGE_BYTES + 1) },
            Body::Delete { message: target.to_uppercase() },
            Body::React { message: target.clone(), emoji: "🍆".into(), on: true },
        ];
        for body in bad {
            assert!(matches!(Entry::sign(&key, ROOM, 4, 0, body.clone()).entry.verify(), Err(EntryError::Malformed(_))), "{body:?}");
        }
        let mut flipped = Entry::sign(&key, ROOM, 5, 0, Body::React { message: target.clone(), emoji: "👍".into(), on: true }).entry;
        flipped.body = Body::React { message: target, emoji: "👍".into(), on: false };
        assert_eq!(flipped.verify().unwrap_err(), EntryError::BadSignature);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_json_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(e) = serde_json::from_slice::<Entry>(&data) {
                let _ = e.verify();
            }
        }

        #[test]
        fn any_text_roundtrips_through_json(text in ".{0,200}", lamport in 1u64..u64::MAX, time in any::<u64>()) {
            let key = Keypair::generate_ed25519();
            let v = Entry::sign(&key, ROOM, lamport, time, Body::Message { text, reply_to: None });
            let json = serde_json::to_vec(&v.entry).unwrap();
            let back: Entry = serde_json::from_slice(&json).unwrap();
            prop_assert_eq!(back.verify().unwrap().id, v.id);
        }
    }
}
