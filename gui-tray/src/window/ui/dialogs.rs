//! The dialogs over the window: join with a code, new room, invite, share a
//! file, leave a room, settings. One at a time; Escape or Cancel closes.

use std::path::PathBuf;

use apero_control::ErrorKind;
use egui::{Color32, RichText};

use super::{settings, AperoApp, Dialog};
use crate::link::Command;
use crate::model::JoinState;

/// Short codes are read out on the phone now: they live minutes.
pub const SHORT_TTL_SECS: u64 = 10 * 60;
/// Expiry choices for long codes: an hour, a day, a week.
const LONG_TTLS: [u64; 3] = [3600, 24 * 3600, 7 * 24 * 3600];
const SHORT_TTLS: [u64; 3] = [5 * 60, 10 * 60, 30 * 60];

pub fn show(app: &mut AperoApp, ctx: &egui::Context) {
    let dialog = app.dialog.clone();
    let close = match &dialog {
        Dialog::None => return,
        Dialog::Join => modal(ctx, "join", |ui| join(app, ui)),
        Dialog::CreateRoom => modal(ctx, "create", |ui| create(app, ui)),
        Dialog::Invite(room) => modal(ctx, "invite", |ui| invite(app, ui, room)),
        Dialog::Share(room) => modal(ctx, "share", |ui| share(app, ui, room)),
        Dialog::LeaveRoom(room) => modal(ctx, "leave", |ui| leave(app, ui, room)),
        Dialog::Settings => modal(ctx, "settings", |ui| settings::dialog(app, ui)),
        Dialog::CloseInCall => modal(ctx, "close", |ui| app.close_dialog(ui)),
        Dialog::SharePick { room, camera } => modal(ctx, "share-pick", |ui| super::stage::picker(app, ui, room, *camera)),
        Dialog::CameraPreview => modal(ctx, "camera-preview", |ui| super::stage::preview(app, ui)),
        Dialog::ChannelName { room, channel } => {
            modal(ctx, "channel", |ui| super::channels::name_dialog(app, ui, room, channel.as_deref()))
        }
        Dialog::RemoveMember { room, peer_id, name } => {
            modal(ctx, "remove", |ui| super::channels::remove_dialog(app, ui, room, peer_id, name))
        }
        Dialog::Breakout(room) => modal(ctx, "breakout", |ui| super::breakout::dialog(app, ui, room)),
        Dialog::Broadcast(room) => modal(ctx, "broadcast", |ui| super::breakout::broadcast(app, ui, room)),
        Dialog::Picture(file) => {
            // As wide as the picture needs, not the dialogs' 520.
            egui::Modal::new(egui::Id::new("picture")).show(ctx, |ui| super::pictures::large(app, ui, file)).inner
        }
    };
    if close && app.dialog == dialog {
        app.dialog = Dialog::None;
    }
}

/// Windows lower than this (in points) get scrolling dialogs.
const SCROLL_BELOW: f32 = 720.0;

/// `content` says whether it is done; Escape or a click outside also closes.
fn modal(ctx: &egui::Context, id: &str, content: impl FnOnce(&mut egui::Ui) -> bool) -> bool {
    // A small window (or 200 %) must still reach a long dialog's buttons:
    // there the dialog scrolls (only there: a dialog that fits keeps its
    // controls where the pointer last saw them).
    let screen = ctx.content_rect();
    let max_w = (screen.width() - 48.0).clamp(200.0, 520.0);
    let small = screen.height() < SCROLL_BELOW;
    let r = egui::Modal::new(egui::Id::new(("dialog", id))).show(ctx, |ui| {
        ui.set_max_width(max_w);
        if small {
            egui::ScrollArea::vertical().max_height((screen.height() - 48.0).max(120.0)).show(ui, content).inner
        } else {
            content(ui)
        }
    });
    r.inner || r.should_close()
}

/// A labelled one-line text field; the label is its accessible name.
fn field(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str) -> egui::Response {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(text).hint_text(hint).desired_width(f32::INFINITY)).labelled_by(l.id)
}

