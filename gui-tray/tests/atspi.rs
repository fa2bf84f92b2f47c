//! The real window as a screen reader sees it: the real `apero-app` on a
//! private X server (Xvfb, Mesa's software OpenGL), a private session bus
//! with the AT-SPI bus launcher on it saying a screen reader runs, and
//! tests/a11y/atspi_tree.py reading the window's accessibility tree over
//! AT-SPI as Orca does. The window shows a room whose call bob is in (two
//! real daemons on loopback): the "Join with a code" button, the message
//! field and the call's Mute button must be there, by role and name.
//!
//! AccessKit's Linux adapter (accesskit_unix) builds its tree only while
//! `org.a11y.Status.ScreenReaderEnabled` is true on the session bus's
//! `org.a11y.Bus` (it watches that property, not `IsEnabled`); the launcher
//! starts with it true (`--screen-reader=1`), as when Orca runs.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// AT-SPI is the freedesktop.org accessibility bus: Linux and the BSDs.
#![cfg(all(unix, not(target_os = "macos")))]

mod daemons;
#[path = "../../tests/common/prereq.rs"]
mod prereq;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemons::{wait_until, Daemon};

/// What the screen reader must find: (AT-SPI role, name), as Orca speaks them.
const EXPECTED: [(&str, &str); 3] = [("push button", "Join with a code"), ("entry", "Message"), ("push button", "Mute")];

const LAUNCHERS: [&str; 3] =
    ["/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher", "/usr/lib/x86_64-linux-gnu/at-spi-bus-launcher"];

/// Debian's python3-gi works with the system's python only (not pyenv's).
const PYTHONS: [&str; 2] = ["/usr/bin/python3", "python3"];

struct Tools {
    launcher: PathBuf,
    python: String,
}

/// Everything the test needs, or a loud skip (a failure under CI).
fn tools() -> Option<Tools> {
    const APT: &str = "scripts/test.sh installs them: apt-get install dbus at-spi2-core xvfb python3-gi gir1.2-atspi-2.0 python3-pyatspi";
    for tool in ["dbus-daemon", "Xvfb"] {
        if prereq::which(tool).is_none() {
            prereq::skip(tool, &format!("{tool} is not installed; {APT}"));
            return None;
        }
    }
    let Some(launcher) = LAUNCHERS.into_iter().map(PathBuf::from).find(|p| p.exists()).or_else(|| prereq::which("at-spi-bus-launcher"))
    else {
        prereq::skip("at-spi-bus-launcher", &format!("it runs the accessibility bus; {APT}"));
        return None;
    };
    let atspi = "import gi; gi.require_version('Atspi', '2.0'); from gi.repository import Atspi";
    let works = |py: &&str| Command::new(py).args(["-c", atspi]).output().is_ok_and(|o| o.status.success());
    let Some(python) = PYTHONS.into_iter().find(works) else {
        prereq::skip("python3 with libatspi's bindings", &format!("the screen reader's side is a python script; {APT}"));
        return None;
    };
    Some(Tools { launcher, python: python.to_string() })
}

/// A process stopped and reaped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` and reads the first line it prints (an address, a display).
fn spawn_and_read_line(mut cmd: Command, what: &str) -> (Proc, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(!line.trim().is_empty(), "{what} printed nothing");
    (Proc(child), line.trim().to_string())
}

/// A private session bus and, on it, the AT-SPI bus launcher, which starts
/// the accessibility bus (at-spi2-registryd comes by D-Bus activation).
struct Session {
    address: String,
    bus: Proc,
    launcher: Child,
}

