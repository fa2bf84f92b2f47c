//! A room's channels in the call panel: each channel with who is in it; a
//! click takes us there (into the call if we are not in it yet). A host
//! also drags a person onto a channel, or right-clicks them to move, mute,
//! make host or remove them, and creates, renames and deletes channels.
//! Above the chat, one tab per channel picks whose messages are shown.
//! The notices of hosts' actions sit at the top of the window.

use apero_control::{ChannelInfo, Request, GENERAL_CHANNEL};
use egui::{Color32, RichText};

use super::call::named;
use super::{AperoApp, Dialog};
use crate::channels::Notice;
use crate::link::Command;

/// What a host drags onto a channel: a person in the call (peer id).
#[derive(Debug, Clone)]
struct Dragged(String);

/// What the channel and breakout dialogs are typing, kept across frames.
#[derive(Debug, Clone)]
pub(crate) struct Form {
    pub name: String,
    pub broadcast: String,
    pub groups: u32,
    pub timed: bool,
    pub minutes: u32,
}

impl Default for Form {
    fn default() -> Self {
        Form { name: String::new(), broadcast: String::new(), groups: 2, timed: true, minutes: 15 }
    }
}

/// A member's name as the room knows it ("You" for us).
pub(super) fn name_of(app: &AperoApp, room: &str, peer: &str) -> String {
    if app.model.me() == Some(peer) {
        return app.tr.t("chat-you");
    }
    let members = app.model.members.get(room);
    members.and_then(|m| m.iter().find(|m| m.peer_id == peer)).map(|m| m.name.clone()).unwrap_or_else(|| app.tr.t("tray-someone"))
}

/// Into `channel`: a move within our call, else a join in it.
fn go(app: &mut AperoApp, room: &str, channel: &str) {
    app.model.channels.view(room, channel);
    app.send(Command::ChannelHistory { room: room.to_string(), channel: channel.to_string() });
    match app.model.me().filter(|_| app.model.call_room() == Some(room)) {
        Some(me) => {
            let member = me.to_string();
            app.send(Command::Channels(Request::CallMove { room: room.to_string(), member, channel: channel.to_string() }));
        }
        None => app.send(Command::CallJoin { room: room.to_string(), channel: Some(channel.to_string()) }),
    }
}

/// The channel list, for the call panel.
pub fn show(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let Some(info) = app.model.channels.of(room).cloned() else { return };
    let host = info.me_host;
    ui.horizontal(|ui| {
        ui.label(RichText::new(app.tr.t("channels")).strong());
        if host && ui.small_button(app.tr.t("channel-new")).clicked() {
            app.channel_form.name.clear();
            app.dialog = Dialog::ChannelName { room: room.to_string(), channel: None };
        }
    });
    let mine = info.mine.clone();
    let mut dropped = None;
    for c in &info.channels {
        let frame = egui::Frame::new().inner_margin(2.0).corner_radius(4.0);
        let (_, payload) = ui.dnd_drop_zone::<Dragged, ()>(frame, |ui| {
            ui.set_min_width(ui.available_width());
            channel(app, ui, room, c, mine.as_deref() == Some(c.id.as_str()), host);
        });
        if let Some(p) = payload.filter(|_| host) {
            dropped = Some((p.0.clone(), c.id.clone()));
        }
    }
    if let Some((member, channel)) = dropped {
        app.send(Command::Channels(Request::CallMove { room: room.to_string(), member, channel }));
    }
    super::breakout::bar(app, ui, room);
}

