//! Changing our display name at run time (`apero name`, the window's
//! Settings): a signed `rename` entry in every room we are in, so each
//! member (and anyone who syncs later) shows the new name, on our messages
//! old and new, in the member list and in calls.

use std::sync::Arc;

use super::chat::printable_name;
use super::service::Rooms;
use crate::entry::{Body, MAX_NAME_CHARS};
use crate::error::{ServiceError, ServiceResult};

impl Rooms {
    /// Sets our name and tells every room. Returns how many rooms were told.
    pub async fn rename(self: &Arc<Self>, name: &str) -> ServiceResult<usize> {
        let name = printable_name(name, MAX_NAME_CHARS, "a name needs printable characters", "names")?;
        self.me.name.set(name).map_err(|e| ServiceError::Internal(format!("cannot keep the new name: {e}")))?;
        self.announce_name().await
    }

    /// Publishes our current name in each room where members know us by
    /// another (after `apero name`, or a name changed in the config while
    /// the daemon was stopped). Returns how many rooms were told.
    pub async fn announce_name(self: &Arc<Self>) -> ServiceResult<usize> {
        let name = self.me.name.get();
        let me = self.me.peer_id.to_string();
        let mut told = 0;
        for room in self.store.rooms(false)? {
            if self.store.author_name(&room.id, &me)? == name {
                continue;
            }
            match self.publish(&room.id, Body::Rename { name: name.clone() }).await {
                Ok(_) => told += 1,
                // A room we were removed from: nothing to tell there.
                Err(ServiceError::Refused(why)) => tracing::debug!(room = %room.id, "no rename: {why}"),
                Err(e) => return Err(e),
            }
        }
        tracing::info!(%name, rooms = told, "display name");
        Ok(told)
    }
}
