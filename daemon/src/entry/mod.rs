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

pub mod host;

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
        /// The channel's id (absent: general; `*`: a host's broadcast to
        /// every channel).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
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
        /// The channel's id (absent: general).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
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
    /// A host creates a channel (an `id` not seen before), renames it, or
    /// deletes it (`name` absent). Every entry from here to `Help` is
    /// checked against the room's hosts (`host`, docs/channels.md).
    Channel {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A host makes `member` a host, or takes it back.
    Role {
        member: String,
        host: bool,
    },
    /// A host removes `member` from the room.
    Remove {
        member: String,
    },
    /// A host moves `member` to `channel` in the room's call.
    Move {
        member: String,
        channel: String,
    },
    /// A host mutes `member` in the call.
    Mute {
        member: String,
    },
    /// A host splits the call into groups, until `ends` (Unix ms; 0: until
    /// a `breakout_end`). Group `i`'s channel id is [`host::group_channel`].
    Breakout {
        id: String,
        groups: Vec<Group>,
        ends: u64,
    },
    BreakoutEnd {
        id: String,
    },
    /// A member asks the hosts for help in `channel`.
    Help {
        channel: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// Peer ids.
    pub members: Vec<String>,
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
            Body::Channel { .. } => "channel",
            Body::Role { .. } => "role",
            Body::Remove { .. } => "remove",
            Body::Move { .. } => "move",
            Body::Mute { .. } => "mute",
            Body::Breakout { .. } => "breakout",
            Body::BreakoutEnd { .. } => "breakout_end",
            Body::Help { .. } => "help",
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

pub(crate) fn put(out: &mut Vec<u8>, field: &[u8]) {
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
            Body::Message { text, reply_to, channel } => {
                put(&mut out, text.as_bytes());
                // Absent adds nothing, so messages signed before replies still verify.
                if let Some(id) = reply_to {
                    put(&mut out, id.as_bytes());
                }
                // After a marker no reply id can be, so a reply cannot be
                // passed off as a channel's message under the same signature.
                if let Some(c) = channel {
                    put(&mut out, b"channel");
                    put(&mut out, c.as_bytes());
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
            Body::Offer { file, name, size, chunk_size, mime, channel } => {
                put(&mut out, file.as_bytes());
                put(&mut out, name.as_bytes());
                out.extend_from_slice(&size.to_be_bytes());
                out.extend_from_slice(&chunk_size.to_be_bytes());
                put(&mut out, mime.as_bytes());
                // Absent adds nothing: offers from before channels still verify.
                if let Some(c) = channel {
                    put(&mut out, b"channel");
                    put(&mut out, c.as_bytes());
                }
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
            other => host::signing_bytes(other, &mut out),
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
            Body::Message { text, reply_to, channel } => {
                if text.len() > MAX_MESSAGE_BYTES {
                    return Err(EntryError::Malformed("message too long"));
                }
                if reply_to.as_ref().is_some_and(|id| !is_entry_id(id)) {
                    return Err(EntryError::Malformed("reply_to"));
                }
                if channel.as_ref().is_some_and(|c| c != host::BROADCAST && !host::is_channel_id(c)) {
                    return Err(EntryError::Malformed("channel"));
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
            Body::Offer { file, name, size: _, chunk_size, mime, channel } => {
                if channel.as_ref().is_some_and(|c| !host::is_channel_id(c)) {
                    return Err(EntryError::Malformed("channel"));
                }
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
            other => host::verify(other)?,
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

pub(crate) fn check_name(name: &str, max_chars: usize) -> Result<(), EntryError> {
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
mod tests;
