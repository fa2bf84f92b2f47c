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
