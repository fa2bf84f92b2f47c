//! Microphone and speaker: the device pickers, a live level meter and
//! "Test my microphone" (our voice played back a second later), from the
//! daemon's sound check. Shown on the first start, after the name, and in
//! Settings. During a call the daemon's devices belong to the call: the
//! pickers stay, the test does not.

use std::time::{Duration, Instant};

use egui::RichText;

use super::AperoApp;
use crate::link::Command;

/// Well inside the minute the link asks the check to run for, so that a
/// check still shown never lapses.
const RENEW_AFTER: Duration = Duration::from_secs(20);

/// Where the sound check stands, on the window's side.
#[derive(Debug, Default)]
pub struct Check {
    /// When the check was last asked for (`None`: not running for us).
    asked: Option<Instant>,
    /// Our voice played back.
    pub echo: bool,
}

impl AperoApp {
    /// Keeps the check running while a view shows it.
    fn keep_checking(&mut self) {
        if self.model.call_room().is_some() {
            return;
        }
        if self.check.asked.is_none_or(|t| t.elapsed() > RENEW_AFTER) {
            self.check.asked = Some(Instant::now());
            self.send(Command::SoundCheck { echo: self.check.echo });
        }
    }

    /// The view that showed the check closed.
    pub(crate) fn stop_checking(&mut self) {
        if self.check.asked.take().is_some() {
            self.check.echo = false;
            self.send(Command::SoundCheckStop);
        }
    }
}

/// Pickers, meter and test; for the first-start page and Settings.
pub fn section(app: &mut AperoApp, ui: &mut egui::Ui) {
    devices(app, ui);
    if app.model.call_room().is_some() {
        ui.label(RichText::new(app.tr.t("sound-in-call")).weak());
        return;
    }
    app.keep_checking();
    let state = app.model.sound_check.clone().filter(|s| s.running);
    let level = state.as_ref().map_or(-100.0, |s| s.level_db);
    ui.horizontal(|ui| {
        let l = ui.label(app.tr.t("sound-level"));
        // Words a person can act on, not decibels.
        let words = if level <= apero_control::METER_FLOOR_DB {
            "sound-meter-silent"
        } else if level < -45.0 {
            "sound-meter-quiet"
        } else if level > -6.0 {
            "sound-meter-loud"
        } else {
            "sound-meter-good"
        };
        let width = ui.available_width().min(260.0);
        let bar = egui::ProgressBar::new(apero_control::meter_fraction(level) as f32).desired_width(width).text(app.tr.t(words));
        ui.add(bar).labelled_by(l.id);
    });
    if let Some(s) = &state {
        if let Some(e) = &s.input_error {
            ui.colored_label(ui.visuals().warn_fg_color, app.tr.s("sound-input-missing", "error", e));
        } else if s.speaking {
            ui.label(app.tr.t("sound-speaking"));
        } else if s.level_db <= apero_control::METER_FLOOR_DB {
            ui.label(RichText::new(app.tr.t("sound-silent")).weak());
        } else {
            ui.label(RichText::new(app.tr.t("sound-speak")).weak());
        }
        if let Some(e) = &s.output_error {
            ui.colored_label(ui.visuals().warn_fg_color, app.tr.s("sound-output-missing", "error", e));
        }
    }
    let label = if app.check.echo { app.tr.t("sound-test-stop") } else { app.tr.t("sound-test") };
    if ui.button(label).clicked() {
        app.check.echo = !app.check.echo;
        app.check.asked = Some(Instant::now());
        app.send(Command::SoundCheck { echo: app.check.echo });
    }
    if app.check.echo {
        ui.label(RichText::new(app.tr.t("sound-test-hint")).small());
    }
}

/// The device pickers.
fn devices(app: &mut AperoApp, ui: &mut egui::Ui) {
    let Some(d) = app.model.devices.clone() else { return };
    let default = app.tr.t("settings-default-device");
    let mut input = d.input.clone();
    let mut output = d.output.clone();
    let pick = |ui: &mut egui::Ui, label: String, list: &[String], chosen: &mut Option<String>| {
        let mut changed = false;
        let shown = chosen.clone().unwrap_or_else(|| default.clone());
        egui::ComboBox::from_label(label).selected_text(shown).show_ui(ui, |ui| {
            changed |= ui.selectable_value(chosen, None, default.clone()).changed();
            for name in list {
                changed |= ui.selectable_value(chosen, Some(name.clone()), name).changed();
            }
        });
        changed
    };
    if pick(ui, app.tr.t("settings-input"), &d.inputs, &mut input) {
        if let Some(input) = input.or(d.default_input.clone()) {
            app.send(Command::UseDevices { input: Some(input), output: None });
        }
    }
    if pick(ui, app.tr.t("settings-output"), &d.outputs, &mut output) {
        if let Some(output) = output.or(d.default_output.clone()) {
            app.send(Command::UseDevices { input: None, output: Some(output) });
        }
    }
}

/// The first start's second page, after the name.
pub fn page(app: &mut AperoApp, ui: &mut egui::Ui) {
    ui.vertical_centered(|ui| {
        ui.add_space(40.0);
        ui.heading(app.tr.t("sound-title"));
        ui.label(app.tr.t("sound-intro"));
        ui.add_space(12.0);
    });
    ui.allocate_ui(egui::vec2(ui.available_width().min(560.0), 320.0), |ui| section(app, ui));
    ui.add_space(12.0);
    if ui.add(egui::Button::new(RichText::new(app.tr.t("sound-continue")).heading())).clicked() {
        app.stop_checking();
        app.sound_page = false;
    }
}
