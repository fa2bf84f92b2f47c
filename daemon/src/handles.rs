//! Small handles the services are given instead of each other: what one
//! service needs of another, and nothing more. The composition root
//! (`app`) wires them; no service imports another.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::entry::{Body, Verified};
use crate::error::ServiceResult;

/// Signs, stores and spreads a new entry of ours (the room service).
pub trait Publisher: Send + Sync {
    fn publish(&self, room: String, body: Body) -> BoxFuture<'static, ServiceResult<Verified>>;
}

/// Told about every entry newly stored, local or from a peer, in order.
/// Called inline: implementations must not block.
pub trait EntryListener: Send + Sync {
    fn inserted(&self, room: &str, entries: &[Verified]);
}

/// Whether we are in a call, in any room: set by the call service, read by
/// file transfers (which then yield the path to the call). Lock-free, so the
/// file paths that read it never wait on the call service.
#[derive(Clone, Default)]
pub struct InCall(Arc<AtomicBool>);

impl InCall {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

/// Our call as other services see it (the call service implements it):
/// screen sharing sends only to who is in it.
pub trait CallView: Send + Sync {
    /// The room whose call we are in, and the other participants.
    fn our_call(&self) -> Option<(String, Vec<libp2p::PeerId>)>;
}

/// Channels of our call, as the channels service drives them (the call
/// service implements it).
pub trait CallChannels: Send + Sync {
    /// Who is in which channel of `room`'s call, ourselves included.
    fn channel_map(&self, room: &str) -> Vec<(libp2p::PeerId, String)>;
    /// Our call's room and channel.
    fn our_channel(&self) -> Option<(String, String)>;
    /// Moves us to `channel` of `room`'s call (nothing when not in it).
    fn switch(self: std::sync::Arc<Self>, room: String, channel: String) -> BoxFuture<'static, ()>;
    /// Joins `room`'s call in `channel` (or moves there when in it already).
    fn join(
        self: std::sync::Arc<Self>,
        room: crate::store::RoomRow,
        channel: String,
    ) -> BoxFuture<'static, ServiceResult<apero_control::CallStatus>>;
    /// `peer` was removed from `room`: out of its call now.
    fn expel(&self, room: &str, peer: &libp2p::PeerId);
    /// Mutes our microphone; false when in no call.
    fn mute(&self) -> bool;
    /// Leaves our call.
    fn leave(self: std::sync::Arc<Self>) -> BoxFuture<'static, ()>;
    /// Plays a short chime in our call.
    fn chime(&self);
}
