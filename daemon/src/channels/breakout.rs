//! Breakout groups: a host splits the call into groups (one signed entry,
//! which every daemon acts on for itself), broadcasts to them, and ends
//! them; anyone in a group may ask the hosts for help.

use std::collections::HashMap;

use apero_control::{Assignment, ChannelsInfo, MessageInfo};
use rand::seq::SliceRandom;

use super::Channels;
use crate::entry::host::{self, BROADCAST, MAX_GROUPS};
use crate::entry::{Body, Group};
use crate::error::{ServiceError, ServiceResult};
use crate::store::RoomRow;

/// Who goes where: `people` shuffled into `n` groups as evenly as can be,
/// after those `fixed` by hand (member → group index).
pub fn split(mut people: Vec<String>, n: usize, fixed: &HashMap<String, usize>, rng: &mut impl rand::Rng) -> Vec<Vec<String>> {
    let mut groups = vec![Vec::new(); n];
    for (m, g) in fixed {
        groups[*g].push(m.clone());
    }
    people.retain(|p| !fixed.contains_key(p));
    people.shuffle(rng);
    for p in people {
        // The smallest group next (the first of equals): sizes differ by at most one
        // beyond what was fixed by hand.
        let g = (0..n).min_by_key(|&i| groups[i].len()).unwrap_or(0);
        groups[g].push(p);
    }
    for g in &mut groups {
        g.sort();
    }
    groups
}

impl Channels {
    pub async fn breakout_start(&self, room: &RoomRow, n: u32, minutes: Option<u32>, assign: &[Assignment]) -> ServiceResult<ChannelsInfo> {
        self.need_host(room, "start breakout groups")?;
        let n = n as usize;
        if n == 0 || n > MAX_GROUPS {
            return Err(ServiceError::BadRequest(format!("ask for 1 to {MAX_GROUPS} groups")));
        }
        if minutes.is_some_and(|m| m == 0 || m > 24 * 60) {
            return Err(ServiceError::BadRequest("a breakout lasts 1 minute to 24 hours (or leave --minutes out)".into()));
        }
        let mut fixed = HashMap::new();
        for a in assign {
            if a.group == 0 || a.group as usize > n {
                return Err(ServiceError::BadRequest(format!("group {} does not exist: groups are 1 to {n}", a.group)));
            }
            fixed.insert(self.resolve_member(room, &a.member)?, a.group as usize - 1);
        }
        // Everyone in the call but the host who splits it (who visits the groups).
        let people: Vec<String> =
            self.deps.calls.channel_map(&room.id).into_iter().map(|(p, _)| p.to_string()).filter(|p| *p != self.me).collect();
        if people.is_empty() && fixed.is_empty() {
            return Err(ServiceError::BadRequest(format!("nobody else is in {}'s call to split into groups", room.name)));
        }
        let groups = split(people, n, &fixed, &mut rand::thread_rng());
        let groups = groups.into_iter().enumerate().map(|(i, members)| Group { name: format!("Group {}", i + 1), members }).collect();
        let ends = minutes.map_or(0, |m| crate::store::now_ms() + m as u64 * super::minute_ms());
        self.publish(room, Body::Breakout { id: host::new_id(), groups, ends }).await
    }

    pub async fn breakout_end(&self, room: &RoomRow) -> ServiceResult<ChannelsInfo> {
        let a = self.need_host(room, "end the breakout")?;
        let Some(b) = a.breakout.as_ref() else {
            return Err(ServiceError::NotFound("no breakout is running in this room".into()));
        };
        self.publish(room, Body::BreakoutEnd { id: b.id.clone() }).await
    }

    /// Tells the hosts that our group needs them.
    pub async fn help(&self, room: &RoomRow) -> ServiceResult<ChannelsInfo> {
        let Some((_, channel)) = self.deps.calls.our_channel().filter(|(r, _)| *r == room.id) else {
            return Err(ServiceError::NotFound(format!("you are not in {}'s call", room.name)));
        };
        self.deps.publisher.publish(room.id.clone(), Body::Help { channel }).await?;
        self.list(room)
    }

    /// A host's message to every channel.
    pub async fn broadcast(&self, room: &RoomRow, text: &str) -> ServiceResult<MessageInfo> {
        self.need_host(room, "broadcast to every group")?;
        if text.trim().is_empty() || text.len() > apero_control::MAX_MESSAGE_BYTES {
            return Err(ServiceError::BadRequest("a broadcast needs a text of at most 16 KiB".into()));
        }
        let v = self
            .deps
            .publisher
            .publish(room.id.clone(), Body::Message { text: text.to_string(), reply_to: None, channel: Some(BROADCAST.into()) })
            .await?;
        Ok(MessageInfo {
            id: v.id,
            room: room.id.clone(),
            author: self.me.clone(),
            author_name: self.deps.store.author_name(&room.id, &self.me).unwrap_or_default(),
            text: text.to_string(),
            time: v.entry.time,
            lamport: v.entry.lamport,
            broadcast: true,
            ..MessageInfo::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn groups_are_even_and_hand_picks_stay() {
        let people: Vec<String> = (0..23).map(|i| format!("p{i:02}")).collect();
        let fixed = HashMap::from([("p00".to_string(), 2), ("p01".to_string(), 2)]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let g = split(people.clone(), 6, &fixed, &mut rng);
        assert!(g[2].contains(&"p00".to_string()) && g[2].contains(&"p01".to_string()));
        let sizes: Vec<usize> = g.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 23);
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
        let mut all: Vec<String> = g.concat();
        all.sort();
        assert_eq!(all, people, "everyone once");
    }
}
