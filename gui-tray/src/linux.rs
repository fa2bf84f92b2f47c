//! The Linux (and BSD) front-end: a StatusNotifierItem over D-Bus through
//! `ksni`. The desktop's panel draws the icon and the menu from what we
//! publish (`com.canonical.dbusmenu`); clicks come back as D-Bus calls,
//! which become [`Action`]s on the app's channel.

use ksni::menu::{CheckmarkItem, StandardItem, SubMenu};
use ksni::TrayMethods;
use tokio::sync::{mpsc, watch};

use crate::icon;
use crate::menu::{Action, Item, View};

struct Sni {
    view: View,
    actions: mpsc::Sender<Action>,
}

impl Sni {
    fn send(&self, action: Action) {
        // Full only if the app is stuck on the daemon; a dropped click is
        // better than a frozen D-Bus service.
        if let Err(e) = self.actions.try_send(action) {
            tracing::warn!("menu click dropped: {e}");
        }
    }
}

fn convert(items: &[Item]) -> Vec<ksni::MenuItem<Sni>> {
    items
        .iter()
        .map(|item| match item {
            Item::Label(label) => StandardItem { label: label.clone(), enabled: false, ..Default::default() }.into(),
            Item::Button { label, enabled, action } => {
                let action = action.clone();
                StandardItem {
                    label: label.clone(),
                    enabled: *enabled,
                    activate: Box::new(move |t: &mut Sni| t.send(action.clone())),
                    ..Default::default()
                }
                .into()
            }
            Item::Check { label, checked, action } => {
                let action = action.clone();
                CheckmarkItem {
                    label: label.clone(),
                    checked: *checked,
                    activate: Box::new(move |t: &mut Sni| t.send(action.clone())),
                    ..Default::default()
                }
                .into()
            }
            Item::Submenu { label, items } => SubMenu { label: label.clone(), submenu: convert(items), ..Default::default() }.into(),
            Item::Separator => ksni::MenuItem::Separator,
        })
        .collect()
}

impl ksni::Tray for Sni {
    // A left click opens the menu too: there is no window to show.
    const MENU_ON_ACTIVATE: bool = true;

    fn id(&self) -> String {
        "apero".into()
    }

    fn title(&self) -> String {
        "apero".into()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::Communications
    }

    fn status(&self) -> ksni::Status {
        match self.view.icon {
            crate::state::IconState::Speaking => ksni::Status::NeedsAttention,
            _ => ksni::Status::Active,
        }
    }

    fn icon_name(&self) -> String {
        self.view.icon.theme_name().into()
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![ksni::Icon { width: icon::SIZE as i32, height: icon::SIZE as i32, data: icon::argb(self.view.icon) }]
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip { title: "apero".into(), description: self.view.tooltip.clone(), ..Default::default() }
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        convert(&self.view.menu)
    }
}

/// Publishes the item and keeps it in step with the app's view. Returns
/// when the app is gone (its view closed), or the D-Bus service cannot run.
pub async fn run(mut view: watch::Receiver<View>, actions: mpsc::Sender<Action>) -> anyhow::Result<()> {
    let first = view.borrow_and_update().clone();
    // Panels often start after the programs of a session: without a
    // watcher yet, the item waits for one instead of failing.
    let handle = Sni { view: first, actions }.assume_sni_available(true).spawn().await?;
    while view.changed().await.is_ok() {
        let next = view.borrow_and_update().clone();
        if handle.update(move |t| t.view = next).await.is_none() {
            anyhow::bail!("the tray's D-Bus service stopped");
        }
    }
    // The app ended (Quit): stop the service in order, so that the click
    // that asked for it still gets its answer before the process exits.
    handle.shutdown().await;
    Ok(())
}
