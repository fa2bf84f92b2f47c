//! The shape of the entries only a host may write (channels, roles,
//! removals, moves, mutes, breakouts) and of a call for help: their signed
//! bytes and their checks. Whether the author was a host is decided by the
//! room's authority fold ([`crate::store::authority`]), not here.

use super::{check_name, put, Body, EntryError, MAX_NAME_CHARS};
use libp2p::PeerId;

/// The channel every room has: its id and its name.
pub const GENERAL: &str = apero_control::GENERAL_CHANNEL;
/// A message's channel meaning "every channel" (a host's broadcast).
pub const BROADCAST: &str = "*";
/// More groups than Zoom offers would only be a typo.
pub const MAX_GROUPS: usize = 50;
pub const MAX_GROUP_MEMBERS: usize = 200;

/// `general`, or 8 lowercase hex digits.
pub fn is_channel_id(s: &str) -> bool {
    s == GENERAL || super::is_hex(s, 8)
}

/// A new channel's or breakout's id: 8 random hex digits.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 4]>())
}

/// The channel of group `index` of breakout `breakout`: derived, so the
/// breakout entry needs no channel entries of its own.
pub fn group_channel(breakout: &str, index: usize) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"apero/breakout-group\0");
    h.update(breakout.as_bytes());
    h.update(&(index as u32).to_be_bytes());
    hex::encode(&h.finalize().as_bytes()[..4])
}

pub(super) fn signing_bytes(body: &Body, out: &mut Vec<u8>) {
    match body {
        Body::Channel { id, name } => {
            put(out, id.as_bytes());
            // Present or not must differ in the bytes: a rename cannot be
            // turned into a delete.
            match name {
                Some(n) => {
                    out.push(1);
                    put(out, n.as_bytes());
                }
                None => out.push(0),
            }
        }
        Body::Role { member, host } => {
            put(out, member.as_bytes());
            out.push(*host as u8);
        }
        Body::Remove { member } | Body::Mute { member } => put(out, member.as_bytes()),
        Body::Move { member, channel } => {
            put(out, member.as_bytes());
            put(out, channel.as_bytes());
        }
        Body::Breakout { id, groups, ends } => {
            put(out, id.as_bytes());
            out.extend_from_slice(&ends.to_be_bytes());
            out.extend_from_slice(&(groups.len() as u32).to_be_bytes());
            for g in groups {
                put(out, g.name.as_bytes());
                out.extend_from_slice(&(g.members.len() as u32).to_be_bytes());
                for m in &g.members {
                    put(out, m.as_bytes());
                }
            }
        }
        Body::BreakoutEnd { id } => put(out, id.as_bytes()),
        Body::Help { channel } => put(out, channel.as_bytes()),
        // The other kinds are signed in `Entry::signing_bytes` itself.
        _ => {}
    }
}

fn peer(s: &str) -> Result<(), EntryError> {
    s.parse::<PeerId>().map(|_| ()).map_err(|_| EntryError::Malformed("member peer id"))
}

pub(super) fn verify(body: &Body) -> Result<(), EntryError> {
    match body {
        Body::Channel { id, name } => {
            if !is_channel_id(id) {
                return Err(EntryError::Malformed("channel id"));
            }
            if let Some(n) = name {
                check_name(n, MAX_NAME_CHARS)?;
            }
        }
        Body::Role { member, .. } | Body::Remove { member } | Body::Mute { member } => peer(member)?,
        Body::Move { member, channel } => {
            peer(member)?;
            if !is_channel_id(channel) {
                return Err(EntryError::Malformed("channel id"));
            }
        }
        Body::Breakout { id, groups, ends: _ } => {
            if !super::is_hex(id, 8) || groups.is_empty() || groups.len() > MAX_GROUPS {
                return Err(EntryError::Malformed("breakout"));
            }
            let mut total = 0;
            for g in groups {
                check_name(&g.name, MAX_NAME_CHARS)?;
                total += g.members.len();
                g.members.iter().try_for_each(|m| peer(m))?;
            }
            if total > MAX_GROUP_MEMBERS {
                return Err(EntryError::Malformed("breakout too large"));
            }
        }
        Body::BreakoutEnd { id } if !super::is_hex(id, 8) => return Err(EntryError::Malformed("breakout id")),
        Body::Help { channel } if !is_channel_id(channel) => return Err(EntryError::Malformed("channel id")),
        _ => {}
    }
    Ok(())
}

