//! apero's local control protocol, shared by the daemon (`aperod`), the CLI
//! (`apero`) and the tray.
//!
//! The wire format is newline-delimited JSON over a Unix domain socket. A
//! connection starts with [`Request::Hello`], which carries
//! [`PROTOCOL_VERSION`]; the daemon refuses the connection on a mismatch. After
//! that each request line gets exactly one response line, except
//! [`Request::Subscribe`], after which the daemon only writes [`Event`] lines.
//!
//! Besides the protocol it holds what every client needs the same way: where
//! the socket and the config files are ([`socket_path`], [`config_home`],
//! [`default_config_file`]), how to start the daemon ([`launch`]) and how to
//! show sizes ([`human_bytes`]).
//!
//! This crate deliberately depends on serde and tokio only: the thin clients
//! must never pull in the daemon's networking or audio stack.

mod channels;
mod client;
mod format;
mod framing;
pub mod launch;
mod paths;
mod types;
mod watch;

pub use client::{timed, Client, ClientError, EventStream, ANSWER_WITHIN};
pub use format::human_bytes;
pub use framing::{read_line_capped, LineBuf, LineRead};
pub use launch::{start_daemon, LaunchError, LaunchOptions, Launched};
pub use paths::{
    config_home, default_config_file, default_data_dir, default_socket_path, find_program, socket_path, socket_path_in, systemd_unit_path,
    SYSTEMD_UNIT,
};
pub use types::*;
pub use watch::{socket_renewed, WATCH_EVERY};

/// Bumped whenever a request, response or event changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest request line the daemon accepts (a chat message is far below it).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Largest response line a client accepts (a long history fits easily).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Largest chat message text, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// The reactions a message can get: a few everyone knows, so every member
/// and every client shows the same set (others are refused).
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🎉"];
