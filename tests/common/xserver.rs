//! A private X server (Xvfb) for the tests that need a display, stopped on
//! drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct XServer {
    child: Child,
    pub display: String,
}

impl XServer {
    /// An Xvfb of `size` ("640x480x24"); `None` (the test skipped, loudly,
    /// or failed under CI) when Xvfb or one of `tools` is missing.
    pub fn start(size: &str, tools: &[&str]) -> Option<XServer> {
        for tool in std::iter::once(&"Xvfb").chain(tools) {
            if super::which(tool).is_none() {
                super::skip(
                    &format!("Xvfb {}", tools.join(" ")),
                    &format!("{tool} is not installed (apt-get install xvfb {})", tools.join(" ")),
                );
                return None;
            }
        }
        // -displayfd: the server picks a free display and writes its number;
        // -noreset: what a test drew stays when its connection closes.
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", size, "-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("Xvfb's display number");
        Some(XServer { child, display: format!(":{}", line.trim()) })
    }

    /// Presses `keys` as a person would (XTEST), e.g. "ctrl+alt+m".
    pub fn press(&self, keys: &str) {
        let ok = Command::new("xdotool").args(["key", keys]).env("DISPLAY", &self.display).status().expect("xdotool");
        assert!(ok.success(), "xdotool key {keys}");
    }
}

impl Drop for XServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
