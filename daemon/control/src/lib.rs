//! apero's local control protocol, shared by the daemon (`aperod`), the CLI
//! (`apero`) and the tray.
//!
//! The wire format is newline-delimited JSON over a Unix domain socket. A
//! connection starts with [`Request::Hello`], which carries
//! [`PROTOCOL_VERSION`]; the daemon refuses the connection on a mismatch. After
//! that each request line gets exactly one response line, except
//! [`Request::Subscribe`], after which the daemon only writes [`Event`] lines.
//!
//! This crate deliberately depends on serde and tokio only: the thin clients
//! must never pull in the daemon's networking or audio stack.

mod client;
mod framing;
mod paths;
mod types;

pub use client::{Client, ClientError, EventStream};
pub use framing::{read_line_capped, LineRead};
pub use paths::{default_data_dir, default_socket_path, find_program, socket_path_in};
pub use types::*;

/// Bumped whenever a request, response or event changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest request line the daemon accepts (a chat message is far below it).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Largest response line a client accepts (a long history fits easily).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Largest chat message text, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
