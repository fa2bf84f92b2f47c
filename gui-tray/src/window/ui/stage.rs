//! Screen sharing and cameras in the window: the shared screen in the
//! middle (fit, 1:1 or the whole window), a row of cameras, the picker,
//! and the "you are sharing" banner with its stop button, which stays at
//! the top of every page for as long as a share runs.
//!
//! Pictures come from the daemon, which decodes them: the window asks for
//! each stream's newest picture (`Command::Frame`) about 15 times a second
//! while it shows one, and uploads it as a texture.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use apero_control::{ShareKind, ShareSource};
use egui::{Color32, RichText, TextureHandle, TextureOptions};

use super::call::named;
use super::{AperoApp, Dialog};
use crate::link::{Command, Update};

/// How often a shown stream's picture is asked for.
const POLL: Duration = Duration::from_millis(66);
/// How often `share status` is asked again while something is shared.
const STATUS: Duration = Duration::from_secs(2);
pub const SHARING: Color32 = Color32::from_rgb(0xc0, 0x30, 0x28);

type Key = (String, ShareKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// The whole picture in the space there is.
    #[default]
    Fit,
    /// One picture pixel per screen pixel, scrolled.
    Actual,
}

#[derive(Default)]
pub struct Stage {
    textures: HashMap<Key, (TextureHandle, u64)>,
    asking: HashSet<Key>,
    asked: HashMap<Key, Instant>,
    status_asked: Option<Instant>,
    pub fit: Fit,
    /// The shared screen takes the whole window.
    pub full: bool,
    /// The sharer shown in the middle when several share: the newest one,
    /// unless the person picked another.
    pub shown: Option<String>,
    /// The picker's thumbnails, by file.
    thumbs: HashMap<String, TextureHandle>,
}

/// Takes the pictures out of the link's updates; the rest goes on.
pub fn take(app: &mut AperoApp, ctx: &egui::Context, u: Update) -> Option<Update> {
    match u {
        Update::Picture { peer_id, kind, serial, image } => {
            let key = (peer_id, kind);
            app.stage.asking.remove(&key);
            match app.stage.textures.get_mut(&key) {
                Some((tex, s)) => {
                    tex.set(image, TextureOptions::LINEAR);
                    *s = serial;
                }
                None => {
                    let tex = ctx.load_texture(format!("share-{}-{kind}", key.0), image, TextureOptions::LINEAR);
                    app.stage.textures.insert(key, (tex, serial));
                }
            }
            None
        }
        Update::NoPicture { peer_id, kind } => {
            app.stage.asking.remove(&(peer_id, kind));
            None
        }
        Update::Share(s) => {
            // A new sharer takes the stage, as in a meeting.
            let before: HashSet<&String> = app.model.share.watching.iter().map(|w| &w.peer_id).collect();
            if let Some(new) = s.watching.iter().find(|w| w.kind == ShareKind::Screen && !before.contains(&w.peer_id)) {
                app.stage.shown = Some(new.peer_id.clone());
            }
            Some(Update::Share(s))
        }
        other => Some(other),
    }
}

/// The streams the window shows now: what we watch, and our own (self-view).
fn streams(app: &AperoApp) -> Vec<Key> {
    let me = app.model.status.as_ref().map(|s| s.peer_id.clone()).unwrap_or_default();
    let watched = app.model.share.watching.iter().map(|w| (w.peer_id.clone(), w.kind));
    watched.chain(app.model.share.sending.iter().map(|s| (me.clone(), s.kind))).collect()
}

/// Asks for the pictures and the status the view needs; called each frame.
pub fn poll(app: &mut AperoApp, ctx: &egui::Context) {
    let wanted = streams(app);
    app.stage.textures.retain(|k, _| wanted.contains(k));
    let now = Instant::now();
    for key in &wanted {
        let due = app.stage.asked.get(key).is_none_or(|t| now.duration_since(*t) >= POLL);
        if due && !app.stage.asking.contains(key) {
            let after = app.stage.textures.get(key).map_or(0, |t| t.1);
            app.stage.asking.insert(key.clone());
            app.stage.asked.insert(key.clone(), now);
            app.send(Command::Frame { peer_id: key.0.clone(), kind: key.1, after });
        }
    }
    let sharing = !app.model.share.sending.is_empty() || !wanted.is_empty();
    if sharing && app.stage.status_asked.is_none_or(|t| now.duration_since(t) >= STATUS) {
        app.stage.status_asked = Some(now);
        app.send(Command::ShareStatus);
    }
    if !wanted.is_empty() {
        ctx.request_repaint_after(POLL);
    }
    if app.model.call_room().is_none() {
        app.stage.full = false;
    }
}

