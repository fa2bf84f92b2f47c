//! Printing: human text by default, exactly one JSON document with `--json`.

use apero_control::{ClientError, ErrorKind};
use serde::Serialize;

use crate::Ctx;

/// `println!` that a reader going away does not turn into a panic:
/// `apero history ROOM | head -3` stops quietly, as `ls | head` does.
macro_rules! outln {
    () => { $crate::output::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*)) };
}
pub(crate) use outln;

/// One line to stdout. A closed pipe ends the process with success (there
/// is nobody left to tell); any other failure is said on stderr.
pub fn line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{args}") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => eprintln!("apero: cannot print: {e}"),
    }
}

pub fn json<T: Serialize>(value: &T) {
    use std::io::Write;
    match serde_json::to_string_pretty(value) {
        // A reader that went away (`apero --json history | grep -q x`) is
        // not an error of ours: stop quietly instead of panicking in println.
        Ok(s) => match writeln!(std::io::stdout().lock(), "{s}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => eprintln!("apero: cannot print JSON: {e}"),
            Ok(()) => {}
        },
        Err(e) => eprintln!("apero: cannot print JSON: {e}"),
    }
}

/// Errors go to stderr; with `--json` also as `{"error": {kind, message}}` on stdout
/// so scripts always get one document.
pub fn error(ctx: &Ctx, e: &anyhow::Error) {
    if ctx.json {
        let kind = match e.downcast_ref::<ClientError>() {
            Some(ClientError::NotRunning(_)) => "not_running".to_string(),
            Some(ClientError::Daemon(b)) => wire_name(b.kind),
            Some(ClientError::VersionMismatch { .. }) => wire_name(ErrorKind::VersionMismatch),
            _ => "client".to_string(),
        };
        json(&serde_json::json!({"error": {"kind": kind, "message": format!("{e:#}")}}));
    }
    eprintln!("apero: {e:#}");
}

fn wire_name(kind: ErrorKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// The process's exit code for an error (listed in `apero --help`): the
/// daemon's class of error when it answered with one, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let code = e.downcast_ref::<ClientError>().map_or(1, ClientError::exit_code);
    u8::try_from(code).unwrap_or(1)
}

pub fn local_time(ms: u64) -> String {
    use chrono::{Local, TimeZone};
    match Local.timestamp_millis_opt(ms as i64).single() {
        Some(t) => {
            let today = Local::now().date_naive();
            if t.date_naive() == today {
                t.format("%H:%M").to_string()
            } else {
                t.format("%Y-%m-%d %H:%M").to_string()
            }
        }
        None => "?".into(),
    }
}

pub fn ago(ms: u64) -> String {
    let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let s = now.saturating_sub(ms) / 1000;
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

pub fn short_id(peer: &str) -> String {
    if peer.len() > 12 {
        format!("…{}", &peer[peer.len() - 8..])
    } else {
        peer.to_string()
    }
}
