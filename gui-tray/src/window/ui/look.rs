//! How the window looks beyond egui's defaults: larger text, and a ring
//! around whatever has the keyboard's focus.

use egui::Color32;

/// The keyboard's place, drawn around whatever has the focus: egui marks
/// some widgets only by a faint change of fill, which a person moving with
/// Tab cannot follow.
pub const FOCUS_RING: Color32 = Color32::from_rgb(0x3d, 0x9b, 0xff);

pub(super) fn focus_ring(ctx: &egui::Context) {
    let Some(r) = ctx.memory(|m| m.focused()).and_then(|id| ctx.read_response(id)) else { return };
    if !r.rect.is_positive() {
        return;
    }
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::new("focus-ring")));
    painter.rect_stroke(r.rect.expand(2.0), 4.0, egui::Stroke::new(2.0, FOCUS_RING), egui::StrokeKind::Outside);
}

/// egui's sizes suit developers' screens; ours read from further away, on
/// old laptops, and many of our people are older: a fifth larger.
pub(super) fn larger_text(ctx: &egui::Context) {
    use egui::{FontFamily, FontId, TextStyle};
    ctx.all_styles_mut(|s| {
        s.text_styles = [
            (TextStyle::Small, FontId::new(12.0, FontFamily::Proportional)),
            (TextStyle::Body, FontId::new(15.5, FontFamily::Proportional)),
            (TextStyle::Button, FontId::new(15.5, FontFamily::Proportional)),
            (TextStyle::Heading, FontId::new(21.0, FontFamily::Proportional)),
            (TextStyle::Monospace, FontId::new(14.0, FontFamily::Monospace)),
        ]
        .into();
        s.spacing.button_padding = egui::vec2(8.0, 4.0);
        s.spacing.item_spacing = egui::vec2(8.0, 6.0);
    });
}
