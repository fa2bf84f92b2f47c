//! The channels service: channels inside a room, hosts, moves and mutes,
//! removals and breakout groups (docs/channels.md).
//!
//! Everything that takes a host is a signed entry in the room's log; who
//! counts as a host is the room's authority fold (`store::authority`),
//! which every member computes the same way. This service turns requests
//! into such entries (refusing early, in words, what the fold would refuse
//! anyway), and acts on the entries that concern us (`react`): a move or a
//! breakout switches our call's channel, a mute mutes us, a removal ends
//! the room for us. The call itself is reached through [`CallChannels`].

mod breakout;
mod react;

use std::sync::Arc;

use apero_control::{BreakoutInfo, ChannelInfo, ChannelsInfo, GroupInfo};
use libp2p::PeerId;

use crate::entry::host::{self, GENERAL};
use crate::entry::{Body, MAX_NAME_CHARS};
use crate::error::{ServiceError, ServiceResult};
use crate::events::EventSink;
use crate::handles::{CallChannels, Publisher};
use crate::store::authority::Authority;
use crate::store::{RoomRow, Store};

pub struct ChannelDeps {
    pub store: Arc<Store>,
    pub publisher: Arc<dyn Publisher>,
    pub calls: Arc<dyn CallChannels>,
    pub events: EventSink,
    pub me: PeerId,
}

pub struct Channels {
    deps: ChannelDeps,
    me: String,
    /// For the tasks that entries start (moves, timers).
    this: std::sync::Weak<Channels>,
}

impl Channels {
    pub fn new(deps: ChannelDeps) -> Arc<Channels> {
        Arc::new_cyclic(|this| Channels { me: deps.me.to_string(), deps, this: this.clone() })
    }

    fn authority(&self, room: &str) -> ServiceResult<Arc<Authority>> {
        Ok(self.deps.store.authority(room)?)
    }

    /// Refuses, in words naming a host to ask, when we are no host.
    fn need_host(&self, room: &RoomRow, what: &str) -> ServiceResult<Arc<Authority>> {
        let a = self.authority(&room.id)?;
        if a.is_host(&self.me) {
            return Ok(a);
        }
        let names: Vec<String> =
            a.hosts.iter().filter_map(|h| self.deps.store.author_name(&room.id, h).ok()).filter(|n| !n.is_empty()).collect();
        let ask = match names.as_slice() {
            [] => String::new(),
            [one] => format!("; ask {one}"),
            many => format!("; ask {} or {}", many[..many.len() - 1].join(", "), many[many.len() - 1]),
        };
        Err(ServiceError::Refused(format!("only a host can {what}{ask}")))
    }

    /// A member by peer id, unambiguous id prefix (6+), or name (any case).
    pub fn resolve_member(&self, room: &RoomRow, query: &str) -> ServiceResult<String> {
        let q = query.trim();
        let members = self.deps.store.members(&room.id)?;
        if let Some(m) = members.iter().find(|m| m.peer_id == q) {
            return Ok(m.peer_id.clone());
        }
        let by_name: Vec<_> = members.iter().filter(|m| m.name.eq_ignore_ascii_case(q)).collect();
        let by_prefix: Vec<_> = if q.len() >= 6 { members.iter().filter(|m| m.peer_id.starts_with(q)).collect() } else { vec![] };
        match (by_name.as_slice(), by_prefix.as_slice()) {
            ([one], _) | ([], [one]) => Ok(one.peer_id.clone()),
            ([], []) => Err(ServiceError::NotFound(format!("nobody called {q:?} in {}; `apero room members` lists them", room.name))),
            _ => Err(ServiceError::Ambiguous(format!("several members match {q:?}; use a peer id from `apero room members`"))),
        }
    }

    fn channel(&self, a: &Authority, query: &str) -> ServiceResult<String> {
        a.find_channel(query)
            .ok_or_else(|| ServiceError::NotFound(format!("this room has no channel {query:?}; `apero channel list` shows them")))
    }

