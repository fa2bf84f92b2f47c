//! The panic message of a failing test, kept so that it can be printed again
//! after the daemons' logs: CI shows the tail of the output, and without this
//! the reason a test failed is buried above thousands of log lines.

use std::collections::HashMap;
use std::sync::{Mutex, Once};

/// Per test thread (tests run in parallel, each on a thread named after it).
static MESSAGES: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// Installs (once per test binary) a panic hook that keeps the message and
/// then prints it as usual.
pub fn remember_messages() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let what = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            if let Ok(mut m) = MESSAGES.lock() {
                m.get_or_insert_with(HashMap::new).insert(thread_name(), format!("{what}{at}"));
            }
            default(info);
        }));
    });
}

/// The panic message of the test running on this thread.
pub fn message() -> String {
    MESSAGES.lock().ok().and_then(|m| m.as_ref().and_then(|m| m.get(&thread_name()).cloned())).unwrap_or_default()
}

/// Prints a log after a failure (a daemon's, the sound server's, the
/// tray's), compacted, then this test's panic message again.
pub fn print_log(title: &str, log: &str) {
    eprintln!("===== {title} =====\n{}", compact_log(log));
    eprintln!("===== (the test failed: {}) =====", message());
}

/// A daemon's log as printed after a failure: runs of one repeated message
/// (a device error every millisecond) collapse into one line, and only the
/// last lines are kept, so CI's tail still shows why the test failed.
fn compact_log(log: &str) -> String {
    const KEEP: usize = 150;
    let mut out: Vec<String> = Vec::new();
    let mut last_msg: Option<&str> = None;
    let mut repeats = 0usize;
    for line in log.lines() {
        // The message without its timestamp: the part that repeats.
        let m = line.split_once(' ').map(|(_, m)| m).unwrap_or(line);
        if last_msg == Some(m) {
            repeats += 1;
            continue;
        }
        if repeats > 0 {
            out.push(format!("    … the line above {repeats} more times"));
        }
        repeats = 0;
        last_msg = Some(m);
        out.push(line.to_string());
    }
    if repeats > 0 {
        out.push(format!("    … the line above {repeats} more times"));
    }
    let skipped = out.len().saturating_sub(KEEP);
    let mut text = if skipped > 0 { format!("    ({skipped} earlier lines left out)\n") } else { String::new() };
    text += &out[skipped..].join("\n");
    text
}
