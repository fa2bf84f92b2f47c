//! Ingesting signed entries: validation against the room's membership, in the
//! room's total order, one transaction per batch.

use rusqlite::{params, OptionalExtension, Transaction};

use super::authority;
use super::messages::{self, Outcome};
use super::{now_ms, Result, Store, StoreError};
use crate::entry::{Body, Entry, Verified};
use crate::wire::Digest;

/// What a batch did.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Entries that were new, in order.
    pub inserted: Vec<Verified>,
    pub duplicates: usize,
    /// Authored by someone who is not (yet, as far as we know) a member.
    pub not_member: usize,
    pub bad_signature: usize,
    pub malformed: usize,
    /// Edits and deletes of someone else's message, refused or (when they
    /// came before the message) removed ([`super::messages`]).
    pub not_author: usize,
    /// About a message its author deleted: not kept.
    pub gone: usize,
    /// Needed a host, and its author was not one (kept, and ignored: docs/channels.md).
    pub not_host: usize,
}

impl Store {
    /// Verifies and stores `entries` of `room`. With `allow_create` a batch
    /// may bring the room's `create` entry (joining); otherwise the room must
    /// already be known.
    pub fn ingest(&self, room: &str, entries: Vec<Entry>, allow_create: bool) -> Result<Ingested> {
        let mut out = Ingested::default();
        let mut verified = Vec::with_capacity(entries.len());
        for e in entries {
            if e.room != room {
                out.malformed += 1;
                continue;
            }
            match e.verify() {
                Ok(v) => verified.push(v),
                Err(crate::entry::EntryError::BadSignature) => out.bad_signature += 1,
                Err(_) => out.malformed += 1,
            }
        }
        // Membership is decided in the room's total order, so a batch that
        // carries an admission and the new member's first words works.
        verified.sort_by(|a, b| (a.entry.lamport, a.author.to_bytes(), &a.id).cmp(&(b.entry.lamport, b.author.to_bytes(), &b.id)));
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for v in verified {
            let exists: bool = tx.query_row("SELECT 1 FROM entries WHERE id = ?1", [&v.id], |_| Ok(true)).optional()?.unwrap_or(false);
            if exists {
                out.duplicates += 1;
                continue;
            }
            let author = v.author.to_string();
            match &v.entry.body {
                Body::Create { name, creator_name } => {
                    let has_room: bool =
                        tx.query_row("SELECT 1 FROM rooms WHERE id = ?1", [room], |_| Ok(true)).optional()?.unwrap_or(false);
                    if has_room || !allow_create {
                        // A room has exactly one creation; a second one is forged.
                        out.not_member += 1;
                        continue;
                    }
                    tx.execute("INSERT INTO rooms (id, name, joined_ms) VALUES (?1, ?2, ?3)", params![room, name, now_ms() as i64])?;
                    upsert_member(&tx, room, &author, creator_name, 0)?;
                }
                Body::Admit { member, name, invite } => {
                    if !is_member_at(&tx, room, &author, v.entry.lamport)? {
                        out.not_member += 1;
                        continue;
                    }
                    upsert_member(&tx, room, member, name, v.entry.lamport)?;
                    if let Some(id) = invite {
                        tx.execute(
                            "INSERT OR IGNORE INTO invite_uses (room, id, member, lamport) VALUES (?1, ?2, ?3, ?4)",
                            params![room, id, member, v.entry.lamport as i64],
                        )?;
                    }
                }
                Body::Invite { id, check, rendezvous, expires, once } => {
                    if !is_member_at(&tx, room, &author, v.entry.lamport)? {
                        out.not_member += 1;
                        continue;
                    }
                    // The first announcement of an id in a room stands; a
                    // later one (forged, or a 2^-48 accident) cannot redefine it.
                    tx.execute(
                        "INSERT OR IGNORE INTO room_invites (room, id, inviter, check_hash, rendezvous, expires, once)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![room, id, author, check, rendezvous, *expires as i64, once],
                    )?;
                }
                Body::Revoke { invite } => {
                    if !is_member_at(&tx, room, &author, v.entry.lamport)? {
                        out.not_member += 1;
                        continue;
                    }
                    // Kept whoever wrote it; it counts only when the author is
                    // the code's own inviter (room_invites' `revoked` reads).
                    tx.execute(
                        "INSERT OR IGNORE INTO invite_revocations (room, id, author) VALUES (?1, ?2, ?3)",
                        params![room, invite, author],
                    )?;
                }
                Body::Leave => {
                    if !is_member_at(&tx, room, &author, v.entry.lamport)? {
                        out.not_member += 1;
                        continue;
                    }
                    tx.execute(
                        "UPDATE members SET left_lamport = ?3 WHERE room = ?1 AND peer_id = ?2",
                        params![room, author, v.entry.lamport as i64],
                    )?;
                }
                Body::Message { .. } | Body::Edit { .. } | Body::Delete { .. } | Body::React { .. } => {
                    if !is_member_at(&tx, room, &author, v.entry.lamport)? {
                        out.not_member += 1;
                        continue;
                    }
                    let (outcome, forged) = messages::apply(&tx, room, &author, &v)?;
                    out.not_author += forged;
                    match outcome {
                        Outcome::Store => {}
                        Outcome::NotAuthor => {
                            out.not_author += 1;
                            continue;
                        }
                        Outcome::Gone => {
                            out.gone += 1;
                            continue;
                        }
                    }
                }
                Body::Offer { .. }
                | Body::Have { .. }
                | Body::Partial { .. }
                | Body::Dropped { .. }
                | Body::Rename { .. }
                | Body::Channel { .. }
                | Body::Role { .. }
                | Body::Remove { .. }
                | Body::Move { .. }
                | Body::Mute { .. }
                | Body::Breakout { .. }
                | Body::BreakoutEnd { .. }
                | Body::Help { .. } => {
                    if !is_member_at(&tx, room, &author, v.entry.lamport)? {
                        out.not_member += 1;
                        continue;
                    }
                }
            }
            let text = match &v.entry.body {
                Body::Message { text, .. } | Body::Edit { text, .. } => Some(text.as_str()),
                Body::React { emoji, .. } => Some(emoji.as_str()),
                // Indexed by file id, for offers and sources.
                Body::Offer { file, .. } | Body::Have { file } | Body::Partial { file } | Body::Dropped { file } => Some(file.as_str()),
                Body::Rename { name } => Some(name.as_str()),
                _ => None,
            };
            let raw = serde_json::to_string(&v.entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let channel = match &v.entry.body {
                Body::Message { channel, .. } => channel.as_deref(),
                _ => None,
            };
            tx.execute(
                "INSERT INTO entries (id, room, author, lamport, time_ms, kind, text, raw, target, channel)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                params![
                    v.id,
                    room,
                    author,
                    v.entry.lamport as i64,
                    v.entry.time as i64,
                    v.entry.body.kind(),
                    text,
                    raw,
                    messages::target(&v.entry.body),
                    channel
                ],
            )?;
            if matches!(v.entry.body, Body::Rename { .. }) {
                rename_member(&tx, room, &author)?;
            }
            out.inserted.push(v);
        }
        let folded = if out.inserted.iter().any(|v| authority::changes_authority(&v.entry.body)) {
            let a = authority::apply_removals(&tx, room)?;
            out.not_host = out.inserted.iter().filter(|v| a.refused.contains(&v.id)).count();
            Some(a)
        } else {
            None
        };
        tx.commit()?;
        // The fold made inside the transaction is the committed state: it
        // becomes the cache (set while the connection is still held, so no
        // reader can put an older fold over it).
        if let Some(a) = folded {
            self.cache_authority(room, a);
        }
        Ok(out)
    }

