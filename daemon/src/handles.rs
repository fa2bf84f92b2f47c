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
