//! Rooms: signed entries, invites, membership, chat and anti-entropy sync.

pub mod chat;
pub mod entry;
pub mod invite;
pub mod join;
pub mod sync;
pub mod short;
pub mod words;