    /// The room's channels, who is in which, its hosts and breakout.
    pub fn list(&self, room: &RoomRow) -> ServiceResult<ChannelsInfo> {
        let a = self.authority(&room.id)?;
        let map = self.deps.calls.channel_map(&room.id);
        let in_call = |id: &str| {
            let mut v: Vec<String> = map.iter().filter(|(_, c)| c == id).map(|(p, _)| p.to_string()).collect();
            v.sort();
            v
        };
        let mut channels: Vec<ChannelInfo> = a
            .channels
            .iter()
            .map(|(id, name)| ChannelInfo { id: id.clone(), name: name.clone(), in_call: in_call(id), group: false })
            .collect();
        let now = crate::store::now_ms();
        let breakout = a.breakout.as_ref().filter(|b| !b.over(now));
        if let Some(b) = breakout {
            for (id, name, _) in &b.groups {
                channels.push(ChannelInfo { id: id.clone(), name: name.clone(), in_call: in_call(id), group: true });
            }
        }
        let mine = self.deps.calls.our_channel().filter(|(r, _)| *r == room.id).map(|(_, c)| c);
        let names = self.deps.store.members(&room.id)?.into_iter().map(|m| (m.peer_id, m.name)).collect();
        Ok(ChannelsInfo {
            names,
            room: room.id.clone(),
            channels,
            hosts: a.hosts.iter().cloned().collect(),
            me_host: a.is_host(&self.me),
            mine,
            breakout: breakout.map(|b| BreakoutInfo {
                id: b.id.clone(),
                by: b.by.clone(),
                groups: b.groups.iter().map(|(c, n, m)| GroupInfo { channel: c.clone(), name: n.clone(), members: m.clone() }).collect(),
                ends_ms: (b.ends_ms != 0).then_some(b.ends_ms),
                seconds_left: (b.ends_ms != 0).then(|| b.ends_ms.saturating_sub(now) / 1000),
                mine: b.group_of(&self.me).map(str::to_string),
            }),
        })
    }

    async fn publish(&self, room: &RoomRow, body: Body) -> ServiceResult<ChannelsInfo> {
        let v = self.deps.publisher.publish(room.id.clone(), body).await?;
        if self.authority(&room.id)?.refused.contains(&v.id) {
            // Another host took our role in the meantime.
            return Err(ServiceError::Refused("you are no longer a host of this room".into()));
        }
        self.list(room)
    }

    pub async fn create(&self, room: &RoomRow, name: &str) -> ServiceResult<ChannelsInfo> {
        let a = self.need_host(room, "create channels")?;
        let name = check_channel_name(name)?;
        if a.find_channel(&name).is_some() {
            return Err(ServiceError::AlreadyMember(format!("there is a channel called {name:?} already")));
        }
        self.publish(room, Body::Channel { id: host::new_id(), name: Some(name) }).await
    }

    pub async fn rename(&self, room: &RoomRow, channel: &str, name: &str) -> ServiceResult<ChannelsInfo> {
        let a = self.need_host(room, "rename channels")?;
        let id = self.channel(&a, channel)?;
        let name = check_channel_name(name)?;
        if !a.channels.iter().any(|(c, _)| *c == id) {
            return Err(ServiceError::BadRequest("a breakout group's name comes with the breakout".into()));
        }
        self.publish(room, Body::Channel { id, name: Some(name) }).await
    }

    pub async fn delete(&self, room: &RoomRow, channel: &str) -> ServiceResult<ChannelsInfo> {
        let a = self.need_host(room, "delete channels")?;
        let id = self.channel(&a, channel)?;
        if id == GENERAL {
            return Err(ServiceError::BadRequest("general is where everyone meets: it cannot be deleted".into()));
        }
        if !a.channels.iter().any(|(c, _)| *c == id) {
            return Err(ServiceError::BadRequest("a breakout group goes when the breakout ends (`apero breakout end`)".into()));
        }
        let out = self.publish(room, Body::Channel { id: id.clone(), name: None }).await?;
        // Whoever was in it meets in general (each daemon does the same for itself).
        if self.deps.calls.our_channel().is_some_and(|(r, c)| r == room.id && c == id) {
            self.deps.calls.clone().switch(room.id.clone(), GENERAL.into()).await;
        }
        Ok(out)
    }