fn channel(app: &mut AperoApp, ui: &mut egui::Ui, room: &str, c: &ChannelInfo, here: bool, host: bool) {
    let words = format!("# {}", c.name);
    let r = named(ui.selectable_label(here, RichText::new(words).strong()), app.tr.s("channel-go", "name", &c.name));
    if r.clicked() && !here {
        go(app, room, &c.id);
    }
    // Breakout groups come and go with the breakout; general stays.
    if host && !c.group {
        r.context_menu(|ui| {
            if ui.button(app.tr.t("channel-rename")).clicked() {
                app.channel_form.name = c.name.clone();
                app.dialog = Dialog::ChannelName { room: room.to_string(), channel: Some(c.id.clone()) };
                ui.close();
            }
            if c.id != GENERAL_CHANNEL && ui.button(app.tr.t("channel-delete")).clicked() {
                app.send(Command::Channels(Request::ChannelDelete { room: room.to_string(), channel: c.id.clone() }));
                ui.close();
            }
        });
    }
    ui.indent(("channel", &c.id), |ui| {
        if c.in_call.is_empty() {
            ui.label(RichText::new(app.tr.t("channel-empty")).small().weak());
        }
        for peer in &c.in_call {
            person(app, ui, room, c, peer, host);
        }
    });
}

fn person(app: &mut AperoApp, ui: &mut egui::Ui, room: &str, c: &ChannelInfo, peer: &str, host: bool) {
    let name = name_of(app, room, peer);
    let is_host = app.model.channels.of(room).is_some_and(|i| i.hosts.iter().any(|h| h == peer));
    let me = app.model.me() == Some(peer);
    let r = ui
        .horizontal(|ui| {
            let mut text = RichText::new(&name);
            if app.model.levels.get(peer).is_some_and(|l| l.1) {
                text = text.color(Color32::from_rgb(0x30, 0xb0, 0x50));
            }
            let sense = if host { egui::Sense::click_and_drag() } else { egui::Sense::hover() };
            let r = ui.add(egui::Label::new(text).sense(sense));
            if is_host {
                ui.label(RichText::new(app.tr.t("channel-host")).small().weak());
            }
            r
        })
        .inner;
    let words = app.tr.a("channel-person", &[("name", name.clone().into()), ("channel", c.name.clone().into())]);
    r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &words));
    if !host {
        return;
    }
    if r.dragged() {
        r.dnd_set_drag_payload(Dragged(peer.to_string()));
    }
    let channels = app.model.channels.of(room).map(|i| i.channels.clone()).unwrap_or_default();
    r.context_menu(|ui| {
        for other in channels.iter().filter(|o| o.id != c.id) {
            if ui.button(app.tr.s("channel-move-to", "channel", &other.name)).clicked() {
                let req = Request::CallMove { room: room.to_string(), member: peer.to_string(), channel: other.id.clone() };
                app.send(Command::Channels(req));
                ui.close();
            }
        }
        if me {
            return;
        }
        ui.separator();
        if ui.button(app.tr.s("channel-mute", "name", &name)).clicked() {
            app.send(Command::Channels(Request::CallMuteMember { room: room.to_string(), member: peer.to_string() }));
            ui.close();
        }
        let words = if is_host { app.tr.t("channel-unhost") } else { app.tr.t("channel-make-host") };
        if ui.button(words).clicked() {
            app.send(Command::Channels(Request::RoomHost { room: room.to_string(), member: peer.to_string(), host: !is_host }));
            ui.close();
        }
        if ui.button(RichText::new(app.tr.t("channel-remove")).color(Color32::from_rgb(0xc0, 0x30, 0x28))).clicked() {
            app.dialog = Dialog::RemoveMember { room: room.to_string(), peer_id: peer.to_string(), name: name.clone() };
            ui.close();
        }
    });
}

/// A narrow window's channels: a menu in the call bar, named after ours.
pub fn menu(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let Some(info) = app.model.channels.of(room) else { return };
    let ours = info.mine.as_deref().and_then(|m| info.channels.iter().find(|c| c.id == m)).map(|c| c.name.clone());
    let title = ours.unwrap_or_else(|| app.tr.t("channels"));
    ui.menu_button(format!("# {title} ⏷"), |ui| show(app, ui, room));
}

