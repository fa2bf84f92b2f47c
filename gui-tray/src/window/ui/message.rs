//! One message in the chat: who and when, the message it answers (quoted),
//! its text with links, "edited", its reactions; a right click replies,
//! reacts, and on our own messages edits or deletes (for everyone: the
//! daemon signs the change and every member applies it).

use apero_control::{MessageInfo, REACTIONS};
use egui::{Color32, RichText};

use super::chat::{clock, split_links};
use super::AperoApp;
use crate::link::Command;

/// What the composer is doing besides writing a new message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Composing {
    Reply { room: String, id: String, author: String, text: String },
    Edit { room: String, id: String },
}

const MENTION: Color32 = Color32::from_rgba_premultiplied(0x50, 0x40, 0x00, 0x30);
const QUOTE_CHARS: usize = 80;

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(QUOTE_CHARS).collect();
    if text.chars().count() > QUOTE_CHARS {
        s.push('…');
    }
    s
}

pub fn show(
    app: &mut AperoApp,
    ui: &mut egui::Ui,
    m: &MessageInfo,
    me: Option<&str>,
    quoted: Option<&MessageInfo>,
    actions: &mut Vec<Command>,
) {
    let mine = Some(m.author.as_str()) == me;
    let author = if mine { app.tr.t("chat-you") } else { m.author_name.clone() };
    let frame = if m.mentions_me { egui::Frame::new().fill(MENTION).inner_margin(2.0) } else { egui::Frame::new() };
    let r = frame
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(&author).strong());
                ui.label(RichText::new(clock(m.time)).small().weak());
                if m.edited {
                    ui.label(RichText::new(app.tr.t("chat-edited")).small().weak());
                }
                if m.broadcast {
                    ui.label(RichText::new(format!("📢 {}", app.tr.t("chat-broadcast"))).small().strong());
                }
            });
            if m.reply_to.is_some() {
                let quote = match quoted {
                    Some(q) => format!("↪ {}: {}", q.author_name, short(&q.text)),
                    None => format!("↪ {}", app.tr.t("chat-reply-gone")),
                };
                ui.label(RichText::new(quote).small().italics().weak());
            }
            ui.horizontal_wrapped(|ui| {
                ui.spacing_mut().item_spacing.x = 0.0;
                for (text, link) in split_links(&m.text) {
                    if link {
                        ui.hyperlink(text);
                    } else {
                        ui.label(text);
                    }
                }
            });
            if !m.reactions.is_empty() {
                ui.horizontal_wrapped(|ui| {
                    for r in &m.reactions {
                        let on = me.is_some_and(|me| r.members.iter().any(|x| x == me));
                        let b = ui.selectable_label(on, format!("{} {}", r.emoji, r.members.len()));
                        if b.clicked() {
                            actions.push(Command::React { room: m.room.clone(), message: m.id.clone(), emoji: r.emoji.clone(), on: !on });
                        }
                    }
                });
            }
        })
        .response;
    let r = r.interact(egui::Sense::click());
    r.context_menu(|ui| {
        if ui.button(app.tr.t("chat-reply")).clicked() {
            app.composing = Some(Composing::Reply { room: m.room.clone(), id: m.id.clone(), author: author.clone(), text: short(&m.text) });
            app.focused_room = None;
            ui.close();
        }
        ui.horizontal(|ui| {
            for e in REACTIONS {
                let on = me.is_some_and(|me| m.reactions.iter().any(|r| r.emoji == e && r.members.iter().any(|x| x == me)));
                if ui.selectable_label(on, e).on_hover_text(app.tr.t("chat-react")).clicked() {
                    actions.push(Command::React { room: m.room.clone(), message: m.id.clone(), emoji: e.to_string(), on: !on });
                    ui.close();
                }
            }
        });
        if mine {
            ui.separator();
            if ui.button(app.tr.t("chat-edit")).clicked() {
                app.drafts.insert(m.room.clone(), m.text.clone());
                app.composing = Some(Composing::Edit { room: m.room.clone(), id: m.id.clone() });
                app.focused_room = None;
                ui.close();
            }
            if ui.button(RichText::new(app.tr.t("chat-delete")).color(Color32::from_rgb(0xc0, 0x30, 0x28))).clicked() {
                actions.push(Command::Delete { room: m.room.clone(), message: m.id.clone() });
                ui.close();
            }
        }
        if ui.button(app.tr.t("chat-copy")).clicked() {
            ui.ctx().copy_text(m.text.clone());
            ui.close();
        }
    });
}

/// Above the message field: what the next Send does, with a way out.
pub fn composing_bar(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let Some(c) = app.composing.clone() else { return };
    let words = match &c {
        Composing::Reply { room: r, author, text, .. } if r == room => {
            app.tr.a("chat-replying", &[("name", author.clone().into()), ("text", text.clone().into())])
        }
        Composing::Edit { room: r, .. } if r == room => app.tr.t("chat-editing"),
        _ => return,
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(words).small().italics());
        if ui.small_button(app.tr.t("cancel")).clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            if matches!(c, Composing::Edit { .. }) {
                app.drafts.remove(room);
            }
            app.composing = None;
        }
    });
}

/// The command Send makes of the draft.
pub fn send(app: &mut AperoApp, room: &str, text: String) -> Command {
    match app.composing.take() {
        Some(Composing::Reply { room: r, id, .. }) if r == room => {
            Command::Say { room: room.to_string(), text, reply_to: Some(id), channel: app.model.channels.say_in(room) }
        }
        Some(Composing::Edit { room: r, id }) if r == room => Command::Edit { room: room.to_string(), message: id, text },
        other => {
            app.composing = other;
            Command::Say { room: room.to_string(), text, reply_to: None, channel: app.model.channels.say_in(room) }
        }
    }
}
