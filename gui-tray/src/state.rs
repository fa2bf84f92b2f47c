//! What the tray knows about the daemon, rebuilt from the daemon's answers
//! and events; the menu, the icon and the notifications are all functions
//! of it.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use apero_control::{CallStatus, RoomInfo, Status};
use apero_window::i18n::Tr;

/// What the icon shows, from the least to the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IconState {
    Offline,
    Online,
    InCall,
    Muted,
    /// In a call and someone (us included, unless muted) is speaking.
    Speaking,
}

impl IconState {
    /// A freedesktop icon-theme name, used by hosts that find it in their
    /// theme; others draw our pixmap (see `icon.rs`).
    pub fn theme_name(self) -> &'static str {
        match self {
            IconState::Offline => "network-offline",
            IconState::Online => "user-available",
            IconState::InCall => "call-start",
            IconState::Muted => "microphone-sensitivity-muted",
            IconState::Speaking => "audio-input-microphone-high",
        }
    }
}

/// The call we are in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Call {
    pub room: String,
    pub room_name: String,
    pub muted: bool,
    pub people: usize,
    /// Names of who is speaking right now.
    pub speaking: Vec<String>,
    /// Everyone's name by peer id, for the level events (which carry ids).
    pub names: HashMap<String, String>,
}

/// Why the daemon does not answer: shown in the tray's language, logged
/// in English (`Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offline {
    /// The tray has just started and not reached the daemon yet.
    Connecting,
    /// Nothing listens on the daemon's socket.
    NotRunning,
    /// The daemon closed the connection.
    Gone,
    /// Anything else, in the control crate's words.
    Other(String),
}

impl Offline {
    pub fn text(&self, tr: &Tr) -> String {
        match self {
            Offline::Connecting => tr.t("tray-offline-connecting"),
            Offline::NotRunning => tr.t("tray-offline-not-running"),
            Offline::Gone => tr.t("tray-offline-gone"),
            Offline::Other(why) => why.clone(),
        }
    }
}

impl fmt::Display for Offline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offline::Connecting => f.write_str("connecting…"),
            Offline::NotRunning => f.write_str("the daemon is not running"),
            Offline::Gone => f.write_str("the daemon went away"),
            Offline::Other(why) => f.write_str(why),
        }
    }
}

impl From<String> for Offline {
    fn from(why: String) -> Offline {
        Offline::Other(why)
    }
}

impl From<&str> for Offline {
    fn from(why: &str) -> Offline {
        Offline::Other(why.to_string())
    }
}

/// Everything the daemon told us at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub status: Status,
    pub rooms: Vec<RoomInfo>,
    pub call: CallStatus,
    /// What we share now (screen, camera).
    pub sharing: Vec<apero_control::ShareKind>,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    /// `Some(why)` while the daemon does not answer.
    pub offline: Option<Offline>,
    pub me_id: String,
    pub me_name: String,
    pub rooms: Vec<RoomInfo>,
    pub call: Option<Call>,
    /// What we share now: the menu says so and offers to stop, for as long
    /// as it lasts.
    pub sharing: Vec<apero_control::ShareKind>,
    /// Who is in each room's call, as far as events told us; lets a
    /// `call_changed` event say who just joined.
    calls: HashMap<String, BTreeSet<String>>,
}

impl State {
    pub fn offline(why: impl Into<Offline>) -> State {
        State { offline: Some(why.into()), ..State::default() }
    }

    pub fn is_online(&self) -> bool {
        self.offline.is_none()
    }

    pub fn set_offline(&mut self, why: impl Into<Offline>) {
        *self = State::offline(why);
    }

    pub fn apply(&mut self, s: Snapshot) {
        self.offline = None;
        self.me_id = s.status.peer_id;
        self.me_name = s.status.name;
        // A room whose call emptied forgets its people, so the next call's
        // first member counts as joining.
        for r in &s.rooms {
            if r.call == 0 {
                self.calls.remove(&r.id);
            }
        }
        self.rooms = s.rooms;
        self.sharing = s.sharing;
        self.call = s.call.room.map(|room| Call {
            room_name: s.call.room_name.unwrap_or_else(|| room.clone()),
            room,
            muted: s.call.muted,
            people: s.call.participants.len(),
            speaking: s.call.participants.iter().filter(|p| p.speaking && !(p.is_self && s.call.muted)).map(|p| p.name.clone()).collect(),
            names: s.call.participants.iter().map(|p| (p.peer_id.clone(), p.name.clone())).collect(),
        });
    }

