//! Chat messages and what members do to them afterwards: replies, edits,
//! deletes and reactions, applied the same way by every member whatever
//! order the entries arrive in (docs/messages.md).
//!
//! Edits and reactions stay entries of their own and are folded in when a
//! message is read, so a late one lands in its place in the room's order.
//! A delete is the exception: it removes the message, its edits and its
//! reactions from the store at once, keeping only who deleted what
//! (`deleted_messages`), so that a copy pushed later by a member who was
//! away is turned down instead of coming back.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Result, Store, StoreError};
use crate::entry::{Body, Entry, Verified};
use apero_control::REACTIONS;

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub room: String,
    pub author: String,
    pub author_name: String,
    /// As the newest edit has it.
    pub text: String,
    pub time: u64,
    pub lamport: u64,
    pub reply_to: Option<String>,
    pub edited: bool,
    /// Emoji (in `REACTIONS` order) and who set it, in the room's order.
    pub reactions: Vec<(String, Vec<String>)>,
    /// The channel's id (`None`: general; `*`: a broadcast).
    pub channel: Option<String>,
}

/// What [`apply`] decided for one incoming message entry.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Store,
    /// An edit or delete of someone else's message.
    NotAuthor,
    /// About a message its author deleted: nothing of it is kept.
    Gone,
}

/// Applies the rules for a message, edit, delete or reaction `v` by
/// `author` before it is stored. Returns what to do with `v`, and how many
/// stored entries turned out to be forged edits or deletes (someone else's,
/// kept while the message was unknown) and were removed.
pub(super) fn apply(tx: &Transaction<'_>, room: &str, author: &str, v: &Verified) -> Result<(Outcome, usize)> {
    match &v.entry.body {
        Body::Message { .. } => {
            let forged = tx.execute(
                "DELETE FROM entries WHERE room = ?1 AND target = ?2 AND kind IN ('edit', 'delete') AND author != ?3",
                params![room, v.id, author],
            )?;
            if has_delete_by(tx, room, &v.id, author)? {
                forget(tx, room, &v.id, author)?;
                return Ok((Outcome::Gone, forged));
            }
            Ok((Outcome::Store, forged))
        }
        Body::Edit { message, .. } | Body::Delete { message } => {
            let is_delete = matches!(v.entry.body, Body::Delete { .. });
            if let Some(was) = deleted_by(tx, room, message)? {
                return Ok(match (was == author, is_delete) {
                    (false, _) => (Outcome::NotAuthor, 0),
                    // Kept so that every member holds the same entries.
                    (true, true) => (Outcome::Store, 0),
                    (true, false) => (Outcome::Gone, 0),
                });
            }
            match message_author(tx, room, message)? {
                Some(a) if a != author => Ok((Outcome::NotAuthor, 0)),
                Some(_) => {
                    if is_delete {
                        forget(tx, room, message, author)?;
                    }
                    Ok((Outcome::Store, 0))
                }
                // The message has not arrived: keep the entry until it does.
                // A pending delete already takes the author's edits' text.
                None if is_delete => {
                    tx.execute(
                        "DELETE FROM entries WHERE room = ?1 AND target = ?2 AND kind = 'edit' AND author = ?3",
                        params![room, message, author],
                    )?;
                    Ok((Outcome::Store, 0))
                }
                None if has_delete_by(tx, room, message, author)? => Ok((Outcome::Gone, 0)),
                None => Ok((Outcome::Store, 0)),
            }
        }
        Body::React { message, .. } => Ok((if deleted_by(tx, room, message)?.is_some() { Outcome::Gone } else { Outcome::Store }, 0)),
        _ => Ok((Outcome::Store, 0)),
    }
}

/// The message an entry is about (what it answers, edits, deletes or
/// reacts to), kept in its own column so the rules above find them.
pub(super) fn target(body: &Body) -> Option<&str> {
    match body {
        Body::Message { reply_to, .. } => reply_to.as_deref(),
        Body::Edit { message, .. } | Body::Delete { message } | Body::React { message, .. } => Some(message),
        _ => None,
    }
}

fn has_delete_by(tx: &Transaction<'_>, room: &str, message: &str, author: &str) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM entries WHERE room = ?1 AND target = ?2 AND kind = 'delete' AND author = ?3",
            params![room, message, author],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false))
}

