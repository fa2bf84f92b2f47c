//! Printing: human text by default, exactly one JSON document with `--json`.

use serde::Serialize;

use crate::Ctx;

pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("apero: cannot print JSON: {e}"),
    }
}

/// Errors go to stderr; with `--json` also as `{"error": {kind, message}}` on stdout
/// so scripts always get one document.
pub fn error(ctx: &Ctx, e: &anyhow::Error) {
    if ctx.json {
        let kind = e
            .downcast_ref::<apero_control::ClientError>()
            .map(|c| match c {
                apero_control::ClientError::NotRunning(_) => "not_running".to_string(),
                apero_control::ClientError::Daemon(b) => serde_json::to_value(b.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                _ => "client".to_string(),
            })
            .unwrap_or_else(|| "client".to_string());
        json(&serde_json::json!({"error": {"kind": kind, "message": format!("{e:#}")}}));
    }
    eprintln!("apero: {e:#}");
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
