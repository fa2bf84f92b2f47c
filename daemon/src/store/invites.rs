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

/// Uses and revocation come from the room's entries (any member may have
/// admitted with the code), the rest from our own row.
/// An invite as the room knows it (from any member's `invite` entry).
#[derive(Debug, Clone)]
pub struct RoomInvite {
    pub id: String,
    pub room: String,
    /// Peer id.
    pub inviter: String,
    pub check: String,
    pub rendezvous: String,
    pub expires: u64,
    pub once: bool,
    pub revoked: bool,
    /// Who was admitted with it, first admission first.
    pub used_by: Vec<String>,
}

const COLS: &str = "i.id, i.room, i.code, i.secret, i.expires, i.once,
    (SELECT COUNT(*) FROM invite_uses u WHERE u.room = i.room AND u.id = i.id),
    i.revoked OR EXISTS (SELECT 1 FROM room_invites r JOIN invite_revocations v
        ON v.room = r.room AND v.id = r.id AND v.author = r.inviter WHERE r.room = i.room AND r.id = i.id)";

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
        let mut st = conn.prepare(&format!("SELECT {COLS} FROM invites i WHERE i.room = ?1 ORDER BY i.created_ms"))?;
        let rows = st.query_map([room], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn invite(&self, id: &str) -> Result<Option<InviteRow>> {
        Ok(self.lock().query_row(&format!("SELECT {COLS} FROM invites i WHERE i.id = ?1"), [id], row).optional()?)
    }

    /// Returns whether an invite was revoked.
    pub fn revoke_invite(&self, id: &str) -> Result<bool> {
        Ok(self.lock().execute("UPDATE invites SET revoked = 1 WHERE id = ?1", [id])? > 0)
    }

    /// The room's view of an invite, from its entries.
    pub fn room_invite(&self, room: &str, id: &str) -> Result<Option<RoomInvite>> {
        let conn = self.lock();
        let Some(mut inv) = conn
            .query_row(
                "SELECT r.id, r.room, r.inviter, r.check_hash, r.rendezvous, r.expires, r.once,
                        EXISTS (SELECT 1 FROM invite_revocations v WHERE v.room = r.room AND v.id = r.id AND v.author = r.inviter)
                 FROM room_invites r WHERE r.room = ?1 AND r.id = ?2",
                [room, id],
                |r| {
                    Ok(RoomInvite {
                        id: r.get(0)?,
                        room: r.get(1)?,
                        inviter: r.get(2)?,
                        check: r.get(3)?,
                        rendezvous: r.get(4)?,
                        expires: r.get::<_, i64>(5)? as u64,
                        once: r.get(6)?,
                        revoked: r.get(7)?,
                        used_by: Vec::new(),
                    })
                },
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut st = conn.prepare("SELECT member FROM invite_uses WHERE room = ?1 AND id = ?2 ORDER BY lamport, member")?;
        inv.used_by = st.query_map([room, id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(Some(inv))
    }

    /// The DHT rendezvous keys (hex) of the codes a holder could still use to
    /// reach us: in rooms we are in, whose inviter still is, not revoked, not
    /// expired, not used up.
    pub fn live_rendezvous(&self, me: &str, now_secs: u64) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT r.rendezvous FROM room_invites r
             JOIN rooms ON rooms.id = r.room AND rooms.left = 0
             JOIN members m ON m.room = r.room AND m.peer_id = ?1 AND m.left_lamport IS NULL
             JOIN members i ON i.room = r.room AND i.peer_id = r.inviter AND i.left_lamport IS NULL
             WHERE r.expires >= ?2
               AND NOT EXISTS (SELECT 1 FROM invite_revocations v WHERE v.room = r.room AND v.id = r.id AND v.author = r.inviter)
               AND (r.once = 0 OR NOT EXISTS (SELECT 1 FROM invite_uses u WHERE u.room = r.room AND u.id = r.id))",
        )?;
        let rows = st.query_map(params![me, now_secs as i64], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Our own codes the room has no `invite` entry for (made by a version
    /// that kept codes to itself): still live, in rooms we are in.
    pub fn unshared_invites(&self, now_secs: u64) -> Result<Vec<InviteRow>> {
        let conn = self.lock();
        let mut st = conn.prepare(&format!(
            "SELECT {COLS} FROM invites i JOIN rooms ON rooms.id = i.room AND rooms.left = 0
             WHERE i.revoked = 0 AND i.expires >= ?1
               AND NOT EXISTS (SELECT 1 FROM room_invites r WHERE r.room = i.room AND r.id = i.id)"
        ))?;
        let rows = st.query_map([now_secs as i64], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Holds a single-use code for `joiner` unless it is held for someone
    /// else (decided, or since less than `stale_ms`). Returns whom it is
    /// held for now and whether that is decided.
    pub fn claim_invite(&self, id: &str, joiner: &str, stale_ms: u64) -> Result<(String, bool)> {
        let now = now_ms();
        let conn = self.lock();
        conn.execute(
            "INSERT INTO invite_claims (id, joiner, at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET joiner = excluded.joiner, at_ms = excluded.at_ms
             WHERE invite_claims.joiner = excluded.joiner OR (invite_claims.decided = 0 AND invite_claims.at_ms < ?4)",
            params![id, joiner, now as i64, now.saturating_sub(stale_ms) as i64],
        )?;
        Ok(conn.query_row("SELECT joiner, decided FROM invite_claims WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    /// Gives an undecided hold to the joiner the members agreed on.
    pub fn yield_claim(&self, id: &str, winner: &str) -> Result<()> {
        self.lock().execute(
            "INSERT INTO invite_claims (id, joiner, at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET joiner = excluded.joiner, at_ms = excluded.at_ms WHERE invite_claims.decided = 0",
            params![id, winner, now_ms() as i64],
        )?;
        Ok(())
    }

    /// Settles a hold: from now on every member who asks hears it is used.
    /// False if the hold is no longer `joiner`'s.
    pub fn decide_claim(&self, id: &str, joiner: &str) -> Result<bool> {
        Ok(self.lock().execute("UPDATE invite_claims SET decided = 1 WHERE id = ?1 AND joiner = ?2", [id, joiner])? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        (dir, s)
    }

    #[test]
    fn a_hold_is_kept_for_its_joiner_until_it_lapses_or_is_yielded() {
        let (_d, s) = store();
        assert_eq!(s.claim_invite("i1", "carol", 60_000).unwrap(), ("carol".to_string(), false));
        // Another joiner meets carol's hold; carol herself may retry.
        assert_eq!(s.claim_invite("i1", "dan", 60_000).unwrap().0, "carol");
        assert_eq!(s.claim_invite("i1", "carol", 60_000).unwrap().0, "carol");
        // Yielding to a smaller joiner moves the hold.
        s.yield_claim("i1", "bob").unwrap();
        assert_eq!(s.claim_invite("i1", "dan", 60_000).unwrap().0, "bob");
        // A hold older than the stale time lapses...
        std::thread::sleep(std::time::Duration::from_millis(3));
        assert_eq!(s.claim_invite("i1", "dan", 0).unwrap().0, "dan");
        // ...unless it was settled: then it stays, and says so.
        assert!(s.decide_claim("i1", "dan").unwrap());
        std::thread::sleep(std::time::Duration::from_millis(3));
        assert_eq!(s.claim_invite("i1", "eve", 0).unwrap(), ("dan".to_string(), true));
        s.yield_claim("i1", "alice").unwrap();
        assert_eq!(s.claim_invite("i1", "eve", 0).unwrap().0, "dan", "a settled hold is not yielded");
        assert!(!s.decide_claim("i1", "eve").unwrap());
    }
}
