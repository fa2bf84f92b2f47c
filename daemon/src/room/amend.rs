//! Changing a message after it was said: our edits and deletes (of our own
//! messages only) and anyone's reactions. Each is a signed entry that every
//! member applies by the same rules (`store::messages`, docs/messages.md).

use std::sync::Arc;

use apero_control::{MessageInfo, REACTIONS};

use super::chat::check_text;
use super::service::Rooms;
use crate::entry::Body;
use crate::error::{ServiceError, ServiceResult};
use crate::store::MessageRow;

/// Shortest id prefix that names a message, as `apero history` shows them.
const MIN_PREFIX: usize = 4;

impl Rooms {
    /// A message of `room` (an id) by id or unambiguous prefix.
    pub(super) fn resolve_message(&self, room: &str, query: &str) -> ServiceResult<MessageRow> {
        let query = query.trim().to_ascii_lowercase();
        let not_found =
            || ServiceError::NotFound(format!("no message {query:?} in this room (it may have been deleted); `apero history` shows ids"));
        if query.len() < MIN_PREFIX || !query.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let ids = self.store.message_ids_like(room, &query)?;
        match ids.as_slice() {
            [id] => self.store.message(room, id)?.ok_or_else(not_found),
            [] => Err(not_found()),
            _ => Err(ServiceError::Ambiguous(format!("several messages start with {query:?}; type more of the id"))),
        }
    }

    /// Our own message of `room`, or why it cannot be changed.
    fn own_message(&self, room: &str, query: &str, what: &str) -> ServiceResult<MessageRow> {
        let m = self.resolve_message(room, query)?;
        if m.author != self.me.peer_id.to_string() {
            return Err(ServiceError::Refused(format!("only its author can {what} a message; this one is {}'s", m.author_name)));
        }
        Ok(m)
    }

    pub async fn edit(self: &Arc<Self>, room: &str, message: &str, text: &str) -> ServiceResult<MessageInfo> {
        check_text(text)?;
        let room = self.resolve_room(room)?;
        let m = self.own_message(&room.id, message, "edit")?;
        self.publish(&room.id, Body::Edit { message: m.id.clone(), text: text.to_string() }).await?;
        self.current(&room.id, &m.id)
    }

    pub async fn delete(self: &Arc<Self>, room: &str, message: &str) -> ServiceResult<()> {
        let room = self.resolve_room(room)?;
        let m = self.own_message(&room.id, message, "delete")?;
        self.publish(&room.id, Body::Delete { message: m.id }).await?;
        Ok(())
    }

    pub async fn react(self: &Arc<Self>, room: &str, message: &str, emoji: &str, on: bool) -> ServiceResult<MessageInfo> {
        let emoji = emoji.trim();
        // The same emoji typed with or without its variation selector.
        let Some(emoji) = REACTIONS.iter().find(|r| r.trim_end_matches('\u{fe0f}') == emoji.trim_end_matches('\u{fe0f}')) else {
            return Err(ServiceError::BadRequest(format!("{emoji:?} is not a reaction here; use one of {}", REACTIONS.join(" "))));
        };
        let room = self.resolve_room(room)?;
        let m = self.resolve_message(&room.id, message)?;
        self.publish(&room.id, Body::React { message: m.id.clone(), emoji: emoji.to_string(), on }).await?;
        self.current(&room.id, &m.id)
    }

    fn current(&self, room: &str, id: &str) -> ServiceResult<MessageInfo> {
        let m = self.store.message(room, id)?.ok_or_else(|| ServiceError::NotFound("the message was deleted meanwhile".into()))?;
        Ok(self.message_info(m))
    }
}