/// "You are sharing …", with Stop: at the top of every page while we share.
pub fn banner(app: &mut AperoApp, ui: &mut egui::Ui) {
    let sending = app.model.share.sending.clone();
    for s in sending {
        let frame = egui::Frame::new().fill(SHARING).inner_margin(6.0).corner_radius(4.0);
        frame.show(ui, |ui| {
            ui.horizontal(|ui| {
                let names: Vec<String> = s.viewers.iter().map(|v| v.name.clone().unwrap_or_else(|| app.tr.t("tray-someone"))).collect();
                let what = match s.kind {
                    _ if s.preview => app.tr.t("share-you-preview"),
                    ShareKind::Screen => app.tr.t("share-you-screen"),
                    ShareKind::Camera => app.tr.t("share-you-camera"),
                };
                let who =
                    if names.is_empty() { app.tr.t("share-nobody-yet") } else { app.tr.s("share-seen-by", "names", &names.join(", ")) };
                ui.label(RichText::new(format!("● {what} · {who}")).color(Color32::WHITE).strong());
                let stop = match s.kind {
                    ShareKind::Screen => app.tr.t("share-stop"),
                    ShareKind::Camera => app.tr.t("camera-stop"),
                };
                if ui.button(stop).clicked() {
                    app.send(Command::ShareStop(Some(s.kind)));
                }
            });
        });
    }
}

/// The call panel's buttons: share the screen, turn the camera on, or stop.
pub fn buttons(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    let sending = |k: ShareKind| app.model.share.sending.iter().any(|s| s.kind == k);
    let (screen, camera) = (sending(ShareKind::Screen), sending(ShareKind::Camera));
    let button = |ui: &mut egui::Ui, icon: &str, words: String| named(ui.button(format!("{icon} {words}")), words).clicked();
    ui.horizontal_wrapped(|ui| {
        if screen {
            if button(ui, "🖥", app.tr.t("share-stop")) {
                app.send(Command::ShareStop(Some(ShareKind::Screen)));
            }
        } else if button(ui, "🖥", app.tr.t("share-screen")) {
            app.model.shareable = None;
            app.stage.thumbs.clear();
            app.send(Command::ShareList);
            app.dialog = Dialog::SharePick { room: room.to_string(), camera: false };
        }
        if camera {
            if button(ui, "📷", app.tr.t("camera-stop")) {
                app.send(Command::ShareStop(Some(ShareKind::Camera)));
            }
        } else if button(ui, "📷", app.tr.t("camera-start")) {
            app.model.shareable = None;
            app.send(Command::ShareList);
            app.dialog = Dialog::SharePick { room: room.to_string(), camera: true };
        }
    });
}

