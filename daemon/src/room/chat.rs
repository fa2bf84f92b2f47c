//! Room lifecycle and chat as the local user sees them.

use std::sync::Arc;
use std::time::Duration;

use apero_control::{MemberInfo, MessageInfo, Reaction, RoomCreated, MAX_MESSAGE_BYTES};
use rand::RngCore;

use super::mention::mentions;
use super::service::Rooms;
use crate::entry::{Body, MAX_ROOM_NAME_CHARS};
use crate::error::{ServiceError, ServiceResult};
use crate::store::MessageRow;

/// How long `room leave` waits for online members to hear of it.
const LEAVE_GRACE: Duration = Duration::from_secs(5);

/// A room as `room list` shows it, before the call service adds who is in
/// its call.
pub struct RoomSummary {
    pub id: String,
    pub name: String,
    pub members: usize,
    pub online: usize,
}

/// A name a person typed (a room's, ours), trimmed; refused when empty,
/// with control characters, or over `max` characters (`what`: "room names").
pub(super) fn printable_name<'a>(name: &'a str, max: usize, empty: &str, what: &str) -> ServiceResult<&'a str> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        return Err(ServiceError::BadRequest(empty.into()));
    }
    if name.chars().count() > max {
        return Err(ServiceError::TooLarge(format!("{what} are at most {max} characters")));
    }
    Ok(name)
}

/// A message too long to send, or with nothing in it.
pub(super) fn check_text(text: &str) -> ServiceResult<()> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ServiceError::TooLarge(format!(
            "this message is {} bytes; messages are at most {} bytes (16 KiB). Send long text as a file",
            text.len(),
            MAX_MESSAGE_BYTES
        )));
    }
    if text.trim().is_empty() {
        return Err(ServiceError::BadRequest("an empty message was not sent".into()));
    }
    Ok(())
}

impl Rooms {
    /// A stored message as clients see it, with whether it names us.
    pub(super) fn message_info(&self, m: MessageRow) -> MessageInfo {
        let me = self.me.peer_id.to_string();
        let reactions = m.reactions.into_iter().map(|(emoji, members)| Reaction { mine: members.contains(&me), emoji, members }).collect();
        let broadcast = m.channel.as_deref() == Some(crate::entry::host::BROADCAST);
        let channel_name = match (&m.channel, broadcast) {
            (Some(c), false) => self.store.authority(&m.room).ok().and_then(|a| a.channel_name(c).map(str::to_string)),
            _ => None,
        };
        MessageInfo {
            channel: m.channel.filter(|_| !broadcast),
            channel_name,
            broadcast,
            mentions_me: m.author != me && mentions(&m.text, &self.me.name.get()),
            id: m.id,
            room: m.room,
            author: m.author,
            author_name: m.author_name,
            text: m.text,
            time: m.time,
            lamport: m.lamport,
            reply_to: m.reply_to,
            edited: m.edited,
            reactions,
        }
    }

    pub async fn room_create(self: &Arc<Self>, name: &str) -> ServiceResult<RoomCreated> {
        let name = printable_name(name, MAX_ROOM_NAME_CHARS, "a room needs a name of printable characters", "room names")?;
        let mut id = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut id);
        let id = hex::encode(id);
        self.publish(&id, Body::Create { name: name.to_string(), creator_name: self.me.name.get() }).await?;
        Ok(RoomCreated { id, name: name.to_string() })
    }

    pub async fn room_list(&self) -> ServiceResult<Vec<RoomSummary>> {
        let online = self.online_peers().await;
        let me = self.me.peer_id.to_string();
        let mut out = Vec::new();
        for r in self.store.rooms(false)? {
            let members = self.store.members(&r.id)?;
            let on = members.iter().filter(|m| m.peer_id == me || online.contains(&m.peer_id)).count();
            out.push(RoomSummary { id: r.id, name: r.name, members: members.len(), online: on });
        }
        Ok(out)
    }

    pub async fn room_leave(self: &Arc<Self>, room: &str) -> ServiceResult<()> {
        let room = self.resolve_room(room)?;
        let rooms = self.clone();
        let id = room.id.clone();
        // Announce to whoever is online; the entry also spreads by sync later.
        let announce = tokio::spawn(async move { rooms.publish(&id, Body::Leave).await });
        if let Ok(Ok(Err(e))) = tokio::time::timeout(LEAVE_GRACE, announce).await {
            return Err(e);
        }
        self.store.set_room_left(&room.id, true)?;
        Ok(())
    }

    pub async fn room_members(&self, room: &str) -> ServiceResult<Vec<MemberInfo>> {
        let room = self.resolve_room(room)?;
        let online = self.online_peers().await;
        let me = self.me.peer_id.to_string();
        Ok(self
            .store
            .members(&room.id)?
            .into_iter()
            .map(|m| MemberInfo {
                online: m.peer_id == me || online.contains(&m.peer_id),
                is_self: m.peer_id == me,
                peer_id: m.peer_id,
                name: m.name,
                last_seen: m.last_seen_ms,
            })
            .collect())
    }

    /// `reply_to`: the message (id or unambiguous prefix) this one answers;
    /// `channel`: a channel's name or id (`None`: general).
    pub async fn say(
        self: &Arc<Self>,
        room: &str,
        text: &str,
        reply_to: Option<&str>,
        channel: Option<&str>,
    ) -> ServiceResult<MessageInfo> {
        check_text(text)?;
        let room = self.resolve_room(room)?;
        let reply_to = match reply_to {
            Some(q) => Some(self.resolve_message(&room.id, q)?.id),
            None => None,
        };
        // General's messages carry no channel: daemons without channels read them as before.
        let channel = self.channel_id(&room.id, channel)?.filter(|c| c != crate::entry::host::GENERAL);
        let v =
            self.publish(&room.id, Body::Message { text: text.to_string(), reply_to: reply_to.clone(), channel: channel.clone() }).await?;
        let channel_name = channel.as_ref().and_then(|c| self.store.authority(&room.id).ok()?.channel_name(c).map(str::to_string));
        Ok(MessageInfo {
            id: v.id,
            room: room.id,
            author: self.me.peer_id.to_string(),
            author_name: self.me.name.get(),
            text: text.to_string(),
            time: v.entry.time,
            lamport: v.entry.lamport,
            reply_to,
            channel,
            channel_name,
            ..MessageInfo::default()
        })
    }

    /// A channel's id from its name or id; `None` for `None`.
    pub fn channel_id(&self, room: &str, channel: Option<&str>) -> ServiceResult<Option<String>> {
        let Some(q) = channel else { return Ok(None) };
        match self.store.authority(room)?.find_channel(q) {
            Some(id) => Ok(Some(id)),
            None => Err(ServiceError::NotFound(format!("this room has no channel {q:?}; `apero channel list` shows them"))),
        }
    }

    /// `channel`: only its messages and the hosts' broadcasts.
    pub fn history(&self, room: &str, limit: Option<u32>, channel: Option<&str>) -> ServiceResult<Vec<MessageInfo>> {
        let room = self.resolve_room(room)?;
        let channel = self.channel_id(&room.id, channel)?;
        let refused = self.store.authority(&room.id)?;
        Ok(self
            .store
            .channel_messages(&room.id, limit, channel.as_deref())?
            .into_iter()
            // A broadcast by someone who was no host is kept, not shown.
            .filter(|m| !refused.refused.contains(&m.id))
            .map(|m| self.message_info(m))
            .collect())
    }

    async fn online_peers(&self) -> Vec<String> {
        self.node.info().await.map(|i| i.peers.iter().map(|p| p.peer.to_string()).collect()).unwrap_or_default()
    }
}
