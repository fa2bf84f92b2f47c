//! Who may do what in a room: its hosts, channels, removals and breakout,
//! folded from the room's signed entries in the room's total order.
//!
//! The rule (docs/channels.md): an entry that takes a host counts when its
//! author is a host in the state made by every earlier entry, in the order
//! `(lamport, author, id)`. Every member holds the same entries after sync
//! and folds them the same way, so all agree, whatever order the entries
//! arrived in; one that does not count is kept (so every member holds the
//! same set) and ignored.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::{Result, Store, StoreError};
use crate::entry::host::{self, BROADCAST, GENERAL};
use crate::entry::{Body, Entry};

/// The kinds the fold reads (and messages whose channel is `*`).
pub(super) const KINDS: &str = "'create','admit','leave','role','remove','channel','move','mute','breakout','breakout_end'";

#[derive(Debug, Clone, Default)]
pub struct Authority {
    pub hosts: BTreeSet<String>,
    /// Channel id and name, in creation order, general first.
    pub channels: Vec<(String, String)>,
    /// Removed member → the removal's lamport.
    pub removed: HashMap<String, u64>,
    pub breakout: Option<Breakout>,
    /// Entries that needed a host and whose author was not one.
    pub refused: HashSet<String>,
    /// Current members in admission order (to pick a host when none is left).
    members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Breakout {
    pub id: String,
    pub by: String,
    /// (channel id, name, members)
    pub groups: Vec<(String, String, Vec<String>)>,
    /// Unix ms; 0: no timer.
    pub ends_ms: u64,
}

impl Breakout {
    /// Whether its timer has run out at `now_ms`.
    pub fn over(&self, now_ms: u64) -> bool {
        self.ends_ms != 0 && now_ms >= self.ends_ms
    }

    /// The channel `member` was put in.
    pub fn group_of(&self, member: &str) -> Option<&str> {
        self.groups.iter().find(|g| g.2.iter().any(|m| m == member)).map(|g| g.0.as_str())
    }
}

impl Authority {
    pub fn is_host(&self, peer: &str) -> bool {
        self.hosts.contains(peer)
    }

    /// A channel's name by id, breakout groups included.
    pub fn channel_name(&self, id: &str) -> Option<&str> {
        if let Some((_, n)) = self.channels.iter().find(|(c, _)| c == id) {
            return Some(n);
        }
        self.breakout.as_ref()?.groups.iter().find(|g| g.0 == id).map(|g| g.1.as_str())
    }

    /// A channel's id from a name or an id (names first; any case).
    pub fn find_channel(&self, query: &str) -> Option<String> {
        let q = query.trim();
        let all =
            self.channels.iter().map(|(id, n)| (id, n)).chain(self.breakout.iter().flat_map(|b| b.groups.iter().map(|g| (&g.0, &g.1))));
        let mut by_id = None;
        for (id, name) in all {
            if name.eq_ignore_ascii_case(q) {
                return Some(id.clone());
            }
            if id == q {
                by_id = Some(id.clone());
            }
        }
        by_id
    }

