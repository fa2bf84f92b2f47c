pub mod call;
pub mod chat;
pub mod daemon;
pub mod duration;
pub mod invite;
pub mod room;
pub mod files;
