//! The Windows and macOS front-end: `tray-icon` (Win32 `Shell_NotifyIcon`,
//! AppKit `NSStatusItem`) driven by a `tao` event loop, which both
//! platforms require on the main thread. It draws the same [`View`] as the
//! Linux front-end; menu item ids are indexes into the actions of the view
//! last drawn.
//!
//! Not built on the Linux machines the project is developed and tested on:
//! it is written against tray-icon 0.21's and tao 0.34's documented APIs.

use std::collections::HashMap;

use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tokio::sync::{mpsc, watch};
use tray_icon::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use crate::icon;
use crate::menu::{Action, Item, View};

enum UserEvent {
    View(View),
    Menu(MenuEvent),
    Quit,
}

/// Menu entries built from a view, and which action each id stands for.
struct Built {
    menu: Menu,
    actions: HashMap<String, Action>,
}

fn build(view: &View) -> anyhow::Result<Built> {
    let menu = Menu::new();
    let mut actions = HashMap::new();
    for item in entries(&view.menu, &mut actions)? {
        menu.append(item.as_ref())?;
    }
    Ok(Built { menu, actions })
}

fn entries(items: &[Item], actions: &mut HashMap<String, Action>) -> anyhow::Result<Vec<Box<dyn IsMenuItem>>> {
    let mut out: Vec<Box<dyn IsMenuItem>> = Vec::new();
    for item in items {
        let id = actions.len().to_string();
        match item {
            Item::Label(label) => out.push(Box::new(MenuItem::new(label, false, None))),
            Item::Button { label, enabled, action } => {
                actions.insert(id.clone(), action.clone());
                out.push(Box::new(MenuItem::with_id(id, label, *enabled, None)));
            }
            Item::Check { label, checked, action } => {
                actions.insert(id.clone(), action.clone());
                out.push(Box::new(CheckMenuItem::with_id(id, label, true, *checked, None)));
            }
            Item::Submenu { label, items } => {
                let sub = Submenu::new(label, true);
                for child in entries(items, actions)? {
                    sub.append(child.as_ref())?;
                }
                out.push(Box::new(sub));
            }
            Item::Separator => out.push(Box::new(PredefinedMenuItem::separator())),
        }
    }
    Ok(out)
}

fn pixmap(view: &View) -> anyhow::Result<Icon> {
    Ok(Icon::from_rgba(icon::rgba(view.icon), icon::SIZE, icon::SIZE)?)
}

/// Runs the platform event loop on this (the main) thread until the app quits.
pub fn run(rt: tokio::runtime::Handle, mut view: watch::Receiver<View>, actions: mpsc::Sender<Action>) -> anyhow::Result<()> {
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let menu_proxy = event_loop.create_proxy();
    MenuEvent::set_event_handler(Some(move |e| {
        let _ = menu_proxy.send_event(UserEvent::Menu(e));
    }));
    let first = view.borrow_and_update().clone();
    let view_proxy = event_loop.create_proxy();
    rt.spawn(async move {
        while view.changed().await.is_ok() {
            let next = view.borrow_and_update().clone();
            if view_proxy.send_event(UserEvent::View(next)).is_err() {
                return;
            }
        }
        // The app dropped its sender: it quit.
        let _ = view_proxy.send_event(UserEvent::Quit);
    });
    let mut tray: Option<(TrayIcon, Built)> = None;
    event_loop.run(move |event, _, flow| {
        *flow = ControlFlow::Wait;
        let result: anyhow::Result<()> = (|| {
            match event {
                // macOS wants the status item created once the loop runs.
                Event::NewEvents(StartCause::Init) => {
                    let built = build(&first)?;
                    let icon = TrayIconBuilder::new()
                        .with_menu(Box::new(built.menu.clone()))
                        .with_tooltip(&first.tooltip)
                        .with_icon(pixmap(&first)?)
                        .build()?;
                    tray = Some((icon, built));
                }
                Event::UserEvent(UserEvent::View(v)) => {
                    if let Some((icon, built)) = &mut tray {
                        let next = build(&v)?;
                        icon.set_menu(Some(Box::new(next.menu.clone())));
                        icon.set_tooltip(Some(&v.tooltip))?;
                        icon.set_icon(Some(pixmap(&v)?))?;
                        *built = next;
                    }
                }
                Event::UserEvent(UserEvent::Menu(e)) => {
                    if let Some(action) = tray.as_ref().and_then(|(_, b)| b.actions.get(e.id.as_ref())) {
                        let _ = actions.try_send(action.clone());
                    }
                }
                Event::UserEvent(UserEvent::Quit) => *flow = ControlFlow::Exit,
                _ => {}
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!("tray: {e:#}");
        }
    })
}
