//! The window itself: rooms on the left, the open room's chat in the
//! middle, its call on the right, and the dialogs (join with a code, new
//! room, invite, share a file, settings) over them.
//!
//! egui redraws only when something happens: input, or an update from the
//! link, which wakes it. Every control has an accessible name (screen
//! readers through AccessKit; the headless tests find them by it).

mod breakout;
mod call;
mod channels;
mod chat;
mod close;
mod desktop;
mod dialogs;
mod layout;
mod look;
mod message;
mod paste;
mod people;
mod pictures;
mod rooms;
pub mod settings;
pub(crate) mod sound;
mod stage;

pub(crate) use desktop::open_path;
pub use look::FOCUS_RING;
use look::{focus_ring, larger_text};

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use egui::{Color32, RichText};

use crate::i18n::Tr;
use crate::link::{Command, Link, Target};
use crate::model::{Connection, Model};
use settings::Settings;

/// How the window starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    /// `None`: the saved choice, else the system's language.
    pub language: Option<String>,
    /// A room to open first (the tray's "open chat").
    pub open_room: Option<String>,
    /// Open the join dialog first, with this code if any (the tray's "join with a code…").
    pub open_join: Option<String>,
    /// Where the window's settings are kept (`None`: not kept, for tests).
    pub settings_path: Option<PathBuf>,
    /// The tray's per-room notification switches (`None`: the tray's default file).
    pub notifications_path: Option<PathBuf>,
}

/// Which dialog is over the window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dialog {
    None,
    Join,
    CreateRoom,
    Invite(String),
    Share(String),
    LeaveRoom(String),
    Settings,
    /// The window was closed during a call: leave it, or keep talking?
    CloseInCall,
    /// A picture shown large (a file id).
    Picture(String),
    /// What to share in the call: a screen or window, or a camera.
    SharePick {
        room: String,
        camera: bool,
    },
    /// Our camera, seen only by us until the person turns it on for the call.
    CameraPreview,
    /// A new channel (`channel: None`) or a channel's new name.
    ChannelName {
        room: String,
        channel: Option<String>,
    },
    /// A host takes a member out of the room, for good.
    RemoveMember {
        room: String,
        peer_id: String,
        name: String,
    },
    /// A host splits the call into groups.
    Breakout(String),
    /// A host's message to every group.
    Broadcast(String),
}

pub struct AperoApp {
    pub(crate) link: Link,
    pub model: Model,
    pub(crate) tr: Tr,
    pub(crate) settings: Settings,
    settings_path: Option<PathBuf>,
    pub(crate) notifications_path: PathBuf,
    /// The tray's notification switches, read when Settings opens.
    pub(crate) silent: crate::notify_settings::Settings,
    pub(crate) dialog: Dialog,
    // What is being typed, kept across frames.
    pub(crate) drafts: HashMap<String, String>,
    pub(crate) join_code: String,
    pub(crate) room_name: String,
    pub(crate) share_path: String,
    pub(crate) invite_short: bool,
    pub(crate) invite_ttl_secs: u64,
    pub(crate) invite_once: bool,
    pub(crate) copied: bool,
    /// The name typed on the first-run page.
    pub(crate) my_name: String,
    /// The name being edited in Settings (`None`: as the daemon has it).
    pub(crate) name_edit: Option<String>,
    /// The first start's microphone page is due (after the name).
    pub(crate) sound_page: bool,
    pub(crate) check: sound::Check,
    /// Files picked in the desktop's chooser (on its own thread), by room.
    pub(crate) picked_tx: std::sync::mpsc::Sender<(String, Result<Vec<PathBuf>, String>)>,
    picked_rx: std::sync::mpsc::Receiver<(String, Result<Vec<PathBuf>, String>)>,
    /// Rooms whose history was asked for since the last (re)connection.
    requested: HashSet<String>,
    /// What later launches of the window asked for (`instance`).
    raises: Option<std::sync::mpsc::Receiver<crate::instance::Raise>>,
    open_room: Option<String>,
    /// Leaving the call before closing, since then.
    leaving_to_close: Option<std::time::Instant>,
    /// The close is ours: let it through.
    close_now: bool,
    /// "Remember my choice" in the close dialog.
    remember_close: bool,
    /// The chat was at its end in the last frame (it follows new lines then).
    pub(crate) chat_at_end: bool,
    /// Lines in the open chat when the person last saw its end, for the
    /// "new messages" marker.
    pub(crate) chat_seen: usize,
    /// The room whose message field last had the focus given.
    pub(crate) focused_room: Option<String>,
    /// The chat's size in the last frame.
    pub(crate) chat_size: egui::Vec2,
    /// Said in the share dialog when no file chooser answers (not an error:
    /// the path field and dropping still work).
    pub(crate) share_note: Option<String>,
    /// The download folder being typed in Settings.
    pub(crate) download_edit: Option<String>,
    pub(crate) pictures: pictures::Pictures,
    pub(crate) stage: stage::Stage,
    /// A reply or an edit under way in the composer.
    pub(crate) composing: Option<message::Composing>,
    /// What the channel and breakout dialogs are typing.
    pub(crate) channel_form: channels::Form,
    /// What the desktop could not open (`open`), said on the next frame.
    open_failed_tx: std::sync::mpsc::Sender<String>,
    open_failed_rx: std::sync::mpsc::Receiver<String>,
}