/// The picker: screens and windows (or cameras), then Share. Nothing is
/// captured before the person picks. Returns whether it is done.
pub fn picker(app: &mut AperoApp, ui: &mut egui::Ui, room: &str, camera: bool) -> bool {
    ui.heading(if camera { app.tr.t("camera-start") } else { app.tr.t("share-screen") });
    ui.label(app.tr.t(if camera { "camera-pick-help" } else { "share-pick-help" }));
    let Some(all) = app.model.shareable.clone() else {
        ui.spinner();
        return ui.button(app.tr.t("cancel")).clicked();
    };
    let mut picked = None;
    let fits = |kind: &str| if camera { kind == "camera" } else { kind != "camera" };
    egui::ScrollArea::vertical().max_height(300.0).show(ui, |ui| {
        for a in all.iter().filter(|a| fits(&a.kind)) {
            let label = format!("{} — {}×{}", a.name, a.width, a.height);
            let thumb = a.thumbnail.as_ref().and_then(|path| {
                if !app.stage.thumbs.contains_key(path) {
                    let img = super::pictures::load(std::path::Path::new(path), 240).ok()?;
                    app.stage.thumbs.insert(path.clone(), ui.ctx().load_texture(path.as_str(), img, TextureOptions::LINEAR));
                }
                app.stage.thumbs.get(path).cloned()
            });
            let r = match thumb {
                Some(tex) => {
                    let [w, h] = tex.size().map(|v| v as f32);
                    let image = egui::Image::new(&tex).fit_to_exact_size(egui::vec2(160.0, 160.0 * h / w.max(1.0)));
                    named(ui.add(egui::Button::image_and_text(image, label.as_str())), label)
                }
                None => ui.button(label),
            };
            if r.clicked() {
                picked = Some(source_of(&a.kind, &a.pick));
            }
        }
        let test = if camera { app.tr.t("camera-test") } else { app.tr.t("share-test") };
        if ui.button(test).clicked() {
            picked = Some(Some(if camera { ShareSource::TestCamera } else { ShareSource::TestPattern }));
        }
    });
    if !all.iter().any(|a| fits(&a.kind)) {
        ui.label(RichText::new(app.tr.t(if camera { "camera-none" } else { "share-none" })).weak());
    }
    if let Some(Some(what)) = picked {
        // A camera shows itself to us first; a screen the person just picked goes out.
        app.send(Command::ShareStart { room: room.to_string(), what, preview: camera });
        if camera {
            app.dialog = Dialog::CameraPreview;
        }
        return true;
    }
    ui.button(app.tr.t("cancel")).clicked()
}

/// Our camera before anyone sees it: on for everyone, or cancel.
pub fn preview(app: &mut AperoApp, ui: &mut egui::Ui) -> bool {
    ui.heading(app.tr.t("camera-start"));
    ui.label(app.tr.t("camera-preview-help"));
    let me = app.model.status.as_ref().map(|s| s.peer_id.clone()).unwrap_or_default();
    match app.stage.textures.get(&(me, ShareKind::Camera)).map(|t| t.0.clone()) {
        Some(tex) => {
            let [w, h] = tex.size().map(|v| v as f32);
            let r = ui.add(egui::Image::new(&tex).fit_to_exact_size(egui::vec2(400.0, 400.0 * h / w.max(1.0))));
            let name = app.tr.t("share-self-view");
            r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Image, true, &name));
        }
        None => {
            ui.spinner();
        }
    }
    let mut done = false;
    ui.horizontal(|ui| {
        if ui.button(app.tr.t("camera-go")).clicked() {
            app.send(Command::ShareShow(ShareKind::Camera));
            done = true;
        }
        if ui.button(app.tr.t("cancel")).clicked() {
            app.send(Command::ShareStop(Some(ShareKind::Camera)));
            done = true;
        }
    });
    done
}

/// What `share list`'s `pick` flag means.
fn source_of(kind: &str, pick: &str) -> Option<ShareSource> {
    let arg = pick.split_once(' ').map(|(_, a)| a.to_string());
    match kind {
        "screen" => Some(ShareSource::Screen { index: arg?.parse().ok()? }),
        "window" => Some(ShareSource::Window { title: arg? }),
        "camera" => Some(ShareSource::Camera { name: arg }),
        _ => Some(ShareSource::TestPattern),
    }
}

/// Whether the stage has anything for `room`'s call.
pub fn has_stage(app: &AperoApp, room: &str) -> bool {
    app.model.call_room() == Some(room) && !streams(app).is_empty()
}

/// The stage above the chat: the shared screen, then the cameras.
pub fn panel(app: &mut AperoApp, ui: &mut egui::Ui, room: &str) {
    if !has_stage(app, room) {
        return;
    }
    let height = ui.available_height();
    let size = if app.stage.full { height } else { (height * 0.62).max(120.0) };
    egui::Panel::top("stage").resizable(!app.stage.full).default_size(size).min_size(80.0).show(ui, |ui| show(app, ui));
}

