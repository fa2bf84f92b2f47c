//! `apero-app`, apero's window: join a room with a code, talk, chat and
//! share files without a terminal. A thin client of `aperod`'s control
//! socket, like the `apero` command and the tray: it depends on the control
//! crate and egui only, never on the daemon's network or audio stack.
//!
//! Why egui (through eframe, drawn with OpenGL by glow): it runs on X11,
//! Wayland, Windows and macOS; screen readers reach it through AccessKit;
//! it is tested headless here with `egui_kittest`, which drives the window
//! by the same accessible names a screen reader reads; and it has the
//! smallest dependency tree of the toolkits weighed (docs/window.md).
//!
//! # Layout
//! - `link`: the connection to the daemon, on its own thread.
//! - `model`: what the daemon said, folded into one state (no drawing);
//!   `channels`: the rooms' channels, hosts and breakouts within it.
//! - `ui`: the views and dialogs; `i18n`: the words, one Fluent catalogue
//!   per language; `theme`: the desktop's light or dark preference;
//!   `picker`: the desktop's file chooser; `instance`: one window, which
//!   later launches bring to the front; `tray`: whether the tray runs.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod channels;
pub mod command;
pub mod i18n;
pub mod instance;
pub mod link;
pub mod model;
pub mod notify_settings;
pub mod picker;
pub mod theme;
pub mod tray;
pub mod ui;

pub use link::{Command, Target};

/// Logs to stderr, `RUST_LOG` or info (zbus's chatter only from warn), the
/// same for the tray and the window.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,zbus=warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
pub use ui::{AperoApp, Options};