    fn apply(&mut self, lamport: u64, author: &str, id: &str, body: &Body) {
        let needs_host = host::needs_host(body) || matches!(body, Body::Message { channel: Some(c), .. } if c == BROADCAST);
        if needs_host && !self.hosts.contains(author) {
            self.refused.insert(id.to_string());
            return;
        }
        let ok = match body {
            Body::Create { .. } => {
                self.hosts = BTreeSet::from([author.to_string()]);
                self.channels = vec![(GENERAL.to_string(), GENERAL.to_string())];
                self.members = vec![author.to_string()];
                true
            }
            Body::Admit { member, .. } => {
                if !self.members.contains(member) {
                    self.members.push(member.clone());
                }
                true
            }
            Body::Leave => {
                self.depart(author);
                true
            }
            Body::Role { member, host: true } => self.members.contains(member) && self.hosts.insert(member.clone()),
            // The last host cannot step down: a room always has one.
            Body::Role { member, host: false } => self.hosts.len() > 1 && self.hosts.remove(member),
            Body::Remove { member } => {
                if member == author || !self.members.contains(member) {
                    false
                } else {
                    self.removed.insert(member.clone(), lamport);
                    self.depart(member);
                    true
                }
            }
            Body::Channel { id: cid, name: Some(name) } => {
                match self.channels.iter_mut().find(|(c, _)| c == cid) {
                    Some(c) => c.1 = name.clone(),
                    None => self.channels.push((cid.clone(), name.clone())),
                }
                true
            }
            Body::Channel { id: cid, name: None } => {
                let before = self.channels.len();
                self.channels.retain(|(c, _)| c != cid || c == GENERAL);
                self.channels.len() < before
            }
            Body::Breakout { id: bid, groups, ends } => {
                let groups =
                    groups.iter().enumerate().map(|(i, g)| (host::group_channel(bid, i), g.name.clone(), g.members.clone())).collect();
                self.breakout = Some(Breakout { id: bid.clone(), by: author.to_string(), groups, ends_ms: *ends });
                true
            }
            Body::BreakoutEnd { id: bid } => {
                let current = self.breakout.as_ref().is_some_and(|b| &b.id == bid);
                if current {
                    self.breakout = None;
                }
                current
            }
            _ => true,
        };
        if !ok {
            self.refused.insert(id.to_string());
        }
    }

    /// A member went: a room without hosts gets its longest-standing member.
    fn depart(&mut self, member: &str) {
        self.members.retain(|m| m != member);
        self.hosts.remove(member);
        if self.hosts.is_empty() {
            if let Some(first) = self.members.first() {
                self.hosts.insert(first.clone());
            }
        }
    }
}

/// Folds entries `(lamport, author, id, body)` in the room's order.
pub fn fold(mut entries: Vec<(u64, String, String, Body)>) -> Authority {
    entries.sort_by(|a, b| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)));
    let mut a = Authority::default();
    for (lamport, author, id, body) in &entries {
        a.apply(*lamport, author, id, body);
    }
    a
}

