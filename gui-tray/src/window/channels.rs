//! Channels, hosts and breakout groups as the window knows them (no
//! drawing): each room's [`ChannelsInfo`] as the daemon last said, the
//! channel whose chat is shown, and the notices a host's action leaves
//! (moved, muted, removed, help asked, the breakout's last minute, a
//! broadcast). The views are in `ui/channels.rs` and `ui/breakout.rs`.

use std::collections::HashMap;

use apero_control::{BreakoutInfo, ChannelInfo, ChannelsInfo, Event, FileInfo, MessageInfo, GENERAL_CHANNEL};

/// Something a host or the breakout did that concerns us, said until
/// dismissed. `room` is the room's name, kept as it was (a removal takes
/// the room away).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Moved {
        room: String,
        channel: String,
        by: String,
    },
    MutedByHost {
        room: String,
        by: String,
    },
    HelpAsked {
        room: String,
        channel: String,
        name: String,
    },
    /// The breakout's last minute.
    Ending {
        room: String,
        seconds: u64,
    },
    Broadcast {
        room: String,
        text: String,
    },
    Removed {
        room: String,
        by: String,
    },
}

impl Notice {
    /// The notice an event leaves, if any; `name` gives a room's name.
    pub fn of(e: &Event, name: impl Fn(&str) -> String) -> Option<Notice> {
        Some(match e.clone() {
            Event::Moved { room, channel, by } => Notice::Moved { room: name(&room), channel, by },
            Event::MutedByHost { room, by } => Notice::MutedByHost { room: name(&room), by },
            Event::HelpAsked { room, channel, name: who, .. } => Notice::HelpAsked { room: name(&room), channel, name: who },
            Event::Breakout { room, seconds_left: Some(seconds), .. } => Notice::Ending { room: name(&room), seconds },
            Event::Breakout { room, text: Some(text), .. } => Notice::Broadcast { room: name(&room), text },
            Event::Removed { room, by } => Notice::Removed { room: name(&room), by },
            _ => return None,
        })
    }
}

/// At most this many notices stay on screen.
const MAX_NOTICES: usize = 4;

/// Every room's channels and what the window shows of them.
#[derive(Debug, Default)]
pub struct Rooms {
    pub info: HashMap<String, ChannelsInfo>,
    /// The channel (id) whose chat is shown, per room; general when unset.
    viewing: HashMap<String, String>,
    pub notices: Vec<Notice>,
}

impl Rooms {
    /// The daemon's answer: when our own channel changed (we moved, were
    /// moved, a breakout began or ended), the chat follows us there.
    pub fn set(&mut self, c: ChannelsInfo) {
        let before = self.info.get(&c.room).and_then(|o| o.mine.clone());
        if c.mine.is_some() && c.mine != before {
            self.viewing.insert(c.room.clone(), c.mine.clone().unwrap_or_default());
        }
        // A channel that is gone (deleted, a breakout's group) shows general again.
        if self.viewing.get(&c.room).is_some_and(|v| !c.channels.iter().any(|x| &x.id == v)) {
            self.viewing.remove(&c.room);
        }
        self.info.insert(c.room.clone(), c);
    }

    pub fn notice(&mut self, n: Notice) {
        self.notices.push(n);
        if self.notices.len() > MAX_NOTICES {
            self.notices.remove(0);
        }
    }

    /// The channel whose chat is shown in `room` (an id).
    pub fn viewing(&self, room: &str) -> String {
        self.viewing.get(room).cloned().unwrap_or_else(|| GENERAL_CHANNEL.to_string())
    }

    pub fn view(&mut self, room: &str, channel: &str) {
        self.viewing.insert(room.to_string(), channel.to_string());
    }

    pub fn of(&self, room: &str) -> Option<&ChannelsInfo> {
        self.info.get(room)
    }

    pub fn channel(&self, room: &str, id: &str) -> Option<&ChannelInfo> {
        self.of(room)?.channels.iter().find(|c| c.id == id)
    }

    /// Whether we are a host of `room`.
    pub fn host(&self, room: &str) -> bool {
        self.of(room).is_some_and(|c| c.me_host)
    }

    pub fn breakout(&self, room: &str) -> Option<&BreakoutInfo> {
        self.of(room)?.breakout.as_ref()
    }

    /// The channel to say things in (`None`: general, as the daemon takes it).
    pub fn say_in(&self, room: &str) -> Option<String> {
        Some(self.viewing(room)).filter(|c| c != GENERAL_CHANNEL)
    }
}

/// One channel's history into the room's chat, in the room's order: a
/// quiet channel's older messages may be beyond the room's last 500.
pub fn merge(chat: &mut Vec<MessageInfo>, messages: Vec<MessageInfo>) {
    for m in messages {
        if !chat.iter().any(|o| o.id == m.id) {
            chat.push(m);
        }
    }
    chat.sort_by(|a, b| (a.lamport, &a.author, &a.id).cmp(&(b.lamport, &b.author, &b.id)));
}

/// Whether a message belongs in `channel`'s chat: said there, or a host's
/// broadcast to every channel. General's messages carry no channel.
pub fn shows(m: &MessageInfo, channel: &str) -> bool {
    m.broadcast || m.channel.as_deref().unwrap_or(GENERAL_CHANNEL) == channel
}

