//! The window under test: an `egui_kittest` harness around the real app,
//! with waits and clicks by accessible name. Shared by the window's test
//! files.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use apero_window::{AperoApp, Options, Target};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

use crate::daemons::Daemon;

pub const SLOW: Duration = Duration::from_secs(60);

pub struct Window {
    pub h: Harness<'static, AperoApp>,
}

impl Window {
    pub fn open(d: &Daemon, lang: &str) -> Window {
        Window::with(Window::options(d, lang))
    }

    pub fn options(d: &Daemon, lang: &str) -> Options {
        Options {
            target: Target {
                socket: d.socket(),
                home: Some(d.home().to_path_buf()),
                start_daemon: false,
                daemon_args: Vec::new(),
                daemon_program: None,
            },
            language: Some(lang.into()),
            open_room: None,
            open_join: None,
            settings_path: None,
            notifications_path: None,
        }
    }

    pub fn with(opts: Options) -> Window {
        let h = Harness::builder().with_size(egui::vec2(1280.0, 860.0)).build_eframe(move |cc| AperoApp::new(&cc.egui_ctx, opts));
        Window { h }
    }

    /// Steps frames until `f` holds (the link thread's updates land
    /// between frames).
    #[track_caller]
    pub fn wait(&mut self, what: &str, timeout: Duration, f: impl Fn(&Harness<'static, AperoApp>) -> bool) {
        let start = Instant::now();
        loop {
            self.h.step();
            if f(&self.h) {
                self.h.step();
                return;
            }
            if start.elapsed() > timeout {
                let m = &self.h.state().model;
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the window: {:?}, errors {:?}, transfers {:?}, selected {:?}, join {:?}, \
                     muted {:?}, levels {:?}",
                    m.connection,
                    m.errors,
                    m.transfers,
                    m.selected,
                    m.join,
                    m.call.as_ref().map(|c| c.muted),
                    m.levels
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[track_caller]
    pub fn wait_label(&mut self, label: &str, timeout: Duration) {
        self.wait(&format!("\"{label}\""), timeout, |h| h.query_all_by_label(label).next().is_some());
    }

    #[track_caller]
    pub fn wait_contains(&mut self, part: &str, timeout: Duration) {
        self.wait(&format!("a label with \"{part}\""), timeout, |h| h.query_all_by_label_contains(part).next().is_some());
    }

    pub fn has(&self, label: &str) -> bool {
        self.h.query_all_by_label(label).next().is_some()
    }

    #[track_caller]
    pub fn click(&mut self, label: &str) {
        self.wait_label(label, Duration::from_secs(10));
        // A panel that just appeared may still move (egui sizes new areas
        // over a frame or two): click where it settled.
        self.h.step();
        self.h.step();
        // Inside a scrolled dialog (a small window): into view first.
        self.h.query_all_by_label(label).next().unwrap().scroll_to_me();
        self.h.step();
        self.h.step();
        self.h.query_all_by_label(label).next().unwrap().click();
        self.h.step();
        self.h.step();
    }

    #[track_caller]
    pub fn type_into(&mut self, field: &str, text: &str) {
        self.wait_label(field, Duration::from_secs(10));
        self.h.get_by_label(field).focus();
        self.h.step();
        self.h.get_by_label(field).type_text(text);
        self.h.step();
    }

    pub fn enter(&mut self) {
        self.h.key_press(egui::Key::Enter);
        self.h.step();
        self.h.step();
    }
}
