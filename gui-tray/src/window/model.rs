//! What the window knows: the daemon's answers and events folded into one
//! state, with no drawing in it, so that it is tested on its own.

use std::collections::{BTreeMap, HashMap};

use apero_control::{CallStatus, ErrorKind, Event, FileInfo, InviteInfo, MemberInfo, MessageInfo, RoomInfo, Status, TransferInfo};

use crate::link::Update;

/// Whether the daemon answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// Before the first answer, or while the window starts the daemon.
    Starting,
    Online,
    Offline(String),
    /// apero never ran here: the first-run page asks for a name.
    Welcome,
}

/// Where a join with a code stands.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinState {
    Idle,
    Joining,
    Failed { kind: Option<ErrorKind>, message: String },
}

/// A room's chat, as far as loaded.
#[derive(Debug, Default, Clone)]
pub struct Chat {
    /// Ordered as the room orders them (Lamport clock, then author, then id).
    pub messages: Vec<MessageInfo>,
    pub files: Vec<FileInfo>,
    pub loaded: bool,
    /// Loaded at least once: a later load (after a reconnection) counts
    /// what it brings that we had not seen as unread.
    pub loaded_once: bool,
}

/// A line of the chat: a message or a file offer, by time.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    Message(&'a MessageInfo),
    File(&'a FileInfo),
}

#[derive(Debug)]
pub struct Model {
    pub connection: Connection,
    pub status: Option<Status>,
    pub rooms: Vec<RoomInfo>,
    pub chats: HashMap<String, Chat>,
    /// Who is in each room, as the daemon last said.
    pub members: HashMap<String, Vec<MemberInfo>>,
    pub unread: HashMap<String, usize>,
    pub call: Option<CallStatus>,
    /// Per peer id: level (dBFS) and whether they speak, from the level events.
    pub levels: HashMap<String, (f64, bool)>,
    pub transfers: BTreeMap<String, TransferInfo>,
    pub join: JoinState,
    /// The last invite made, shown in the invite dialog.
    pub invite: Option<InviteInfo>,
    pub devices: Option<apero_control::AudioDevicesInfo>,
    /// The sound check, from its events.
    pub sound_check: Option<apero_control::SoundCheckState>,
    /// Errors to show until dismissed (newest last).
    pub errors: Vec<String>,
    /// The room shown in the middle.
    pub selected: Option<String>,
    /// Set when a room was created or joined, for the UI to react once.
    pub entered: Option<String>,
    /// Messages from others that arrived since the UI last looked (for the
    /// taskbar's attention request while the window is not focused).
    pub fresh_messages: usize,
    /// What we share and what we watch.
    pub share: apero_control::ShareStatus,
    /// What could be shared, for the picker.
    pub shareable: Option<Vec<apero_control::ShareableInfo>>,
    /// Each room's channels, hosts and breakout, and the notices of hosts' actions.
    pub channels: crate::channels::Rooms,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            connection: Connection::Starting,
            status: None,
            rooms: Vec::new(),
            chats: HashMap::new(),
            members: HashMap::new(),
            unread: HashMap::new(),
            call: None,
            levels: HashMap::new(),
            transfers: BTreeMap::new(),
            join: JoinState::Idle,
            invite: None,
            devices: None,
            sound_check: None,
            errors: Vec::new(),
            selected: None,
            entered: None,
            fresh_messages: 0,
            share: Default::default(),
            shareable: None,
            channels: Default::default(),
        }
    }
}

/// At most this many errors are kept on screen.
const MAX_ERRORS: usize = 4;

impl Model {
    pub fn me(&self) -> Option<&str> {
        self.status.as_ref().map(|s| s.peer_id.as_str())
    }

    pub fn room(&self, id: &str) -> Option<&RoomInfo> {
        self.rooms.iter().find(|r| r.id == id)
    }

    /// The room of the call we are in.
    pub fn call_room(&self) -> Option<&str> {
        self.call.as_ref().and_then(|c| c.room.as_deref())
    }

    pub fn select(&mut self, room: Option<String>) {
        if let Some(r) = &room {
            self.unread.remove(r);
        }
        self.selected = room;
    }

    /// A room's messages and files, merged by time.
    pub fn lines(&self, room: &str) -> Vec<Line<'_>> {
        let Some(chat) = self.chats.get(room) else { return Vec::new() };
        let mut lines: Vec<(u64, Line<'_>)> = chat.messages.iter().map(|m| (m.time, Line::Message(m))).collect();
        lines.extend(chat.files.iter().map(|f| (f.time, Line::File(f))));
        // Stable: messages keep the room's order among equal times.
        lines.sort_by_key(|(t, _)| *t);
        lines.into_iter().map(|(_, l)| l).collect()
    }

