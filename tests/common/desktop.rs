//! A pretend desktop on a private session D-Bus: its own `dbus-daemon`, a
//! StatusNotifierWatcher that records the items registering with it, and a
//! notification service that records every Notify call. Plus the host's
//! side of the item: read its properties and menu, click menu entries.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use zbus::zvariant::{OwnedValue, Value};

/// A dbusmenu layout node: id, properties, children.
type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub summary: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    /// For a checkmark entry, whether it is checked.
    pub checked: Option<bool>,
    /// Labels of the submenus above it, outermost first.
    pub path: Vec<String>,
}

#[derive(Default)]
struct Recorded {
    /// (sender's unique name, the service string it registered)
    items: Vec<(String, String)>,
    notes: Vec<Note>,
}

struct Watcher(Arc<Mutex<Recorded>>);

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: &str, #[zbus(header)] header: zbus::message::Header<'_>) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        self.0.lock().unwrap().items.push((sender, service.to_string()));
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.0.lock().unwrap().items.iter().map(|(_, s)| s.clone()).collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

struct Notifications(Arc<Mutex<Recorded>>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: &str,
        _replaces_id: u32,
        _app_icon: &str,
        summary: &str,
        body: &str,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut r = self.0.lock().unwrap();
        r.notes.push(Note { summary: summary.into(), body: body.into() });
        r.notes.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("apero-test".into(), "apero".into(), "1".into(), "1.2".into())
    }

    fn close_notification(&self, _id: u32) {}
}

pub struct Desktop {
    pub address: String,
    bus: Child,
    rt: tokio::runtime::Runtime,
    conn: zbus::Connection,
    recorded: Arc<Mutex<Recorded>>,
}

impl Desktop {
    /// `None` when no session bus can be started here (see
    /// [`crate::common::skip`]: a failure under CI).
    pub fn start() -> Option<Desktop> {
        let d = Desktop::bus_only()?;
        d.serve();
        Some(d)
    }

    /// A session bus with nothing on it yet, as at the start of a login
    /// before the panel is up; [`Desktop::serve`] brings the panel.
    pub fn bus_only() -> Option<Desktop> {
        let spawned = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut bus = match spawned {
            Ok(c) => c,
            Err(e) => {
                crate::common::skip("dbus-daemon", &format!("it would not start ({e}); it is in the `dbus` package"));
                return None;
            }
        };
        let mut line = String::new();
        let read = BufReader::new(bus.stdout.take().expect("stdout")).read_line(&mut line);
        let address = line.trim().to_string();
        if read.is_err() || address.is_empty() {
            let _ = bus.kill();
            let _ = bus.wait();
            crate::common::skip("a session bus", "dbus-daemon printed no address");
            return None;
        }
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let conn = rt.block_on(async { zbus::connection::Builder::address(address.as_str())?.build().await }).expect("connect to the bus");
        Some(Desktop { address, bus, rt, conn, recorded })
    }

    /// Serves and names the watcher and the notification service.
    pub fn serve(&self) {
        self.rt
            .block_on(async {
                let server = self.conn.object_server();
                server.at("/StatusNotifierWatcher", Watcher(self.recorded.clone())).await?;
                server.at("/org/freedesktop/Notifications", Notifications(self.recorded.clone())).await?;
                self.conn.request_name("org.kde.StatusNotifierWatcher").await?;
                self.conn.request_name("org.freedesktop.Notifications").await
            })
            .expect("serve the watcher and the notification service");
    }

    /// Where the registered item lives: (bus name, object path).
    pub fn item(&self) -> Option<(String, String)> {
        let r = self.recorded.lock().unwrap();
        let (sender, service) = r.items.last()?.clone();
        Some(if service.starts_with('/') { (sender, service) } else { (service, "/StatusNotifierItem".into()) })
    }

    pub fn notes(&self) -> Vec<Note> {
        self.recorded.lock().unwrap().notes.clone()
    }