    /// Who speaks and whether we are muted, from a level event: the icon
    /// follows the call as it goes, with no polling. `true` if that changed.
    pub fn levels(&mut self, room: &str, levels: &[apero_control::Level]) -> bool {
        let me = self.me_id.clone();
        let Some(call) = self.call.as_mut().filter(|c| c.room == room) else { return false };
        let before = (call.muted, call.speaking.clone());
        if let Some(l) = levels.iter().find(|l| l.peer_id == me) {
            call.muted = l.muted;
        }
        let muted = call.muted;
        call.speaking = levels
            .iter()
            .filter(|l| l.speaking && !(l.peer_id == me && muted))
            .filter_map(|l| call.names.get(&l.peer_id).cloned())
            .collect();
        before != (call.muted, call.speaking.clone())
    }

    pub fn room_name<'a>(&'a self, room: &'a str) -> &'a str {
        self.rooms.iter().find(|r| r.id == room).map(|r| r.name.as_str()).unwrap_or(room)
    }

    /// Records a room's call participants and returns who joined since the
    /// last time (never ourselves). When we did not know the call before and
    /// it was already going on, nobody counts as new: they were there first.
    pub fn call_changed(&mut self, room: &str, participants: &[String]) -> Vec<String> {
        let now: BTreeSet<String> = participants.iter().cloned().collect();
        let known_empty = self.rooms.iter().any(|r| r.id == room && r.call == 0);
        let joined = match self.calls.get(room) {
            Some(before) => now.difference(before).cloned().collect(),
            None if known_empty => now.iter().cloned().collect(),
            None => Vec::new(),
        };
        self.calls.insert(room.to_string(), now);
        joined.into_iter().filter(|p| *p != self.me_id).collect()
    }

    pub fn icon(&self) -> IconState {
        match (&self.offline, &self.call) {
            (Some(_), _) => IconState::Offline,
            (None, None) => IconState::Online,
            (None, Some(c)) if !c.speaking.is_empty() => IconState::Speaking,
            (None, Some(c)) if c.muted => IconState::Muted,
            (None, Some(_)) => IconState::InCall,
        }
    }

