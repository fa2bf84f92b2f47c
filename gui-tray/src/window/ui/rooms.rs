//! The list of rooms: name, unread count, members online, a call going on.

use egui::RichText;

use super::{AperoApp, Dialog};

pub fn show(app: &mut AperoApp, ui: &mut egui::Ui) {
    ui.heading(app.tr.t("rooms"));
    // With no room yet, the middle of the window says it in big: once is enough.
    if !app.model.rooms.is_empty() {
        ui.horizontal_wrapped(|ui| {
            if ui.button(app.tr.t("room-create")).clicked() {
                app.room_name.clear();
                app.dialog = Dialog::CreateRoom;
            }
            if ui.button(app.tr.t("join")).clicked() {
                app.dialog = Dialog::Join;
            }
        });
    }
    ui.separator();
    let mut pick = None;
    egui::ScrollArea::vertical().id_salt("rooms").show(ui, |ui| {
        for r in &app.model.rooms {
            let selected = app.model.selected.as_deref() == Some(r.id.as_str());
            let unread = app.model.unread.get(&r.id).copied().unwrap_or(0);
            let mut title = RichText::new(&r.name);
            if unread > 0 {
                title = title.strong();
            }
            if ui.selectable_label(selected, title).clicked() {
                pick = Some(r.id.clone());
            }
            ui.indent(&r.id, |ui| {
                if unread > 0 {
                    ui.label(RichText::new(app.tr.n("room-unread", "count", unread as u64)).strong());
                }
                let members = app.tr.a("room-members", &[("online", (r.online as u64).into()), ("members", (r.members as u64).into())]);
                ui.label(RichText::new(members).small());
                if r.call > 0 {
                    ui.label(RichText::new(format!("🔊 {}", app.tr.n("call-in-room", "count", r.call as u64))).small());
                }
            });
        }
    });
    if let Some(p) = pick {
        app.model.select(Some(p));
    }
}

/// A narrow window's rooms: a menu in the top bar, named after the open room.
pub fn menu(app: &mut AperoApp, ui: &mut egui::Ui) {
    let open = app.model.selected.as_deref().and_then(|id| app.model.room(id)).map(|r| r.name.clone());
    let unread: usize = app.model.unread.values().sum();
    let mut title = open.unwrap_or_else(|| app.tr.t("rooms"));
    if unread > 0 {
        title = format!("{title} ({unread})");
    }
    let mut pick = None;
    ui.menu_button(format!("{title} ⏷"), |ui| {
        for r in &app.model.rooms {
            let selected = app.model.selected.as_deref() == Some(r.id.as_str());
            let n = app.model.unread.get(&r.id).copied().unwrap_or(0);
            let words = if n > 0 { format!("{} ({n})", r.name) } else { r.name.clone() };
            if ui.selectable_label(selected, words).clicked() {
                pick = Some(r.id.clone());
                ui.close();
            }
        }
        ui.separator();
        if ui.button(app.tr.t("room-create")).clicked() {
            app.room_name.clear();
            app.dialog = Dialog::CreateRoom;
            ui.close();
        }
        if ui.button(app.tr.t("join")).clicked() {
            app.dialog = Dialog::Join;
            ui.close();
        }
    });
    if let Some(p) = pick {
        app.model.select(Some(p));
    }
}
