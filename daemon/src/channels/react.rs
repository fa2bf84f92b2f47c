//! Acting on the room's entries that concern us, local or from a peer:
//! each daemon moves, mutes or removes itself when a host's entry says so,
//! which is what makes a breakout of 24 take one push instead of 24 orders.

use std::time::Duration;

use apero_control::Event;

use super::Channels;
use crate::entry::host::GENERAL;
use crate::entry::{Body, Verified};
use crate::handles::EntryListener;

/// An order older than this (sync bringing yesterday's move) is history,
/// not an order.
const FRESH_MS: u64 = 60_000;

impl EntryListener for Channels {
    fn inserted(&self, room: &str, entries: &[Verified]) {
        let Some(this) = self.this.upgrade() else { return };
        let relevant: Vec<Verified> = entries
            .iter()
            .filter(|v| {
                crate::entry::host::needs_host(&v.entry.body)
                    || matches!(&v.entry.body, Body::Help { .. })
                    || matches!(&v.entry.body, Body::Message { channel: Some(c), .. } if c == crate::entry::host::BROADCAST)
            })
            .cloned()
            .collect();
        if relevant.is_empty() {
            return;
        }
        let room = room.to_string();
        // Off the caller's path: acting may wait on the network.
        tokio::spawn(async move {
            for v in relevant {
                this.act(&room, &v).await;
            }
            this.deps.events.emit(Event::ChannelsChanged { room });
        });
    }
}

impl Channels {
    /// After a restart: the timers of breakouts still running.
    pub fn resume_timers(&self) {
        let Ok(rooms) = self.deps.store.rooms(false) else { return };
        let now = crate::store::now_ms();
        for r in rooms {
            if let Ok(a) = self.deps.store.authority(&r.id) {
                if let Some(b) = a.breakout.as_ref().filter(|b| b.ends_ms != 0 && !b.over(now)) {
                    self.spawn_timer(r.id.clone(), b.id.clone(), b.ends_ms);
                }
            }
        }
    }

    fn name_of(&self, room: &str, peer: &str) -> String {
        self.deps.store.author_name(room, peer).unwrap_or_default()
    }

    fn in_call_of(&self, room: &str) -> Option<String> {
        self.deps.calls.our_channel().filter(|(r, _)| r == room).map(|(_, c)| c)
    }

    async fn act(&self, room: &str, v: &Verified) {
        let Ok(a) = self.deps.store.authority(room) else { return };
        if a.refused.contains(&v.id) {
            return;
        }
        let by = self.name_of(room, &v.author.to_string());
        let fresh = crate::store::now_ms().abs_diff(v.entry.time) < FRESH_MS;
        match &v.entry.body {
            Body::Move { member, channel } if *member == self.me && fresh && self.in_call_of(room).is_some() => {
                self.deps.calls.clone().switch(room.to_string(), channel.clone()).await;
                let name = a.channel_name(channel).unwrap_or(channel).to_string();
                self.deps.events.emit(Event::Moved { room: room.to_string(), channel: name, by });
            }
            Body::Mute { member } if *member == self.me && fresh && self.deps.calls.mute() => {
                self.deps.events.emit(Event::MutedByHost { room: room.to_string(), by });
            }
            Body::Remove { member } if *member == self.me => {
                crate::store::log_error(self.deps.store.set_room_removed(room));
                if self.in_call_of(room).is_some() {
                    self.deps.calls.clone().leave().await;
                }
                tracing::info!(%room, "removed from the room by {by}");
                self.deps.events.emit(Event::Removed { room: room.to_string(), by });
            }
            Body::Remove { member } => {
                if let Ok(peer) = member.parse() {
                    self.deps.calls.expel(room, &peer);
                }
            }
            Body::Channel { id, name: None } if self.in_call_of(room).as_deref() == Some(id.as_str()) => {
                self.deps.calls.clone().switch(room.to_string(), GENERAL.into()).await;
            }
            Body::Breakout { id, ends, .. } => {
                let Some(b) = a.breakout.as_ref().filter(|b| b.id == *id) else { return };
                if b.over(crate::store::now_ms()) {
                    return;
                }
                if let (Some(group), Some(_)) = (b.group_of(&self.me), self.in_call_of(room)) {
                    self.deps.calls.clone().switch(room.to_string(), group.to_string()).await;
                    let name = a.channel_name(group).unwrap_or(group).to_string();
                    self.deps.events.emit(Event::Moved { room: room.to_string(), channel: name, by });
                }
                if *ends != 0 {
                    self.spawn_timer(room.to_string(), id.clone(), *ends);
                }
            }
            Body::BreakoutEnd { .. } => self.back_to_general(room, &by).await,
            Body::Help { channel } if a.is_host(&self.me) && fresh => {
                let peer_id = v.author.to_string();
                self.deps.events.emit(Event::HelpAsked {
                    room: room.to_string(),
                    channel: a.channel_name(channel).unwrap_or(channel).to_string(),
                    name: self.name_of(room, &peer_id),
                    peer_id,
                });
            }
            Body::Message { text, .. } if fresh => {
                self.deps.events.emit(Event::Breakout { room: room.to_string(), seconds_left: None, text: Some(text.clone()) });
            }
            _ => {}
        }
    }

    /// Out of a breakout group (the breakout ended) into general.
    async fn back_to_general(&self, room: &str, by: &str) {
        let Some(ours) = self.in_call_of(room) else { return };
        let Ok(a) = self.deps.store.authority(room) else { return };
        if a.channels.iter().any(|(c, _)| *c == ours) {
            // In a real channel (a host visiting general, say): stay.
            return;
        }
        self.deps.calls.clone().switch(room.to_string(), GENERAL.into()).await;
        self.deps.events.emit(Event::Moved { room: room.to_string(), channel: GENERAL.into(), by: by.to_string() });
    }

    /// A minute before `ends`, a chime and the time left; at `ends`, back
    /// to general, if the breakout `id` is still the room's then.
    fn spawn_timer(&self, room: String, id: String, ends: u64) {
        let Some(this) = self.this.upgrade() else { return };
        tokio::spawn(async move {
            let still =
                |this: &Channels| this.deps.store.authority(&room).ok().is_some_and(|a| a.breakout.as_ref().is_some_and(|b| b.id == id));
            // The warning comes a minute before the end.
            let warn_before = super::minute_ms();
            let now = crate::store::now_ms();
            if ends > now + warn_before {
                tokio::time::sleep(Duration::from_millis(ends - warn_before - now)).await;
                if !still(&this) {
                    return;
                }
                if this.in_call_of(&room).is_some() {
                    this.deps.calls.chime();
                }
                let left = ends.saturating_sub(crate::store::now_ms()) / 1000;
                this.deps.events.emit(Event::Breakout { room: room.clone(), seconds_left: Some(left), text: None });
            }
            tokio::time::sleep(Duration::from_millis(ends.saturating_sub(crate::store::now_ms()))).await;
            if still(&this) {
                this.back_to_general(&room, "the timer").await;
                this.deps.events.emit(Event::ChannelsChanged { room });
            }
        });
    }
}
