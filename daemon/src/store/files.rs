//! Offers (read from the room's signed entries), files we can serve, and
//! downloads with their verified-chunk bitmaps.

use rusqlite::{params, OptionalExtension};

use super::{Result, Store, StoreError};
use apero_control::TransferState;

use crate::entry::{Body, Entry};

#[derive(Debug, Clone)]
pub struct OfferRow {
    pub file: String,
    pub room: String,
    pub author: String,
    pub author_name: String,
    pub name: String,
    pub size: u64,
    pub chunk_size: u32,
    pub mime: String,
    pub time: u64,
    /// The channel's id (`None`: general).
    pub channel: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SharedRow {
    pub file: String,
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub chunk_size: u32,
    pub hashes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct DownloadRow {
    pub file: String,
    pub room: String,
    pub name: String,
    pub size: u64,
    pub chunk_size: u32,
    pub dir: String,
    pub part: String,
    pub hashes: Option<Vec<u8>>,
    pub bitmap: Vec<u8>,
    pub state: TransferState,
    pub final_path: Option<String>,
    pub error: Option<String>,
}

fn offer_of(raw: &str, author: String, author_name: String, room: String) -> Option<OfferRow> {
    let e: Entry = serde_json::from_str(raw).ok()?;
    match e.body {
        Body::Offer { file, name, size, chunk_size, mime, channel } => {
            Some(OfferRow { file, room, author, author_name, name, size, chunk_size, mime, time: e.time, channel })
        }
        _ => None,
    }
}

const OFFER_SELECT: &str = "SELECT e.raw, e.author, COALESCE(m.name, ''), e.room FROM entries e
    LEFT JOIN members m ON m.room = e.room AND m.peer_id = e.author
    JOIN rooms r ON r.id = e.room AND r.left = 0";

impl Store {
    /// Offers in a room, oldest first (one per file: the first offer wins).
    pub fn offers(&self, room: &str) -> Result<Vec<OfferRow>> {
        let rows = self.offer_rows("e.room = ?1 ORDER BY e.lamport, e.author, e.id", room)?;
        let mut seen = std::collections::HashSet::new();
        Ok(rows.into_iter().filter(|o| seen.insert(o.file.clone())).collect())
    }

    /// Offers whose file id starts with `prefix`, in rooms we are in.
    pub fn offers_matching(&self, prefix: &str) -> Result<Vec<OfferRow>> {
        self.offer_rows("e.text >= ?1 AND e.text < ?1 || 'g' ORDER BY e.lamport", prefix)
    }

    /// Offer entries matching `condition` (one parameter), decoded.
    fn offer_rows(&self, condition: &str, param: &str) -> Result<Vec<OfferRow>> {
        let conn = self.lock();
        let mut st = conn.prepare(&format!("{OFFER_SELECT} WHERE e.kind = 'offer' AND {condition}"))?;
        let rows = st
            .query_map([param], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.into_iter().filter_map(|(raw, a, n, room)| offer_of(&raw, a, n, room)).collect())
    }

    /// Whether `file` was offered in `room`.
    pub fn offered_in(&self, room: &str, file: &str) -> Result<bool> {
        Ok(self
            .lock()
            .query_row("SELECT 1 FROM entries WHERE kind = 'offer' AND text = ?1 AND room = ?2", [file, room], |_| Ok(true))
            .optional()?
            .unwrap_or(false))
    }

    /// Members of `room` who said they are fetching `file` and serve what
    /// they have of it (partial entries), complete holders left out, and
    /// those who dropped their copy since (a cancelled download).
    pub fn partial_holders(&self, room: &str, file: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT DISTINCT e.author FROM entries e JOIN members m ON m.room = e.room AND m.peer_id = e.author
             WHERE e.kind = 'partial' AND e.text = ?1 AND e.room = ?2 AND m.left_lamport IS NULL
               AND NOT EXISTS (SELECT 1 FROM entries h WHERE h.room = e.room AND h.author = e.author
                               AND h.kind IN ('offer', 'have') AND h.text = e.text)
               AND NOT EXISTS (SELECT 1 FROM entries d WHERE d.room = e.room AND d.author = e.author
                               AND d.kind = 'dropped' AND d.text = e.text AND d.lamport > e.lamport)",
        )?;
        let rows = st.query_map([file, room], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Whether `author`'s last word on `file` in `room` is a partial copy
    /// (announced and not dropped since).
    pub fn announced_partial(&self, room: &str, file: &str, author: &str) -> Result<bool> {
        Ok(self
            .lock()
            .query_row(
                "SELECT kind = 'partial' FROM entries WHERE kind IN ('partial', 'dropped') AND text = ?1 AND room = ?2 AND author = ?3
                 ORDER BY lamport DESC, id DESC LIMIT 1",
                [file, room, author],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    /// Members of `room` who said they have `file` (offer or have entries).
    pub fn holders(&self, room: &str, file: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT DISTINCT e.author FROM entries e JOIN members m ON m.room = e.room AND m.peer_id = e.author
             WHERE e.kind IN ('offer', 'have') AND e.text = ?1 AND e.room = ?2 AND m.left_lamport IS NULL",
        )?;
        let rows = st.query_map([file, room], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    pub fn shared_add(&self, s: &SharedRow) -> Result<()> {
        self.lock().execute(
            "INSERT OR REPLACE INTO shared (file, path, size, mtime_ns, chunk_size, hashes) VALUES (?1,?2,?3,?4,?5,?6)",
            params![s.file, s.path, s.size as i64, s.mtime_ns, s.chunk_size, s.hashes],
        )?;
        Ok(())
    }

    pub fn shared(&self, file: &str) -> Result<Vec<SharedRow>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT file, path, size, mtime_ns, chunk_size, hashes FROM shared WHERE file = ?1")?;
        let rows = st
            .query_map([file], |r| {
                Ok(SharedRow {
                    file: r.get(0)?,
                    path: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    chunk_size: r.get(4)?,
                    hashes: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn shared_remove(&self, file: &str, path: &str) -> Result<()> {
        self.lock().execute("DELETE FROM shared WHERE file = ?1 AND path = ?2", [file, path])?;
        Ok(())
    }

    pub fn download(&self, file: &str) -> Result<Option<DownloadRow>> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT file, room, name, size, chunk_size, dir, part, hashes, bitmap, state, final_path, error \
                 FROM downloads WHERE file = ?1",
                [file],
                download_row,
            )
            .optional()?)
    }

    /// Just a download's bitmap (served to members who fetch from us).
    pub fn download_bitmap(&self, file: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().query_row("SELECT bitmap FROM downloads WHERE file = ?1", [file], |r| r.get(0)).optional()?)
    }

    pub fn downloads(&self) -> Result<Vec<DownloadRow>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT file, room, name, size, chunk_size, dir, part, hashes, bitmap, state, final_path, error \
             FROM downloads ORDER BY created_ms",
        )?;
        let rows = st.query_map([], download_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn download_put(&self, d: &DownloadRow) -> Result<()> {
        self.lock().execute(
            "INSERT OR REPLACE INTO downloads \
             (file, room, name, size, chunk_size, dir, part, hashes, bitmap, state, final_path, error, created_ms)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
            params![
                d.file,
                d.room,
                d.name,
                d.size as i64,
                d.chunk_size,
                d.dir,
                d.part,
                d.hashes,
                d.bitmap,
                d.state.as_str(),
                d.final_path,
                d.error,
                super::now_ms() as i64
            ],
        )?;
        Ok(())
    }

    pub fn download_progress(&self, file: &str, hashes: Option<&[u8]>, bitmap: &[u8]) -> Result<()> {
        self.lock()
            .execute("UPDATE downloads SET hashes = COALESCE(?2, hashes), bitmap = ?3 WHERE file = ?1", params![file, hashes, bitmap])?;
        Ok(())
    }

    pub fn download_state(&self, file: &str, state: TransferState, final_path: Option<&str>, error: Option<&str>) -> Result<()> {
        let n = self.lock().execute(
            "UPDATE downloads SET state = ?2, final_path = COALESCE(?3, final_path), error = ?4 WHERE file = ?1",
            params![file, state.as_str(), final_path, error],
        )?;
        if n == 0 {
            return Err(StoreError::Corrupt(format!("no download {file}")));
        }
        Ok(())
    }

    pub fn download_delete(&self, file: &str) -> Result<()> {
        self.lock().execute("DELETE FROM downloads WHERE file = ?1", [file])?;
        Ok(())
    }
}

fn download_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DownloadRow> {
    Ok(DownloadRow {
        file: r.get(0)?,
        room: r.get(1)?,
        name: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        chunk_size: r.get(4)?,
        dir: r.get(5)?,
        part: r.get(6)?,
        hashes: r.get(7)?,
        bitmap: r.get(8)?,
        state: {
            let s: String = r.get(9)?;
            // An unknown word (a newer version's state) reads as paused:
            // resumable, never silently done.
            TransferState::ALL.iter().copied().find(|t| t.as_str() == s).unwrap_or(TransferState::Paused)
        },
        final_path: r.get(10)?,
        error: r.get(11)?,
    })
}