impl AperoApp {
    pub fn new(ctx: &egui::Context, opts: Options) -> AperoApp {
        let settings = opts.settings_path.as_deref().map(Settings::load).unwrap_or_default();
        let tr = Tr::new(opts.language.as_deref().or(settings.language.as_deref()));
        settings.apply_theme(ctx);
        larger_text(ctx);
        let waker = ctx.clone();
        let link = Link::start(opts.target, move || waker.request_repaint());
        let (picked_tx, picked_rx) = std::sync::mpsc::channel();
        let (open_failed_tx, open_failed_rx) = std::sync::mpsc::channel();
        let mut app = AperoApp {
            link,
            model: Model::default(),
            tr,
            settings,
            settings_path: opts.settings_path,
            notifications_path: opts.notifications_path.unwrap_or_else(crate::notify_settings::Settings::default_path),
            silent: Default::default(),
            dialog: Dialog::None,
            drafts: HashMap::new(),
            join_code: String::new(),
            room_name: String::new(),
            share_path: String::new(),
            invite_short: true,
            invite_ttl_secs: dialogs::SHORT_TTL_SECS,
            invite_once: true,
            copied: false,
            picked_tx,
            picked_rx,
            sound_page: false,
            check: Default::default(),
            my_name: ["USER", "LOGNAME", "USERNAME"].iter().find_map(|v| std::env::var(v).ok()).unwrap_or_default(),
            requested: HashSet::new(),
            name_edit: None,
            raises: None,
            open_room: opts.open_room,
            leaving_to_close: None,
            close_now: false,
            remember_close: false,
            chat_at_end: true,
            chat_seen: 0,
            focused_room: None,
            chat_size: egui::Vec2::ZERO,
            share_note: None,
            download_edit: None,
            pictures: Default::default(),
            stage: Default::default(),
            composing: None,
            channel_form: Default::default(),
            open_failed_tx,
            open_failed_rx,
        };
        if let Some(code) = opts.open_join {
            app.join_code = code;
            app.dialog = Dialog::Join;
        }
        app
    }

    /// Serves later launches of the window: their room or code opens here,
    /// and this window comes to the front.
    pub fn serve_later_launches(&mut self, listener: crate::instance::Listener, ctx: &egui::Context) {
        let waker = ctx.clone();
        self.raises = Some(listener.serve(move || waker.request_repaint()));
    }

