//! Room lifecycle and chat as the local user sees them.

use std::sync::Arc;
use std::time::Duration;

use apero_control::{MemberInfo, MessageInfo, PeerInfo, RoomCreated, RoomInfo, Status, MAX_MESSAGE_BYTES};
use rand::RngCore;

use crate::app::{App, AppError, AppResult};
use crate::room::entry::{Body, MAX_ROOM_NAME_CHARS};
use crate::store::{MessageRow, RoomRow};

/// How long `room leave` waits for online members to hear of it.
const LEAVE_GRACE: Duration = Duration::from_secs(5);

fn message_info(m: MessageRow) -> MessageInfo {
    MessageInfo { id: m.id, room: m.room, author: m.author, author_name: m.author_name, text: m.text, time: m.time, lamport: m.lamport }
}

impl App {
    /// A room by id, unambiguous id prefix, or name.
    pub fn resolve_room(&self, query: &str) -> AppResult<RoomRow> {
        let query = query.trim();
        let rooms = self.store.rooms(false)?;
        if let Some(r) = rooms.iter().find(|r| r.id == query) {
            return Ok(r.clone());
        }
        let by_name: Vec<&RoomRow> = rooms.iter().filter(|r| r.name == query).collect();
        match by_name.len() {
            1 => return Ok(by_name[0].clone()),
            0 => {}
            _ => {
                let ids: Vec<&str> = by_name.iter().map(|r| r.id.as_str()).collect();
                return Err(AppError::Ambiguous(format!(
                    "{} rooms are called {query:?}; use an id instead: {}",
                    ids.len(),
                    ids.join(", ")
                )));
            }
        }
        let by_prefix: Vec<&RoomRow> =
            if query.len() >= 4 { rooms.iter().filter(|r| r.id.starts_with(query)).collect() } else { Vec::new() };
        match by_prefix.len() {
            1 => Ok(by_prefix[0].clone()),
            0 => Err(AppError::NotFound(format!("you are in no room called {query:?}; `apero room list` shows your rooms"))),
            n => Err(AppError::Ambiguous(format!("{n} room ids start with {query:?}; type more of it"))),
        }
    }

    pub async fn room_create(self: &Arc<Self>, name: &str) -> AppResult<RoomCreated> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(AppError::BadRequest("a room needs a name of printable characters".into()));
        }
        if name.chars().count() > MAX_ROOM_NAME_CHARS {
            return Err(AppError::TooLarge(format!("room names are at most {MAX_ROOM_NAME_CHARS} characters")));
        }
        let mut id = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut id);
        let id = hex::encode(id);
        self.publish(&id, Body::Create { name: name.to_string(), creator_name: self.name.clone() }).await?;
        Ok(RoomCreated { id, name: name.to_string() })
    }

    pub async fn room_list(&self) -> AppResult<Vec<RoomInfo>> {
        let online = self.online_peers().await;
        let mut out = Vec::new();
        for r in self.store.rooms(false)? {
            let members = self.store.members(&r.id)?;
            let on = members.iter().filter(|m| m.peer_id == self.peer_id.to_string() || online.contains(&m.peer_id)).count();
            let (call, in_call) = self.voice.call_size(&r.id);
            out.push(RoomInfo { id: r.id, name: r.name, members: members.len(), online: on, call, in_call });
        }
        Ok(out)
    }

    pub async fn room_leave(self: &Arc<Self>, room: &str) -> AppResult<()> {
        let room = self.resolve_room(room)?;
        let app = self.clone();
        let id = room.id.clone();
        // Announce to whoever is online; the entry also spreads by sync later.
        let announce = tokio::spawn(async move { app.publish(&id, Body::Leave).await });
        match tokio::time::timeout(LEAVE_GRACE, announce).await {
            Ok(Ok(Err(e))) => return Err(e),
            _ => {}
        }
        self.store.set_room_left(&room.id, true)?;
        Ok(())
    }

    pub async fn room_members(&self, room: &str) -> AppResult<Vec<MemberInfo>> {
        let room = self.resolve_room(room)?;
        let online = self.online_peers().await;
        let me = self.peer_id.to_string();
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

    pub async fn say(self: &Arc<Self>, room: &str, text: &str) -> AppResult<MessageInfo> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(AppError::TooLarge(format!(
                "this message is {} bytes; messages are at most {} bytes (16 KiB). Send long text as a file",
                text.len(),
                MAX_MESSAGE_BYTES
            )));
        }
        if text.trim().is_empty() {
            return Err(AppError::BadRequest("an empty message was not sent".into()));
        }
        let room = self.resolve_room(room)?;
        let v = self.publish(&room.id, Body::Message { text: text.to_string() }).await?;
        Ok(MessageInfo {
            id: v.id,
            room: room.id,
            author: self.peer_id.to_string(),
            author_name: self.name.clone(),
            text: text.to_string(),
            time: v.entry.time,
            lamport: v.entry.lamport,
        })
    }

    pub fn history(&self, room: &str, limit: Option<u32>) -> AppResult<Vec<MessageInfo>> {
        let room = self.resolve_room(room)?;
        Ok(self.store.messages(&room.id, limit)?.into_iter().map(message_info).collect())
    }

    async fn online_peers(&self) -> Vec<String> {
        self.node.info().await.map(|i| i.peers.iter().map(|p| p.peer.to_string()).collect()).unwrap_or_default()
    }

    pub async fn status(&self) -> AppResult<Status> {
        let info = self.node.info().await?;
        let peers = info
            .peers
            .iter()
            .map(|p| PeerInfo {
                peer_id: p.peer.to_string(),
                name: self.store.peer_name(&p.peer.to_string()).ok().flatten(),
                path: if p.relayed { "relayed" } else { "direct" }.to_string(),
                addr: p.addr.to_string(),
                rtt_ms: p.rtt.map(|d| d.as_secs_f64() * 1000.0),
                via: p.via.map(|v| v.to_string()),
                transport: p.transport().to_string(),
            })
            .collect();
        Ok(Status {
            peer_id: self.peer_id.to_string(),
            name: self.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            home: self.home.display().to_string(),
            listen: info.listen.iter().map(|a| a.to_string()).collect(),
            peers,
            rooms: self.store.rooms(false)?.len(),
            dropped: {
                let mut d = self.counters.snapshot();
                let v = &self.voice.counters;
                use std::sync::atomic::Ordering::Relaxed;
                d.voice = v.bad.load(Relaxed) + v.flooded.load(Relaxed) + v.refused_streams.load(Relaxed);
                d
            },
            nat: info.nat.as_str().into(),
            external: info.external.iter().map(|a| a.to_string()).collect(),
            relays: info.relays.iter().map(|r| r.to_string()).collect(),
            relaying: info.relaying.as_str().into(),
        })
    }
}
