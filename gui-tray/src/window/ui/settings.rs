//! The window's own settings (language, appearance), kept in
//! $XDG_CONFIG_HOME/apero/window.json, and the settings dialog, which also
//! picks the daemon's sound devices (with the sound check) and the start at
//! login.

use std::path::{Path, PathBuf};

use egui::RichText;
use serde::{Deserialize, Serialize};

use super::AperoApp;
use crate::i18n::Tr;
use crate::link::Command;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// What closing the window during a call does, once the person chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseInCall {
    Leave,
    /// The call goes on; the tray shows it, with mute and leave.
    Keep,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// A catalogue's tag ("fr"); `None`: the system's language.
    pub language: Option<String>,
    pub theme: Theme,
    /// `None`: ask each time.
    pub close_in_call: Option<CloseInCall>,
    /// Where downloads go (`None`: the daemon's default, the Downloads folder).
    pub download_dir: Option<PathBuf>,
    /// Pictures up to this many MiB download by themselves (`None`: the
    /// default, 0: never).
    pub auto_pictures_mb: Option<u32>,
}

impl Settings {
    pub fn default_path() -> PathBuf {
        apero_control::config_home().join("apero").join("window.json")
    }

    /// A missing or unreadable file gives the defaults: settings are never
    /// a reason not to open.
    pub fn load(path: &Path) -> Settings {
        std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| format!("cannot save {}: {e}", path.display()))
    }

    pub fn apply_theme(&self, ctx: &egui::Context) {
        match self.theme {
            Theme::Light => ctx.set_theme(egui::ThemePreference::Light),
            Theme::Dark => ctx.set_theme(egui::ThemePreference::Dark),
            Theme::System => {
                ctx.set_theme(egui::ThemePreference::System);
                // The portal may be slow to start: the window opens meanwhile.
                let ctx = ctx.clone();
                std::thread::spawn(move || {
                    if let Some(dark) = crate::theme::system() {
                        ctx.set_theme(if dark { egui::ThemePreference::Dark } else { egui::ThemePreference::Light });
                        ctx.request_repaint();
                    }
                });
            }
        }
    }
}

/// Whether `apero service install` set up the start at login.
fn starts_at_login() -> bool {
    apero_control::systemd_unit_path(&apero_control::config_home()).exists()
}