    fn raised(&mut self, ctx: &egui::Context) {
        let Some(rx) = &self.raises else { return };
        let asked: Vec<_> = rx.try_iter().collect();
        for r in asked {
            if let Some(room) = r.room {
                self.open_room = Some(room);
            }
            if let Some(code) = r.join {
                if !code.is_empty() {
                    self.join_code = code;
                }
                self.dialog = Dialog::Join;
            }
            // Wayland lets no program take the focus: there the taskbar
            // shows that the window wants attention instead.
            ctx.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
            ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(egui::UserAttentionType::Informational));
        }
    }

    pub(crate) fn send(&self, c: Command) {
        self.link.send(c);
    }

    /// Opens a file or folder with the desktop's program, on a thread of
    /// its own (`open_path` may wait seconds for the program's answer); a
    /// failure is said in the window.
    pub(crate) fn open(&self, ctx: &egui::Context, path: PathBuf) {
        let (failed, ctx) = (self.open_failed_tx.clone(), ctx.clone());
        let words = self.tr.s("file-open-failed", "path", &path.display().to_string());
        std::thread::spawn(move || {
            if let Err(e) = open_path(&path) {
                tracing::info!("cannot open {}: {e}", path.display());
                let _ = failed.send(words);
                ctx.request_repaint();
            }
        });
    }

    pub(crate) fn save_settings(&mut self, ctx: &egui::Context) {
        self.tr = Tr::new(self.settings.language.as_deref());
        self.settings.apply_theme(ctx);
        if let Some(p) = &self.settings_path {
            if let Err(e) = self.settings.save(p) {
                self.model.errors.push(e);
            }
        }
    }

    /// Folds in what the link sent, and asks for what the view now needs.
    fn take_updates(&mut self, ctx: &egui::Context) {
        self.raised(ctx);
        while let Some(u) = self.link.try_recv() {
            let Some(u) = stage::take(self, ctx, u) else { continue };
            if matches!(u, crate::link::Update::Online(_)) {
                self.requested.clear();
                if self.sound_page {
                    self.send(Command::Devices);
                }
            }
            self.model.apply(u);
        }
        if self.model.connection != Connection::Online {
            return;
        }
        // Escape or a click outside closes Settings without its button.
        if !self.sound_page && self.dialog != Dialog::Settings {
            self.stop_checking();
        }
        if let Some(r) = self.open_room.take() {
            // By id or by name, as the tray and the CLI accept.
            let id = self.model.rooms.iter().find(|x| x.id == r || x.name == r).map(|x| x.id.clone());
            self.model.select(id.or(Some(r)));
        }
        if self.model.entered.take().is_some() && self.dialog == Dialog::Join {
            self.dialog = Dialog::None;
            self.join_code.clear();
        }
        if self.model.selected.is_none() && self.model.rooms.len() == 1 {
            self.model.select(Some(self.model.rooms[0].id.clone()));
        }
        // Every room's chat is loaded, the open one first: after a
        // reconnection, what arrived meanwhile shows in the unread counts.
        if self.model.connection == Connection::Online {
            let open = self.model.selected.clone();
            let rooms: Vec<String> = open.into_iter().chain(self.model.rooms.iter().map(|r| r.id.clone())).collect();
            for room in rooms {
                let loaded = self.model.chats.get(&room).is_some_and(|c| c.loaded);
                if !loaded && self.requested.insert(room.clone()) {
                    self.send(Command::OpenRoom(room));
                }
            }
        }
        self.model.errors.extend(self.open_failed_rx.try_iter());
        self.fetch_small_pictures();
        stage::poll(self, ctx);
        self.pasted(ctx);
        // New messages while the window is in the background: the taskbar
        // asks for attention. Desktop notifications are the tray's, so
        // nobody is told twice.
        if self.model.fresh_messages > 0 {
            self.model.fresh_messages = 0;
            if ctx.input(|i| i.viewport().focused) == Some(false) {
                ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(egui::UserAttentionType::Informational));
            }
        }
        while let Ok((room, picked)) = self.picked_rx.try_recv() {
            match picked {
                Ok(paths) => {
                    for path in paths {
                        self.send(Command::Offer { room: room.clone(), path, channel: self.model.channels.say_in(&room) });
                    }
                    if self.dialog == Dialog::Share(room) {
                        self.dialog = Dialog::None;
                    }
                }
                Err(e) => {
                    tracing::info!("no file chooser: {e}");
                    self.share_note = Some(self.tr.t("share-no-chooser"));
                }
            }
        }
        // Files dropped onto the window are offered in the open room.
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().filter_map(|f| f.path.clone()).collect());
        if let Some(room) = self.model.selected.clone() {
            for path in dropped {
                self.send(Command::Offer { room: room.clone(), path, channel: self.model.channels.say_in(&room) });
            }
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui, narrow: bool) {
        let online = self.model.connection == Connection::Online && !self.sound_page;
        ui.horizontal(|ui| {
            ui.heading(self.tr.t("app-title"));
            if narrow && online {
                rooms::menu(self, ui);
            }
            if let Some(s) = self.model.status.as_ref().filter(|_| !narrow) {
                ui.label(self.tr.s("connected-as", "name", &s.name));
            }
            if !online {
                return;
            }
            // Right-aligned, but laid out (and so tabbed through) left to right.
            let words = self.tr.t("settings");
            let font = egui::TextStyle::Button.resolve(ui.style());
            let text_w = ui.painter().layout_no_wrap(words.clone(), font, Color32::WHITE).size().x;
            let button_w = text_w + 2.0 * ui.spacing().button_padding.x;
            ui.add_space((ui.available_width() - button_w).max(0.0));
            if ui.button(words).clicked() {
                self.send(Command::Devices);
                self.silent = crate::notify_settings::Settings::load(&self.notifications_path);
                self.dialog = Dialog::Settings;
            }
        });
    }

    fn offline(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() / 3.0);
            match &self.model.connection {
                Connection::Starting => {
                    ui.heading(self.tr.t("offline-starting"));
                    ui.spinner();
                }
                Connection::Offline(why) => {
                    ui.heading(self.tr.t("offline-not-running"));
                    ui.label(self.tr.t("offline-retrying"));
                    if ui.button(RichText::new(self.tr.t("offline-start")).heading()).clicked() {
                        self.send(Command::Start);
                    }
                    // The technical reason, for whoever helps: folded away.
                    ui.add_space(12.0);
                    egui::CollapsingHeader::new(self.tr.t("offline-details")).show(ui, |ui| {
                        ui.label(RichText::new(why).weak().small());
                    });
                }
                Connection::Welcome => {
                    ui.heading(self.tr.t("welcome-title"));
                    ui.label(self.tr.t("welcome-intro"));
                    ui.add_space(12.0);
                    ui.allocate_ui(egui::vec2(360.0, 80.0), |ui| {
                        let l = ui.label(self.tr.t("welcome-name"));
                        let edit = ui.add(egui::TextEdit::singleline(&mut self.my_name).desired_width(320.0)).labelled_by(l.id);
                        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        let name = self.my_name.trim().to_string();
                        let go = ui.add_enabled(!name.is_empty(), egui::Button::new(self.tr.t("welcome-continue"))).clicked();
                        if (go || enter) && !name.is_empty() {
                            self.sound_page = true;
                            self.send(Command::StartAs(name));
                        }
                    });
                }
                Connection::Online => {}
            }
        });
    }

    fn errors(&mut self, ui: &mut egui::Ui) {
        let mut dismiss = None;
        for (i, e) in self.model.errors.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.colored_label(Color32::from_rgb(0xd0, 0x40, 0x30), self.tr.s("error", "error", e));
                if ui.small_button(self.tr.t("dismiss")).clicked() {
                    dismiss = Some(i);
                }
            });
        }
        if let Some(i) = dismiss {
            self.model.errors.remove(i);
        }
    }
}

