//! The menu as data: built from the state and the settings, rendered by
//! each platform's front-end (`linux.rs`, `other.rs`) the same way. A click
//! comes back as the item's [`Action`].

use crate::settings::Settings;
use crate::state::{IconState, State};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    JoinCall(String),
    LeaveCall,
    SetMuted(bool),
    /// The mute shortcut: mute if heard, unmute if muted.
    ToggleMute,
    CopyInvite(String),
    CopyShortCode(String),
    OpenChat(String),
    /// Opens the window's "join with a code" dialog.
    JoinWithCode,
    ToggleNotifications(String),
    StartDaemon,
    StopDaemon,
    Quit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Text that cannot be clicked.
    Label(String),
    Button {
        label: String,
        enabled: bool,
        action: Action,
    },
    Check {
        label: String,
        checked: bool,
        action: Action,
    },
    Submenu {
        label: String,
        items: Vec<Item>,
    },
    Separator,
}

/// Everything a front-end shows.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub icon: IconState,
    pub tooltip: String,
    pub menu: Vec<Item>,
}

impl View {
    pub fn of(state: &State, settings: &Settings) -> View {
        View { icon: state.icon(), tooltip: state.summary(), menu: build(state, settings) }
    }
}

fn button(label: impl Into<String>, action: Action) -> Item {
    Item::Button { label: label.into(), enabled: true, action }
}

pub fn build(state: &State, settings: &Settings) -> Vec<Item> {
    let mut items = vec![Item::Label(state.summary()), Item::Separator];
    if !state.is_online() {
        items.push(button("Start the daemon", Action::StartDaemon));
        items.push(Item::Separator);
        items.push(button("Quit", Action::Quit));
        return items;
    }
    items.push(button("Join with a code…", Action::JoinWithCode));
    if state.rooms.is_empty() {
        items.push(Item::Label("No rooms yet: create one in apero's window, or join a friend's with their code".into()));
    }
    for r in &state.rooms {
        let in_this_call = state.call.as_ref().is_some_and(|c| c.room == r.id);
        let mut label = format!("{} ({}/{} online)", r.name, r.online, r.members);
        if in_this_call {
            label.push_str(" — in call");
        } else if r.call > 0 {
            label.push_str(&format!(" — {} in call", r.call));
        }
        let call_item =
            if in_this_call { button("Leave call", Action::LeaveCall) } else { button("Join call", Action::JoinCall(r.id.clone())) };
        items.push(Item::Submenu {
            label,
            items: vec![
                call_item,
                button("Copy invite code", Action::CopyInvite(r.id.clone())),
                button("Copy short code", Action::CopyShortCode(r.id.clone())),
                button("Open chat", Action::OpenChat(r.id.clone())),
                Item::Check {
                    label: "Notifications".into(),
                    checked: settings.notifies(&r.id),
                    action: Action::ToggleNotifications(r.id.clone()),
                },
            ],
        });
    }
    items.push(Item::Separator);
    let muted = state.call.as_ref().is_some_and(|c| c.muted);
    items.push(Item::Button {
        label: if muted { "Unmute" } else { "Mute" }.into(),
        enabled: state.call.is_some(),
        action: Action::SetMuted(!muted),
    });
    if state.call.is_some() {
        items.push(button("Leave call", Action::LeaveCall));
    }
    items.push(Item::Separator);
    items.push(button("Stop the daemon", Action::StopDaemon));
    items.push(button("Quit", Action::Quit));
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{room, snapshot};

    fn labels(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Label(l) => format!("[{l}]"),
                Item::Button { label, enabled, .. } => {
                    if *enabled {
                        label.clone()
                    } else {
                        format!("({label})")
                    }
                }
                Item::Check { label, checked, .. } => format!("{label}={checked}"),
                Item::Submenu { label, items } => format!("{label}: {}", labels(items).join(" | ")),
                Item::Separator => "-".into(),
            })
            .collect()
    }

    #[test]
    fn offline_menu_offers_to_start_the_daemon() {
        let m = build(&State::offline("nothing answers"), &Settings::default());
        assert_eq!(labels(&m), ["[apero is offline: nothing answers]", "-", "Start the daemon", "-", "Quit"]);
    }

    #[test]
    fn rooms_calls_and_mute() {
        let mut s = State::default();
        let mut settings = Settings::default();
        settings.toggle("r2");
        s.apply(snapshot(vec![room("r1", "apéro", 2, 0), room("r2", "atelier", 1, 2)], None, false, &[]));
        assert_eq!(
            labels(&build(&s, &settings)),
            [
                "[apero: online as me]",
                "-",
                "Join with a code…",
                "apéro (2/3 online): Join call | Copy invite code | Copy short code | Open chat | Notifications=true",
                "atelier (1/3 online) — 2 in call: Join call | Copy invite code | Copy short code | Open chat | Notifications=false",
                "-",
                "(Mute)",
                "-",
                "Stop the daemon",
                "Quit",
            ]
        );
        s.apply(snapshot(vec![room("r1", "apéro", 2, 2)], Some("r1"), true, &[]));
        let m = build(&s, &settings);
        assert!(labels(&m)[3].starts_with("apéro (2/3 online) — in call: Leave call |"), "{:?}", labels(&m));
        assert!(m.contains(&Item::Button { label: "Unmute".into(), enabled: true, action: Action::SetMuted(false) }));
        assert!(m.contains(&Item::Button { label: "Leave call".into(), enabled: true, action: Action::LeaveCall }));
    }
}