/// The fold over what `conn` holds for `room`.
pub(super) fn fold_in(conn: &Connection, room: &str) -> Result<Authority> {
    let mut st = conn.prepare(&format!(
        "SELECT lamport, author, id, raw FROM entries WHERE room = ?1 AND (kind IN ({KINDS}) OR (kind = 'message' AND channel = ?2))"
    ))?;
    let rows = st
        .query_map(params![room, BROADCAST], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut entries = Vec::with_capacity(rows.len());
    for (lamport, author, id, raw) in rows {
        let e: Entry = serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        entries.push((lamport, author, id, e.body));
    }
    Ok(fold(entries))
}

/// After a batch brought fold entries: removals that count take the member
/// out (as a leave would), and removals that no longer count (a host who had
/// lost the role before, as a late entry showed) give the membership back.
pub(super) fn apply_removals(tx: &rusqlite::Transaction<'_>, room: &str) -> Result<Authority> {
    let a = fold_in(tx, room)?;
    for (member, lamport) in &a.removed {
        tx.execute(
            "UPDATE members SET left_lamport = ?3 WHERE room = ?1 AND peer_id = ?2 AND since_lamport < ?3
             AND (left_lamport IS NULL OR left_lamport > ?3)",
            params![room, member, *lamport as i64],
        )?;
    }
    let mut st = tx.prepare("SELECT id, lamport, raw FROM entries WHERE room = ?1 AND kind = 'remove'")?;
    let removes = st
        .query_map([room], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (id, lamport, raw) in removes {
        if !a.refused.contains(&id) {
            continue;
        }
        let Ok(Entry { body: Body::Remove { member }, .. }) = serde_json::from_str::<Entry>(&raw) else { continue };
        if a.removed.get(&member).is_some_and(|l| *l as i64 == lamport) {
            continue;
        }
        tx.execute(
            "UPDATE members SET left_lamport = NULL WHERE room = ?1 AND peer_id = ?2 AND left_lamport = ?3
             AND NOT EXISTS (SELECT 1 FROM entries WHERE room = ?1 AND author = ?2 AND kind = 'leave' AND lamport = ?3)",
            params![room, member, lamport],
        )?;
    }
    Ok(a)
}

impl Store {
    /// The room's authority as of every entry we hold (cached until the
    /// next entry that changes it).
    pub fn authority(&self, room: &str) -> Result<Arc<Authority>> {
        if let Some(a) = crate::lock::lock(&self.authority).get(room) {
            return Ok(a.clone());
        }
        // Folded and cached under the connection's lock, as `ingest` caches
        // its own fold: a fold of older entries never replaces a newer one.
        let conn = self.lock();
        let a = Arc::new(fold_in(&conn, room)?);
        crate::lock::lock(&self.authority).insert(room.to_string(), a.clone());
        Ok(a)
    }

    /// `a`, folded from what the caller just committed, holding the connection.
    pub(super) fn cache_authority(&self, room: &str, a: Authority) {
        crate::lock::lock(&self.authority).insert(room.to_string(), Arc::new(a));
    }

    pub(super) fn forget_authority(&self, room: &str) {
        crate::lock::lock(&self.authority).remove(room);
    }
}

/// Whether storing this body can change a room's authority.
pub(super) fn changes_authority(body: &Body) -> bool {
    host::needs_host(body)
        || matches!(body, Body::Create { .. } | Body::Admit { .. } | Body::Leave)
        || matches!(body, Body::Message { channel: Some(c), .. } if c == BROADCAST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Group;

    fn e(lamport: u64, author: &str, id: &str, body: Body) -> (u64, String, String, Body) {
        (lamport, author.into(), id.into(), body)
    }

    fn create() -> Body {
        Body::Create { name: "r".into(), creator_name: "ana".into() }
    }

    fn admit(m: &str) -> Body {
        Body::Admit { member: m.into(), name: m.into(), invite: None }
    }

    #[test]
    fn only_hosts_act_and_the_order_decides_not_the_arrival() {
        let base = vec![e(1, "ana", "i1", create()), e(2, "ana", "i2", admit("bob")), e(3, "ana", "i3", admit("eve"))];
        let mut entries = base.clone();
        entries.push(e(4, "bob", "i4", Body::Channel { id: "0000000a".into(), name: Some("x".into()) }));
        let a = fold(entries);
        assert!(a.refused.contains("i4"), "bob is no host");
        assert_eq!(a.channels.len(), 1);

        // Ana makes bob a host at 4; bob's channel at 5 counts; a role change
        // by eve (no host) is refused; whatever the order they are given in.
        let mut entries = base.clone();
        entries.push(e(6, "eve", "i6", Body::Role { member: "eve".into(), host: true }));
        entries.push(e(5, "bob", "i5", Body::Channel { id: "0000000a".into(), name: Some("x".into()) }));
        entries.push(e(4, "ana", "i4", Body::Role { member: "bob".into(), host: true }));
        let a = fold(entries.clone());
        entries.reverse();
        let b = fold(entries);
        assert_eq!(a.hosts, b.hosts);
        assert_eq!(a.hosts, BTreeSet::from(["ana".to_string(), "bob".to_string()]));
        assert_eq!(a.channels, vec![("general".into(), "general".into()), ("0000000a".into(), "x".into())]);
        assert!(a.refused.contains("i6") && b.refused.contains("i6"));
    }

    #[test]
    fn a_concurrent_demotion_before_an_act_voids_the_act_everywhere() {
        // Ana takes bob's role at lamport 5; bob, not knowing, removes eve at 6.
        let entries = vec![
            e(1, "ana", "i1", create()),
            e(2, "ana", "i2", admit("bob")),
            e(3, "ana", "i3", admit("eve")),
            e(4, "ana", "i4", Body::Role { member: "bob".into(), host: true }),
            e(5, "ana", "i5", Body::Role { member: "bob".into(), host: false }),
            e(6, "bob", "i6", Body::Remove { member: "eve".into() }),
        ];
        let a = fold(entries);
        assert!(a.refused.contains("i6"));
        assert!(a.removed.is_empty());
        // Same lamport: the author's id breaks the tie, the same everywhere.
        let tie = vec![
            e(1, "ana", "i1", create()),
            e(2, "ana", "i2", admit("bob")),
            e(3, "ana", "i3", Body::Role { member: "bob".into(), host: true }),
            e(4, "bob", "i4", Body::Role { member: "ana".into(), host: false }),
            e(4, "ana", "i5", Body::Role { member: "bob".into(), host: false }),
        ];
        let a = fold(tie);
        assert_eq!(a.hosts, BTreeSet::from(["ana".to_string()]), "ana's entry sorts first: bob is no host when his comes");
        assert!(a.refused.contains("i4"));
    }

    #[test]
    fn the_last_host_stays_and_a_hostless_room_gets_its_oldest_member() {
        let a = fold(vec![
            e(1, "ana", "i1", create()),
            e(2, "ana", "i2", admit("bob")),
            e(3, "ana", "i3", Body::Role { member: "ana".into(), host: false }),
        ]);
        assert!(a.refused.contains("i3"));
        let a = fold(vec![e(1, "ana", "i1", create()), e(2, "ana", "i2", admit("bob")), e(3, "ana", "i3", Body::Leave)]);
        assert_eq!(a.hosts, BTreeSet::from(["bob".to_string()]));
    }

    #[test]
    fn breakouts_end_by_their_own_id_and_groups_have_channels() {
        let g = vec![Group { name: "A".into(), members: vec!["bob".into()] }, Group { name: "B".into(), members: vec!["eve".into()] }];
        let a = fold(vec![
            e(1, "ana", "i1", create()),
            e(2, "ana", "i2", Body::Breakout { id: "0000000b".into(), groups: g, ends: 10 }),
            e(3, "ana", "i3", Body::BreakoutEnd { id: "0000000c".into() }),
        ]);
        let b = a.breakout.as_ref().unwrap();
        assert!(a.refused.contains("i3"), "another breakout's end");
        assert_eq!(b.group_of("eve"), Some(host::group_channel("0000000b", 1).as_str()));
        assert_eq!(a.find_channel("b").as_deref(), b.group_of("eve"));
        assert!(b.over(10) && !b.over(9));
    }

    use proptest::prelude::*;

    /// A random act by one of four members (`m0` created the room).
    fn act() -> impl Strategy<Value = (u64, usize, Body)> {
        let who = 0usize..4;
        let target = (0usize..4).prop_map(|i| format!("m{i}"));
        let body = prop_oneof![
            (target.clone(), any::<bool>()).prop_map(|(member, host)| Body::Role { member, host }),
            target.clone().prop_map(|member| Body::Remove { member }),
            (0u8..3, proptest::option::of("[a-z]{1,5}")).prop_map(|(c, name)| Body::Channel { id: format!("0000000{c}"), name }),
            (0u8..2, 0u64..3).prop_map(|(b, ends)| Body::Breakout {
                id: format!("0000000{b}"),
                groups: vec![Group { name: "G".into(), members: vec!["m1".into()] }],
                ends
            }),
            (0u8..2).prop_map(|b| Body::BreakoutEnd { id: format!("0000000{b}") }),
            Just(Body::Leave),
        ];
        (2u64..30, who, body)
    }

    proptest! {
        /// Every member holds the same entries in some arrival order: all
        /// must come to the same authority.
        #[test]
        fn any_arrival_order_gives_the_same_authority(acts in proptest::collection::vec(act(), 0..25), seed in any::<u64>()) {
            let mut entries = vec![e(1, "m0", "c", create())];
            for i in 1..4 {
                entries.push(e(1 + i, "m0", &format!("a{i}"), admit(&format!("m{i}"))));
            }
            for (k, (lamport, who, body)) in acts.into_iter().enumerate() {
                entries.push((lamport + 4, format!("m{who}"), format!("x{k:02}"), body));
            }
            let a = fold(entries.clone());
            // A deterministic shuffle from the seed.
            let mut shuffled = entries;
            let mut r = seed;
            for i in (1..shuffled.len()).rev() {
                r = r.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (r >> 33) as usize % (i + 1));
            }
            let b = fold(shuffled);
            prop_assert_eq!(&a.hosts, &b.hosts);
            prop_assert_eq!(&a.channels, &b.channels);
            prop_assert_eq!(&a.removed, &b.removed);
            prop_assert_eq!(&a.breakout, &b.breakout);
            prop_assert_eq!(&a.refused, &b.refused);
            prop_assert!(!a.hosts.is_empty() || a.members.is_empty(), "a room with members keeps a host");
        }
    }
}
