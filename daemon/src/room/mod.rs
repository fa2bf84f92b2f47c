//! Rooms: invites, membership, chat (with replies, edits, deletes and
//! reactions) and anti-entropy sync (the room
//! service, [`Rooms`]), and short invite codes ([`ShortCodes`], a service
//! of its own that makes and uses long codes through the room service).

pub mod amend;
pub mod chat;
pub mod invite;
pub mod join;
pub mod mention;
pub mod rename;
pub mod service;
pub mod short;
pub mod sync;
pub mod words;

pub use chat::RoomSummary;
pub use service::{Identity, Rooms};
pub use short::ShortCodes;
