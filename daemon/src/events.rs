//! The sink every service tells local subscribers (CLI, tray) through.
//! Sending never waits: a subscriber that falls behind gets `Lagged`.

use apero_control::Event;
use tokio::sync::broadcast;

const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct EventSink(broadcast::Sender<Event>);

impl Default for EventSink {
    fn default() -> Self {
        EventSink(broadcast::channel(BACKLOG).0)
    }
}

impl EventSink {
    pub fn emit(&self, event: Event) {
        // No subscriber is fine.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}