fn set_start_at_login(on: bool) -> Result<(), String> {
    let verb = if on { "install" } else { "uninstall" };
    let out =
        std::process::Command::new(apero_control::find_program("apero")).args(["service", verb]).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// What closing during a call does, and where downloads go.
fn behaviour(app: &mut AperoApp, ui: &mut egui::Ui) {
    let ctx = ui.ctx().clone();
    let mut close = app.settings.close_in_call;
    let words = |c: Option<CloseInCall>| match c {
        None => app.tr.t("settings-close-ask"),
        Some(CloseInCall::Leave) => app.tr.t("settings-close-leave"),
        Some(CloseInCall::Keep) => app.tr.t("settings-close-keep"),
    };
    let mut changed = false;
    egui::ComboBox::from_label(app.tr.t("settings-close-in-call")).selected_text(words(close)).show_ui(ui, |ui| {
        for c in [None, Some(CloseInCall::Leave), Some(CloseInCall::Keep)] {
            changed |= ui.selectable_value(&mut close, c, words(c)).changed();
        }
    });
    if changed {
        app.settings.close_in_call = close;
        app.save_settings(&ctx);
    }
    // Typed, not picked: no folder chooser is sure to be there (see picker).
    let shown = app.settings.download_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
    let mut edit = app.download_edit.take().unwrap_or(shown);
    let l = ui.label(app.tr.t("settings-download-dir"));
    let field = ui
        .add(egui::TextEdit::singleline(&mut edit).hint_text(app.tr.t("settings-download-default")).desired_width(f32::INFINITY))
        .labelled_by(l.id);
    let typed = edit.trim().to_string();
    let valid = typed.is_empty() || Path::new(&typed).is_absolute();
    if !valid {
        ui.colored_label(ui.visuals().warn_fg_color, app.tr.t("settings-download-bad"));
    } else if field.lost_focus() || field.changed() {
        let dir = (!typed.is_empty()).then(|| PathBuf::from(&typed));
        if dir != app.settings.download_dir {
            app.settings.download_dir = dir;
            app.save_settings(&ctx);
        }
    }
    app.download_edit = Some(edit);
    let mut mb = app.settings.auto_pictures_mb.unwrap_or(super::pictures::AUTO_MB_DEFAULT);
    let l = ui.label(app.tr.t("settings-auto-pictures"));
    let r = ui.add(egui::Slider::new(&mut mb, 0..=50).suffix(" MiB")).labelled_by(l.id);
    if r.drag_stopped() || (r.changed() && !r.dragged()) {
        app.settings.auto_pictures_mb = Some(mb);
        app.save_settings(&ctx);
    }
}

/// Our display name, changed in place: friends see the new one on our
/// messages, old and new.
fn name_row(app: &mut AperoApp, ui: &mut egui::Ui) {
    let Some(current) = app.model.status.as_ref().map(|s| s.name.clone()) else { return };
    let mut edit = app.name_edit.take().unwrap_or_else(|| current.clone());
    let mut save = false;
    ui.horizontal(|ui| {
        let l = ui.label(app.tr.t("settings-name"));
        let field = ui.add(egui::TextEdit::singleline(&mut edit).desired_width(220.0).char_limit(64)).labelled_by(l.id);
        save = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let changed = edit.trim() != current && !edit.trim().is_empty();
        save |= ui.add_enabled(changed, egui::Button::new(app.tr.t("settings-name-save"))).clicked();
        save &= changed;
    });
    if save {
        app.send(Command::SetName(edit.trim().to_string()));
    }
    app.name_edit = Some(edit);
}

pub fn dialog(app: &mut AperoApp, ui: &mut egui::Ui) -> bool {
    let ctx = ui.ctx().clone();
    ui.heading(app.tr.t("settings"));
    name_row(app, ui);
    ui.separator();
    let mut changed = false;
    let mut lang = app.settings.language.clone();
    let shown = lang.as_deref().map(Tr::native_name).map_or_else(|| app.tr.t("settings-language-system"), str::to_string);
    egui::ComboBox::from_label(app.tr.t("settings-language")).selected_text(shown).show_ui(ui, |ui| {
        changed |= ui.selectable_value(&mut lang, None, app.tr.t("settings-language-system")).changed();
        for tag in Tr::available() {
            changed |= ui.selectable_value(&mut lang, Some(tag.clone()), Tr::native_name(&tag)).changed();
        }
    });
    let mut theme = app.settings.theme;
    let words = |t: Theme| match t {
        Theme::System => app.tr.t("settings-theme-system"),
        Theme::Light => app.tr.t("settings-theme-light"),
        Theme::Dark => app.tr.t("settings-theme-dark"),
    };
    egui::ComboBox::from_label(app.tr.t("settings-theme")).selected_text(words(theme)).show_ui(ui, |ui| {
        for t in [Theme::System, Theme::Light, Theme::Dark] {
            changed |= ui.selectable_value(&mut theme, t, words(t)).changed();
        }
    });
    if changed {
        app.settings.language = lang;
        app.settings.theme = theme;
        app.save_settings(&ctx);
    }
    ui.separator();
    super::sound::section(app, ui);
    ui.separator();
    behaviour(app, ui);
    ui.separator();
    if !app.model.rooms.is_empty() {
        // The tray's notifications, room by room (the tray shows them; the
        // window never notifies on its own, so nobody is told twice).
        ui.label(RichText::new(app.tr.t("settings-notifications")).strong());
        let mut changed = false;
        for r in &app.model.rooms {
            let mut on = app.silent.notifies(&r.id);
            if ui.checkbox(&mut on, &r.name).changed() {
                // From the file as it is now: the tray may have switched others.
                app.silent = crate::notify_settings::Settings::load(&app.notifications_path);
                if on {
                    app.silent.silent_rooms.remove(&r.id);
                } else {
                    app.silent.silent_rooms.insert(r.id.clone());
                }
                changed = true;
            }
        }
        if changed {
            if let Err(e) = app.silent.save(&app.notifications_path) {
                app.model.errors.push(e.to_string());
            }
        }
        ui.separator();
    }
    // No toolkit offers a global key everywhere (Wayland needs a portal
    // that stock Debian 12 lacks): the desktop's own shortcut settings run
    // the command instead.
    ui.label(RichText::new(app.tr.t("settings-mute-shortcut")).small());
    let mut command = "apero mute --toggle";
    let l = ui.label(app.tr.t("settings-mute-command"));
    ui.add(egui::TextEdit::singleline(&mut command).font(egui::TextStyle::Monospace)).labelled_by(l.id);
    ui.separator();
    let mut login = starts_at_login();
    if ui.checkbox(&mut login, app.tr.t("settings-login")).changed() {
        if let Err(e) = set_start_at_login(login) {
            app.model.errors.push(app.tr.s("settings-login-failed", "error", &e));
        }
    }
    ui.separator();
    ui.button(app.tr.t("close")).clicked()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_restart_and_a_bad_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apero/window.json");
        assert_eq!(Settings::load(&path), Settings::default());
        let s = Settings {
            language: Some("fr".into()),
            theme: Theme::Dark,
            close_in_call: Some(CloseInCall::Keep),
            download_dir: Some("/tmp/dl".into()),
            auto_pictures_mb: Some(0),
        };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path), s);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
    }
}
