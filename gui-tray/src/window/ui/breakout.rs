//! Breakout groups in the window: a host's dialog (how many groups, for
//! how long, who would go where) and, while the groups run, a line with
//! our group and the time left, "Ask for help", and for hosts "Broadcast"
//! and "End breakout".

use apero_control::Request;
use egui::{Color32, RichText};

use super::channels::name_of;
use super::{AperoApp, Dialog};
use crate::channels::{mm_ss, preview, seconds_left};
use crate::link::Command;

/// As many groups as the daemon allows.
const MAX_GROUPS: u32 = 50;
const MAX_MINUTES: u32 = 24 * 60;
const RUNNING: Color32 = Color32::from_rgb(0x2a, 0x7a, 0xc0);

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Under the channels: the breakout's state and its buttons.
pub fn bar(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let host = app.model.channels.host(room);
    let in_call = app.model.call_room() == Some(room);
    let Some(b) = app.model.channels.breakout(room).cloned() else {
        if host && in_call && ui.button(app.tr.t("breakout-open")).clicked() {
            app.dialog = Dialog::Breakout(room.to_string());
        }
        return;
    };
    let group = b.mine.as_deref().and_then(|m| b.groups.iter().find(|g| g.channel == m)).map(|g| g.name.clone());
    let left = seconds_left(&b, now_ms());
    let what = group.clone().unwrap_or_else(|| app.tr.n("breakout-running", "count", b.groups.len() as u64));
    let words = match left {
        Some(s) => app.tr.a("breakout-left", &[("group", what.into()), ("time", mm_ss(s).into())]),
        None => what,
    };
    egui::Frame::new().stroke(egui::Stroke::new(1.0, RUNNING)).inner_margin(4.0).corner_radius(4.0).show(ui, |ui| {
        ui.label(RichText::new(format!("⏱ {words}")).strong().color(RUNNING));
        ui.horizontal_wrapped(|ui| {
            if group.is_some() && in_call && ui.button(app.tr.t("breakout-help")).clicked() {
                app.send(Command::Channels(Request::BreakoutHelp { room: room.to_string() }));
            }
            if host {
                if ui.button(app.tr.t("breakout-broadcast")).clicked() {
                    app.channel_form.broadcast.clear();
                    app.dialog = Dialog::Broadcast(room.to_string());
                }
                if ui.button(app.tr.t("breakout-end")).clicked() {
                    app.send(Command::Channels(Request::BreakoutEnd { room: room.to_string() }));
                }
            }
        });
    });
    if left.is_some() {
        ui.ctx().request_repaint_after(std::time::Duration::from_secs(1));
    }
}

/// Everyone in the room's call but us (the host who splits stays where
/// they are, free to visit the groups), in the order of the channels.
fn people(app: &AperoApp, room: &str) -> Vec<String> {
    let me = app.model.me();
    let Some(info) = app.model.channels.of(room) else { return Vec::new() };
    info.channels.iter().flat_map(|c| c.in_call.iter()).filter(|p| Some(p.as_str()) != me).cloned().collect()
}

/// The host's dialog: how many groups, for how long, who would go where.
pub fn dialog(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) -> bool {
    ui.heading(app.tr.t("breakout-title"));
    let f = &mut app.channel_form;
    ui.horizontal(|ui| {
        let l = ui.label(app.tr.t("breakout-groups"));
        ui.add(egui::DragValue::new(&mut f.groups).range(1..=MAX_GROUPS)).labelled_by(l.id);
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut f.timed, app.tr.t("breakout-timed"));
        let l = ui.label(app.tr.t("breakout-minutes"));
        ui.add_enabled(f.timed, egui::DragValue::new(&mut f.minutes).range(1..=MAX_MINUTES)).labelled_by(l.id);
    });
    let (groups, timed, minutes) = (f.groups, f.timed, f.minutes);
    ui.separator();
    let people = people(app, room);
    ui.label(RichText::new(app.tr.t("breakout-preview")).strong());
    if people.is_empty() {
        ui.label(RichText::new(app.tr.t("breakout-nobody")).weak());
    }
    egui::ScrollArea::vertical().max_height(220.0).show(ui, |ui| {
        for (i, members) in preview(&people, groups as usize).iter().enumerate() {
            let names: Vec<String> = members.iter().map(|p| name_of(app, room, p)).collect();
            let names = if names.is_empty() { app.tr.t("channel-empty") } else { names.join(", ") };
            let group = app.tr.n("breakout-group", "n", i as u64 + 1);
            ui.label(format!("{group}: {names}"));
        }
    });
    ui.label(RichText::new(app.tr.t("breakout-random")).small());
    let mut close = false;
    ui.horizontal(|ui| {
        if ui.add_enabled(!people.is_empty(), egui::Button::new(app.tr.t("breakout-start"))).clicked() {
            let minutes = timed.then_some(minutes);
            app.send(Command::Channels(Request::BreakoutStart { room: room.to_string(), groups, minutes, assign: Vec::new() }));
            close = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    close
}

/// A host's message to every group.
pub fn broadcast(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) -> bool {
    ui.heading(app.tr.t("breakout-broadcast"));
    let l = ui.label(app.tr.t("breakout-broadcast-text"));
    let edit = ui.add(egui::TextEdit::singleline(&mut app.channel_form.broadcast).desired_width(f32::INFINITY)).labelled_by(l.id);
    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let mut close = false;
    ui.horizontal(|ui| {
        let text = app.channel_form.broadcast.trim().to_string();
        let go = ui.add_enabled(!text.is_empty(), egui::Button::new(app.tr.t("breakout-broadcast-send"))).clicked();
        if (go || enter) && !text.is_empty() {
            app.send(Command::Broadcast { room: room.to_string(), text });
            close = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    close
}
