//! Voice calls. One spoken word travels: `backend` (capture) → `engine`
//! (VAD, `codec` encode, `redundancy` copies) → `transport` → the other side's
//! `transport` → `jitter` (copies, FEC, PLC, `delay` target, `stretch`) → `mix` → `engine` → `backend` (playback).
//! `call` is the part the rest of the daemon sees: who is in which call.

pub mod backend;
pub mod call;
pub mod chime;
pub mod codec;
/// The playout's target-delay estimator (NetEq's idea).
pub mod delay;
pub mod engine;
mod fill;
pub mod frame;
pub mod gate;
pub mod highpass;
pub mod jitter;
pub mod kept;
pub mod mix;
/// Echo cancellation, noise suppression, gain control, speech decision.
pub mod processing;
pub mod redundancy;
pub mod reference;
/// The microphone test outside a call (meter and echo).
pub mod soundcheck;
/// Time stretching of decoded speech (WSOLA), for the playout.
pub mod stretch;
pub mod transport;

pub const RATE: u32 = 48_000;
/// Largest Opus packet for one frame (RFC 6716 caps a frame at 1275 bytes).
pub const MAX_PACKET: usize = 1275;
/// 10 ms at 48 kHz: short frames keep mouth-to-ear latency low.
pub const FRAME: usize = 480;