    fn error(&mut self, e: String) {
        self.errors.push(e);
        if self.errors.len() > MAX_ERRORS {
            self.errors.remove(0);
        }
    }

    pub fn apply(&mut self, u: Update) {
        match u {
            Update::Online(s) => {
                self.connection = Connection::Online;
                self.status = Some(s.status);
                self.rooms = s.rooms;
                self.call = Some(s.call);
                self.transfers = s.transfers.into_iter().map(|t| (t.id.clone(), t)).collect();
                // Anything may have happened while away: chats load afresh.
                for chat in self.chats.values_mut() {
                    chat.loaded = false;
                }
                if self.selected.as_ref().is_some_and(|r| self.room(r).is_none()) {
                    self.selected = None;
                }
            }
            Update::Offline { why, starting } => {
                self.connection = if starting { Connection::Starting } else { Connection::Offline(why) };
                self.levels.clear();
                self.sound_check = None;
                if self.join == JoinState::Joining {
                    self.join = JoinState::Failed { kind: None, message: "apero stopped while joining".into() };
                }
            }
            Update::Welcome => self.connection = Connection::Welcome,
            Update::Members { room, members } => {
                self.members.insert(room, members);
            }
            Update::Rooms(rooms) => {
                self.members.retain(|id, _| rooms.iter().any(|r| &r.id == id));
                self.rooms = rooms;
                if self.selected.as_ref().is_some_and(|r| self.room(r).is_none()) {
                    self.selected = None;
                }
            }
            Update::History { room, messages } => {
                let me = self.me().map(str::to_string);
                let open = self.selected.as_deref() == Some(room.as_str());
                let chat = self.chats.entry(room.clone()).or_default();
                // What arrived while we were away (the daemon restarted,
                // the link broke) sent no event: count it now.
                let missed = if chat.loaded_once {
                    messages.iter().filter(|m| me.as_ref() != Some(&m.author) && !chat.messages.iter().any(|o| o.id == m.id)).count()
                } else {
                    0
                };
                chat.messages = messages;
                chat.loaded = true;
                chat.loaded_once = true;
                if missed > 0 {
                    self.fresh_messages += missed;
                    if !open {
                        *self.unread.entry(room).or_default() += missed;
                    }
                }
            }
            Update::ChannelHistory { room, messages } => {
                crate::channels::merge(&mut self.chats.entry(room).or_default().messages, messages)
            }
            Update::Channels(c) => self.channels.set(c),
            Update::Files { room, files } => self.chats.entry(room).or_default().files = files,
            Update::Call(c) => {
                if c.room.is_none() {
                    self.levels.clear();
                }
                self.call = Some(c);
            }
            Update::Event(e) => self.event(e),
            Update::Share(s) => self.share = s,
            Update::Shareable(l) => self.shareable = Some(l),
            // The stage (ui::stage) takes pictures before they reach here.
            Update::Picture { .. } | Update::NoPicture { .. } => {}
            Update::Entered { room, .. } => {
                self.join = JoinState::Idle;
                self.entered = Some(room.clone());
                self.select(Some(room));
            }
            Update::Invite(i) => self.invite = Some(i),
            Update::JoinFailed { kind, message } => self.join = JoinState::Failed { kind, message },
            Update::Devices(d) => self.devices = Some(d),
            Update::SoundCheck(s) => self.sound_check = Some(s),
            Update::Status(s) => self.status = Some(s),
            Update::Transfer(t) => {
                self.transfers.insert(t.id.clone(), t);
            }
            Update::Failed(e) => self.error(e),
        }
    }

