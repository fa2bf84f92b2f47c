use rusqlite::{params, OptionalExtension};

use super::{Result, Store};

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub peer_id: String,
    pub name: String,
    pub last_seen_ms: Option<u64>,
}

impl Store {
    /// Current members (admitted and not departed), in admission order.
    pub fn members(&self, room: &str) -> Result<Vec<MemberRow>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT m.peer_id, m.name, p.last_seen_ms FROM members m LEFT JOIN peers p ON p.peer_id = m.peer_id
             WHERE m.room = ?1 AND m.left_lamport IS NULL ORDER BY m.since_lamport, m.peer_id",
        )?;
        let rows = st
            .query_map([room], |r| {
                Ok(MemberRow { peer_id: r.get(0)?, name: r.get(1)?, last_seen_ms: r.get::<_, Option<i64>>(2)?.map(|v| v as u64) })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn is_member(&self, room: &str, peer: &str) -> Result<bool> {
        Ok(self
            .lock()
            .query_row("SELECT 1 FROM members WHERE room = ?1 AND peer_id = ?2 AND left_lamport IS NULL", [room, peer], |_| Ok(true))
            .optional()?
            .unwrap_or(false))
    }

    /// Rooms (including ones we left, so our departure still spreads) where
    /// `peer` is a current member.
    pub fn shared_rooms(&self, peer: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT room FROM members WHERE peer_id = ?1 AND left_lamport IS NULL")?;
        let rows = st.query_map([peer], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Every peer that shares a room with us, other than `me`, and the
    /// members of rooms we left that do not have our leave yet.
    pub fn all_room_peers(&self, me: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT DISTINCT m.peer_id FROM members m JOIN rooms r ON r.id = m.room
             WHERE m.left_lamport IS NULL AND m.peer_id != ?1
               AND (r.left = 0 OR r.id IN (SELECT room FROM leaving))",
        )?;
        let rows = st.query_map([me], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// A display name for a peer from any room we share with it.
    pub fn peer_name(&self, peer: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row("SELECT name FROM members WHERE peer_id = ?1 ORDER BY left_lamport IS NULL DESC LIMIT 1", params![peer], |r| {
                r.get(0)
            })
            .optional()?)
    }
}
