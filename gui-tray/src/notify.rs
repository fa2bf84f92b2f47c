//! Desktop notifications: which events deserve one (pure functions, tested)
//! and showing them (the freedesktop D-Bus service on Linux, `notify-rust`
//! for the platform's own elsewhere).

use apero_control::{human_bytes, Event, FileInfo, MessageInfo};
use apero_window::i18n::Tr;

use crate::settings::Settings;
use crate::state::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub summary: String,
    pub body: String,
}

impl Note {
    pub fn new(summary: impl Into<String>, body: impl Into<String>) -> Note {
        Note { summary: summary.into(), body: body.into() }
    }
}

const PREVIEW_CHARS: usize = 80;

/// The first words of a message, cut at a word boundary.
pub fn preview(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= PREVIEW_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(PREVIEW_CHARS).collect();
    let at = cut.rfind(' ').filter(|&i| i > PREVIEW_CHARS / 2).unwrap_or(cut.len());
    format!("{}…", &cut[..at])
}

pub fn message(state: &State, room: &str, m: &MessageInfo, tr: &Tr) -> Note {
    let who = if m.author_name.is_empty() { tr.t("tray-someone") } else { m.author_name.clone() };
    Note::new(tr.a("tray-message", &[("who", who.into()), ("room", state.room_name(room).to_string().into())]), preview(&m.text))
}

pub fn file(state: &State, room: &str, f: &FileInfo, tr: &Tr) -> Note {
    Note::new(
        tr.a("tray-file", &[("who", f.from_name.clone().into()), ("room", state.room_name(room).to_string().into())]),
        tr.a(
            "tray-file-body",
            &[("name", f.name.clone().into()), ("size", human_bytes(f.size).into()), ("id", f.id[..f.id.len().min(8)].to_string().into())],
        ),
    )
}

pub fn joined_call(state: &State, room: &str, names: &[String], tr: &Tr) -> Note {
    Note::new(
        tr.a("tray-joined-call", &[("names", names.join(", ").into()), ("count", (names.len() as u64).into())]),
        tr.s("tray-joined-call-body", "room", state.room_name(room)),
    )
}

/// The daemon sends this only when a device of our call is lost or back:
/// a person without a terminal must learn why they hear nothing.
pub fn audio_device(input: Option<&str>, output: Option<&str>, tr: &Tr) -> Note {
    match (input, output) {
        (None, None) => Note::new(tr.t("tray-devices-back"), tr.t("tray-devices-back-body")),
        (Some(i), None) => Note::new(tr.t("tray-mic-lost"), tr.s("tray-mic-lost-body", "error", i)),
        (None, Some(o)) => Note::new(tr.t("tray-speaker-lost"), tr.s("tray-speaker-lost-body", "error", o)),
        (Some(i), Some(_)) => Note::new(tr.t("tray-sound-lost"), tr.s("tray-sound-lost-body", "error", i)),
    }
}

/// The notification for an event that needs no more than the state, if
/// the event deserves one. Our own messages and offers never do, nor
/// anything in a room whose notifications are off, unless a message names
/// us (@name). Call joins need names
/// from the daemon and are made by the caller with [`joined_call`].
pub fn for_event(state: &State, settings: &Settings, event: &Event, tr: &Tr) -> Option<Note> {
    match event {
        Event::Message { room, message: m } if m.author != state.me_id && (settings.notifies(room) || m.mentions_me) => {
            Some(message(state, room, m, tr))
        }
        Event::FileOffered { room, file: f } if f.from != state.me_id && settings.notifies(room) => Some(file(state, room, f, tr)),
        Event::AudioDevice { input_error, output_error } => Some(audio_device(input_error.as_deref(), output_error.as_deref(), tr)),
        // What a host or a breakout does to us is said whatever the
        // room's switch: it changes what we hear and who hears us.
        Event::Moved { .. } | Event::MutedByHost { .. } | Event::HelpAsked { .. } | Event::Breakout { .. } | Event::Removed { .. } => {
            host_action(state, event, tr)
        }
        _ => None,
    }
}

