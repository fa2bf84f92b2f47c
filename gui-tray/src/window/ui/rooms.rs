//! The list of rooms: name, unread count, members online, a call going on.

use egui::RichText;

use super::{AperoApp, Dialog};

pub fn show(app: &mut AperoApp, ui: &mut egui::Ui) {
    ui.heading(app.tr.t("rooms"));
    ui.horizontal_wrapped(|ui| {
        if ui.button(app.tr.t("room-create")).clicked() {
            app.room_name.clear();
            app.dialog = Dialog::CreateRoom;
        }
        if ui.button(app.tr.t("join")).clicked() {
            app.dialog = Dialog::Join;
        }
    });
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
