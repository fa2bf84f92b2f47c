//! Screen sharing and cameras in a call. A picture travels: `source`
//! (capture) → `codec` (VP9 for screens, VP8 for cameras) → `send` (one
//! QUIC stream to each viewer in the call, paced, behind voice) → the
//! viewer's `watch` (decode, the latest picture kept for the window and
//! `share snapshot`). `service` is what the rest of the daemon sees.

pub mod codec;
pub mod pace;
mod recent;
pub mod send;
pub mod service;
pub mod source;
pub mod watch;
pub mod wire;