/// A host's move, mute or removal, a call for help (hosts only), the
/// breakout's last minute or a host's broadcast.
pub fn host_action(state: &State, event: &Event, tr: &Tr) -> Option<Note> {
    let name = |room: &str| -> fluent_templates::fluent_bundle::FluentValue<'static> { state.room_name(room).to_string().into() };
    let v = |s: &str| -> fluent_templates::fluent_bundle::FluentValue<'static> { s.to_string().into() };
    Some(match event {
        Event::Moved { room, channel, by } => {
            Note::new(tr.a("tray-moved", &[("by", v(by)), ("channel", v(channel))]), tr.a("tray-moved-body", &[("room", name(room))]))
        }
        Event::MutedByHost { room, by } => {
            Note::new(tr.s("tray-muted-by-host", "by", by), tr.a("tray-muted-by-host-body", &[("room", name(room))]))
        }
        Event::HelpAsked { room, channel, name: who, .. } => {
            Note::new(tr.s("tray-help-asked", "name", who), tr.a("tray-help-asked-body", &[("channel", v(channel)), ("room", name(room))]))
        }
        Event::Breakout { room, seconds_left: Some(s), .. } => {
            Note::new(tr.a("tray-breakout-ending", &[("room", name(room))]), tr.a("tray-breakout-ending-body", &[("seconds", (*s).into())]))
        }
        Event::Breakout { room, text: Some(text), .. } => Note::new(tr.a("tray-broadcast", &[("room", name(room))]), preview(text)),
        Event::Removed { room, by } => Note::new(tr.a("tray-removed", &[("room", name(room))]), tr.s("tray-removed-body", "by", by)),
        _ => return None,
    })
}

/// Shows notifications without ever blocking the tray: each one is sent
/// from a task of its own, and a failure (no notification service) is
/// logged, not fatal.
#[derive(Clone, Default)]
pub struct Notifier {
    pub enabled: bool,
    #[cfg(all(unix, not(target_os = "macos")))]
    bus: std::sync::Arc<tokio::sync::OnceCell<zbus::Connection>>,
}

impl Notifier {
    pub fn new(enabled: bool) -> Notifier {
        Notifier { enabled, ..Notifier::default() }
    }