    fn event(&mut self, e: Event) {
        let name = |r: &str| self.room(r).map_or_else(|| r.to_string(), |x| x.name.clone());
        if let Some(n) = crate::channels::Notice::of(&e, name) {
            self.channels.notice(n);
        }
        match e {
            Event::MessageChanged { room, message } => {
                // An edit or a reaction: in place, where it was.
                if let Some(m) = self.chats.entry(room).or_default().messages.iter_mut().find(|m| m.id == message.id) {
                    *m = message;
                }
            }
            Event::MessageDeleted { room, id } => {
                if let Some(chat) = self.chats.get_mut(&room) {
                    chat.messages.retain(|m| m.id != id);
                }
            }
            Event::Message { room, message } => {
                let mine = self.me() == Some(message.author.as_str());
                let chat = self.chats.entry(room.clone()).or_default();
                if chat.messages.iter().any(|m| m.id == message.id) {
                    return;
                }
                // Usually last; a message from someone who was offline may
                // land earlier in the room's order.
                let key = |m: &MessageInfo| (m.lamport, m.author.clone(), m.id.clone());
                let at = chat.messages.partition_point(|m| key(m) <= key(&message));
                chat.messages.insert(at, message);
                if !mine {
                    self.fresh_messages += 1;
                    if self.selected.as_deref() != Some(room.as_str()) {
                        *self.unread.entry(room).or_default() += 1;
                    }
                }
            }
            Event::FileOffered { room, file } => {
                let chat = self.chats.entry(room).or_default();
                chat.files.retain(|f| f.id != file.id);
                chat.files.push(file);
            }
            Event::Transfer { transfer } => {
                if transfer.state == apero_control::TransferState::Done {
                    for chat in self.chats.values_mut() {
                        if let Some(f) = chat.files.iter_mut().find(|f| f.id == transfer.id) {
                            f.have = true;
                        }
                    }
                }
                self.transfers.insert(transfer.id.clone(), transfer);
            }
            Event::CallLevels { room, levels } => {
                let me = self.me().map(str::to_string);
                if let Some(call) = self.call.as_mut().filter(|c| c.room.as_deref() == Some(room.as_str())) {
                    // A mute made elsewhere (the tray, the CLI) shows at once.
                    for l in &levels {
                        if Some(&l.peer_id) == me.as_ref() {
                            call.muted = l.muted;
                        }
                        if let Some(p) = call.participants.iter_mut().find(|p| p.peer_id == l.peer_id) {
                            p.muted = l.muted;
                        }
                    }
                }
                for l in levels {
                    self.levels.insert(l.peer_id, (l.level_db, l.speaking));
                }
            }
            Event::SoundCheck { state } => self.sound_check = Some(state),
            Event::AudioDevice { input_error, output_error } => {
                if let Some(a) = self.call.as_mut().and_then(|c| c.audio.as_mut()) {
                    a.input_error = input_error;
                    a.output_error = output_error;
                }
            }
            // Every message of theirs shows the new name, as the daemon's
            // history now does.
            Event::MemberRenamed { room, peer_id, name } => {
                if let Some(chat) = self.chats.get_mut(&room) {
                    for m in chat.messages.iter_mut().filter(|m| m.author == peer_id) {
                        m.author_name = name.clone();
                    }
                    for f in chat.files.iter_mut().filter(|f| f.from == peer_id) {
                        f.from_name = name.clone();
                    }
                }
            }
            Event::MemberJoined { .. }
            | Event::MemberLeft { .. }
            | Event::PeerConnected { .. }
            | Event::PeerDisconnected { .. }
            | Event::CallChanged { .. }
            | Event::ShareChanged { .. }
            | Event::ChannelsChanged { .. }
            | Event::Moved { .. }
            | Event::MutedByHost { .. }
            | Event::HelpAsked { .. }
            | Event::Breakout { .. }
            | Event::Removed { .. }
            | Event::Lagged { .. } => {}
        }
    }

    /// Whether a participant speaks now: the level events when there are
    /// any, else the call status.
    pub fn speaking(&self, p: &apero_control::Participant) -> bool {
        self.levels.get(&p.peer_id).map(|l| l.1).unwrap_or(p.speaking)
    }
}

/// The connection quality in words, as the call panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Good,
    Lossy,
    Relayed,
}

