//! A room's chat: messages and file offers by time, links clickable, and a
//! text box where Enter sends.

use apero_control::{FileInfo, MessageInfo, TransferState};
use egui::RichText;

use super::{AperoApp, Dialog};
use crate::link::Command;
use crate::model::Line;

pub fn show(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let name = app.model.room(room).map(|r| r.name.clone()).unwrap_or_else(|| room.to_string());
    ui.heading(&name);
    // On their own line: a long room name never hides them.
    ui.horizontal_wrapped(|ui| {
        if ui.button(app.tr.t("invite")).clicked() {
            app.model.invite = None;
            app.copied = false;
            app.dialog = Dialog::Invite(room.to_string());
        }
        if ui.button(app.tr.t("share-file")).clicked() {
            app.share_path.clear();
            app.share_note = None;
            app.dialog = Dialog::Share(room.to_string());
        }
        if ui.button(app.tr.t("room-leave")).clicked() {
            app.dialog = Dialog::LeaveRoom(room.to_string());
        }
    });
    super::channels::tabs(app, ui, room);
    ui.separator();
    composer(app, ui, room);
    let me = app.model.me().map(str::to_string);
    let mut actions = Vec::new();
    // Owned: a file's card needs the app (its picture's texture).
    // Only the shown channel's messages and files (and the hosts' broadcasts).
    let channel = app.model.channels.viewing(room);
    let lines: Vec<Owned> = app
        .model
        .lines(room)
        .into_iter()
        .filter(|l| match l {
            Line::Message(m) => crate::channels::shows(m, &channel),
            Line::File(f) => crate::channels::shows_file(f, &channel),
        })
        .map(Owned::from)
        .collect();
    let count = lines.len();
    // The chat follows its end unless the person scrolled up; a change of
    // size (a panel folding, the call ending) must not leave it past its end.
    let new_below = !app.chat_at_end && count > app.chat_seen;
    let jump = new_below && ui.add(egui::Button::new(RichText::new(app.tr.t("chat-new-messages")).strong())).clicked();
    let size = ui.available_size();
    let follow = jump || (app.chat_at_end && (count != app.chat_seen || (size - app.chat_size).length() > 0.5));
    let area = egui::ScrollArea::vertical().id_salt(("chat", room)).stick_to_bottom(true).auto_shrink([false, false]);
    let out = area.show(ui, |ui| {
        if lines.is_empty() {
            ui.label(RichText::new(app.tr.t("chat-empty")).weak());
        }
        for line in &lines {
            match line {
                Owned::Message(m) => {
                    let quoted = m.reply_to.as_ref().and_then(|id| {
                        lines.iter().find_map(|l| match l {
                            Owned::Message(q) if &q.id == id => Some(q),
                            _ => None,
                        })
                    });
                    super::message::show(app, ui, m, me.as_deref(), quoted, &mut actions);
                }
                Owned::File(f) => file(app, ui, f, me.as_deref(), &mut actions),
            }
            ui.add_space(4.0);
        }
        if follow {
            ui.scroll_to_cursor(Some(egui::Align::BOTTOM));
            // The scroll lands in the next frame, which egui draws only when
            // asked: without this a window left alone stops half way.
            ui.ctx().request_repaint();
        }
    });
    let bottom = out.state.offset.y + out.inner_rect.height();
    // (The first frame has no size yet.)
    // Asked to go to the end this frame: it is there from the next.
    app.chat_at_end = follow || !out.content_size.y.is_finite() || bottom >= out.content_size.y - 24.0;
    if app.chat_at_end {
        app.chat_seen = count;
    }
    app.chat_size = size;
    for a in actions {
        app.send(a);
    }
}

enum Owned {
    Message(MessageInfo),
    File(FileInfo),
}

impl From<Line<'_>> for Owned {
    fn from(l: Line<'_>) -> Owned {
        match l {
            Line::Message(m) => Owned::Message(m.clone()),
            Line::File(f) => Owned::File(f.clone()),
        }
    }
}

/// The text box sits at the bottom of the panel, Send always beside it.
fn composer(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let focus_now = app.focused_room.as_deref() != Some(room) && app.dialog == Dialog::None;
    egui::Panel::bottom(egui::Id::new(("composer", room))).show(ui, |ui| {
        ui.add_space(4.0);
        super::message::composing_bar(app, ui, room);
        let label = ui.label(RichText::new(app.tr.t("chat-message")).small());
        // Right to left: Send first, so that the field takes what is left.
        // One row high: a right-to-left layout would otherwise take the
        // whole height to centre in, and the panel would grow every frame.
        let row = egui::vec2(ui.available_width(), ui.spacing().interact_size.y + 6.0);
        ui.allocate_ui_with_layout(row, egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let editing = matches!(&app.composing, Some(super::message::Composing::Edit { room: r, .. }) if r == room);
            let clicked = ui.button(app.tr.t(if editing { "chat-save" } else { "chat-send" })).clicked();
            let draft = app.drafts.entry(room.to_string()).or_default();
            let edit = ui.add(egui::TextEdit::singleline(draft).desired_width(ui.available_width())).labelled_by(label.id);
            if focus_now {
                edit.request_focus();
            }
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (enter || clicked) && !draft.trim().is_empty() {
                let text = std::mem::take(draft);
                let c = super::message::send(app, room, text);
                app.link.send(c);
                app.chat_at_end = true;
                edit.request_focus();
            }
        });
        ui.add_space(4.0);
    });
    if focus_now {
        app.focused_room = Some(room.to_string());
    }
}

