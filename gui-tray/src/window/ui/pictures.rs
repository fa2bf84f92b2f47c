//! Pictures in the chat: the daemon's thumbnail in the file's card, a
//! click opens the picture large over the window, and small pictures are
//! downloaded by themselves (up to the size chosen in Settings), as people
//! expect from Signal or Discord.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use apero_control::FileInfo;
use egui::{ColorImage, TextureHandle, TextureOptions};

use super::{AperoApp, Dialog};
use crate::link::Command;

/// Pictures up to this size come by themselves unless Settings says otherwise.
pub const AUTO_MB_DEFAULT: u32 = 8;
/// A picture opened large is decoded at most this big a side (a screen's worth).
const LARGE_SIDE: u32 = 2560;

#[derive(Default)]
pub(crate) struct Pictures {
    /// Thumbnails by file id (`None`: it would not load; not tried again).
    thumbs: HashMap<String, Option<TextureHandle>>,
    /// Pictures already asked for by themselves, so a cancel sticks.
    fetched: HashSet<String>,
    /// The picture shown large.
    large: Option<(String, Result<TextureHandle, String>)>,
}

pub(super) fn load(path: &Path, max_side: u32) -> Result<ColorImage, String> {
    let img = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?;
    let img = if img.width() > max_side || img.height() > max_side { img.thumbnail(max_side, max_side) } else { img };
    let rgba = img.to_rgba8();
    Ok(ColorImage::from_rgba_unmultiplied([rgba.width() as usize, rgba.height() as usize], rgba.as_raw()))
}

impl AperoApp {
    /// Asks for the room's small pictures that are not here yet.
    pub(crate) fn fetch_small_pictures(&mut self) {
        let limit = u64::from(self.settings.auto_pictures_mb.unwrap_or(AUTO_MB_DEFAULT)) * 1024 * 1024;
        let me = self.model.me().map(str::to_string);
        let mut wanted = Vec::new();
        for chat in self.model.chats.values() {
            for f in &chat.files {
                let small = f.image && !f.have && f.size <= limit && Some(&f.from) != me.as_ref();
                if small && !self.model.transfers.contains_key(&f.id) && self.pictures.fetched.insert(f.id.clone()) {
                    wanted.push(f.id.clone());
                }
            }
        }
        for file in wanted {
            self.send(Command::Get { file, dir: self.settings.download_dir.clone() });
        }
    }
}

/// The card's picture; a click opens it large.
pub fn thumbnail(app: &mut AperoApp, ui: &mut egui::Ui, f: &FileInfo) {
    let Some(path) = &f.thumbnail else { return };
    let ctx = ui.ctx().clone();
    let tex = app
        .pictures
        .thumbs
        .entry(f.id.clone())
        .or_insert_with(|| match load(Path::new(path), 640) {
            Ok(img) => Some(ctx.load_texture(format!("thumb-{}", f.id), img, TextureOptions::LINEAR)),
            Err(e) => {
                tracing::info!("cannot show the thumbnail {path}: {e}");
                None
            }
        })
        .clone();
    let Some(tex) = tex else { return };
    let size = tex.size_vec2();
    // At most 320 points wide, and never wider than the chat.
    let scale = (320.0_f32.min(ui.available_width()) / size.x).min(240.0 / size.y).min(1.0);
    let img = egui::Image::new(&tex).fit_to_exact_size(size * scale).sense(egui::Sense::click());
    let r = ui.add(img).on_hover_text(app.tr.t("picture-open"));
    r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, app.tr.s("picture-of", "name", &f.name)));
    if r.clicked() {
        app.pictures.large = None;
        app.dialog = Dialog::Picture(f.id.clone());
    }
}

/// The picture large, over the window; `true` when closed.
pub fn large(app: &mut AperoApp, ui: &mut egui::Ui, file: &str) -> bool {
    let info = app.model.chats.values().flat_map(|c| c.files.iter()).find(|f| f.id == file).cloned();
    let Some(f) = info else { return true };
    let Some(path) = f.path.clone().or_else(|| app.model.transfers.get(file).and_then(|t| t.path.clone())) else { return true };
    if app.pictures.large.as_ref().is_none_or(|(id, _)| id != file) {
        let loaded =
            load(Path::new(&path), LARGE_SIDE).map(|img| ui.ctx().load_texture(format!("large-{file}"), img, TextureOptions::LINEAR));
        app.pictures.large = Some((file.to_string(), loaded));
    }
    ui.heading(&f.name);
    let screen = ui.ctx().content_rect().size();
    match app.pictures.large.as_ref().map(|(_, t)| t) {
        Some(Ok(tex)) => {
            let size = tex.size_vec2();
            let fit = ((screen.x - 96.0) / size.x).min((screen.y - 180.0) / size.y).min(1.0);
            ui.add(egui::Image::new(tex).fit_to_exact_size(size * fit.max(0.05)));
        }
        Some(Err(e)) => {
            ui.label(app.tr.s("picture-failed", "error", e));
        }
        None => {}
    }
    let mut close = false;
    ui.horizontal(|ui| {
        if ui.button(app.tr.t("file-open")).clicked() {
            app.open(ui.ctx(), path.clone().into());
        }
        close = ui.button(app.tr.t("close")).clicked();
    });
    if close {
        app.pictures.large = None;
    }
    close
}