impl Session {
    fn start(launcher: &Path, run: &Path, display: &str) -> Session {
        let mut cmd = Command::new("dbus-daemon");
        cmd.args(["--session", "--nofork", "--print-address=1"]);
        let (bus, address) = spawn_and_read_line(cmd, "dbus-daemon");
        let launcher = Command::new(launcher)
            .args(["--launch-immediately", "--a11y=1", "--screen-reader=1"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("DISPLAY", display)
            // Its bus socket goes under $XDG_RUNTIME_DIR/at-spi: a private
            // one, not the desktop's; and no GSettings written to the
            // person's dconf.
            .env("XDG_RUNTIME_DIR", run)
            .env("GSETTINGS_BACKEND", "memory")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start at-spi-bus-launcher");
        let s = Session { address, bus, launcher };
        let conn = zbus::blocking::connection::Builder::address(s.address.as_str()).unwrap().build().unwrap();
        wait_until("the AT-SPI launcher to say a screen reader runs", Duration::from_secs(20), || {
            let reply = conn
                .call_method(
                    Some("org.a11y.Bus"),
                    "/org/a11y/bus",
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &("org.a11y.Status", "ScreenReaderEnabled"),
                )
                .ok()?;
            let v: zbus::zvariant::OwnedValue = reply.body().deserialize().ok()?;
            bool::try_from(v).ok().filter(|on| *on)
        });
        s
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The launcher stops its accessibility bus when the session bus
        // goes (killed, it would leave that bus running).
        let _ = self.bus.0.kill();
        let _ = self.bus.0.wait();
        let start = Instant::now();
        while self.launcher.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}

#[test]
fn a_screen_reader_finds_the_join_button_the_message_field_and_mute() {
    let Some(tools) = tools() else { return };
    let alice = Daemon::start("alice", &[]);
    let bob = Daemon::start("bob", &[]);
    let room = alice.json(&["room", "create", "apéro"])["id"].as_str().unwrap().to_string();
    let code = alice.json(&["invite", &room])["code"].as_str().unwrap().to_string();
    bob.json(&["join", &code]);
    bob.json(&["call", "join", &room]);
    alice.json(&["call", "join", &room]);

    // -displayfd: Xvfb picks a free display and prints its number.
    let mut cmd = Command::new("Xvfb");
    cmd.args(["-displayfd", "1", "-screen", "0", "1280x860x24", "-nolisten", "tcp"]);
    let (_x, number) = spawn_and_read_line(cmd, "Xvfb");
    let display = format!(":{number}");
    let run = tempfile::Builder::new().prefix("apero-a11y-").tempdir().unwrap();
    let session = Session::start(&tools.launcher, run.path(), &display);

    let log = run.path().join("apero-app.log");
    let file = std::fs::File::create(&log).unwrap();
    let env = |cmd: &mut Command| {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &session.address)
            .env("DISPLAY", &display)
            .env("XDG_RUNTIME_DIR", run.path())
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("AT_SPI_BUS_ADDRESS");
    };
    let mut app = Command::new(env!("CARGO_BIN_EXE_apero-app"));
    app.arg("--home").arg(bob.home()).args(["--no-start", "--lang", "en", "--room", &room]);
    env(&mut app);
    // Mesa's software OpenGL on Xvfb; the window's own settings in a scratch place.
    app.env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("XDG_CONFIG_HOME", run.path().join("config"))
        .env("RUST_LOG", "info,zbus=warn")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let mut app = Proc(app.spawn().expect("start apero-app"));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/a11y/atspi_tree.py");
    let mut reader = Command::new(&tools.python);
    reader.arg(&script).args(["--app", "apero-app", "--timeout", "90"]);
    for (role, name) in EXPECTED {
        reader.arg("--expect").arg(format!("{role}={name}"));
    }
    env(&mut reader);
    let out = reader.output().expect("run atspi_tree.py");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let alive = app.0.try_wait().unwrap().is_none();
    let app_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success() && alive,
        "a screen reader does not find {EXPECTED:?} in the window (apero-app {}):\n{said}\n----- apero-app's log -----\n{}",
        if alive { "running" } else { "exited" },
        app_log()
    );
    // Seen with --nocapture: what Orca would read.
    eprintln!("{said}");
}
