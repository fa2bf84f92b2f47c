//! The mute shortcut: a key that mutes or unmutes the call from anywhere on
//! the desktop, while the tray runs. Only where a program may grab a key for
//! itself: X11 (on Wayland no program may; Settings in the window explains
//! how to bind `apero mute --toggle` in the desktop's own keyboard settings,
//! which works on both).

use global_hotkey::hotkey::HotKey;
use global_hotkey::{GlobalHotKeyEvent, GlobalHotKeyManager, HotKeyState};
use tokio::sync::mpsc;

use crate::menu::Action;

/// Grabs `keys` and turns each press into [`Action::ToggleMute`]. Keep the
/// manager: dropping it releases the key. `None` (logged) where no key can
/// be grabbed: no X11 display, or another program holds that key.
pub fn start(keys: &str, actions: mpsc::Sender<Action>) -> Option<GlobalHotKeyManager> {
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        tracing::info!("no X11 display: no mute shortcut (bind `apero mute --toggle` in the desktop's keyboard settings)");
        return None;
    }
    let hotkey: HotKey = match keys.parse() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("the mute shortcut {keys:?} is not a key: {e}");
            return None;
        }
    };
    let manager = match GlobalHotKeyManager::new() {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("no mute shortcut: {e}");
            return None;
        }
    };
    if let Err(e) = manager.register(hotkey) {
        tracing::warn!("cannot take {keys} for muting (another program has it?): {e}");
        return None;
    }
    let id = hotkey.id();
    GlobalHotKeyEvent::set_event_handler(Some(move |e: GlobalHotKeyEvent| {
        if e.id == id && e.state == HotKeyState::Pressed {
            // Full means presses are already waiting: one more adds nothing.
            let _ = actions.try_send(Action::ToggleMute);
        }
    }));
    tracing::info!("{keys} mutes and unmutes the call");
    Some(manager)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_shortcut_parses() {
        let h: HotKey = crate::MUTE_KEY.parse().unwrap();
        assert_eq!(
            h,
            HotKey::new(
                Some(global_hotkey::hotkey::Modifiers::CONTROL | global_hotkey::hotkey::Modifiers::ALT),
                global_hotkey::hotkey::Code::KeyM
            )
        );
    }
}
