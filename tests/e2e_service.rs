//! `apero service install|status|uninstall` in a throwaway HOME: the unit
//! passes `systemd-analyze verify`, the tray gets an autostart entry, and
//! uninstall leaves the tree exactly as it found it.
//!
//! The commands run with no reachable systemd user manager (an empty
//! XDG_RUNTIME_DIR and no session bus), so a developer's real session is
//! never enabled or started by a test.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use common::{apero_bin, aperod_bin, tray_bin, which};

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::Builder::new().prefix("apero-service-").tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        Home { dir }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> PathBuf {
        self.home().join("cfg")
    }

    fn apero(&self, args: &[&str]) -> Output {
        Command::new(apero_bin())
            .args(args)
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.config())
            .env("XDG_RUNTIME_DIR", self.home().join("run"))
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/apero-test-bus")
            .env_remove("APERO_HOME")
            .output()
            .expect("run apero")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.apero(&full);
        assert!(
            out.status.success(),
            "apero {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("apero {args:?}: no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Every path under HOME (but the runtime dir) with its contents.
    fn tree(&self) -> BTreeMap<PathBuf, Option<String>> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Option<String>>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                if p.is_dir() {
                    out.insert(rel, None);
                    walk(&p, root, out);
                } else {
                    out.insert(rel, Some(std::fs::read_to_string(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.home(), self.home(), &mut out);
        out.remove(Path::new("run"));
        out
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|s| s.as_str().expect("string").to_string()).collect()
}

fn canonical(p: PathBuf) -> String {
    p.canonicalize().expect("binary exists").display().to_string()
}

#[test]
fn install_writes_a_valid_unit_and_autostart_and_uninstall_undoes_it() {
    let h = Home::new();
    // Something of the user's own in a directory install also writes to: it must survive.
    std::fs::create_dir_all(h.config().join("autostart")).unwrap();
    std::fs::write(h.config().join("autostart").join("mine.desktop"), "[Desktop Entry]\nName=mine\n").unwrap();
    let before = h.tree();
    let tray = canonical(tray_bin());
    let aperod = canonical(aperod_bin());

    // --dry-run shows the files and writes nothing.
    let dry = h.json(&["service", "install", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    let planned: Vec<&str> = dry["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(planned.len(), 3, "unit, tray and daemon autostart (no systemd session here): {planned:?}");
    assert_eq!(h.tree(), before, "--dry-run wrote something");

    let out = h.json(&["service", "install"]);
    let written = strings(&out["written"]);
    let unit = h.config().join("systemd/user/aperod.service");
    let tray_entry = h.config().join("autostart/apero-tray.desktop");
    let daemon_entry = h.config().join("autostart/aperod.desktop");
    for p in [&unit, &tray_entry, &daemon_entry] {
        assert!(written.contains(&p.display().to_string()), "{} not in {written:?}", p.display());
    }
    // Nothing could be enabled, and install says so instead of failing.
    assert!(strings(&out["warnings"]).iter().any(|w| w.contains("no systemd user session")), "{out}");
    assert!(out["enabled"].as_array().unwrap().is_empty());

    let unit_text = std::fs::read_to_string(&unit).unwrap();
    assert!(unit_text.contains(&format!("\nExecStart={aperod} --foreground\n")), "{unit_text}");
    let tray_text = std::fs::read_to_string(&tray_entry).unwrap();
    assert!(tray_text.contains(&format!("\nExec={tray}\n")), "{tray_text}");
    assert!(tray_text.contains("\nType=Application\n"));
    assert!(std::fs::read_to_string(&daemon_entry).unwrap().contains(" up\n"));

    match which("systemd-analyze") {
        Some(analyze) => {
            // Without a user manager `--user verify` cannot run; verifying the
            // file itself checks its syntax, its settings and that ExecStart exists.
            let v = Command::new(analyze).arg("verify").arg(&unit).output().unwrap();
            let err = String::from_utf8_lossy(&v.stderr);
            assert!(v.status.success() && !err.contains("aperod.service"), "systemd-analyze verify refused the unit:\n{err}\n{unit_text}");
        }
        None => common::skip("systemd-analyze", "it verifies the unit; the rest of the test runs (it is in the `systemd` package)"),
    }

    let st = h.json(&["service", "status"]);
    assert_eq!(st["installed"], true);
    assert!(st["files"].as_array().unwrap().iter().all(|f| f["present"] == true && f["current"] == true), "{st}");
    assert_eq!(st["daemon_running"], false);

    // Installing twice is harmless and records nothing new.
    h.json(&["service", "install"]);

    let dry = h.json(&["service", "uninstall", "--dry-run"]);
    assert_eq!(strings(&dry["removed"]).len(), 3, "{dry}");
    assert!(h.config().join("apero/service-install.json").exists(), "--dry-run removed something");

    let out = h.json(&["service", "uninstall"]);
    assert!(strings(&out["removed"]).contains(&unit.display().to_string()));
    assert_eq!(h.tree(), before, "uninstall left something behind or removed something of the user's");
    assert_eq!(h.json(&["service", "status"])["installed"], false);
}

#[test]
fn install_never_overwrites_a_file_it_did_not_write() {
    let h = Home::new();
    let unit = h.config().join("systemd/user/aperod.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Service]\nExecStart=/usr/bin/my-own-aperod\n").unwrap();
    let out = h.apero(&["service", "install"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not written by apero"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&unit).unwrap().contains("my-own-aperod"));
    // And uninstall leaves it alone too.
    h.json(&["service", "uninstall"]);
    assert!(unit.exists());
}