fn deleted_by(tx: &Transaction<'_>, room: &str, message: &str) -> Result<Option<String>> {
    Ok(tx.query_row("SELECT author FROM deleted_messages WHERE room = ?1 AND id = ?2", params![room, message], |r| r.get(0)).optional()?)
}

fn message_author(tx: &Transaction<'_>, room: &str, message: &str) -> Result<Option<String>> {
    Ok(tx
        .query_row("SELECT author FROM entries WHERE room = ?1 AND id = ?2 AND kind = 'message'", params![room, message], |r| r.get(0))
        .optional()?)
}

/// Removes a message, its edits and the reactions to it, and remembers
/// that its author deleted it.
fn forget(tx: &Transaction<'_>, room: &str, message: &str, author: &str) -> Result<()> {
    tx.execute("DELETE FROM entries WHERE room = ?1 AND id = ?2 AND kind = 'message'", params![room, message])?;
    tx.execute("DELETE FROM entries WHERE room = ?1 AND target = ?2 AND kind IN ('edit', 'react')", params![room, message])?;
    tx.execute("INSERT OR IGNORE INTO deleted_messages (room, id, author) VALUES (?1, ?2, ?3)", params![room, message, author])?;
    Ok(())
}

const SELECT_MESSAGE: &str = "SELECT e.id, e.author, COALESCE(m.name, ''), e.text, e.time_ms, e.lamport, e.target,
        (SELECT x.text FROM entries x WHERE x.room = e.room AND x.target = e.id AND x.kind = 'edit' AND x.author = e.author
         ORDER BY x.lamport DESC, x.id DESC LIMIT 1), e.channel
    FROM entries e LEFT JOIN members m ON m.room = e.room AND m.peer_id = e.author";

fn message_row(room: &str, r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    let edit: Option<String> = r.get(7)?;
    Ok(MessageRow {
        id: r.get(0)?,
        room: room.to_string(),
        author: r.get(1)?,
        author_name: r.get(2)?,
        edited: edit.is_some(),
        text: edit.or(r.get::<_, Option<String>>(3)?).unwrap_or_default(),
        time: r.get::<_, i64>(4)? as u64,
        lamport: r.get::<_, i64>(5)? as u64,
        reply_to: r.get(6)?,
        reactions: Vec::new(),
        channel: r.get(8)?,
    })
}

impl Store {
    /// The newest `limit` messages, oldest first, deleted ones left out.
    pub fn messages(&self, room: &str, limit: Option<u32>) -> Result<Vec<MessageRow>> {
        self.channel_messages(room, limit, None)
    }

    /// As [`Store::messages`], only those said in `channel` (an id) and the
    /// broadcasts, when given.
    pub fn channel_messages(&self, room: &str, limit: Option<u32>, channel: Option<&str>) -> Result<Vec<MessageRow>> {
        let conn = self.lock();
        let mut st = conn.prepare(&format!(
            "SELECT * FROM ({SELECT_MESSAGE}
                WHERE e.room = ?1 AND e.kind = 'message'
                  AND (?3 IS NULL OR COALESCE(e.channel, 'general') = ?3 OR e.channel = '*')
                ORDER BY e.lamport DESC, e.author DESC, e.id DESC LIMIT ?2
             ) ORDER BY lamport ASC, author ASC, id ASC"
        ))?;
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let mut rows = st.query_map(params![room, limit, channel], |r| message_row(room, r))?.collect::<rusqlite::Result<Vec<_>>>()?;
        drop(st);
        for m in &mut rows {
            m.reactions = reactions(&conn, room, &m.id)?;
        }
        Ok(rows)
    }

    /// One message as it reads now; `None` when unknown or deleted.
    pub fn message(&self, room: &str, id: &str) -> Result<Option<MessageRow>> {
        let conn = self.lock();
        let row = conn
            .query_row(&format!("{SELECT_MESSAGE} WHERE e.room = ?1 AND e.id = ?2 AND e.kind = 'message'"), params![room, id], |r| {
                message_row(room, r)
            })
            .optional()?;
        let Some(mut m) = row else { return Ok(None) };
        m.reactions = reactions(&conn, room, id)?;
        Ok(Some(m))
    }

    /// Ids of (at most two) messages in `room` starting with `prefix`.
    pub fn message_ids_like(&self, room: &str, prefix: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT id FROM entries WHERE room = ?1 AND kind = 'message' AND substr(id, 1, length(?2)) = ?2 ORDER BY id LIMIT 2",
        )?;
        let ids = st.query_map(params![room, prefix], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }

    /// Whether the author of `id` deleted it.
    pub fn message_deleted(&self, room: &str, id: &str) -> Result<bool> {
        Ok(self
            .lock()
            .query_row("SELECT 1 FROM deleted_messages WHERE room = ?1 AND id = ?2", params![room, id], |_| Ok(true))
            .optional()?
            .unwrap_or(false))
    }
}

