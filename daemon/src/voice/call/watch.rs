//! Levels and device health as events, so that clients need not poll
//! `call status`; `Resend` also paces the sound check's events.

use std::sync::atomic::Ordering;
use std::sync::Weak;

use apero_control::{Event, Level};

use super::Calls;
use crate::voice::engine::lock;

/// How often the call's watcher looks at levels and devices.
pub(super) const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// Levels are sent again after this many ticks without a change (1 s).
const RESEND_LEVELS_TICKS: u32 = 10;

impl Calls {
    /// Levels and device health of our call, as events: levels while they
    /// change, devices when they are lost or come back.
    fn watch_tick(&self, serial: u64, last: &mut Watched) -> bool {
        let (room, shared, health) = {
            let local = lock(&self.local);
            let Some(call) = local.as_ref().filter(|c| c.serial == serial) else { return false };
            (call.room.clone(), call.shared.clone(), call.engine.health())
        };
        let muted = shared.muted.load(Ordering::Relaxed);
        let mut levels = vec![Level {
            peer_id: self.peer_id.to_string(),
            level_db: if muted { -100.0 } else { shared.input_level_db().round().max(-100.0) as f64 },
            speaking: shared.speaking.load(Ordering::Relaxed),
            muted,
        }];
        levels.extend(lock(&shared.peers).iter().map(|(peer, p)| Level {
            peer_id: peer.to_string(),
            level_db: p.level_db.round().max(-100.0) as f64,
            speaking: p.jitter.speaking(),
            muted: p.jitter.muted(),
        }));
        levels.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        if last.levels.due(&levels) {
            self.deps.events.emit(Event::CallLevels { room: room.clone(), levels });
        }
        let errors = health.map(|h| h.errors()).unwrap_or_default();
        if errors != last.errors {
            tracing::info!(input = ?errors.0, output = ?errors.1, "sound devices changed");
            self.deps.events.emit(Event::AudioDevice { input_error: errors.0.clone(), output_error: errors.1.clone() });
            last.errors = errors;
        }
        true
    }
}

/// Something sent as events while it changes, and once a second unchanged:
/// a client that applied an older answer after the last change (a mute's
/// reply crossing the event) is put right within a second, without asking.
pub(super) struct Resend<T> {
    last: Option<T>,
    /// Ticks since it was last sent.
    quiet_ticks: u32,
}

impl<T> Default for Resend<T> {
    fn default() -> Self {
        Resend { last: None, quiet_ticks: 0 }
    }
}

impl<T: PartialEq + Clone> Resend<T> {
    /// Whether `now` is to be sent at this tick (then it is remembered).
    pub(super) fn due(&mut self, now: &T) -> bool {
        self.quiet_ticks += 1;
        if self.last.as_ref() == Some(now) && self.quiet_ticks < RESEND_LEVELS_TICKS {
            return false;
        }
        self.last = Some(now.clone());
        self.quiet_ticks = 0;
        true
    }
}

/// What the watcher last announced.
#[derive(Default)]
struct Watched {
    levels: Resend<Vec<Level>>,
    errors: (Option<String>, Option<String>),
}

/// Runs while the call `serial` does.
pub(super) async fn watch(calls: Weak<Calls>, serial: u64) {
    let mut last = Watched::default();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(calls) = calls.upgrade() else { return };
        if !calls.watch_tick(serial, &mut last) {
            return;
        }
    }
}
