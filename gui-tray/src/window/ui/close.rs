//! Closing the window during a call. The call is the daemon's and would
//! go on with the microphone open and nothing on screen: the window asks
//! (leave the call, or keep talking in the background with the tray
//! showing the call), or does what the person chose to be remembered.

use std::time::{Duration, Instant};

use egui::RichText;

use super::settings::CloseInCall;
use super::{AperoApp, Dialog};
use crate::link::Command;

/// A daemon that does not confirm the leave within this is not waited for:
/// the window closes anyway (the daemon has the leave queued or is gone).
const LEAVE_WAIT: Duration = Duration::from_secs(3);

impl AperoApp {
    /// Called each frame before drawing: catches the window manager's close.
    pub(crate) fn closing(&mut self, ctx: &egui::Context) {
        if let Some(since) = self.leaving_to_close {
            if self.model.call_room().is_none() || since.elapsed() > LEAVE_WAIT {
                self.leaving_to_close = None;
                self.close_now = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            return;
        }
        if !ctx.input(|i| i.viewport().close_requested()) || self.close_now || self.model.call_room().is_none() {
            return;
        }
        match self.settings.close_in_call {
            Some(CloseInCall::Leave) => self.leave_then_close(ctx),
            Some(CloseInCall::Keep) => self.keep_in_background(ctx),
            None => {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.remember_close = false;
                self.dialog = Dialog::CloseInCall;
            }
        }
    }

    fn leave_then_close(&mut self, ctx: &egui::Context) {
        ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        self.send(Command::CallLeave);
        self.leaving_to_close = Some(Instant::now());
    }

    /// The window may close; the tray (started if none runs) shows the call.
    fn keep_in_background(&mut self, ctx: &egui::Context) {
        let target = self.link.target();
        match crate::tray::ensure_running(&target.socket, target.home.as_deref()) {
            Ok(started) => tracing::info!(started, "the call goes on with the tray"),
            Err(e) => {
                // No tray to show the call: better to stay open than to hide it.
                tracing::warn!("cannot start apero-tray: {e}");
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.model.errors.push(self.tr.s("close-no-tray", "error", &e.to_string()));
                return;
            }
        }
        self.close_now = true;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    pub(crate) fn close_dialog(&mut self, ui: &mut egui::Ui) -> bool {
        let ctx = ui.ctx().clone();
        ui.heading(self.tr.t("close-title"));
        ui.label(self.tr.t("close-explain"));
        ui.checkbox(&mut self.remember_close, self.tr.t("close-remember"));
        let mut chosen = None;
        let mut cancel = false;
        ui.horizontal_wrapped(|ui| {
            if ui.button(RichText::new(self.tr.t("close-leave")).strong()).clicked() {
                chosen = Some(CloseInCall::Leave);
            }
            if ui.button(self.tr.t("close-keep")).clicked() {
                chosen = Some(CloseInCall::Keep);
            }
            cancel = ui.button(self.tr.t("cancel")).clicked();
        });
        let Some(choice) = chosen else { return cancel };
        if self.remember_close {
            self.settings.close_in_call = Some(choice);
            self.save_settings(&ctx);
        }
        match choice {
            CloseInCall::Leave => self.leave_then_close(&ctx),
            CloseInCall::Keep => self.keep_in_background(&ctx),
        }
        true
    }
}