fn show(app: &mut AperoApp, ui: &mut egui::Ui) {
    let me = app.model.status.as_ref().map(|s| s.peer_id.clone()).unwrap_or_default();
    let screens: Vec<(String, String)> = app
        .model
        .share
        .watching
        .iter()
        .filter(|w| w.kind == ShareKind::Screen)
        .map(|w| (w.peer_id.clone(), w.name.clone().unwrap_or_else(|| app.tr.t("tray-someone"))))
        .collect();
    let shown = app.stage.shown.clone().filter(|s| screens.iter().any(|(p, _)| p == s)).or_else(|| screens.last().map(|s| s.0.clone()));
    ui.horizontal(|ui| {
        for (peer, name) in &screens {
            if ui.selectable_label(shown.as_deref() == Some(peer), app.tr.s("share-screen-of", "name", name)).clicked() {
                app.stage.shown = Some(peer.clone());
            }
        }
        if shown.is_some() {
            ui.separator();
            ui.selectable_value(&mut app.stage.fit, Fit::Fit, app.tr.t("share-fit"));
            ui.selectable_value(&mut app.stage.fit, Fit::Actual, app.tr.t("share-actual"));
            let full = app.stage.full;
            if ui.selectable_label(full, app.tr.t("share-full")).clicked() {
                app.stage.full = !full;
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Fullscreen(!full));
            }
        }
    });
    let cameras: Vec<(Key, String)> = app
        .model
        .share
        .watching
        .iter()
        .filter(|w| w.kind == ShareKind::Camera)
        .map(|w| ((w.peer_id.clone(), w.kind), w.name.clone().unwrap_or_else(|| app.tr.t("tray-someone"))))
        .chain(app.model.share.sending.iter().map(|s| ((me.clone(), s.kind), String::new())))
        .collect();
    let tiles_h = if cameras.is_empty() { 0.0 } else { 110.0 };
    if let Some(peer) = shown {
        let name = screens.iter().find(|(p, _)| *p == peer).map(|s| s.1.clone()).unwrap_or_default();
        let label = app.tr.s("share-screen-of", "name", &name);
        let room_for = egui::vec2(ui.available_width(), (ui.available_height() - tiles_h).max(60.0));
        match app.stage.textures.get(&(peer, ShareKind::Screen)).map(|t| t.0.clone()) {
            Some(tex) => {
                let r = if app.stage.fit == Fit::Fit {
                    let [w, h] = tex.size().map(|v| v as f32);
                    let scale = (room_for.x / w).min(room_for.y / h);
                    ui.add(egui::Image::new(&tex).fit_to_exact_size(egui::vec2(w, h) * scale))
                } else {
                    let ppp = ui.ctx().pixels_per_point();
                    let size = tex.size_vec2() / ppp;
                    egui::ScrollArea::both()
                        .max_height(room_for.y)
                        .show(ui, |ui| ui.add(egui::Image::new(&tex).fit_to_exact_size(size)))
                        .inner
                };
                r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Image, true, &label));
            }
            None => {
                ui.allocate_ui(room_for, |ui| {
                    ui.centered_and_justified(|ui| ui.label(app.tr.s("share-waiting", "name", &name)));
                });
            }
        }
    }
    if !cameras.is_empty() {
        ui.horizontal_wrapped(|ui| {
            for (key, name) in cameras {
                ui.vertical(|ui| {
                    let label = if key.0 == me { app.tr.t("share-self-view") } else { app.tr.s("camera-of", "name", &name) };
                    match app.stage.textures.get(&key).map(|t| t.0.clone()) {
                        Some(tex) => {
                            let [w, h] = tex.size().map(|v| v as f32);
                            let r = ui.add(egui::Image::new(&tex).fit_to_exact_size(egui::vec2(160.0, 160.0 * h / w.max(1.0))));
                            r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Image, true, &label));
                        }
                        None => {
                            ui.allocate_exact_size(egui::vec2(160.0, 90.0), egui::Sense::hover());
                        }
                    }
                    ui.label(RichText::new(label).small());
                });
            }
        });
    }
}