/// Folds a message's reactions: the newest entry per (member, emoji) in the
/// room's order says whether it is set.
fn reactions(conn: &rusqlite::Connection, room: &str, message: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut st = conn.prepare_cached(
        "SELECT author, raw FROM entries WHERE room = ?1 AND target = ?2 AND kind = 'react' ORDER BY lamport, author, id",
    )?;
    let rows = st.query_map(params![room, message], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out: Vec<(String, Vec<String>)> = REACTIONS.iter().map(|e| (e.to_string(), Vec::new())).collect();
    for row in rows {
        let (author, raw) = row?;
        let entry: Entry = serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let Body::React { emoji, on, .. } = entry.body else { continue };
        let Some((_, who)) = out.iter_mut().find(|(e, _)| *e == emoji) else { continue };
        who.retain(|a| *a != author);
        if on {
            who.push(author);
        }
    }
    out.retain(|(_, who)| !who.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use libp2p::identity::Keypair;

    use super::*;
    use crate::entry::Entry;
    use crate::store::entries::tests::{room, ROOM};

    fn say(key: &Keypair, lamport: u64, text: &str) -> Verified {
        Entry::sign(key, ROOM, lamport, 0, Body::Message { text: text.into(), reply_to: None, channel: None })
    }

    fn edit(key: &Keypair, lamport: u64, m: &Verified, text: &str) -> Entry {
        Entry::sign(key, ROOM, lamport, 0, Body::Edit { message: m.id.clone(), text: text.into() }).entry
    }

    fn delete(key: &Keypair, lamport: u64, m: &Verified) -> Entry {
        Entry::sign(key, ROOM, lamport, 0, Body::Delete { message: m.id.clone() }).entry
    }

    fn react(key: &Keypair, lamport: u64, m: &Verified, emoji: &str, on: bool) -> Entry {
        Entry::sign(key, ROOM, lamport, 0, Body::React { message: m.id.clone(), emoji: emoji.into(), on }).entry
    }

    fn texts(store: &Store) -> Vec<String> {
        store.messages(ROOM, None).unwrap().into_iter().map(|m| m.text).collect()
    }

    /// Every text the database file holds for the room, in any entry.
    fn stored_texts(store: &Store) -> Vec<String> {
        let conn = store.lock();
        let mut st = conn.prepare("SELECT COALESCE(text, '') || raw FROM entries WHERE room = ?1").unwrap();
        let rows = st.query_map([ROOM], |r| r.get(0)).unwrap();
        rows.collect::<rusqlite::Result<Vec<String>>>().unwrap()
    }

    #[test]
    fn the_newest_edit_by_the_author_wins_in_any_order_and_others_are_refused() {
        let (_d, store, a, b) = room();
        let m = say(&a, 3, "bonjour");
        let first = edit(&a, 4, &m, "bonjour !");
        let second = edit(&a, 6, &m, "bonsoir !");
        // The newer edit first, then the message, then the older edit.
        store.ingest(ROOM, vec![second], false).unwrap();
        store.ingest(ROOM, vec![m.entry.clone()], false).unwrap();
        store.ingest(ROOM, vec![first], false).unwrap();
        let got = store.message(ROOM, &m.id).unwrap().unwrap();
        assert_eq!((got.text.as_str(), got.edited), ("bonsoir !", true));

        let forged = store.ingest(ROOM, vec![edit(&b, 9, &m, "pwned"), delete(&b, 10, &m)], false).unwrap();
        assert_eq!((forged.not_author, forged.inserted.len()), (2, 0), "bob may not edit or delete alice's words");
        assert_eq!(texts(&store), ["bonsoir !"]);
    }

    #[test]
    fn forged_changes_that_came_before_the_message_are_dropped_when_it_arrives() {
        let (_d, store, a, b) = room();
        let m = say(&a, 3, "à moi");
        let early = store.ingest(ROOM, vec![edit(&b, 4, &m, "à bob"), delete(&b, 5, &m)], false).unwrap();
        assert_eq!(early.inserted.len(), 2, "kept while nobody can tell whose message it is");
        let r = store.ingest(ROOM, vec![m.entry.clone()], false).unwrap();
        // Bob's pending delete already took his edit; the delete goes now.
        assert_eq!((r.inserted.len(), r.not_author), (1, 1));
        let got = store.message(ROOM, &m.id).unwrap().unwrap();
        assert_eq!((got.text.as_str(), got.edited), ("à moi", false));
        assert!(!stored_texts(&store).iter().any(|t| t.contains("à bob")));
    }

    #[test]
    fn a_delete_takes_the_text_its_edits_and_reactions_out_of_the_store() {
        let (_d, store, a, b) = room();
        let m = say(&a, 3, "secret");
        let keep = say(&b, 4, "reste");
        store
            .ingest(ROOM, vec![m.entry.clone(), keep.entry.clone(), edit(&a, 5, &m, "secret bis"), react(&b, 6, &m, "👍", true)], false)
            .unwrap();
        let r = store.ingest(ROOM, vec![delete(&a, 7, &m)], false).unwrap();
        assert_eq!(r.inserted.len(), 1);
        assert_eq!(texts(&store), ["reste"]);
        assert!(store.message(ROOM, &m.id).unwrap().is_none());
        assert!(store.message_deleted(ROOM, &m.id).unwrap());
        assert!(!stored_texts(&store).iter().any(|t| t.contains("secret")), "{:?}", stored_texts(&store));

        // A member who was away pushes its old copy and late changes: turned down.
        let late = store.ingest(ROOM, vec![m.entry.clone(), edit(&a, 8, &m, "secret ter"), react(&b, 9, &m, "🎉", true)], false).unwrap();
        assert_eq!((late.inserted.len(), late.gone), (0, 3));
        assert_eq!(texts(&store), ["reste"]);
        assert!(!stored_texts(&store).iter().any(|t| t.contains("secret")));
    }

    #[test]
    fn a_delete_that_arrives_before_its_message_keeps_the_message_out() {
        let (_d, store, a, _b) = room();
        let m = say(&a, 3, "oups");
        let e = edit(&a, 4, &m, "oups bis");
        store.ingest(ROOM, vec![e.clone(), delete(&a, 5, &m)], false).unwrap();
        assert!(!stored_texts(&store).iter().any(|t| t.contains("oups")), "a pending delete takes its author's edits");
        let r = store.ingest(ROOM, vec![m.entry.clone(), e], false).unwrap();
        assert_eq!((r.inserted.len(), r.gone), (0, 2));
        assert!(texts(&store).is_empty());
        assert!(store.message_deleted(ROOM, &m.id).unwrap());
    }

    #[test]
    fn reactions_toggle_per_member_and_emoji_in_the_rooms_order() {
        let (_d, store, a, b) = room();
        let (ana, bob) = (a.public().to_peer_id().to_string(), b.public().to_peer_id().to_string());
        let m = say(&a, 3, "fête");
        // Out of order: bob's "off" (newer) arrives before his "on".
        store.ingest(ROOM, vec![react(&b, 7, &m, "🎉", false), react(&a, 5, &m, "🎉", true)], false).unwrap();
        store.ingest(ROOM, vec![m.entry.clone(), react(&b, 4, &m, "🎉", true), react(&b, 6, &m, "👍", true)], false).unwrap();
        let got = store.message(ROOM, &m.id).unwrap().unwrap();
        assert_eq!(got.reactions, vec![("👍".to_string(), vec![bob.clone()]), ("🎉".to_string(), vec![ana.clone()])]);
        store.ingest(ROOM, vec![react(&b, 8, &m, "🎉", true)], false).unwrap();
        let got = store.message(ROOM, &m.id).unwrap().unwrap();
        assert_eq!(got.reactions[1], ("🎉".to_string(), vec![ana, bob]), "one per member, set again");
    }

    #[test]
    fn a_reply_names_the_message_it_answers() {
        let (_d, store, a, b) = room();
        let m = say(&a, 3, "question ?");
        let r = Entry::sign(&b, ROOM, 4, 0, Body::Message { text: "réponse".into(), reply_to: Some(m.id.clone()), channel: None });
        store.ingest(ROOM, vec![m.entry.clone(), r.entry], false).unwrap();
        let h = store.messages(ROOM, None).unwrap();
        assert_eq!(h[1].reply_to.as_deref(), Some(m.id.as_str()));
        assert_eq!(h[0].reply_to, None);
    }
}