fn join(app: &mut AperoApp, ui: &mut egui::Ui) -> bool {
    ui.heading(app.tr.t("join"));
    let joining = app.model.join == JoinState::Joining;
    let edit = field(ui, &app.tr.t("join-code"), &mut app.join_code, "7-guitar-orbit");
    if !joining && app.model.join == JoinState::Idle && app.join_code.is_empty() {
        edit.request_focus();
    }
    // A new try: the last one's error no longer speaks of these words.
    if edit.changed() && matches!(app.model.join, JoinState::Failed { .. }) {
        app.model.join = JoinState::Idle;
    }
    ui.label(RichText::new(app.tr.t("join-hint")).small());
    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    match &app.model.join {
        JoinState::Joining => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(app.tr.t("joining"));
            });
        }
        JoinState::Failed { kind, message } => {
            ui.colored_label(Color32::from_rgb(0xd0, 0x40, 0x30), join_error(app, *kind, message));
        }
        JoinState::Idle => {}
    }
    let mut close = false;
    ui.horizontal(|ui| {
        let code = app.join_code.trim().to_string();
        let go = ui.add_enabled(!joining && !code.is_empty(), egui::Button::new(app.tr.t("join-confirm"))).clicked();
        if (go || (enter && !joining)) && !code.is_empty() {
            app.model.join = JoinState::Joining;
            app.send(Command::Join(code));
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    if close && !joining {
        app.model.join = JoinState::Idle;
    }
    close
}

/// The daemon's error in the person's words, by its kind.
fn join_error(app: &AperoApp, kind: Option<ErrorKind>, message: &str) -> String {
    let id = match kind {
        Some(ErrorKind::InvalidCode) => "err-invalid-code",
        Some(ErrorKind::Expired) => "err-expired",
        Some(ErrorKind::Revoked) => "err-revoked",
        Some(ErrorKind::AlreadyUsed) => "err-already-used",
        Some(ErrorKind::Unreachable) => "err-unreachable",
        Some(ErrorKind::AlreadyMember) => "err-already-member",
        Some(ErrorKind::Refused) => "err-refused",
        Some(ErrorKind::NoSuchCode) => "err-no-such-code",
        _ => return app.tr.s("error", "error", message),
    };
    app.tr.t(id)
}

fn create(app: &mut AperoApp, ui: &mut egui::Ui) -> bool {
    ui.heading(app.tr.t("room-create"));
    let edit = field(ui, &app.tr.t("room-create-name"), &mut app.room_name, "Apéro du jeudi");
    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let mut close = false;
    ui.horizontal(|ui| {
        let name = app.room_name.trim().to_string();
        let go = ui.add_enabled(!name.is_empty(), egui::Button::new(app.tr.t("room-create-confirm"))).clicked();
        if (go || enter) && !name.is_empty() {
            app.send(Command::CreateRoom(name));
            close = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    close
}

fn ttl_words(app: &AperoApp, secs: u64) -> String {
    if secs >= 24 * 3600 {
        app.tr.n("days", "n", secs / (24 * 3600))
    } else if secs >= 3600 {
        app.tr.n("hours", "n", secs / 3600)
    } else {
        app.tr.n("minutes", "n", secs / 60)
    }
}

fn invite(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) -> bool {
    let name = app.model.room(room).map(|r| r.name.clone()).unwrap_or_default();
    ui.heading(app.tr.s("invite-title", "room", &name));
    let was_short = app.invite_short;
    ui.radio_value(&mut app.invite_short, true, app.tr.t("invite-short"));
    ui.radio_value(&mut app.invite_short, false, app.tr.t("invite-long"));
    if was_short != app.invite_short {
        app.invite_ttl_secs = if app.invite_short { SHORT_TTL_SECS } else { LONG_TTLS[1] };
    }
    let choices = if app.invite_short { SHORT_TTLS } else { LONG_TTLS };
    let current = ttl_words(app, app.invite_ttl_secs);
    egui::ComboBox::from_label(app.tr.t("invite-expiry")).selected_text(current).show_ui(ui, |ui| {
        for secs in choices {
            let words = ttl_words(app, secs);
            ui.selectable_value(&mut app.invite_ttl_secs, secs, words);
        }
    });
    ui.checkbox(&mut app.invite_once, app.tr.t("invite-once"));
    if ui.button(app.tr.t("invite-create")).clicked() {
        app.copied = false;
        app.send(Command::Invite { room: room.to_string(), short: app.invite_short, ttl_secs: app.invite_ttl_secs, once: app.invite_once });
    }
    if let Some(inv) = app.model.invite.clone().filter(|i| i.room == room) {
        ui.separator();
        let mut shown = inv.code.as_str();
        let l = ui.label(app.tr.t("invite-code"));
        let big = if app.invite_short { egui::TextStyle::Heading } else { egui::TextStyle::Monospace };
        ui.add(egui::TextEdit::multiline(&mut shown).font(big).desired_rows(1).desired_width(f32::INFINITY)).labelled_by(l.id);
        ui.horizontal(|ui| {
            if ui.button(app.tr.t("invite-copy")).clicked() {
                ui.ctx().copy_text(inv.code.clone());
                app.copied = true;
            }
            if app.copied {
                ui.label(app.tr.t("invite-copied"));
            }
        });
        let until = chrono::DateTime::from_timestamp(inv.expires as i64, 0)
            .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        ui.label(app.tr.s("invite-expires", "time", &until));
    }
    ui.separator();
    ui.button(app.tr.t("close")).clicked()
}

fn share(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) -> bool {
    ui.heading(app.tr.t("share-file"));
    if ui.button(app.tr.t("share-choose")).clicked() {
        let (tx, room, title, ctx) = (app.picked_tx.clone(), room.to_string(), app.tr.t("share-file"), ui.ctx().clone());
        std::thread::spawn(move || {
            let _ = tx.send((room, crate::picker::pick_files(&title)));
            ctx.request_repaint();
        });
    }
    if let Some(note) = &app.share_note {
        ui.label(note.as_str());
    }
    let edit = field(ui, &app.tr.t("share-path"), &mut app.share_path, "/home/…/photo.jpg");
    ui.label(RichText::new(app.tr.t("share-drop")).small());
    // As the CLI says it: friends download from this computer.
    ui.label(RichText::new(app.tr.t("file-stay")).small());
    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let mut close = false;
    ui.horizontal(|ui| {
        let path = app.share_path.trim().to_string();
        let go = ui.add_enabled(!path.is_empty(), egui::Button::new(app.tr.t("share-confirm"))).clicked();
        if (go || enter) && !path.is_empty() {
            // The daemon reads the file itself: its path must be absolute.
            let path = std::path::absolute(PathBuf::from(&path)).unwrap_or_else(|_| PathBuf::from(&path));
            app.send(Command::Offer { room: room.to_string(), path, channel: app.model.channels.say_in(room) });
            close = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    close
}

fn leave(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) -> bool {
    let name = app.model.room(room).map(|r| r.name.clone()).unwrap_or_default();
    ui.label(app.tr.s("room-leave-confirm", "room", &name));
    let mut close = false;
    ui.horizontal(|ui| {
        if ui.button(app.tr.t("room-leave")).clicked() {
            app.send(Command::LeaveRoom(room.to_string()));
            app.model.select(None);
            close = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            close = true;
        }
    });
    close
}