impl eframe::App for AperoApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.take_updates(ctx);
        self.closing(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        let width = ctx.content_rect().width();
        let shape = layout::Shape::of(width);
        egui::Panel::top("top").show(ui, |ui| {
            self.top_bar(ui, shape.rooms.is_none());
            self.errors(ui);
            channels::notices(self, ui);
            stage::banner(self, ui);
        });
        if self.model.connection == Connection::Online && self.sound_page {
            egui::CentralPanel::default().show(ui, |ui| sound::page(self, ui));
        } else if self.model.connection == Connection::Online {
            if let Some(range) = shape.rooms {
                egui::Panel::left("rooms")
                    .resizable(true)
                    .default_size(range.max.min(230.0))
                    .size_range(range)
                    .show(ui, |ui| rooms::show(self, ui));
            }
            if let Some(room) = self.model.selected.clone() {
                match shape.call {
                    Some(range) => {
                        egui::Panel::right("call")
                            .resizable(true)
                            .default_size(range.max.min(260.0))
                            .size_range(range)
                            .show(ui, |ui| call::show(self, ui, &room));
                    }
                    None => {
                        egui::Panel::top("call-bar").show(ui, |ui| call::bar(self, ui, &room));
                    }
                }
                stage::panel(self, ui, &room);
                egui::CentralPanel::default().show(ui, |ui| chat::show(self, ui, &room));
            } else {
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.vertical_centered(|ui| {
                        ui.add_space(40.0);
                        if self.model.rooms.is_empty() {
                            // The first thing to do, in big (and only here).
                            ui.label(self.tr.t("no-rooms"));
                            ui.add_space(12.0);
                            if ui.add(egui::Button::new(RichText::new(self.tr.t("room-create")).heading())).clicked() {
                                self.room_name.clear();
                                self.dialog = Dialog::CreateRoom;
                            }
                            ui.add_space(8.0);
                            if ui.add(egui::Button::new(RichText::new(self.tr.t("join")).heading())).clicked() {
                                self.dialog = Dialog::Join;
                            }
                        } else {
                            ui.label(self.tr.t("pick-room"));
                        }
                    });
                });
            }
        } else {
            egui::CentralPanel::default().show(ui, |ui| self.offline(ui));
        }
        dialogs::show(self, &ctx);
        focus_ring(&ctx);
    }
}
