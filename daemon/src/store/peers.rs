use rusqlite::{params, OptionalExtension};

use super::{now_ms, Result, Store};

/// Remembered addresses per peer; enough to find friends again after a restart.
const MAX_ADDRS_PER_PEER: usize = 16;

impl Store {
    pub fn save_addrs(&self, peer: &str, addrs: &[String]) -> Result<()> {
        let mut addrs: Vec<&String> = addrs.iter().collect();
        addrs.dedup();
        addrs.truncate(MAX_ADDRS_PER_PEER);
        let json = serde_json::to_string(&addrs).unwrap_or_else(|_| "[]".into());
        self.lock().execute(
            "INSERT INTO peers (peer_id, addrs) VALUES (?1, ?2) ON CONFLICT (peer_id) DO UPDATE SET addrs = excluded.addrs",
            params![peer, json],
        )?;
        Ok(())
    }

    /// What we last heard of a peer's addresses, parsed; none on error.
    pub fn known_addrs(&self, peer: &str) -> Vec<libp2p::Multiaddr> {
        self.addrs(peer).unwrap_or_default().iter().filter_map(|a| a.parse().ok()).collect()
    }

    pub fn addrs(&self, peer: &str) -> Result<Vec<String>> {
        let json: Option<String> = self.lock().query_row("SELECT addrs FROM peers WHERE peer_id = ?1", [peer], |r| r.get(0)).optional()?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default())
    }

    pub fn touch_peer(&self, peer: &str) -> Result<()> {
        self.lock().execute(
            "INSERT INTO peers (peer_id, last_seen_ms) VALUES (?1, ?2) \
             ON CONFLICT (peer_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
            params![peer, now_ms() as i64],
        )?;
        Ok(())
    }
}