    /// The lamport value for a new local entry: after everything we have seen.
    pub fn next_lamport(&self, room: &str) -> Result<u64> {
        let max: Option<i64> = self.lock().query_row("SELECT MAX(lamport) FROM entries WHERE room = ?1", [room], |r| r.get(0))?;
        Ok(max.unwrap_or(0) as u64 + 1)
    }

    pub fn author_name(&self, room: &str, peer: &str) -> Result<String> {
        Ok(self
            .lock()
            .query_row("SELECT name FROM members WHERE room = ?1 AND peer_id = ?2", [room, peer], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    }

    /// Per-author digests of a room, for anti-entropy.
    pub fn digests(&self, room: &str) -> Result<Vec<Digest>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT author, id FROM entries WHERE room = ?1 ORDER BY author")?;
        let mut out: Vec<(String, u64, [u8; 16])> = Vec::new();
        let mut rows = st.query([room])?;
        while let Some(r) = rows.next()? {
            let author: String = r.get(0)?;
            let id: String = r.get(1)?;
            let mut bytes = [0u8; 16];
            hex::decode_to_slice(&id, &mut bytes).map_err(|_| StoreError::Corrupt(format!("entry id {id}")))?;
            match out.last_mut() {
                Some((a, count, xor)) if *a == author => {
                    *count += 1;
                    xor.iter_mut().zip(bytes).for_each(|(x, b)| *x ^= b);
                }
                _ => out.push((author, 1, bytes)),
            }
        }
        Ok(out.into_iter().map(|(author, count, xor)| Digest { author, count, xor: hex::encode(xor) }).collect())
    }

    pub fn ids_by_authors(&self, room: &str, authors: &[String]) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT id FROM entries WHERE room = ?1 AND author = ?2")?;
        let mut ids = Vec::new();
        for a in authors {
            let got = st.query_map([room, a], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            ids.extend(got);
        }
        Ok(ids)
    }

    /// Entries by id, in order, stopping before `budget` bytes of JSON.
    /// Unknown ids are skipped.
    pub fn entries_by_ids(&self, room: &str, ids: &[String], budget: usize) -> Result<Vec<Entry>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT raw, lamport FROM entries WHERE room = ?1 AND id = ?2")?;
        let mut found = Vec::new();
        for id in ids {
            if let Some((raw, lamport)) = st.query_row([room, id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).optional()? {
                found.push((lamport, raw));
            }
        }
        found.sort();
        let mut out = Vec::new();
        let mut used = 0;
        for (_, raw) in found {
            used += raw.len();
            if used > budget && !out.is_empty() {
                break;
            }
            out.push(serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        Ok(out)
    }

    /// Entries other than chat (membership, files, invites, and deletes
    /// that keep deleted messages out): what a joiner needs first.
    pub fn membership_entries(&self, room: &str) -> Result<Vec<Entry>> {
        let conn = self.lock();
        let mut st =
            conn.prepare("SELECT raw FROM entries WHERE room = ?1 AND kind NOT IN ('message', 'edit', 'react') ORDER BY lamport")?;
        let raws = st.query_map([room], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        raws.iter().map(|r| serde_json::from_str(r).map_err(|e| StoreError::Corrupt(e.to_string()))).collect()
    }
}

fn is_member_at(tx: &Transaction<'_>, room: &str, peer: &str, lamport: u64) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM members WHERE room = ?1 AND peer_id = ?2 AND since_lamport < ?3
             AND (left_lamport IS NULL OR left_lamport >= ?3)",
            params![room, peer, lamport as i64],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false))
}

/// The member's name is its newest rename in the room's order, whatever
/// order renames arrive in (sync brings old ones late), unless an admission
/// after it (a rejoin) brought a name of its own.
fn rename_member(tx: &Transaction<'_>, room: &str, peer: &str) -> Result<()> {
    tx.execute(
        "UPDATE members SET name = r.text FROM (
             SELECT text, lamport FROM entries WHERE room = ?1 AND author = ?2 AND kind = 'rename'
             ORDER BY lamport DESC, id DESC LIMIT 1
         ) AS r
         WHERE members.room = ?1 AND members.peer_id = ?2 AND r.lamport > members.since_lamport",
        params![room, peer],
    )?;
    Ok(())
}

fn upsert_member(tx: &Transaction<'_>, room: &str, peer: &str, name: &str, since: u64) -> Result<()> {
    tx.execute(
        "INSERT INTO members (room, peer_id, name, since_lamport) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (room, peer_id) DO UPDATE SET name = excluded.name, since_lamport = excluded.since_lamport, left_lamport = NULL
         WHERE members.left_lamport IS NOT NULL AND members.left_lamport < excluded.since_lamport",
        params![room, peer, name, since as i64],
    )?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use libp2p::identity::Keypair;

    use super::*;
    use crate::entry::Entry;

    pub(crate) const ROOM: &str = "00112233445566778899aabbccddeeff";
    const FILE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    /// A room made by `a`, with `b` admitted.
    pub(crate) fn room() -> (tempfile::TempDir, Store, Keypair, Keypair) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let create = Entry::sign(&a, ROOM, 1, 0, Body::Create { name: "r".into(), creator_name: "ana".into() });
        let admit =
            Entry::sign(&a, ROOM, 2, 0, Body::Admit { member: b.public().to_peer_id().to_string(), name: "bob".into(), invite: None });
        store.ingest(ROOM, vec![create.entry, admit.entry], true).unwrap();
        (dir, store, a, b)
    }

