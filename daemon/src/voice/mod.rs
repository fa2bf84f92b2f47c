//! Voice calls. One spoken word travels: `backend` (capture) → `engine`
//! (VAD, `codec` encode) → `transport` → the other side's `transport` →
//! `jitter` (decode, FEC, PLC) → `mix` → `engine` → `backend` (playback).
//! `call` is the part the rest of the daemon sees: who is in which call.

pub mod backend;
pub mod call;
pub mod codec;
/// The playout's target-delay estimator (NetEq's idea), tested; the jitter
/// buffer does not use it yet (issue 14).
pub mod delay;
pub mod engine;
pub mod frame;
pub mod jitter;
pub mod mix;
/// Time stretching of decoded speech (WSOLA), tested; the jitter buffer
/// does not use it yet (issue 14).
pub mod stretch;
pub mod transport;

pub const RATE: u32 = 48_000;
/// 10 ms at 48 kHz: short frames keep mouth-to-ear latency low.
pub const FRAME: usize = 480;
