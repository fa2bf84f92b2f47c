//! `apero-tray`: apero's status icon. A thin client of the daemon's control
//! socket, like the `apero` command: it knows only what `aperod` tells it,
//! and never links the daemon's network or audio stack.
//!
//! # Which tray library, and why
//!
//! On Linux the tray is a StatusNotifierItem published with `ksni`: pure
//! Rust over D-Bus (zbus), no GTK and no libappindicator to install, and
//! testable end to end on a private session bus — the test owns the watcher
//! and the notification service and clicks the menu over `dbusmenu`. KDE,
//! GNOME (with the AppIndicator extension most distributions ship), XFCE,
//! Cinnamon, and the wlroots bars all host such items. Windows and macOS,
//! where most of our users are, have no D-Bus: there the same menu model is
//! drawn with `tray-icon` (Win32 `Shell_NotifyIcon`, `NSStatusItem`), which
//! on Linux would have needed GTK and libappindicator. See docs/tray.md.
//!
//! # Layout
//!
//! - `state`: what the daemon told us; `menu`: the menu as data, and the
//!   view (icon, tooltip, menu) a front-end draws; `icon`: the pixmaps.
//! - `app`: the one loop: connect, subscribe, reconnect, carry out clicks.
//! - `daemon`: connecting and starting `aperod`; `notify`, `clipboard`,
//!   `terminal`, `settings`: one job each.
//! - `linux` / `other`: the two front-ends.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod app;
mod catchup;
mod clipboard;
mod daemon;
#[cfg(all(unix, not(target_os = "macos")))]
mod hotkey;
mod icon;
mod menu;
mod notify;
// Shared with the window, whose Settings switch the same rooms.
use apero_window::notify_settings as settings;
mod state;
mod terminal;

#[cfg(all(unix, not(target_os = "macos")))]
mod linux;
#[cfg(any(windows, target_os = "macos"))]
mod other;

use std::path::PathBuf;
use std::process::ExitCode;

use apero_window::i18n::Tr;
use clap::Parser;
use tokio::sync::{mpsc, watch};

use app::App;
use menu::{Action, View};
use settings::Settings;
use state::{Offline, State};

/// apero's status icon: shows whether the daemon runs, whether you are in a
/// call, muted, or someone speaks; its menu joins and leaves calls, mutes,
/// copies invite codes, opens a room's chat and starts or stops the daemon.
///
/// It notifies you of new messages, people joining a call and offered files
/// (turn them off per room in the room's menu; the choice is kept in
/// $XDG_CONFIG_HOME/apero/tray.json). When the daemon is not running it
/// shows itself offline and reconnects by itself every few seconds.
/// `apero service install` starts it at login.
#[derive(Parser, Debug)]
#[command(name = "apero-tray", version)]
struct Args {
    /// Talk to the daemon that keeps its state in DIR (as `aperod --home DIR`).
    #[arg(long, value_name = "DIR", env = "APERO_HOME")]
    home: Option<PathBuf>,
    /// The tray's settings file (default: $XDG_CONFIG_HOME/apero/tray.json).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Show no desktop notifications at all.
    #[arg(long)]
    no_notifications: bool,
    /// The key that mutes and unmutes the call from anywhere (X11 only; on
    /// Wayland bind `apero mute --toggle` in the desktop's keyboard
    /// settings). Modifiers and a key code, e.g. "ctrl+shift+F9"; "none"
    /// for no shortcut.
    #[arg(long, value_name = "KEYS", default_value = MUTE_KEY)]
    mute_key: String,
}

/// Ctrl+Alt+M: M for mute, and free on the common desktops (GNOME, KDE, Xfce).
const MUTE_KEY: &str = "ctrl+alt+KeyM";