    #[test]
    fn the_newest_rename_wins_whatever_order_it_arrives_in() {
        let (_d, store, _a, b) = room();
        let bob = b.public().to_peer_id().to_string();
        let first = Entry::sign(&b, ROOM, 3, 0, Body::Rename { name: "Bob M".into() });
        let second = Entry::sign(&b, ROOM, 5, 0, Body::Rename { name: "Robert".into() });
        // The newer comes first (sync order is anyone's guess).
        store.ingest(ROOM, vec![second.entry], false).unwrap();
        assert_eq!(store.author_name(ROOM, &bob).unwrap(), "Robert");
        store.ingest(ROOM, vec![first.entry], false).unwrap();
        assert_eq!(store.author_name(ROOM, &bob).unwrap(), "Robert", "an older rename arriving late changes nothing");
        let stranger = Keypair::generate_ed25519();
        let forged = Entry::sign(&stranger, ROOM, 9, 0, Body::Rename { name: "Mallory".into() });
        assert_eq!(store.ingest(ROOM, vec![forged.entry], false).unwrap().not_member, 1, "only members rename themselves");
    }

    #[test]
    fn a_dropped_partial_copy_is_no_longer_a_source_until_announced_again() {
        let (_d, store, _a, b) = room();
        let bob = b.public().to_peer_id().to_string();
        let partial = Entry::sign(&b, ROOM, 3, 0, Body::Partial { file: FILE.into() });
        store.ingest(ROOM, vec![partial.entry], false).unwrap();
        assert_eq!(store.partial_holders(ROOM, FILE).unwrap(), vec![bob.clone()]);
        assert!(store.announced_partial(ROOM, FILE, &bob).unwrap());
        let dropped = Entry::sign(&b, ROOM, 4, 0, Body::Dropped { file: FILE.into() });
        store.ingest(ROOM, vec![dropped.entry], false).unwrap();
        assert!(store.partial_holders(ROOM, FILE).unwrap().is_empty(), "a cancelled download serves nothing");
        assert!(!store.announced_partial(ROOM, FILE, &bob).unwrap(), "fetching again announces again");
        let again = Entry::sign(&b, ROOM, 5, 0, Body::Partial { file: FILE.into() });
        store.ingest(ROOM, vec![again.entry], false).unwrap();
        assert_eq!(store.partial_holders(ROOM, FILE).unwrap(), vec![bob]);
    }
}