    /// Moves `member` to `channel`: ourselves directly, anyone else by a host's entry.
    pub async fn move_member(&self, room: &RoomRow, member: &str, channel: &str) -> ServiceResult<ChannelsInfo> {
        let member = self.resolve_member(room, member)?;
        let a = self.authority(&room.id)?;
        let channel = self.channel(&a, channel)?;
        if member == self.me {
            if self.deps.calls.our_channel().is_none_or(|(r, _)| r != room.id) {
                return Err(ServiceError::NotFound(format!("you are not in {}'s call; `apero call join {0} --channel NAME`", room.name)));
            }
            self.deps.calls.clone().switch(room.id.clone(), channel).await;
            return self.list(room);
        }
        self.need_host(room, "move people")?;
        self.publish(room, Body::Move { member, channel }).await
    }

    pub async fn mute(&self, room: &RoomRow, member: &str) -> ServiceResult<ChannelsInfo> {
        self.need_host(room, "mute people")?;
        let member = self.resolve_member(room, member)?;
        if member == self.me {
            self.deps.calls.mute();
            return self.list(room);
        }
        self.publish(room, Body::Mute { member }).await
    }

    pub async fn set_host(&self, room: &RoomRow, member: &str, on: bool) -> ServiceResult<ChannelsInfo> {
        let a = self.need_host(room, if on { "make someone a host" } else { "take a host's role" })?;
        let member = self.resolve_member(room, member)?;
        if a.is_host(&member) == on {
            return self.list(room);
        }
        if !on && a.hosts.len() == 1 {
            return Err(ServiceError::Refused("a room keeps at least one host: make someone else a host first".into()));
        }
        self.publish(room, Body::Role { member, host: on }).await
    }

    pub async fn remove(&self, room: &RoomRow, member: &str) -> ServiceResult<ChannelsInfo> {
        self.need_host(room, "remove people")?;
        let member = self.resolve_member(room, member)?;
        if member == self.me {
            return Err(ServiceError::BadRequest("to go yourself, use `apero room leave`".into()));
        }
        self.publish(room, Body::Remove { member }).await
    }

    /// The channel to join `room`'s call in: `asked`, else our breakout
    /// group while one runs, else general.
    pub fn join_channel(&self, room: &RoomRow, asked: Option<&str>) -> ServiceResult<String> {
        let a = self.authority(&room.id)?;
        if let Some(q) = asked {
            return self.channel(&a, q);
        }
        let now = crate::store::now_ms();
        Ok(a.breakout.as_ref().filter(|b| !b.over(now)).and_then(|b| b.group_of(&self.me)).unwrap_or(GENERAL).to_string())
    }

    pub async fn join_call(&self, room: &RoomRow, channel: Option<&str>) -> ServiceResult<apero_control::CallStatus> {
        let channel = self.join_channel(room, channel)?;
        self.deps.calls.clone().join(room.clone(), channel).await
    }
}

/// A breakout minute, ms: 60 000, or `APERO_BREAKOUT_MINUTE_MS` so that
/// tests can run a timed breakout (with its warning "a minute" before the
/// end) in seconds. Every daemon of such a test is given the same.
pub fn minute_ms() -> u64 {
    static MINUTE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MINUTE.get_or_init(|| std::env::var("APERO_BREAKOUT_MINUTE_MS").ok().and_then(|v| v.parse().ok()).filter(|&v| v > 0).unwrap_or(60_000))
}

fn check_channel_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(|c| c.is_control()) || name == host::BROADCAST {
        return Err(ServiceError::BadRequest("a channel needs a name of printable characters".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::TooLarge(format!("channel names are at most {MAX_NAME_CHARS} characters")));
    }
    Ok(name.to_string())
}
