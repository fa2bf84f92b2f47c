//! How the window's panels share its width, from 1920 points down to 640
//! (a 1280×800 screen at 200 %): side panels shrink with the window, then
//! the rooms fold into a menu in the top bar and the call into a bar over
//! the chat, so that the chat and its message field always keep room.

use egui::Rangef;

/// Below this width the rooms list folds into the top bar's menu.
const ROOMS_FOLD: f32 = 760.0;
/// Below this width the call panel becomes a bar over the chat.
const CALL_FOLD: f32 = 560.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shape {
    /// The rooms panel's width range, `None`: folded into a menu.
    pub rooms: Option<Rangef>,
    /// The call panel's width range, `None`: a bar over the chat.
    pub call: Option<Rangef>,
}

impl Shape {
    pub fn of(width: f32) -> Shape {
        let rooms = (width >= ROOMS_FOLD).then(|| Rangef::new(140.0, (width * 0.24).clamp(150.0, 320.0)));
        let call = (width >= CALL_FOLD).then(|| Rangef::new(170.0, (width * 0.28).clamp(180.0, 340.0)));
        Shape { rooms, call }
    }

    /// The width left to the chat at the panels' widest.
    #[cfg(test)]
    fn chat_min(&self, width: f32) -> f32 {
        width - self.rooms.map_or(0.0, |r| r.max) - self.call.map_or(0.0, |r| r.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_keeps_at_least_half_the_window() {
        for w in [480.0, 560.0, 640.0, 759.0, 760.0, 960.0, 1280.0, 1920.0, 3840.0] {
            let s = Shape::of(w);
            assert!(s.chat_min(w) >= w * 0.48, "at {w}: {s:?} leaves {}", s.chat_min(w));
        }
        assert!(Shape::of(640.0).rooms.is_none() && Shape::of(640.0).call.is_some());
        assert!(Shape::of(1280.0).rooms.is_some());
        assert!(Shape::of(500.0).call.is_none());
    }
}