/// Whether a file offer belongs in `channel`'s chat (general's, and older
/// offers, carry no channel).
pub fn shows_file(f: &FileInfo, channel: &str) -> bool {
    f.channel.as_deref().unwrap_or(GENERAL_CHANNEL) == channel
}

/// Who would go where: `people` dealt out to `n` groups in turn (the
/// daemon shuffles them when the breakout starts).
pub fn preview(people: &[String], n: usize) -> Vec<Vec<String>> {
    let mut groups = vec![Vec::new(); n.max(1)];
    let len = groups.len();
    for (i, p) in people.iter().enumerate() {
        groups[i % len].push(p.clone());
    }
    groups
}

/// Seconds left on a breakout's timer at `now_ms` (`None`: no timer).
pub fn seconds_left(b: &BreakoutInfo, now_ms: u64) -> Option<u64> {
    b.ends_ms.map(|end| end.saturating_sub(now_ms).div_ceil(1000))
}

/// "12:30", "1:02:05".
pub fn mm_ss(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"id": "f", "room": "r", "name": "plan.pdf", "size": 10, "mime": "application/pdf", "image": false,
        "from": "x", "from_name": "x", "time": 20, "have": false, "sources": 1, "sources_online": 1}"#;

    fn info(mine: Option<&str>, channels: &[&str]) -> ChannelsInfo {
        ChannelsInfo {
            room: "r".into(),
            channels: channels.iter().map(|c| ChannelInfo { id: c.to_string(), name: c.to_string(), ..Default::default() }).collect(),
            mine: mine.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn the_chat_follows_our_channel_and_falls_back_to_general() {
        let mut r = Rooms::default();
        r.set(info(None, &["general", "a1b2c3d4"]));
        assert_eq!(r.viewing("r"), "general");
        assert_eq!(r.say_in("r"), None);
        r.set(info(Some("a1b2c3d4"), &["general", "a1b2c3d4"]));
        assert_eq!(r.viewing("r"), "a1b2c3d4", "moved: the chat follows");
        assert_eq!(r.say_in("r").as_deref(), Some("a1b2c3d4"));
        r.view("r", "general");
        r.set(info(Some("a1b2c3d4"), &["general", "a1b2c3d4"]));
        assert_eq!(r.viewing("r"), "general", "a pick of ours stays while we stay");
        r.view("r", "a1b2c3d4");
        r.set(info(None, &["general"]));
        assert_eq!(r.viewing("r"), "general", "a deleted channel shows general");
    }

    #[test]
    fn messages_show_in_their_channel_and_broadcasts_everywhere() {
        let m = |channel: Option<&str>, broadcast| MessageInfo { channel: channel.map(str::to_string), broadcast, ..Default::default() };
        assert!(shows(&m(None, false), "general"));
        assert!(!shows(&m(None, false), "a1b2c3d4"));
        assert!(shows(&m(Some("a1b2c3d4"), false), "a1b2c3d4"));
        assert!(!shows(&m(Some("a1b2c3d4"), false), "general"));
        assert!(shows(&m(None, true), "a1b2c3d4"));
        let f = |channel: Option<&str>| FileInfo { channel: channel.map(str::to_string), ..serde_json::from_str(FILE).unwrap() };
        assert!(shows_file(&f(None), "general") && !shows_file(&f(None), "a1b2c3d4"));
        assert!(shows_file(&f(Some("a1b2c3d4")), "a1b2c3d4"));
    }

    #[test]
    fn the_preview_deals_people_in_turn_and_timers_read_as_clocks() {
        let people: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        assert_eq!(preview(&people, 2), [vec!["a", "c", "e"], vec!["b", "d"]]);
        assert_eq!(preview(&people, 0).len(), 1);
        assert_eq!(preview(&[], 3), [Vec::<String>::new(), vec![], vec![]]);
        assert_eq!(mm_ss(750), "12:30");
        assert_eq!(mm_ss(59), "0:59");
        assert_eq!(mm_ss(3725), "1:02:05");
        let b = BreakoutInfo { ends_ms: Some(10_500), ..Default::default() };
        assert_eq!(seconds_left(&b, 0), Some(11));
        assert_eq!(seconds_left(&b, 20_000), Some(0));
        assert_eq!(seconds_left(&BreakoutInfo::default(), 0), None);
    }

    #[test]
    fn host_events_leave_notices() {
        let e = Event::Breakout { room: "r".into(), seconds_left: Some(60), text: None };
        assert_eq!(Notice::of(&e, str::to_string), Some(Notice::Ending { room: "r".into(), seconds: 60 }));
        let e = Event::Breakout { room: "r".into(), seconds_left: None, text: Some("back in 5".into()) };
        assert_eq!(Notice::of(&e, str::to_string), Some(Notice::Broadcast { room: "r".into(), text: "back in 5".into() }));
        assert_eq!(Notice::of(&Event::ChannelsChanged { room: "r".into() }, str::to_string), None);
        let mut r = Rooms::default();
        for i in 0..6 {
            r.notice(Notice::MutedByHost { room: "r".into(), by: format!("h{i}") });
        }
        assert_eq!(r.notices.len(), MAX_NOTICES);
    }
}
