//! Who is in the room: online or not, in the call, speaking; a right click
//! on a name mutes them for us, sets their volume, or copies their name.

use apero_control::MemberInfo;
use egui::{Color32, RichText};

use super::AperoApp;
use crate::link::Command;

const ONLINE: Color32 = Color32::from_rgb(0x30, 0xb0, 0x50);

/// Online first, then by name; ourselves first of all.
fn sorted(members: &[MemberInfo]) -> Vec<MemberInfo> {
    let mut v = members.to_vec();
    v.sort_by(|a, b| {
        b.is_self.cmp(&a.is_self).then(b.online.cmp(&a.online)).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    v
}

pub fn show(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let members = sorted(app.model.members.get(room).map(Vec::as_slice).unwrap_or_default());
    let online = members.iter().filter(|m| m.online || m.is_self).count();
    let title = app.tr.a("people-title", &[("online", (online as u64).into()), ("members", (members.len() as u64).into())]);
    egui::CollapsingHeader::new(RichText::new(title).strong()).id_salt(("people", room)).default_open(true).show(ui, |ui| {
        let mut commands = Vec::new();
        for m in &members {
            row(app, ui, room, m, &mut commands);
        }
        for c in commands {
            app.send(c);
        }
    });
}

fn row(app: &AperoApp, ui: &mut egui::Ui, room: &str, m: &MemberInfo, commands: &mut Vec<Command>) {
    let in_call = app.model.call_room() == Some(room);
    let participant = app.model.call.as_ref().filter(|_| in_call).and_then(|c| c.participants.iter().find(|p| p.peer_id == m.peer_id));
    let speaking = participant.is_some_and(|p| app.model.speaking(p));
    let r = ui
        .horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            let dot = if m.online || m.is_self { ONLINE } else { Color32::GRAY };
            ui.painter().circle_filled(rect.center(), 4.0, dot);
            let name = if m.is_self { app.tr.t("chat-you") } else { m.name.clone() };
            let mut text = RichText::new(name);
            if speaking {
                text = text.strong().color(ONLINE);
            }
            let label = ui.add(egui::Label::new(text).sense(egui::Sense::click()));
            if participant.is_some() {
                ui.label(RichText::new("🔊").small()).on_hover_text(app.tr.t("people-in-call"));
            }
            if !(m.online || m.is_self) {
                ui.label(RichText::new(app.tr.t("people-offline")).small().weak());
            }
            label
        })
        .inner;
    r.context_menu(|ui| {
        if let Some(p) = participant.filter(|p| !p.is_self) {
            let muted_for_me = p.volume == 0;
            let words = if muted_for_me { app.tr.t("people-unmute-for-me") } else { app.tr.t("people-mute-for-me") };
            if ui.button(words).clicked() {
                commands.push(Command::Volume { peer_id: p.peer_id.clone(), percent: if muted_for_me { 100 } else { 0 } });
                ui.close();
            }
            let mut v = p.volume;
            let l = ui.label(app.tr.s("call-volume", "name", &p.name));
            let s = ui.add(egui::Slider::new(&mut v, 0..=200).suffix(" %")).labelled_by(l.id);
            if s.drag_stopped() || (s.changed() && !s.dragged()) {
                commands.push(Command::Volume { peer_id: p.peer_id.clone(), percent: v });
            }
        }
        if ui.button(app.tr.t("people-copy-name")).clicked() {
            ui.ctx().copy_text(m.name.clone());
            ui.close();
        }
    });
}

/// A narrow window's people: a menu in the call bar.
pub fn menu(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let members = app.model.members.get(room).map_or(0, Vec::len);
    ui.menu_button(format!("👥 {members}"), |ui| show(app, ui, room));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, online: bool, is_self: bool) -> MemberInfo {
        MemberInfo { peer_id: name.into(), name: name.into(), online, is_self, last_seen: None }
    }

    #[test]
    fn ourselves_then_who_is_online_then_by_name() {
        let v = sorted(&[m("zoé", true, false), m("bob", false, false), m("moi", true, true), m("Alice", true, false)]);
        let names: Vec<_> = v.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["moi", "Alice", "zoé", "bob"]);
    }
}