/// Above the chat: whose messages are shown, when the room has more than
/// one channel.
pub fn tabs(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let Some(info) = app.model.channels.of(room) else { return };
    if info.channels.len() < 2 {
        return;
    }
    let channels: Vec<(String, String)> = info.channels.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
    let viewing = app.model.channels.viewing(room);
    let mut pick = None;
    ui.horizontal_wrapped(|ui| {
        for (id, name) in &channels {
            let r = named(ui.selectable_label(*id == viewing, format!("# {name}")), app.tr.s("channel-chat", "name", name));
            if r.clicked() && *id != viewing {
                pick = Some(id.clone());
            }
        }
    });
    if let Some(id) = pick {
        app.model.channels.view(room, &id);
        app.send(Command::ChannelHistory { room: room.to_string(), channel: id });
    }
}

/// The name dialog: a new channel, or a channel's new name.
pub fn name_dialog(app: &mut AperoApp, ui: &mut egui::Ui, room: &str, channel: Option<&str>) -> bool {
    ui.heading(app.tr.t(if channel.is_some() { "channel-rename" } else { "channel-new" }));
    let l = ui.label(app.tr.t("channel-name"));
    let edit = ui.add(egui::TextEdit::singleline(&mut app.channel_form.name).desired_width(f32::INFINITY)).labelled_by(l.id);
    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let mut close = false;
    ui.horizontal(|ui| {
        let name = app.channel_form.name.trim().to_string();
        let words = app.tr.t(if channel.is_some() { "channel-rename-confirm" } else { "channel-create" });
        let go = ui.add_enabled(!name.is_empty(), egui::Button::new(words)).clicked();
        if (go || enter) && !name.is_empty() {
            let room = room.to_string();
            let req = match channel {
                Some(c) => Request::ChannelRename { room, channel: c.to_string(), name },
                None => Request::ChannelCreate { room, name },
            };
            app.send(Command::Channels(req));
            close = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    close
}

/// A removal is for good: the host says so twice.
pub fn remove_dialog(app: &mut AperoApp, ui: &mut egui::Ui, room: &str, peer_id: &str, name: &str) -> bool {
    let room_name = app.model.room(room).map(|r| r.name.clone()).unwrap_or_default();
    ui.label(app.tr.a("channel-remove-confirm", &[("name", name.to_string().into()), ("room", room_name.into())]));
    let mut close = false;
    ui.horizontal(|ui| {
        if ui.button(app.tr.t("channel-remove")).clicked() {
            app.send(Command::Channels(Request::RoomRemove { room: room.to_string(), member: peer_id.to_string() }));
            close = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    close
}

/// The notices of hosts' actions, each until dismissed.
pub fn notices(app: &mut AperoApp, ui: &mut egui::Ui) {
    let mut dismiss = None;
    for (i, n) in app.model.channels.notices.iter().enumerate() {
        let words = notice_words(app, n);
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("🔔 {words}")).strong());
            if ui.small_button(app.tr.t("dismiss")).clicked() {
                dismiss = Some(i);
            }
        });
    }
    if let Some(i) = dismiss {
        app.model.channels.notices.remove(i);
    }
}

fn notice_words(app: &AperoApp, n: &Notice) -> String {
    let tr = &app.tr;
    let s = |v: &String| -> fluent_templates::fluent_bundle::FluentValue<'static> { v.clone().into() };
    match n {
        Notice::Moved { room, channel, by } => tr.a("notice-moved", &[("by", s(by)), ("channel", s(channel)), ("room", s(room))]),
        Notice::MutedByHost { room, by } => tr.a("notice-muted", &[("by", s(by)), ("room", s(room))]),
        Notice::HelpAsked { room, channel, name } => tr.a("notice-help", &[("name", s(name)), ("channel", s(channel)), ("room", s(room))]),
        Notice::Ending { room, seconds } => tr.a("notice-ending", &[("seconds", (*seconds).into()), ("room", s(room))]),
        Notice::Broadcast { room, text } => tr.a("notice-broadcast", &[("text", s(text)), ("room", s(room))]),
        Notice::Removed { room, by } => tr.a("notice-removed", &[("by", s(by)), ("room", s(room))]),
    }
}
