//! The menu as data: built from the state and the settings, rendered by
//! each platform's front-end (`linux.rs`, `other.rs`) the same way. A click
//! comes back as the item's [`Action`].

use apero_window::i18n::Tr;

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
    /// Stops our screen share and camera.
    StopSharing,
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
    pub fn of(state: &State, settings: &Settings, tr: &Tr) -> View {
        View { icon: state.icon(), tooltip: state.summary(tr), menu: build(state, settings, tr) }
    }
}

fn button(label: impl Into<String>, action: Action) -> Item {
    Item::Button { label: label.into(), enabled: true, action }
}

pub fn build(state: &State, settings: &Settings, tr: &Tr) -> Vec<Item> {
    let mut items = vec![Item::Label(state.summary(tr)), Item::Separator];
    if !state.is_online() {
        items.push(button(tr.t("tray-start-daemon"), Action::StartDaemon));
        items.push(Item::Separator);
        items.push(button(tr.t("tray-quit"), Action::Quit));
        return items;
    }
    // First, and for as long as it lasts: what we show others, and its stop.
    if !state.sharing.is_empty() {
        items.push(button(tr.t("tray-stop-sharing"), Action::StopSharing));
        items.push(Item::Separator);
    }
    items.push(button(tr.t("tray-join-with-code"), Action::JoinWithCode));
    if state.rooms.is_empty() {
        items.push(Item::Label(tr.t("tray-no-rooms")));
    }
    for r in &state.rooms {
        let in_this_call = state.call.as_ref().is_some_and(|c| c.room == r.id);
        let id = if in_this_call {
            "tray-room-in-call"
        } else if r.call > 0 {
            "tray-room-call"
        } else {
            "tray-room"
        };
        let label = tr.a(
            id,
            &[
                ("room", r.name.clone().into()),
                ("online", (r.online as u64).into()),
                ("members", (r.members as u64).into()),
                ("count", (r.call as u64).into()),
            ],
        );
        let call_item = if in_this_call {
            button(tr.t("tray-leave-call"), Action::LeaveCall)
        } else {
            button(tr.t("tray-join-call"), Action::JoinCall(r.id.clone()))
        };
        items.push(Item::Submenu {
            label,
            items: vec![
                call_item,
                button(tr.t("tray-copy-invite"), Action::CopyInvite(r.id.clone())),
                button(tr.t("tray-copy-short-code"), Action::CopyShortCode(r.id.clone())),
                button(tr.t("tray-open-chat"), Action::OpenChat(r.id.clone())),
                Item::Check {
                    label: tr.t("tray-notifications"),
                    checked: settings.notifies(&r.id),
                    action: Action::ToggleNotifications(r.id.clone()),
                },
            ],
        });
    }
    items.push(Item::Separator);
    let muted = state.call.as_ref().is_some_and(|c| c.muted);
    items.push(Item::Button {
        label: tr.t(if muted { "tray-unmute" } else { "tray-mute" }),
        enabled: state.call.is_some(),
        action: Action::SetMuted(!muted),
    });
    if state.call.is_some() {
        items.push(button(tr.t("tray-leave-call"), Action::LeaveCall));
    }
    items.push(Item::Separator);
    items.push(button(tr.t("tray-stop-daemon"), Action::StopDaemon));
    items.push(button(tr.t("tray-quit"), Action::Quit));
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{en, room, snapshot};

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
        let m = build(&State::offline("nothing answers"), &Settings::default(), &en());
        assert_eq!(labels(&m), ["[apero is offline: nothing answers]", "-", "Start the daemon", "-", "Quit"]);
    }

    #[test]
    fn rooms_calls_and_mute() {
        let mut s = State::default();
        let mut settings = Settings::default();
        settings.toggle("r2");
        s.apply(snapshot(vec![room("r1", "apéro", 2, 0), room("r2", "atelier", 1, 2)], None, false, &[]));
        assert_eq!(
            labels(&build(&s, &settings, &en())),
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
        let m = build(&s, &settings, &en());
        assert!(labels(&m)[3].starts_with("apéro (2/3 online) — in call: Leave call |"), "{:?}", labels(&m));
        assert!(m.contains(&Item::Button { label: "Unmute".into(), enabled: true, action: Action::SetMuted(false) }));
        assert!(m.contains(&Item::Button { label: "Leave call".into(), enabled: true, action: Action::LeaveCall }));
    }

    #[test]
    fn the_menu_speaks_french_when_chosen() {
        let fr = Tr::new(Some("fr"));
        let offline = build(&State::offline(crate::state::Offline::Connecting), &Settings::default(), &fr);
        assert_eq!(labels(&offline), ["[apero est hors ligne : connexion…]", "-", "Démarrer le service", "-", "Quitter"]);
        let mut s = State::default();
        s.apply(snapshot(vec![room("r1", "apéro", 2, 0), room("r2", "atelier", 1, 2)], None, false, &[]));
        assert_eq!(
            labels(&build(&s, &Settings::default(), &fr)),
            [
                "[apero : en ligne en tant que me]",
                "-",
                "Rejoindre avec un code…",
                "apéro (2/3 en ligne): Rejoindre l'appel | Copier le code d'invitation | Copier le code court | Ouvrir la discussion | Notifications=true",
                "atelier (1/3 en ligne) — 2 dans l'appel: Rejoindre l'appel | Copier le code d'invitation | Copier le code court | Ouvrir la discussion | Notifications=true",
                "-",
                "(Couper le micro)",
                "-",
                "Arrêter le service",
                "Quitter",
            ]
        );
        s.apply(snapshot(vec![room("r1", "apéro", 2, 1)], Some("r1"), true, &[]));
        let m = build(&s, &Settings::default(), &fr);
        assert!(labels(&m)[3].starts_with("apéro (2/3 en ligne) — dans l'appel: Quitter l'appel |"), "{:?}", labels(&m));
        assert!(m.contains(&Item::Button { label: "Rétablir le micro".into(), enabled: true, action: Action::SetMuted(false) }));
    }
}
