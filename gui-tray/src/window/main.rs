//! `apero-app`: apero's window (see the library's docs).

use std::path::PathBuf;
use std::process::ExitCode;

use apero_window::instance::{self, Claim, Raise};
use apero_window::{AperoApp, Options, Target};
use clap::Parser;

/// apero's window: your rooms, their chat and files, and their calls.
///
/// It starts apero's daemon if it is not running. The tray's "Open chat"
/// opens it on a room (`--room`), and its "Join with a code…" on the join
/// dialog (`--join`). Launched while a window is open, it hands its room or
/// code to that window, which comes to the front.
#[derive(Parser, Debug)]
#[command(name = "apero-app", version)]
struct Args {
    /// Talk to the daemon that keeps its state in DIR (as `aperod --home DIR`).
    #[arg(long, value_name = "DIR", env = "APERO_HOME")]
    home: Option<PathBuf>,
    /// Open this room (its name or id).
    #[arg(long, value_name = "ROOM")]
    room: Option<String>,
    /// Open the "join with a code" dialog, with CODE filled in if given.
    #[arg(long, value_name = "CODE", num_args = 0..=1, default_missing_value = "")]
    join: Option<String>,
    /// The window's language ("en", "fr"), instead of the saved choice or the system's.
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// Do not start the daemon when it is not running.
    #[arg(long)]
    no_start: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    apero_window::init_logging();
    let socket = apero_control::socket_path(args.home.as_deref());
    let raise = Raise { room: args.room.clone(), join: args.join.clone() };
    let listener = match instance::claim(&instance::socket_path(&socket), &raise) {
        Ok(Claim::Forwarded) => {
            eprintln!("apero's window is already open: it was brought to the front.");
            return ExitCode::SUCCESS;
        }
        Ok(Claim::First(l)) => Some(l),
        Err(e) => {
            tracing::warn!("cannot make sure this is the only window: {e}");
            None
        }
    };
    let opts = Options {
        target: Target { socket, home: args.home, start_daemon: !args.no_start, daemon_args: Vec::new(), daemon_program: None },
        language: args.lang,
        open_room: args.room,
        open_join: args.join,
        settings_path: Some(apero_window::ui::settings::Settings::default_path()),
        notifications_path: None,
    };
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("apero")
            .with_app_id("apero")
            .with_inner_size([960.0, 640.0])
            .with_min_inner_size([480.0, 360.0]),
        ..Default::default()
    };
    let make = Box::new(move |cc: &eframe::CreationContext<'_>| {
        let mut app = AperoApp::new(&cc.egui_ctx, opts);
        if let Some(l) = listener {
            app.serve_later_launches(l, &cc.egui_ctx);
        }
        Ok(Box::new(app) as Box<dyn eframe::App>)
    });
    match eframe::run_native("apero", native, make) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apero-app: cannot open the window: {e}");
            ExitCode::FAILURE
        }
    }
}
