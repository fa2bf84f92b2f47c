//! What arrived while the tray was not listening: the daemon restarted (and
//! synced with friends before the tray was back), or the tray's connection
//! broke. The tray remembers every message and file it has seen; after a
//! reconnection it reads each room's newest history and notifies what it
//! had not seen, as one summary when there are several.
//!
//! The first connection only remembers: old history is not news.

use std::collections::{HashMap, HashSet};

use tokio::time::{Duration, Instant};

use apero_control::{FileInfo, MessageInfo};
use apero_window::i18n::Tr;

use crate::notify::{preview, Note};
use crate::state::State;

/// How much of each room's history is read after a reconnection: more
/// than anyone writes during a daemon restart.
pub const HISTORY: u32 = 200;

/// At most this many lines in a summary's body.
const SUMMARY_LINES: usize = 3;

#[derive(Debug, Default)]
pub struct Seen {
    /// `None` until the first connection has been read.
    ids: Option<HashMap<String, HashSet<String>>>,
}

/// Something that arrived unseen.
#[derive(Debug, Clone, PartialEq)]
pub enum Missed {
    Message(String, MessageInfo),
    File(String, FileInfo),
}

impl Seen {
    /// Whether the tray has read a first connection's history yet.
    pub fn primed(&self) -> bool {
        self.ids.is_some()
    }

    /// Notes an id seen live (an event), so a later catch-up skips it.
    /// `false` if a catch-up already had it (and notified it): an event
    /// queued while the history was read.
    pub fn saw(&mut self, room: &str, id: &str) -> bool {
        match self.ids.as_mut() {
            Some(ids) => ids.entry(room.to_string()).or_default().insert(id.to_string()),
            None => true,
        }
    }

    /// Takes one reading of every room (messages and files, newest last).
    /// Returns what is new since the last reading, from others, in the
    /// order read; nothing on the first reading.
    pub fn read(&mut self, me: &str, rooms: Vec<(String, Vec<MessageInfo>, Vec<FileInfo>)>) -> Vec<Missed> {
        let first = self.ids.is_none();
        let ids = self.ids.get_or_insert_with(HashMap::new);
        let mut missed = Vec::new();
        for (room, messages, files) in rooms {
            let known = ids.entry(room.clone()).or_default();
            for m in messages {
                if known.insert(m.id.clone()) && !first && m.author != me {
                    missed.push(Missed::Message(room.clone(), m));
                }
            }
            for f in files {
                if known.insert(f.id.clone()) && !first && f.from != me {
                    missed.push(Missed::File(room.clone(), f));
                }
            }
        }
        missed
    }
}

/// For this long after a connection, messages and files are gathered
/// instead of notified one by one: what the daemon syncs from friends
/// once it is back comes in a burst.
pub const WINDOW: Duration = Duration::from_secs(8);
/// A batch is shown once nothing new came for this long.
pub const QUIET: Duration = Duration::from_millis(1000);

/// What is gathered during [`WINDOW`], shown as one notification.
#[derive(Debug, Default)]
pub struct Batch {
    until: Option<Instant>,
    items: Vec<Missed>,
    flush_at: Option<Instant>,
}

impl Batch {
    /// A connection starts: gather for a while.
    pub fn open(&mut self) {
        self.open_at(Instant::now());
    }

    fn open_at(&mut self, now: Instant) {
        self.until = Some(now + WINDOW);
    }

    /// Adds what a catch-up found (always gathered).
    pub fn add(&mut self, m: Missed) {
        self.add_at(m, Instant::now());
    }

    fn add_at(&mut self, m: Missed, now: Instant) {
        self.items.push(m);
        let until = self.until.unwrap_or(now);
        self.flush_at = Some((now + QUIET).min(until.max(now)));
    }

    /// Gathers a live one if the window is open; `false`: notify it now.
    pub fn offer(&mut self, m: Missed) -> bool {
        self.offer_at(m, Instant::now())
    }

    fn offer_at(&mut self, m: Missed, now: Instant) -> bool {
        if self.until.is_some_and(|u| now < u) {
            self.add_at(m, now);
            true
        } else {
            false
        }
    }

    /// When the batch should be shown.
    pub fn due(&self) -> Option<Instant> {
        self.flush_at.filter(|_| !self.items.is_empty())
    }

    pub fn take(&mut self) -> Vec<Missed> {
        self.flush_at = None;
        std::mem::take(&mut self.items)
    }
}

