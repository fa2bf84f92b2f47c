//! The daemon's one SQLite database: rooms, their signed entries, members,
//! invites and the last known addresses of peers.
//!
//! WAL with `synchronous=FULL`: when a write returns, it survives `kill -9`
//! and power loss, which is what lets `say` acknowledge a message.
//!
//! The connection sits behind a plain mutex that is only held inside these
//! synchronous methods, never across an `.await`.

pub mod authority;
mod entries;
mod files;
mod invites;
mod members;
mod messages;
mod peers;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use entries::Ingested;
pub use files::{DownloadRow, OfferRow, SharedRow};
pub use invites::{InviteRow, RoomInvite};
pub use members::MemberRow;
pub use messages::MessageRow;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("corrupt row in the database: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// For writes whose failure must not stop what the caller is doing
/// (bookkeeping, progress): logged, and the next write tries again.
pub fn log_error<T>(r: Result<T>) {
    if let Err(e) = r {
        tracing::warn!("database: {e}");
    }
}

pub struct Store {
    conn: Mutex<Connection>,
    /// Each room's folded authority ([`authority`]), dropped when an entry changes it.
    authority: Mutex<std::collections::HashMap<String, std::sync::Arc<authority::Authority>>>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    joined_ms INTEGER NOT NULL,
    left INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    author TEXT NOT NULL,
    lamport INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    text TEXT,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_order ON entries(room, lamport, author, id);
CREATE INDEX IF NOT EXISTS entries_author ON entries(room, author);
CREATE TABLE IF NOT EXISTS members (
    room TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    since_lamport INTEGER NOT NULL,
    left_lamport INTEGER,
    PRIMARY KEY (room, peer_id)
);
CREATE TABLE IF NOT EXISTS invites (
    id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    code TEXT NOT NULL,
    secret TEXT NOT NULL,
    expires INTEGER NOT NULL,
    once INTEGER NOT NULL,
    uses INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS peers (
    peer_id TEXT PRIMARY KEY,
    addrs TEXT NOT NULL DEFAULT '[]',
    last_seen_ms INTEGER
);
CREATE INDEX IF NOT EXISTS entries_files ON entries(text) WHERE kind IN ('offer', 'have');
CREATE INDEX IF NOT EXISTS entries_partial ON entries(text) WHERE kind = 'partial';
-- Local files we can serve: our own offers (where the user keeps them) and
-- completed downloads. `hashes` is the chunk-hash list the root commits to.
CREATE TABLE IF NOT EXISTS shared (
    file TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (file, path)
);
-- Downloads, complete or not. `bitmap` marks chunks verified and written to `part`.
CREATE TABLE IF NOT EXISTS downloads (
    file TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    dir TEXT NOT NULL,
    part TEXT NOT NULL,
    hashes BLOB,
    bitmap BLOB NOT NULL,
    state TEXT NOT NULL,
    final_path TEXT,
    error TEXT,
    created_ms INTEGER NOT NULL
);
-- Rooms we left whose leave entry no other member is known to hold yet: we
-- keep dialing their members (and syncing with them) until one has it, so a
-- leave made while everyone was away still reaches the room.
CREATE TABLE IF NOT EXISTS leaving (room TEXT PRIMARY KEY);
-- Every member's view of the room's invite codes, kept from the room's
-- `invite`, `revoke` and `admit` entries: what lets any member admit.
CREATE TABLE IF NOT EXISTS room_invites (
    room TEXT NOT NULL,
    id TEXT NOT NULL,
    inviter TEXT NOT NULL,
    check_hash TEXT NOT NULL,
    rendezvous TEXT NOT NULL,
    expires INTEGER NOT NULL,
    once INTEGER NOT NULL,
    PRIMARY KEY (room, id)
);
-- Revocations apart from the invites: a revoke that arrives before its
-- invite (two batches, two peers) still counts once the invite is in.
CREATE TABLE IF NOT EXISTS invite_revocations (
    room TEXT NOT NULL,
    id TEXT NOT NULL,
    author TEXT NOT NULL,
    PRIMARY KEY (room, id, author)
);
CREATE TABLE IF NOT EXISTS invite_uses (
    room TEXT NOT NULL,
    id TEXT NOT NULL,
    member TEXT NOT NULL,
    lamport INTEGER NOT NULL,
    PRIMARY KEY (room, id, member)
);
-- Single-use codes being decided: who this daemon holds each one for while
-- members agree on one holder (room::join). Local, short-lived.
CREATE TABLE IF NOT EXISTS invite_claims (
    id TEXT PRIMARY KEY,
    joiner TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    decided INTEGER NOT NULL DEFAULT 0
);
-- Messages their authors deleted: what keeps a copy pushed later by a
-- member who was away from coming back (store::messages).
CREATE TABLE IF NOT EXISTS deleted_messages (
    room TEXT NOT NULL,
    id TEXT NOT NULL,
    author TEXT NOT NULL,
    PRIMARY KEY (room, id)
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');
"#;

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // A deleted message must not linger in freed pages of the file.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        add_target_column(&conn)?;
        add_channel_column(&conn)?;
        Ok(Store { conn: Mutex::new(conn), authority: Mutex::default() })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each
        // change is a transaction), so a poisoned lock is still usable.
        crate::lock::lock(&self.conn)
    }

    /// Checkpoints the WAL so the database is one file again at rest.
    pub fn close(&self) -> Result<()> {
        self.lock().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

/// `entries.target` (the message an entry answers, edits, deletes or
/// reacts to) came after the first release: added to older databases, whose
/// entries name no message.
fn add_target_column(conn: &Connection) -> Result<()> {
    let has: bool = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('entries') WHERE name = 'target'", [], |r| r.get(0))?;
    if !has {
        conn.execute_batch("ALTER TABLE entries ADD COLUMN target TEXT;")?;
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS entries_target ON entries(room, target) WHERE target IS NOT NULL;")?;
    Ok(())
}

/// `entries.channel` (the channel a message was said in; NULL: general)
/// came with channels: older entries are general's.
fn add_channel_column(conn: &Connection) -> Result<()> {
    let has: bool = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('entries') WHERE name = 'channel'", [], |r| r.get(0))?;
    if !has {
        conn.execute_batch("ALTER TABLE entries ADD COLUMN channel TEXT;")?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct RoomRow {
    pub id: String,
    pub name: String,
    pub left: bool,
}

impl Store {
    pub fn rooms(&self, include_left: bool) -> Result<Vec<RoomRow>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT id, name, left FROM rooms WHERE left = 0 OR ?1 ORDER BY joined_ms, id")?;
        let rows = st
            .query_map([include_left], |r| Ok(RoomRow { id: r.get(0)?, name: r.get(1)?, left: r.get(2)? }))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn room(&self, id: &str) -> Result<Option<RoomRow>> {
        use rusqlite::OptionalExtension;
        let conn = self.lock();
        Ok(conn
            .query_row("SELECT id, name, left FROM rooms WHERE id = ?1", [id], |r| {
                Ok(RoomRow { id: r.get(0)?, name: r.get(1)?, left: r.get(2)? })
            })
            .optional()?)
    }

    /// Leaving also marks the leave as not yet delivered ([`Store::leave_delivered`]).
    pub fn set_room_left(&self, id: &str, left: bool) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("UPDATE rooms SET left = ?2 WHERE id = ?1", rusqlite::params![id, left])?;
        if left {
            tx.execute("INSERT OR IGNORE INTO leaving (room) VALUES (?1)", [id])?;
        } else {
            tx.execute("DELETE FROM leaving WHERE room = ?1", [id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A host removed us: the room is gone for us, with no leave of ours to spread.
    pub fn set_room_removed(&self, id: &str) -> Result<()> {
        self.lock().execute("UPDATE rooms SET left = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Small local settings the daemon keeps between runs (`meta` table).
    pub fn meta(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1")?;
        let rows = st.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.lock().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// A member now holds our leave of `room`: anti-entropy carries it on.
    pub fn leave_delivered(&self, room: &str) -> Result<bool> {
        Ok(self.lock().execute("DELETE FROM leaving WHERE room = ?1", [room])? > 0)
    }
}

/// A room id (32 hex digits, as the store keeps it) as the 16 bytes the
/// call and share streams name it by; `None` when the id is corrupt.
pub fn room_bytes(room: &str) -> Option<[u8; 16]> {
    let mut b = [0u8; 16];
    hex::decode_to_slice(room, &mut b).ok()?;
    Some(b)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Store {
    /// Removes every trace of a room (a join that did not complete).
    pub fn forget_room(&self, id: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for table in ["entries", "members", "invites", "room_invites", "invite_uses", "invite_revocations", "deleted_messages"] {
            tx.execute(&format!("DELETE FROM {table} WHERE room = ?1"), [id])?;
        }
        tx.execute("DELETE FROM rooms WHERE id = ?1", [id])?;
        tx.commit()?;
        self.forget_authority(id);
        Ok(())
    }
}
