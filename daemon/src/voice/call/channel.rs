//! Channels of a room's call: we hear, and are heard by, only those in our
//! channel. Moving keeps the engine and every connection: only who our
//! frames go to and whose we play changes, so a switch costs no more than
//! the other side learning of it (one request on a live connection).

use std::sync::Arc;

use futures::future::BoxFuture;
use libp2p::PeerId;

use super::{lock, Calls};
use crate::entry::host::GENERAL;
use crate::error::ServiceResult;
use crate::voice::frame::{channel_tag, Report};
use std::sync::atomic::Ordering;

impl Calls {
    /// Whether `peer` is, as far as we know, in `channel` of `room`'s call.
    pub(super) fn in_channel(&self, room: &str, peer: &PeerId, channel: &str) -> bool {
        lock(&self.remote).get(room).and_then(|s| s.get(peer)).map_or(channel == GENERAL, |c| c == channel)
    }

    /// Moves us to `channel` of `room`'s call (nothing when not in it):
    /// peers elsewhere stop, those there start, and everyone is told.
    pub async fn switch_channel(self: &Arc<Self>, room: &str, channel: &str) {
        let (peers, shared) = {
            let mut local = lock(&self.local);
            let Some(call) = local.as_mut().filter(|c| c.room == room) else { return };
            if call.channel == channel {
                return;
            }
            call.channel = channel.to_string();
            call.shared.tag.store(channel_tag(&call.room_bytes, channel), Ordering::Relaxed);
            let peers: Vec<PeerId> = lock(&self.remote).get(room).map(|s| s.keys().copied().collect()).unwrap_or_default();
            (peers, call.shared.clone())
        };
        // A first packet with the new channel's tag to each of its members:
        // they take us in when it arrives (admission), which is sooner than
        // the signal below on a busy daemon, and sooner than our voice when
        // we are silent (a silent microphone sends once a second).
        let mut hello = Vec::new();
        Report::default().encode(shared.tag(), &mut hello);
        let hello = bytes::Bytes::from(hello);
        for p in &peers {
            if self.in_channel(room, p, channel) {
                self.add_to_local_call(*p);
                if let Some(d) = &shared.datagrams {
                    let _ = d.send(p, hello.clone());
                }
            } else {
                self.remove_from_local_call(p);
            }
        }
        self.announce_call(room);
        tracing::info!(%room, %channel, "moved to another channel");
        self.signal(room, true, None).await;
    }

    /// `peer` is no longer a member of `room` (removed): out of its call at
    /// once (admission only checks membership for those not in it yet).
    pub fn expel(&self, room: &str, peer: &PeerId) {
        let was = lock(&self.remote).get_mut(room).and_then(|s| s.remove(peer)).is_some();
        if lock(&self.local).as_ref().is_some_and(|c| c.room == room) {
            self.remove_from_local_call(peer);
        }
        if was {
            self.announce_call(room);
        }
    }

    /// Who is where in `room`'s call, ourselves included.
    pub fn channel_map(&self, room: &str) -> Vec<(PeerId, String)> {
        let mut out: Vec<(PeerId, String)> =
            lock(&self.remote).get(room).map(|s| s.iter().map(|(p, c)| (*p, c.clone())).collect()).unwrap_or_default();
        if let Some(c) = lock(&self.local).as_ref().filter(|c| c.room == room) {
            out.push((self.peer_id, c.channel.clone()));
        }
        out
    }

    /// Our call's room and channel.
    pub fn our_channel(&self) -> Option<(String, String)> {
        lock(&self.local).as_ref().map(|c| (c.room.clone(), c.channel.clone()))
    }

    /// A short two-note chime in our call (a breakout's last minute).
    pub fn chime(&self) {
        if let Some(c) = lock(&self.local).as_ref() {
            c.shared.chime.store(crate::voice::chime::SAMPLES as u32, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl crate::handles::CallChannels for Calls {
    fn channel_map(&self, room: &str) -> Vec<(PeerId, String)> {
        Calls::channel_map(self, room)
    }

    fn our_channel(&self) -> Option<(String, String)> {
        Calls::our_channel(self)
    }

    fn switch(self: Arc<Self>, room: String, channel: String) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.switch_channel(&room, &channel).await })
    }

    fn join(self: Arc<Self>, room: crate::store::RoomRow, channel: String) -> BoxFuture<'static, ServiceResult<apero_control::CallStatus>> {
        Box::pin(async move { Calls::join(&self, &room, &channel).await })
    }

    fn expel(&self, room: &str, peer: &PeerId) {
        Calls::expel(self, room, peer)
    }

    fn mute(&self) -> bool {
        match lock(&self.local).as_ref() {
            Some(c) => {
                c.shared.muted.store(true, std::sync::atomic::Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    fn chime(&self) {
        Calls::chime(self)
    }

    fn leave(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Err(e) = Calls::leave(&self).await {
                tracing::warn!("leaving the call: {e}");
            }
        })
    }
}