fn main() -> ExitCode {
    let args = Args::parse();
    apero_window::init_logging();
    let socket = apero_control::socket_path(args.home.as_deref());
    // One tray per daemon: the window starts one when a call goes on with no
    // window open, and the login may have started one already.
    let _tray_lock = match apero_window::tray::hold(&apero_window::tray::lock_path(&socket)) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => {
            eprintln!("apero-tray: already running for this daemon");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            tracing::warn!("cannot take the tray's lock (a second tray could start): {e}");
            None
        }
    };
    let settings_path = args.config.clone().unwrap_or_else(Settings::default_path);
    let settings = Settings::load(&settings_path);
    // The tray speaks the language chosen in the window's Settings, else
    // the system's, else English.
    let window_settings_path = apero_window::ui::settings::Settings::default_path();
    let tr = Tr::chosen(&window_settings_path);
    let state = State::offline(Offline::Connecting);
    let (view_tx, view_rx) = watch::channel(View::of(&state, &settings, &tr));
    let (action_tx, action_rx) = mpsc::channel(32);
    #[cfg(all(unix, not(target_os = "macos")))]
    let _shortcut = (args.mute_key != "none").then(|| hotkey::start(&args.mute_key, action_tx.clone())).flatten();
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    if args.mute_key != "none" {
        tracing::info!("no mute shortcut on this system yet: {} is not taken", args.mute_key);
    }
    // Built where it runs: the clipboard handle need not cross threads.
    let make_app = move || App {
        target: daemon::Target { socket, home: args.home },
        settings_stamp: Settings::stamp(&settings_path),
        settings_path,
        settings,
        window_settings_stamp: Settings::stamp(&window_settings_path),
        window_settings_path,
        tr,
        notifier: notify::Notifier::new(!args.no_notifications),
        view: view_tx,
        state,
        clipboard: clipboard::Clipboard::default(),
        seen: catchup::Seen::default(),
        batch: catchup::Batch::default(),
    };
    match run(make_app, view_rx, action_tx, action_rx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apero-tray: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Linux: the front-end is a D-Bus service, so it and the app share one
/// runtime; the tray ends when the app quits or D-Bus fails.
#[cfg(all(unix, not(target_os = "macos")))]
fn run(
    make_app: impl FnOnce() -> App,
    view: watch::Receiver<View>,
    actions: mpsc::Sender<Action>,
    action_rx: mpsc::Receiver<Action>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let front = linux::run(view, actions);
        tokio::pin!(front);
        tokio::select! {
            () = make_app().run(action_rx) => {
                // The app dropped its view: the front-end winds down (and
                // answers the Quit click) by itself; a stuck bus is not waited for.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), front).await;
                Ok(())
            }
            r = &mut front => r.map_err(|e| e.context("cannot publish the tray icon on the session D-Bus")),
        }
    })
}

/// Windows and macOS: the platform's event loop must own the main thread,
/// so the app runs on a runtime in another thread.
#[cfg(any(windows, target_os = "macos"))]
fn run(
    make_app: impl FnOnce() -> App + Send + 'static,
    view: watch::Receiver<View>,
    actions: mpsc::Sender<Action>,
    action_rx: mpsc::Receiver<Action>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let handle = rt.handle().clone();
    std::thread::spawn(move || rt.block_on(make_app().run(action_rx)));
    other::run(handle, view, actions)
}

#[cfg(test)]
mod tests {
    /// Every `tray-…` message the tray's code names is in the catalogue
    /// (the window's test checks that every language has the same ones).
    #[test]
    fn every_message_the_tray_names_is_in_the_catalogue() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let catalogue = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/locales/en/apero.ftl")).unwrap();
        let known: Vec<&str> = catalogue.lines().filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim())).collect();
        // Not written out whole, so that this file does not name a message.
        let needle = format!("{}{}-", '"', "tray");
        let mut named = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let code = std::fs::read_to_string(&path).unwrap();
            for (at, _) in code.match_indices(&needle) {
                let id: String = code[at + 1..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
                assert!(known.contains(&id.as_str()), "{} names {id:?}, which apero.ftl lacks", path.display());
                named += 1;
            }
        }
        assert!(named > 40, "found only {named} messages");
    }
}