impl Quality {
    /// Above 3 % loss a voice starts to sound broken even with concealment.
    pub fn of(p: &apero_control::Participant) -> Quality {
        if p.loss_pct > 3.0 {
            Quality::Lossy
        } else if p.path == apero_control::CallPath::Relayed {
            Quality::Relayed
        } else {
            Quality::Good
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, author: &str, lamport: u64, time: u64) -> MessageInfo {
        MessageInfo {
            id: id.into(),
            room: "r".into(),
            author: author.into(),
            author_name: author.into(),
            text: format!("text {id}"),
            time,
            lamport,
            ..Default::default()
        }
    }

    fn status(peer: &str) -> Status {
        serde_json::from_value(serde_json::json!({
            "peer_id": peer, "name": peer, "version": "0", "pid": 1, "home": "/h", "listen": [], "peers": [],
            "rooms": 0, "dropped": {"bad_frames":0,"bad_signatures":0,"not_members":0,"refused_joins":0,"bad_control":0}
        }))
        .unwrap()
    }

    fn online(m: &mut Model) {
        let call: CallStatus = serde_json::from_value(serde_json::json!({
            "room": null, "room_name": null, "muted": false, "backend": "null", "participants": [], "sent_bytes": 0, "timing": null
        }))
        .unwrap();
        let room = RoomInfo { id: "r".into(), name: "Apéro".into(), members: 2, online: 1, call: 0, in_call: false };
        let other = RoomInfo { id: "s".into(), name: "Atelier".into(), ..room.clone() };
        m.apply(Update::Online(Box::new(crate::link::Snapshot {
            status: status("me"),
            rooms: vec![room, other],
            call,
            transfers: vec![],
        })));
    }

    #[test]
    fn messages_keep_the_rooms_order_and_count_as_unread_elsewhere() {
        let mut m = Model::default();
        online(&mut m);
        m.select(Some("r".into()));
        m.apply(Update::History { room: "r".into(), messages: vec![msg("a", "x", 1, 10), msg("c", "x", 3, 30)] });
        m.apply(Update::Event(Event::Message { room: "r".into(), message: msg("b", "y", 2, 20) }));
        // The same message twice (history and event crossing) shows once.
        m.apply(Update::Event(Event::Message { room: "r".into(), message: msg("b", "y", 2, 20) }));
        let ids: Vec<_> = m.chats["r"].messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(m.unread.get("r"), None, "the open room has nothing unread");
        m.apply(Update::Event(Event::Message { room: "s".into(), message: msg("d", "y", 1, 40) }));
        m.apply(Update::Event(Event::Message { room: "s".into(), message: msg("e", "me", 2, 41) }));
        assert_eq!(m.unread.get("s"), Some(&1), "our own message is not unread");
        assert_eq!(m.fresh_messages, 2);
        m.select(Some("s".into()));
        assert_eq!(m.unread.get("s"), None);
    }

    #[test]
    fn files_sit_among_messages_by_time_and_a_done_download_marks_them() {
        let mut m = Model::default();
        online(&mut m);
        m.apply(Update::History { room: "r".into(), messages: vec![msg("a", "x", 1, 10), msg("c", "x", 3, 30)] });
        let file: FileInfo = serde_json::from_value(serde_json::json!({
            "id": "f", "room": "r", "name": "plan.pdf", "size": 10, "mime": "application/pdf", "image": false,
            "from": "x", "from_name": "x", "time": 20, "have": false, "sources": 1, "sources_online": 1
        }))
        .unwrap();
        m.apply(Update::Event(Event::FileOffered { room: "r".into(), file }));
        let kinds: Vec<_> = m.lines("r").iter().map(|l| matches!(l, Line::File(_))).collect();
        assert_eq!(kinds, [false, true, false]);
        let t: TransferInfo = serde_json::from_value(serde_json::json!({
            "id": "f", "room": "r", "name": "plan.pdf", "size": 10, "state": "done", "done_bytes": 10, "fetched_bytes": 10,
            "rate_bps": 0.0, "sources": 0, "bad_chunks": 0, "path": "/tmp/plan.pdf", "error": null
        }))
        .unwrap();
        m.apply(Update::Event(Event::Transfer { transfer: t }));
        assert!(m.chats["r"].files[0].have);
        assert_eq!(m.transfers["f"].done_bytes, 10);
    }

    #[test]
    fn going_offline_fails_a_join_and_coming_back_reloads_chats() {
        let mut m = Model::default();
        online(&mut m);
        m.apply(Update::History { room: "r".into(), messages: vec![] });
        m.join = JoinState::Joining;
        m.apply(Update::Offline { why: "gone".into(), starting: false });
        assert_eq!(m.connection, Connection::Offline("gone".into()));
        assert!(matches!(m.join, JoinState::Failed { .. }));
        online(&mut m);
        assert_eq!(m.connection, Connection::Online);
        assert!(!m.chats["r"].loaded, "history is fetched again after a reconnect");
    }

    #[test]
    fn what_arrived_while_away_counts_as_unread() {
        let mut m = Model::default();
        online(&mut m);
        m.apply(Update::History { room: "s".into(), messages: vec![msg("a", "x", 1, 10)] });
        assert_eq!(m.unread.get("s"), None, "a first load is not news");
        m.apply(Update::Offline { why: "gone".into(), starting: false });
        online(&mut m);
        let me = m.me().unwrap().to_string();
        m.apply(Update::History {
            room: "s".into(),
            messages: vec![msg("a", "x", 1, 10), msg("b", "x", 2, 20), msg("c", &me, 3, 30), msg("d", "y", 4, 40)],
        });
        assert_eq!(m.unread.get("s"), Some(&2), "two from others arrived while away");
        m.select(Some("s".into()));
        m.apply(Update::History { room: "s".into(), messages: vec![msg("e", "x", 5, 50)] });
        assert_eq!(m.unread.get("s"), None, "the open room has nothing unread");
    }

    #[test]
    fn a_left_room_is_no_longer_selected_and_errors_stay_few() {
        let mut m = Model::default();
        online(&mut m);
        m.select(Some("r".into()));
        m.apply(Update::Rooms(vec![]));
        assert_eq!(m.selected, None);
        for i in 0..10 {
            m.apply(Update::Failed(format!("e{i}")));
        }
        assert_eq!(m.errors, ["e6", "e7", "e8", "e9"]);
    }
}
