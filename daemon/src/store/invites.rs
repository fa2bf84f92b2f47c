use rusqlite::{params, OptionalExtension};

use super::{now_ms, Result, Store};

#[derive(Debug, Clone)]
pub struct InviteRow {
    pub id: String,
    pub room: String,
    pub code: String,
    pub secret: String,
    pub expires: u64,
    pub once: bool,
    pub uses: u64,
    pub revoked: bool,
}

const COLS: &str = "id, room, code, secret, expires, once, uses, revoked";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InviteRow> {
    Ok(InviteRow {
        id: r.get(0)?,
        room: r.get(1)?,
        code: r.get(2)?,
        secret: r.get(3)?,
        expires: r.get::<_, i64>(4)? as u64,
        once: r.get(5)?,
        uses: r.get::<_, i64>(6)? as u64,
        revoked: r.get(7)?,
    })
}

impl Store {
    pub fn add_invite(&self, inv: &InviteRow) -> Result<()> {
        self.lock().execute(
            "INSERT INTO invites (id, room, code, secret, expires, once, created_ms) VALUES (?1,?2,?3,?4,?5,?6,?7)",
            params![inv.id, inv.room, inv.code, inv.secret, inv.expires as i64, inv.once, now_ms() as i64],
        )?;
        Ok(())
    }

    pub fn invites(&self, room: &str) -> Result<Vec<InviteRow>> {
        let conn = self.lock();
        let mut st = conn.prepare(&format!("SELECT {COLS} FROM invites WHERE room = ?1 ORDER BY created_ms"))?;
        let rows = st.query_map([room], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn invite(&self, id: &str) -> Result<Option<InviteRow>> {
        Ok(self.lock().query_row(&format!("SELECT {COLS} FROM invites WHERE id = ?1"), [id], row).optional()?)
    }

    /// Returns whether an invite was revoked.
    pub fn revoke_invite(&self, id: &str) -> Result<bool> {
        Ok(self.lock().execute("UPDATE invites SET revoked = 1 WHERE id = ?1", [id])? > 0)
    }

    /// Counts one use, atomically refusing a second use of a single-use code.
    /// Returns false when the code may not be used (again).
    pub fn use_invite(&self, id: &str) -> Result<bool> {
        Ok(self.lock().execute("UPDATE invites SET uses = uses + 1 WHERE id = ?1 AND revoked = 0 AND (once = 0 OR uses = 0)", [id])? > 0)
    }
}