    /// One line for the tooltip and the menu's first entry.
    pub fn summary(&self, tr: &Tr) -> String {
        if let Some(why) = &self.offline {
            return tr.s("tray-offline", "why", &why.text(tr));
        }
        match &self.call {
            None => tr.s("tray-online", "name", &self.me_name),
            Some(c) => {
                let mut parts = vec![tr.a("tray-in-call", &[("room", c.room_name.clone().into()), ("count", (c.people as u64).into())])];
                if c.muted {
                    parts.push(tr.t("tray-in-call-muted"));
                }
                for kind in &self.sharing {
                    parts.push(tr.t(match kind {
                        apero_control::ShareKind::Screen => "tray-sharing-screen",
                        apero_control::ShareKind::Camera => "tray-sharing-camera",
                    }));
                }
                if !c.speaking.is_empty() {
                    parts.push(tr.a(
                        "tray-in-call-speaking",
                        &[("names", c.speaking.join(", ").into()), ("count", (c.speaking.len() as u64).into())],
                    ));
                }
                parts.join(", ")
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use apero_control::{CallPath, Dropped, Nat, Participant, Relaying};

    /// The tests' words are English, whatever the machine's language.
    pub fn en() -> Tr {
        Tr::new(Some("en"))
    }

    pub fn room(id: &str, name: &str, online: usize, call: usize) -> RoomInfo {
        RoomInfo { id: id.into(), name: name.into(), members: 3, online, call, in_call: false }
    }

    fn participant(name: &str, is_self: bool, speaking: bool) -> Participant {
        Participant {
            peer_id: format!("id-{name}"),
            name: name.into(),
            is_self,
            speaking,
            muted: false,
            path: CallPath::Direct,
            voice_path: None,
            rtt_ms: None,
            loss_pct: 0.0,
            jitter_ms: 0.0,
            latency_ms: None,
            volume: 100,
            stats: None,
            channel: None,
        }
    }

    pub fn snapshot(rooms: Vec<RoomInfo>, call_room: Option<&str>, muted: bool, speaking: &[&str]) -> Snapshot {
        let status = Status {
            peer_id: "id-me".into(),
            name: "me".into(),
            version: "0".into(),
            pid: 1,
            home: "/h".into(),
            listen: vec![],
            peers: vec![],
            rooms: rooms.len(),
            dropped: Dropped::default(),
            nat: Nat::Unknown,
            external: vec![],
            relays: vec![],
            relaying: Relaying::Off,
            tasks: 0,
            proxy: None,
        };
        let mut participants = vec![participant("me", true, speaking.contains(&"me"))];
        participants.push(participant("bob", false, speaking.contains(&"bob")));
        let call = CallStatus {
            room: call_room.map(String::from),
            room_name: call_room.map(|r| format!("{r}-name")),
            channel: None,
            muted,
            backend: "null".into(),
            participants: if call_room.is_some() { participants } else { vec![] },
            sent_bytes: 0,
            underruns: 0,
            packet_ms: 0,
            timing: None,
            audio: None,
        };
        Snapshot { status, rooms, call, sharing: Vec::new() }
    }

    #[test]
    fn icon_follows_the_most_urgent_state() {
        let mut s = State::offline("gone");
        assert_eq!(s.icon(), IconState::Offline);
        s.apply(snapshot(vec![room("r", "apéro", 1, 0)], None, false, &[]));
        assert_eq!(s.icon(), IconState::Online);
        s.apply(snapshot(vec![], Some("r"), false, &[]));
        assert_eq!(s.icon(), IconState::InCall);
        s.apply(snapshot(vec![], Some("r"), true, &[]));
        assert_eq!(s.icon(), IconState::Muted);
        s.apply(snapshot(vec![], Some("r"), true, &["bob"]));
        assert_eq!(s.icon(), IconState::Speaking);
        assert!(s.summary(&en()).contains("speaking: bob"), "{}", s.summary(&en()));
        // Our own voice activity does not count while muted.
        s.apply(snapshot(vec![], Some("r"), true, &["me"]));
        assert_eq!(s.icon(), IconState::Muted);
        s.set_offline("killed");
        assert_eq!((s.icon(), s.rooms.len(), s.call.is_none()), (IconState::Offline, 0, true));
    }

    #[test]
    fn level_events_move_speaking_and_mute_without_a_refresh() {
        let lvl = |id: &str, speaking: bool, muted: bool| apero_control::Level { peer_id: id.into(), level_db: -20.0, speaking, muted };
        let mut s = State::default();
        s.apply(snapshot(vec![], Some("r"), false, &[]));
        assert_eq!(s.icon(), IconState::InCall);
        assert!(s.levels("r", &[lvl("id-me", false, false), lvl("id-bob", true, false)]));
        assert_eq!(s.icon(), IconState::Speaking);
        assert!(s.summary(&en()).contains("speaking: bob"), "{}", s.summary(&en()));
        // Muted elsewhere (the CLI, the window): the tray follows.
        assert!(s.levels("r", &[lvl("id-me", true, true), lvl("id-bob", false, false)]));
        assert_eq!(s.icon(), IconState::Muted, "our own voice does not count while muted");
        assert!(!s.levels("r", &[lvl("id-me", true, true), lvl("id-bob", false, false)]), "no change, no redraw");
        assert!(!s.levels("other", &[lvl("id-bob", true, false)]), "another room's levels are not ours");
    }

    #[test]
    fn call_changed_reports_newcomers_but_not_us_nor_earlier_ones() {
        let mut s = State::default();
        s.apply(snapshot(vec![room("quiet", "q", 1, 0), room("busy", "b", 2, 2)], None, false, &[]));
        assert_eq!(s.call_changed("quiet", &["id-bob".into()]), vec!["id-bob"]);
        assert_eq!(s.call_changed("quiet", &["id-bob".into(), "id-me".into()]), Vec::<String>::new());
        assert_eq!(s.call_changed("quiet", &["id-bob".into(), "id-me".into(), "id-eve".into()]), vec!["id-eve"]);
        // A call already going on before we looked: its people are not news.
        assert!(s.call_changed("busy", &["id-x".into(), "id-y".into()]).is_empty());
        assert_eq!(s.call_changed("busy", &["id-x".into(), "id-y".into(), "id-z".into()]), vec!["id-z"]);
    }

    #[test]
    fn the_summary_speaks_the_chosen_language() {
        let fr = Tr::new(Some("fr"));
        let mut s = State::offline(Offline::NotRunning);
        assert_eq!(s.summary(&en()), "apero is offline: the daemon is not running");
        assert_eq!(s.summary(&fr), "apero est hors ligne : le service ne tourne pas");
        assert_eq!(Offline::NotRunning.to_string(), "the daemon is not running", "logged in English");
        s.apply(snapshot(vec![], None, false, &[]));
        assert_eq!(s.summary(&en()), "apero: online as me");
        assert_eq!(s.summary(&fr), "apero : en ligne en tant que me");
        s.apply(snapshot(vec![], Some("r"), true, &["bob"]));
        assert_eq!(s.summary(&en()), "In the call of r-name (2 in it), muted, speaking: bob");
        assert_eq!(s.summary(&fr), "Dans l'appel de r-name (2 personnes), micro coupé, parle : bob");
    }
}