fn file(app: &mut AperoApp, ui: &mut egui::Ui, f: &FileInfo, me: Option<&str>, actions: &mut Vec<Command>) {
    let mine = Some(f.from.as_str()) == me;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            let who = if mine { app.tr.t("file-offered-you") } else { app.tr.s("file-offered", "name", &f.from_name) };
            ui.label(RichText::new(who).weak());
            ui.label(RichText::new(clock(f.time)).small().weak());
        });
        super::pictures::thumbnail(app, ui, f);
        ui.label(RichText::new(format!("📄 {}  ({})", f.name, app.tr.bytes(f.size))).strong());
        if mine {
            ui.label(RichText::new(app.tr.t("file-stay")).small());
            return;
        }
        let transfer = app.model.transfers.get(&f.id).cloned();
        match transfer {
            Some(t) if matches!(t.state, TransferState::Running | TransferState::Paused) => {
                let shown = (t.done_bytes + t.partial_bytes).min(t.size);
                let frac = if t.size == 0 { 1.0 } else { shown as f32 / t.size as f32 };
                let words = app.tr.a("file-progress", &[("done", app.tr.bytes(shown).into()), ("size", app.tr.bytes(t.size).into())]);
                // The rate too: a person waiting wants to know it moves.
                let mut words = format!("{words} · {:.0} %", frac * 100.0);
                if t.rate_bps >= 1.0 {
                    words.push_str(&format!(" · {}/s", app.tr.bytes(t.rate_bps as u64)));
                }
                ui.add(egui::ProgressBar::new(frac).text(words));
                if t.sources == 0 {
                    ui.label(RichText::new(app.tr.t("file-waiting")).small());
                }
                if ui.button(app.tr.t("file-cancel")).clicked() {
                    actions.push(Command::Cancel(f.id.clone()));
                }
            }
            Some(t) if t.state == TransferState::Done => {
                ui.label(app.tr.t("file-done"));
                if let Some(p) = &t.path {
                    let path = std::path::PathBuf::from(p);
                    let folder = path.parent().map(|d| d.display().to_string()).unwrap_or_default();
                    ui.label(RichText::new(app.tr.s("file-saved-to", "path", &folder)).small());
                    ui.horizontal_wrapped(|ui| {
                        if ui.button(app.tr.t("file-open")).clicked() {
                            app.open(ui.ctx(), path.clone());
                        }
                        if ui.button(app.tr.t("file-open-folder")).clicked() {
                            app.open(ui.ctx(), path.parent().unwrap_or(&path).to_path_buf());
                        }
                    });
                }
            }
            other => {
                if let Some(t) = other.filter(|t| t.state == TransferState::Failed) {
                    ui.label(app.tr.s("file-failed", "error", t.error.as_deref().unwrap_or("?")));
                }
                if !f.have && ui.button(app.tr.t("file-download")).clicked() {
                    actions.push(Command::Get { file: f.id.clone(), dir: app.settings.download_dir.clone() });
                }
            }
        }
    });
}

/// Local time of a Unix-milliseconds stamp: the hour today, else the date too.
pub(crate) fn clock(ms: u64) -> String {
    use chrono::{Local, TimeZone};
    let Some(t) = Local.timestamp_millis_opt(ms as i64).single() else { return String::new() };
    if t.date_naive() == Local::now().date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// Text cut into plain runs and web links (`true`), in order.
pub fn split_links(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut plain = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let at_word = i == 0 || text[..i].ends_with(char::is_whitespace);
        if at_word && (rest.starts_with("https://") || rest.starts_with("http://")) {
            let end = i + rest.find(char::is_whitespace).unwrap_or(rest.len());
            // A link's trailing punctuation belongs to the sentence.
            let link = text[i..end].trim_end_matches(['.', ',', ')', ';', ':', '!', '?']);
            if link.len() > "https://".len() {
                if plain < i {
                    out.push((&text[plain..i], false));
                }
                out.push((link, true));
                i += link.len();
                plain = i;
                continue;
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    if plain < text.len() {
        out.push((&text[plain..], false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_links;

    #[test]
    fn links_are_found_in_text() {
        assert_eq!(split_links("plain"), [("plain", false)]);
        assert_eq!(
            split_links("voir https://apero.example/a?b=1, puis http://x.org."),
            [("voir ", false), ("https://apero.example/a?b=1", true), (", puis ", false), ("http://x.org", true), (".", false)]
        );
        assert_eq!(split_links("https://"), [("https://", false)], "a bare scheme is no link");
        assert_eq!(split_links("xhttps://a.b"), [("xhttps://a.b", false)], "only at the start of a word");
        assert_eq!(split_links("é https://é.fr"), [("é ", false), ("https://é.fr", true)]);
    }
}
