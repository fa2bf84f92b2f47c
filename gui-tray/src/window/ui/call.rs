//! The room's call: join or leave, mute, who is in it, who speaks, by what
//! path and how well, and a volume for each.

use apero_control::CallPath;
use egui::{Color32, RichText};

use super::AperoApp;
use crate::link::Command;
use crate::model::Quality;

/// The width of each call button, the same whatever its words say (and in
/// every language), so that nothing moves when one is pressed.
const BUTTON_W: f32 = 150.0;
const MUTED: Color32 = Color32::from_rgb(0xc0, 0x30, 0x28);

/// Join or leave, mute: the same two places whatever the state.
fn controls(app: &mut AperoApp, ui: &mut egui::Ui, room: &str, in_this: bool, muted: bool) {
    // Side by side when both fit at their full width, else one above the
    // other across the panel: either way the same in every state.
    let side_by_side = ui.available_width() >= 2.0 * BUTTON_W + ui.spacing().item_spacing.x;
    let size = egui::vec2(if side_by_side { BUTTON_W } else { ui.available_width() }, 30.0);
    let buttons = |ui: &mut egui::Ui| {
        if in_this {
            if named(ui.add(egui::Button::new(format!("📞 {}", app.tr.t("call-leave"))).min_size(size)), app.tr.t("call-leave")).clicked()
            {
                app.send(Command::CallLeave);
            }
            // The accessible name is the action; the look is the state: red with a
            // crossed-out speaker while muted.
            let (words, icon) = if muted { (app.tr.t("call-unmute"), "🔇") } else { (app.tr.t("call-mute"), "🎤") };
            let mut b = egui::Button::new(RichText::new(format!("{icon} {words}")).color(if muted {
                Color32::WHITE
            } else {
                ui.visuals().text_color()
            }))
            .min_size(size);
            if muted {
                b = b.fill(MUTED);
            }
            let r = named(ui.add(b), words);
            let r = r.on_hover_text(if muted { app.tr.t("call-muted") } else { app.tr.t("call-live") });
            if r.clicked() {
                app.send(Command::Mute(!muted));
            }
        } else if named(ui.add(egui::Button::new(format!("📞 {}", app.tr.t("call-join"))).min_size(size)), app.tr.t("call-join")).clicked()
        {
            app.send(Command::CallJoin { room: room.to_string(), channel: None });
        }
    };
    if side_by_side {
        ui.horizontal(buttons);
    } else {
        ui.vertical(buttons);
    }
}

/// A screen reader says what the button does, without its icon.
pub(super) fn named(r: egui::Response, name: String) -> egui::Response {
    r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, &name));
    r
}

/// A narrow window's call: the controls and who is in it, over the chat.
pub fn bar(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let in_this = app.model.call_room() == Some(room);
    let Some(call) = app.model.call.clone() else { return };
    ui.horizontal_wrapped(|ui| {
        controls(app, ui, room, in_this, call.muted);
        if in_this {
            super::stage::buttons(app, ui, room);
        }
        super::channels::menu(app, ui, room);
        super::people::menu(app, ui, room);
        let n = if in_this { call.participants.len() } else { app.model.room(room).map_or(0, |r| r.call) };
        ui.label(if n == 0 { app.tr.t("call-nobody") } else { app.tr.n("call-in-room", "count", n as u64) });
        if in_this {
            for p in call.participants.iter().filter(|p| app.model.speaking(p)) {
                let name = if p.is_self { app.tr.t("chat-you") } else { p.name.clone() };
                ui.label(RichText::new(format!("🔊 {name}")).color(Color32::from_rgb(0x30, 0xb0, 0x50)));
            }
        }
    });
}

pub fn show(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    ui.heading(app.tr.t("call"));
    let in_this = app.model.call_room() == Some(room);
    let elsewhere = app.model.call_room().filter(|r| *r != room).map(str::to_string);
    let Some(call) = app.model.call.clone() else { return };
    if let Some(other) = &elsewhere {
        let name = app.model.room(other).map(|r| r.name.clone()).unwrap_or_else(|| other.clone());
        ui.label(app.tr.s("call-elsewhere", "room", &name));
    }
    controls(app, ui, room, in_this, call.muted);
    if in_this {
        super::stage::buttons(app, ui, room);
    }
    ui.separator();
    super::channels::show(app, ui, room);
    if !in_this {
        let n = app.model.room(room).map_or(0, |r| r.call);
        ui.label(if n == 0 { app.tr.t("call-nobody") } else { app.tr.n("call-in-room", "count", n as u64) });
        ui.separator();
        super::people::show(app, ui, room);
        return;
    }
    // Always one line here, muted or not: the list below never jumps.
    if call.muted {
        ui.label(RichText::new(app.tr.t("call-muted")).strong().color(MUTED));
    } else {
        ui.label(RichText::new(app.tr.t("call-live")).weak());
    }
    if let Some(a) = &call.audio {
        if let Some(e) = &a.input_error {
            ui.colored_label(Color32::from_rgb(0xd0, 0x80, 0x20), app.tr.s("call-no-mic", "error", e));
        }
        if let Some(e) = &a.output_error {
            ui.colored_label(Color32::from_rgb(0xd0, 0x80, 0x20), app.tr.s("call-no-speaker", "error", e));
        }
    }
    ui.separator();
    ui.label(app.tr.n("call-in-room", "count", call.participants.len() as u64));
    let mut volumes = Vec::new();
    for p in &call.participants {
        let speaking = app.model.speaking(p);
        ui.horizontal(|ui| {
            // Drawn: not every font has a filled circle.
            let dot = if speaking { Color32::from_rgb(0x30, 0xb0, 0x50) } else { Color32::GRAY };
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), if speaking { 6.0 } else { 4.0 }, dot);
            let name = if p.is_self { app.tr.t("chat-you") } else { p.name.clone() };
            ui.label(RichText::new(name).strong());
            if speaking {
                ui.label(RichText::new(app.tr.t("call-speaking")).small());
            }
            if p.muted {
                ui.label(RichText::new("🔇").small()).on_hover_text(app.tr.t("call-muted"));
            }
        });
        if p.is_self {
            let db = app.model.levels.get(&p.peer_id).map(|l| l.0).unwrap_or(-100.0);
            // -60 dBFS is quiet room noise, 0 the loudest a microphone gives.
            let frac = ((db + 60.0) / 60.0).clamp(0.0, 1.0) as f32;
            let meter = ui.add(egui::ProgressBar::new(frac).desired_height(6.0));
            meter.on_hover_text(app.tr.t("level"));
            continue;
        }
        ui.indent(&p.peer_id, |ui| {
            let path = match p.path {
                CallPath::Relayed => app.tr.t("call-path-relayed"),
                _ => app.tr.t("call-path-direct"),
            };
            let quality = match Quality::of(p) {
                Quality::Good => app.tr.t("call-quality-good"),
                Quality::Lossy => app.tr.t("call-quality-lossy"),
                Quality::Relayed => app.tr.t("call-quality-relayed"),
            };
            ui.label(RichText::new(format!("{path} · {quality}")).small());
            let mut v = p.volume;
            let label = app.tr.s("call-volume", "name", &p.name);
            let l = ui.label(RichText::new(label).small());
            let r = ui.add(egui::Slider::new(&mut v, 0..=200).suffix(" %")).labelled_by(l.id);
            if r.drag_stopped() || (r.changed() && !r.dragged()) {
                volumes.push(Command::Volume { peer_id: p.peer_id.clone(), percent: v });
            }
        });
    }
    for c in volumes {
        app.send(c);
    }
    ui.separator();
    super::people::show(app, ui, room);
}