    pub fn show(&self, note: Note) {
        tracing::info!(summary = %note.summary, body = %note.body, "notification");
        if !self.enabled {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.send(&note).await {
                tracing::warn!("cannot show a notification: {e}");
            }
        });
    }

    /// The freedesktop Notifications service on the session bus.
    #[cfg(all(unix, not(target_os = "macos")))]
    async fn send(&self, note: &Note) -> zbus::Result<()> {
        let conn = self.bus.get_or_try_init(zbus::Connection::session).await?;
        let hints: std::collections::HashMap<&str, zbus::zvariant::Value> = std::collections::HashMap::new();
        let body = ("apero", 0u32, "call-start", note.summary.as_str(), note.body.as_str(), Vec::<&str>::new(), hints, -1i32);
        conn.call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &body,
        )
        .await?;
        Ok(())
    }

    /// Toasts on Windows, the notification centre on macOS.
    #[cfg(any(windows, target_os = "macos"))]
    async fn send(&self, note: &Note) -> Result<(), notify_rust::error::Error> {
        let note = note.clone();
        tokio::task::spawn_blocking(move || {
            notify_rust::Notification::new().appname("apero").summary(&note.summary).body(&note.body).show().map(drop)
        })
        .await
        .unwrap_or(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{en, room, snapshot};

    fn state() -> State {
        let mut s = State::default();
        s.apply(snapshot(vec![room("r1", "apéro", 2, 0)], None, false, &[]));
        s
    }

    fn msg(author: &str, text: &str) -> Event {
        Event::Message {
            room: "r1".into(),
            message: MessageInfo {
                id: "m".into(),
                room: "r1".into(),
                author: author.into(),
                author_name: "bob".into(),
                text: text.into(),
                time: 0,
                lamport: 1,
                ..Default::default()
            },
        }
    }

    #[test]
    fn lost_and_found_devices_notify() {
        let s = state();
        let lost = Event::AudioDevice { input_error: Some("the microphone was lost".into()), output_error: None };
        let note = for_event(&s, &Settings::default(), &lost, &en()).unwrap();
        assert_eq!(note.summary, "Your microphone is not working");
        assert!(note.body.contains("the microphone was lost"));
        let back = Event::AudioDevice { input_error: None, output_error: None };
        assert_eq!(for_event(&s, &Settings::default(), &back, &en()).unwrap().summary, "Your microphone and speaker work again");
    }

    #[test]
    fn messages_from_others_notify_unless_the_room_is_silent() {
        let s = state();
        let mut settings = Settings::default();
        let note = for_event(&s, &settings, &msg("id-bob", "on commence à 19h ?"), &en());
        assert_eq!(note, Some(Note::new("bob in apéro", "on commence à 19h ?")));
        assert_eq!(for_event(&s, &settings, &msg("id-me", "mine"), &en()), None);
        settings.toggle("r1");
        assert_eq!(for_event(&s, &settings, &msg("id-bob", "hi"), &en()), None);
        assert_eq!(for_event(&s, &settings, &Event::Lagged { missed: 3 }, &en()), None);
    }

    #[test]
    fn previews_cut_long_text_at_a_word() {
        assert_eq!(preview("  two\n lines "), "two lines");
        let long = "word ".repeat(40);
        let p = preview(&long);
        assert!(p.ends_with("word…") && p.chars().count() <= PREVIEW_CHARS + 1, "{p}");
        let unspaced = "é".repeat(200);
        assert_eq!(preview(&unspaced).chars().count(), PREVIEW_CHARS + 1);
    }

    #[test]
    fn offered_files_say_name_size_and_how_to_get_them() {
        let f = FileInfo {
            id: "3f9a1c2b77".into(),
            room: "r1".into(),
            name: "slides.pdf".into(),
            size: 2_500_000,
            mime: "application/pdf".into(),
            image: false,
            from: "id-bob".into(),
            from_name: "bob".into(),
            time: 0,
            have: false,
            sources: 1,
            sources_online: 1,
            path: None,
            thumbnail: None,
            channel: None,
            channel_name: None,
        };
        let offered = Event::FileOffered { room: "r1".into(), file: f };
        let note = for_event(&state(), &Settings::default(), &offered, &en()).unwrap();
        assert_eq!(note, Note::new("bob offered a file in apéro", "slides.pdf (2.4 MiB) — `apero get 3f9a1c2b`"));
        let fr = for_event(&state(), &Settings::default(), &offered, &Tr::new(Some("fr"))).unwrap();
        assert_eq!(fr, Note::new("bob a proposé un fichier dans apéro", "slides.pdf (2.4 MiB) — `apero get 3f9a1c2b`"));
    }

    #[test]
    fn hosts_actions_notify_even_in_a_silent_room() {
        let s = state();
        let mut silent = Settings::default();
        silent.toggle("r1");
        let moved = Event::Moved { room: "r1".into(), channel: "atelier".into(), by: "Camille".into() };
        assert_eq!(for_event(&s, &silent, &moved, &en()), Some(Note::new("Camille moved you to atelier", "in the call of apéro")));
        let muted = Event::MutedByHost { room: "r1".into(), by: "Camille".into() };
        assert_eq!(for_event(&s, &silent, &muted, &en()).unwrap().summary, "Camille muted you");
        let help = Event::HelpAsked { room: "r1".into(), channel: "Group 2".into(), peer_id: "id-bob".into(), name: "bob".into() };
        assert_eq!(for_event(&s, &silent, &help, &en()), Some(Note::new("bob asks for help", "in Group 2 (apéro)")));
        let ending = Event::Breakout { room: "r1".into(), seconds_left: Some(60), text: None };
        assert_eq!(for_event(&s, &silent, &ending, &en()).unwrap().body, "Everyone comes back in 60 seconds.");
        let said = Event::Breakout { room: "r1".into(), seconds_left: None, text: Some("back in five".into()) };
        assert_eq!(for_event(&s, &silent, &said, &en()), Some(Note::new("To every group of apéro", "back in five")));
        let removed = Event::Removed { room: "r1".into(), by: "Camille".into() };
        let fr = Tr::new(Some("fr"));
        assert_eq!(for_event(&s, &silent, &removed, &fr), Some(Note::new("Vous avez été retiré de apéro", "par Camille")));
        assert_eq!(for_event(&s, &silent, &Event::Breakout { room: "r1".into(), seconds_left: None, text: None }, &en()), None);
    }

    #[test]
    fn notifications_speak_french_when_chosen() {
        let fr = Tr::new(Some("fr"));
        let s = state();
        let note = for_event(&s, &Settings::default(), &msg("id-bob", "on commence à 19h ?"), &fr);
        assert_eq!(note, Some(Note::new("bob dans apéro", "on commence à 19h ?")));
        assert_eq!(joined_call(&s, "r1", &["bob".into()], &fr), Note::new("bob a rejoint l'appel", "dans apéro"));
        assert_eq!(joined_call(&s, "r1", &["bob".into(), "eve".into()], &fr).summary, "bob, eve ont rejoint l'appel");
        assert_eq!(joined_call(&s, "r1", &["bob".into()], &en()), Note::new("bob joined the call", "in apéro"));
        let lost = audio_device(Some("le micro a disparu"), None, &fr);
        assert_eq!(lost.summary, "Votre micro ne fonctionne pas");
        assert!(lost.body.ends_with("le micro a disparu"), "{lost:?}");
    }
}