/// Whether an entry of this kind takes a host (a broadcast message too,
/// which [`crate::store::authority`] checks separately).
pub fn needs_host(body: &Body) -> bool {
    matches!(
        body,
        Body::Channel { .. }
            | Body::Role { .. }
            | Body::Remove { .. }
            | Body::Move { .. }
            | Body::Mute { .. }
            | Body::Breakout { .. }
            | Body::BreakoutEnd { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Entry, Group};
    use libp2p::identity::Keypair;

    const ROOM: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn host_entries_are_signed_and_checked() {
        let key = Keypair::generate_ed25519();
        let m = Keypair::generate_ed25519().public().to_peer_id().to_string();
        let ok = [
            Body::Channel { id: new_id(), name: Some("atelier".into()) },
            Body::Channel { id: new_id(), name: None },
            Body::Role { member: m.clone(), host: true },
            Body::Remove { member: m.clone() },
            Body::Move { member: m.clone(), channel: GENERAL.into() },
            Body::Mute { member: m.clone() },
            Body::Breakout { id: new_id(), groups: vec![Group { name: "Group 1".into(), members: vec![m.clone()] }], ends: 5 },
            Body::BreakoutEnd { id: new_id() },
            Body::Help { channel: group_channel("0a0b0c0d", 1) },
        ];
        for body in ok {
            let v = Entry::sign(&key, ROOM, 4, 0, body.clone());
            assert!(v.entry.clone().verify().is_ok(), "{body:?}");
            let json = serde_json::to_string(&v.entry).unwrap();
            let back: Entry = serde_json::from_str(&json).unwrap();
            assert_eq!(back.verify().unwrap().id, v.id, "{json}");
        }
        let id = new_id();
        let mut delete = Entry::sign(&key, ROOM, 4, 0, Body::Channel { id: id.clone(), name: Some("x".into()) }).entry;
        delete.body = Body::Channel { id, name: None };
        assert_eq!(delete.verify().unwrap_err(), EntryError::BadSignature, "a rename cannot become a delete");
        let bad = [
            Body::Channel { id: "Nope".into(), name: None },
            Body::Channel { id: new_id(), name: Some(" ".into()) },
            Body::Role { member: "not a peer".into(), host: true },
            Body::Move { member: m.clone(), channel: "*".into() },
            Body::Breakout { id: new_id(), groups: vec![], ends: 0 },
            Body::Breakout { id: "x".into(), groups: vec![Group { name: "g".into(), members: vec![] }], ends: 0 },
            Body::Help { channel: "".into() },
        ];
        for body in bad {
            assert!(matches!(Entry::sign(&key, ROOM, 4, 0, body.clone()).entry.verify(), Err(EntryError::Malformed(_))), "{body:?}");
        }
    }

    #[test]
    fn a_channel_message_cannot_pass_for_a_reply() {
        let key = Keypair::generate_ed25519();
        let target = "0123456789abcdef0123456789abcdef".to_string();
        let reply = Entry::sign(&key, ROOM, 3, 0, Body::Message { text: "a".into(), reply_to: Some(target.clone()), channel: None });
        let mut moved = reply.entry.clone();
        moved.body = Body::Message { text: "a".into(), reply_to: None, channel: Some(target) };
        assert!(moved.verify().is_err());
        let in_channel = Entry::sign(&key, ROOM, 3, 0, Body::Message { text: "a".into(), reply_to: None, channel: Some(new_id()) });
        assert!(in_channel.entry.clone().verify().is_ok());
        let old: Body = serde_json::from_str(r#"{"kind":"message","text":"a"}"#).unwrap();
        assert_eq!(old, Body::Message { text: "a".into(), reply_to: None, channel: None }, "old messages are general's");
        let mut elsewhere = in_channel.entry;
        elsewhere.body = Body::Message { text: "a".into(), reply_to: None, channel: Some(GENERAL.into()) };
        assert_eq!(elsewhere.verify().unwrap_err(), EntryError::BadSignature);
    }

    #[test]
    fn an_offer_names_its_channel_under_the_signature() {
        let key = Keypair::generate_ed25519();
        let offer = |channel: Option<String>| Body::Offer {
            file: "ab".repeat(32),
            name: "notes.txt".into(),
            size: 5,
            chunk_size: crate::entry::MIN_CHUNK,
            mime: "text/plain".into(),
            channel,
        };
        let v = Entry::sign(&key, ROOM, 3, 0, offer(Some(new_id())));
        assert!(v.entry.clone().verify().is_ok());
        let mut moved = v.entry;
        moved.body = offer(Some(GENERAL.into()));
        assert_eq!(moved.verify().unwrap_err(), EntryError::BadSignature);
        assert!(matches!(Entry::sign(&key, ROOM, 3, 0, offer(Some("*".into()))).entry.verify(), Err(EntryError::Malformed(_))));
        let plain = serde_json::to_string(&offer(None)).unwrap();
        assert!(!plain.contains("channel"), "offers in general keep their old shape: {plain}");
    }

    #[test]
    fn group_channels_are_stable_and_distinct() {
        assert_eq!(group_channel("0a0b0c0d", 0), group_channel("0a0b0c0d", 0));
        assert_ne!(group_channel("0a0b0c0d", 0), group_channel("0a0b0c0d", 1));
        assert!(is_channel_id(&group_channel("0a0b0c0d", 3)));
    }
}