    fn call<B, R>(&self, dest: &str, path: &str, iface: &str, method: &str, body: &B) -> zbus::Result<R>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
    {
        self.rt.block_on(async {
            let reply = self.conn.call_method(Some(dest), path, Some(iface), method, body).await?;
            reply.body().deserialize::<R>()
        })
    }

    /// A property of the registered StatusNotifierItem.
    pub fn item_property(&self, name: &str) -> Option<OwnedValue> {
        let (dest, path) = self.item()?;
        self.call(&dest, &path, "org.freedesktop.DBus.Properties", "Get", &("org.kde.StatusNotifierItem", name)).ok()
    }

    pub fn icon_name(&self) -> Option<String> {
        self.item_property("IconName").and_then(|v| String::try_from(v).ok())
    }

    fn menu_path(&self) -> Option<(String, String)> {
        let (dest, _) = self.item()?;
        let path = self.item_property("Menu").and_then(|v| zbus::zvariant::OwnedObjectPath::try_from(v).ok())?;
        Some((dest, path.to_string()))
    }

    /// The whole menu, flattened (`com.canonical.dbusmenu.GetLayout`).
    pub fn menu(&self) -> Vec<MenuEntry> {
        let Some((dest, path)) = self.menu_path() else { return Vec::new() };
        let reply: zbus::Result<(u32, Layout)> =
            self.call(&dest, &path, "com.canonical.dbusmenu", "GetLayout", &(0i32, -1i32, Vec::<&str>::new()));
        let Ok((_, (_, _, children))) = reply else { return Vec::new() };
        let mut out = Vec::new();
        for c in &children {
            flatten(c, &[], &mut out);
        }
        out
    }

    /// Clicks the first entry with this label (under a submenu whose label
    /// starts with `under`, if given).
    pub fn click(&self, label: &str, under: Option<&str>) -> bool {
        let Some((dest, path)) = self.menu_path() else { return false };
        let Some(entry) = self
            .menu()
            .into_iter()
            .find(|e| e.label == label && e.enabled && under.is_none_or(|u| e.path.iter().any(|p| p.starts_with(u))))
        else {
            return false;
        };
        let r: zbus::Result<()> =
            self.call(&dest, &path, "com.canonical.dbusmenu", "Event", &(entry.id, "clicked", Value::from(0i32), 0u32));
        r.is_ok()
    }

    /// A dump of the menu's layout, for failure messages and the docs.
    pub fn menu_text(&self) -> String {
        let entry = |e: &MenuEntry| {
            let check = match e.checked {
                Some(true) => "[x] ",
                Some(false) => "[ ] ",
                None => "",
            };
            format!("{}{check}{}{}\n", "  ".repeat(e.path.len()), e.label, if e.enabled { "" } else { "  (disabled)" })
        };
        self.menu().iter().map(entry).collect()
    }
}

/// One `(ia{sv}av)` layout node and its children.
fn flatten(v: &Value, path: &[String], out: &mut Vec<MenuEntry>) {
    let v = match v {
        Value::Value(inner) => inner.as_ref(),
        other => other,
    };
    let Value::Structure(s) = v else { return };
    let f = s.fields();
    let (Some(Value::I32(id)), Some(Value::Dict(props)), Some(Value::Array(children))) = (f.first(), f.get(1), f.get(2)) else { return };
    let prop = |k: &str| {
        props.iter().find(|(key, _)| matches!(key, Value::Str(s) if s.as_str() == k)).map(|(_, v)| match v {
            Value::Value(inner) => inner.as_ref(),
            other => other,
        })
    };
    let text = |k: &str| match prop(k) {
        Some(Value::Str(s)) => s.to_string(),
        _ => String::new(),
    };
    let label = text("label");
    let enabled = !matches!(prop("enabled"), Some(Value::Bool(false)));
    let kind = text("type");
    let checked = (text("toggle-type") == "checkmark").then(|| matches!(prop("toggle-state"), Some(Value::I32(1))));
    if kind != "separator" {
        out.push(MenuEntry { id: *id, label: label.clone(), enabled, checked, path: path.to_vec() });
    }
    let mut below = path.to_vec();
    below.push(label);
    for c in children.iter() {
        flatten(c, &below, out);
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