/// One notification for what was missed: the thing itself when it is one,
/// else a count and the first few lines.
pub fn note(state: &State, missed: &[Missed], tr: &Tr) -> Option<Note> {
    match missed {
        [] => None,
        [Missed::Message(room, m)] => Some(crate::notify::message(state, room, m, tr)),
        [Missed::File(room, f)] => Some(crate::notify::file(state, room, f, tr)),
        many => {
            let mut rooms: Vec<&str> = Vec::new();
            for m in many {
                let name = state.room_name(match m {
                    Missed::Message(r, _) | Missed::File(r, _) => r,
                });
                if !rooms.contains(&name) {
                    rooms.push(name);
                }
            }
            let lines: Vec<String> = many
                .iter()
                .take(SUMMARY_LINES)
                .map(|m| match m {
                    Missed::Message(_, m) => {
                        tr.a("tray-missed-message", &[("who", m.author_name.clone().into()), ("text", preview(&m.text).into())])
                    }
                    Missed::File(_, f) => tr.a("tray-missed-file", &[("who", f.from_name.clone().into()), ("name", f.name.clone().into())]),
                })
                .collect();
            let more = many.len().saturating_sub(SUMMARY_LINES);
            let mut body = lines.join("\n");
            if more > 0 {
                body.push('\n');
                body.push_str(&tr.n("tray-missed-more", "count", more as u64));
            }
            let summary = tr.a("tray-missed", &[("count", (many.len() as u64).into()), ("rooms", rooms.join(", ").into())]);
            Some(Note::new(summary, body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, author: &str, text: &str) -> MessageInfo {
        MessageInfo {
            id: id.into(),
            room: "r".into(),
            author: author.into(),
            author_name: author.to_uppercase(),
            text: text.into(),
            time: 0,
            lamport: 0,
            ..Default::default()
        }
    }

    #[test]
    fn the_first_reading_is_not_news_and_later_ones_are() {
        let mut seen = Seen::default();
        assert!(seen.read("me", vec![("r".into(), vec![msg("1", "lea", "old")], vec![])]).is_empty());
        assert!(seen.saw("r", "2"));
        assert!(!seen.saw("r", "1"), "read already");
        let got = seen.read(
            "me",
            vec![(
                "r".into(),
                vec![msg("1", "lea", "old"), msg("2", "lea", "live"), msg("3", "me", "mine"), msg("4", "tom", "new")],
                vec![],
            )],
        );
        assert_eq!(got, vec![Missed::Message("r".into(), msg("4", "tom", "new"))], "only the unseen, from others");
        assert!(seen.read("me", vec![("r".into(), vec![msg("4", "tom", "new")], vec![])]).is_empty(), "once");
    }

    #[test]
    fn a_burst_after_connecting_is_gathered_and_later_ones_are_not() {
        let m = |i: u32| Missed::Message("r".into(), msg(&i.to_string(), "lea", "x"));
        let t0 = Instant::now();
        let mut b = Batch::default();
        assert!(!b.offer_at(m(0), t0), "no connection yet: notified at once");
        b.open_at(t0);
        assert!(b.offer_at(m(1), t0 + Duration::from_millis(100)));
        assert!(b.offer_at(m(2), t0 + Duration::from_millis(600)));
        assert_eq!(b.due(), Some(t0 + Duration::from_millis(600) + QUIET), "shown once quiet");
        assert_eq!(b.take().len(), 2);
        assert_eq!(b.due(), None);
        assert!(b.offer_at(m(3), t0 + WINDOW - Duration::from_millis(100)));
        assert_eq!(b.due(), Some(t0 + WINDOW), "never later than the window");
        b.take();
        assert!(!b.offer_at(m(4), t0 + WINDOW), "after the window: one by one");
    }

    #[test]
    fn several_make_one_summary() {
        let state = State::default();
        let en = Tr::new(Some("en"));
        let missed: Vec<Missed> = (0..5).map(|i| Missed::Message("r".into(), msg(&i.to_string(), "lea", &format!("hello {i}")))).collect();
        let n = note(&state, &missed, &en).unwrap();
        assert_eq!(n.summary, "5 new while apero was away, in r", "{n:?}");
        assert_eq!(n.body, "LEA: hello 0\nLEA: hello 1\nLEA: hello 2\n…and 2 more", "{n:?}");
        let one = note(&state, &missed[..1], &en).unwrap();
        assert_eq!(one.body, "hello 0");
        let fr = Tr::new(Some("fr"));
        let n = note(&state, &missed, &fr).unwrap();
        assert_eq!(n.summary, "5 nouveautés pendant l'absence d'apero, dans r", "{n:?}");
        assert_eq!(n.body, "LEA : hello 0\nLEA : hello 1\nLEA : hello 2\n…et 2 autres", "{n:?}");
        let n = note(&state, &missed[..4], &fr).unwrap();
        assert!(n.body.ends_with("…et 1 autre"), "{n:?}");
    }
}
