//! `apero service install|uninstall|status`: start apero at login.
//!
//! Install writes files (see `service_files`) and then asks the platform to
//! enable them; writing never depends on enabling, so a container or a system
//! without a systemd user session still gets the files and a sentence saying
//! what could not be enabled. A manifest records every file and directory the
//! install created, so uninstall removes exactly those and nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use super::service_files::{self as files, Entry, Layout, MARKER};
use crate::output::{self, outln};
use crate::Ctx;
use apero_control::find_program;

#[derive(Subcommand, Debug)]
pub enum ServiceCommand {
    /// Start the daemon and the tray at login (systemd user unit and XDG
    /// autostart on Linux, launch agents on macOS, the Run key on Windows).
    Install {
        /// Print the files that would be written, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Undo `install`: disable and remove exactly the files it wrote (the
    /// running daemon keeps running; stop it with `apero down`).
    Uninstall {
        /// Print what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Say what is installed, whether it is enabled, and what is running.
    Status,
}

/// What an install created, kept in `$XDG_CONFIG_HOME/apero/`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: BTreeSet<PathBuf>,
    /// Directories that did not exist before; removed when empty again.
    dirs: BTreeSet<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    dry_run: bool,
    written: Vec<PathBuf>,
    removed: Vec<PathBuf>,
    enabled: Vec<String>,
    /// What could not be done; none of it is an error.
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<Entry>,
}

pub async fn run(ctx: &Ctx, cmd: ServiceCommand) -> anyhow::Result<()> {
    let layout = layout(ctx)?;
    match cmd {
        ServiceCommand::Install { dry_run } => print_report(ctx, install(&layout, dry_run)?),
        ServiceCommand::Uninstall { dry_run } => print_report(ctx, uninstall(&layout, dry_run)?),
        ServiceCommand::Status => status(ctx, &layout).await,
    }
}

fn layout(ctx: &Ctx) -> anyhow::Result<Layout> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).context("HOME is not set")?;
    let config = apero_control::config_home();
    let apero_home = match &ctx.home {
        Some(h) => Some(std::path::absolute(h)?),
        None => None,
    };
    let apero = std::env::current_exe().and_then(|p| p.canonicalize()).unwrap_or_else(|_| find_program("apero"));
    Ok(Layout { config, home, aperod: find_program("aperod"), apero, tray: find_program("apero-tray"), apero_home })
}

fn entries(layout: &Layout) -> Vec<Entry> {
    if cfg!(target_os = "macos") {
        files::macos_entries(layout)
    } else if cfg!(windows) {
        // The Run key holds command lines, not files.
        Vec::new()
    } else {
        files::linux_entries(layout, systemd_session().is_ok())
    }
}

/// Whether a systemd user manager answers; the error says why not.
fn systemd_session() -> Result<(), String> {
    systemctl(&["show-environment"]).map(|_| ())
}

fn systemctl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("systemctl").arg("--user").args(args).output().map_err(|e| format!("cannot run systemctl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(text)
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(if err.is_empty() { text } else { err })
    }
}

fn read_manifest(layout: &Layout) -> Manifest {
    std::fs::read(layout.manifest_path()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn install(layout: &Layout, dry_run: bool) -> anyhow::Result<Report> {
    let entries = entries(layout);
    let mut report =
        Report { dry_run, written: Vec::new(), removed: Vec::new(), enabled: Vec::new(), warnings: Vec::new(), files: Vec::new() };
    for bin in [&layout.aperod, &layout.tray] {
        if !bin.is_file() {
            report
                .warnings
                .push(format!("{} does not exist yet; install it there (see the README) before you log in again", bin.display()));
        }
    }
    if dry_run {
        report.files = entries;
        return Ok(report);
    }
    for e in &entries {
        if let Ok(old) = std::fs::read_to_string(&e.path) {
            if !old.contains(MARKER) {
                bail!("{} exists and was not written by apero; move it away and run install again", e.path.display());
            }
        }
    }
    let mut manifest = read_manifest(layout);
    let mut to_create: Vec<PathBuf> = entries.iter().filter_map(|e| e.path.parent().map(Path::to_path_buf)).collect();
    to_create.push(layout.manifest_path().parent().context("manifest path")?.to_path_buf());
    if entries.iter().any(|e| e.path == layout.unit_path()) {
        // `systemctl enable` creates it; `disable` leaves it behind empty.
        to_create.push(layout.unit_path().with_file_name("default.target.wants"));
    }
    for dir in &to_create {
        manifest.dirs.extend(dir.ancestors().filter(|a| !a.as_os_str().is_empty() && !a.exists()).map(Path::to_path_buf));
    }
    for e in &entries {
        std::fs::create_dir_all(e.path.parent().context("entry path")?)?;
        std::fs::write(&e.path, &e.contents).with_context(|| format!("cannot write {}", e.path.display()))?;
        manifest.files.insert(e.path.clone());
        report.written.push(e.path.clone());
    }
    std::fs::create_dir_all(layout.manifest_path().parent().context("manifest path")?)?;
    std::fs::write(layout.manifest_path(), serde_json::to_vec_pretty(&manifest)?)?;
    enable(layout, &entries, &mut report);
    Ok(report)
}

#[cfg(all(unix, not(target_os = "macos")))]
fn enable(layout: &Layout, _entries: &[Entry], report: &mut Report) {
    if let Err(why) = systemd_session() {
        report.warnings.push(format!(
            "no systemd user session ({why}): {} is written but not enabled; the daemon starts at login from its autostart entry instead",
            files::UNIT_NAME
        ));
        return;
    }
    let running = std::os::unix::net::UnixStream::connect(default_socket(layout)).is_ok();
    // Starting the unit while another daemon holds the lock would make it
    // fail and restart in a loop, so a running daemon is left alone.
    let enable_args: &[&str] = if running { &["enable", files::UNIT_NAME] } else { &["enable", "--now", files::UNIT_NAME] };
    match systemctl(&["daemon-reload"]).and_then(|_| systemctl(enable_args)) {
        Ok(_) => report.enabled.push(files::UNIT_NAME.into()),
        Err(e) => report.warnings.push(format!("could not enable {}: {e}", files::UNIT_NAME)),
    }
    if running {
        report.warnings.push("a daemon is already running, so the unit is enabled for the next login but not started now".into());
    }
}

#[cfg(target_os = "macos")]
fn enable(_layout: &Layout, entries: &[Entry], report: &mut Report) {
    for e in entries {
        match Command::new("launchctl").arg("load").arg("-w").arg(&e.path).status() {
            Ok(s) if s.success() => report.enabled.push(e.path.display().to_string()),
            other => report.warnings.push(format!("launchctl load {} failed: {other:?}", e.path.display())),
        }
    }
}

#[cfg(windows)]
const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

#[cfg(windows)]
fn enable(layout: &Layout, _entries: &[Entry], report: &mut Report) {
    for (name, bin) in [("apero-daemon", &layout.aperod), ("apero-tray", &layout.tray)] {
        let data = format!("\"{}\"", bin.display());
        match Command::new("reg").args(["add", RUN_KEY, "/v", name, "/t", "REG_SZ", "/d", &data, "/f"]).status() {
            Ok(s) if s.success() => report.enabled.push(format!("{RUN_KEY}\\{name}")),
            other => report.warnings.push(format!("reg add {name} failed: {other:?}")),
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn disable(_layout: &Layout, report: &mut Report) {
    if let Err(e) = systemctl(&["disable", files::UNIT_NAME]).and_then(|_| systemctl(&["daemon-reload"])) {
        report.warnings.push(format!("could not disable {} (nothing to do without a systemd user session): {e}", files::UNIT_NAME));
    }
}

#[cfg(target_os = "macos")]
fn disable(layout: &Layout, report: &mut Report) {
    for e in files::macos_entries(layout) {
        if e.path.exists() && !Command::new("launchctl").arg("unload").arg(&e.path).status().is_ok_and(|s| s.success()) {
            report.warnings.push(format!("launchctl unload {} failed", e.path.display()));
        }
    }
}

#[cfg(windows)]
fn disable(_layout: &Layout, report: &mut Report) {
    for name in ["apero-daemon", "apero-tray"] {
        if Command::new("reg").args(["delete", RUN_KEY, "/v", name, "/f"]).status().is_ok_and(|s| s.success()) {
            report.removed.push(PathBuf::from(format!("{RUN_KEY}\\{name}")));
        }
    }
}

fn uninstall(layout: &Layout, dry_run: bool) -> anyhow::Result<Report> {
    let manifest = read_manifest(layout);
    // Files of an install whose manifest was lost are still recognised by
    // their first line.
    let mut candidates = manifest.files.clone();
    candidates.extend(files::linux_entries(layout, false).into_iter().chain(files::macos_entries(layout)).map(|e| e.path));
    let ours: Vec<PathBuf> = candidates.into_iter().filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(MARKER))).collect();
    let mut report =
        Report { dry_run, written: Vec::new(), removed: Vec::new(), enabled: Vec::new(), warnings: Vec::new(), files: Vec::new() };
    if dry_run {
        report.removed = ours;
        return Ok(report);
    }
    if !ours.is_empty() {
        disable(layout, &mut report);
    }
    for p in ours {
        std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        report.removed.push(p);
    }
    if layout.manifest_path().exists() {
        std::fs::remove_file(layout.manifest_path())?;
        report.removed.push(layout.manifest_path());
    }
    // Deepest first, and only when empty: something the user put there since stays.
    for dir in manifest.dirs.iter().rev() {
        if std::fs::remove_dir(dir).is_ok() {
            report.removed.push(dir.clone());
        }
    }
    Ok(report)
}

fn print_report(ctx: &Ctx, r: Report) -> anyhow::Result<()> {
    if ctx.json {
        output::json(&r);
        return Ok(());
    }
    for e in &r.files {
        outln!("Would write {} ({}):\n{}", e.path.display(), e.what, e.contents);
    }
    let verb = if r.dry_run { "Would remove" } else { "Removed" };
    for p in &r.written {
        outln!("Wrote {}", p.display());
    }
    for p in &r.removed {
        outln!("{verb} {}", p.display());
    }
    for u in &r.enabled {
        outln!("Enabled {u}");
    }
    for w in &r.warnings {
        eprintln!("note: {w}");
    }
    if !r.dry_run && !r.written.is_empty() {
        outln!("apero starts at login from now on; `apero service status` shows what is installed.");
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct FileState {
    what: &'static str,
    path: PathBuf,
    present: bool,
    /// Present and identical to what install would write now.
    current: bool,
}

#[derive(Debug, Serialize)]
struct StatusReport {
    installed: bool,
    files: Vec<FileState>,
    /// `systemctl --user is-enabled` / `is-active`, when there is a user session.
    systemd_enabled: Option<String>,
    systemd_active: Option<String>,
    daemon_running: bool,
    daemon_pid: Option<u32>,
    tray_running: bool,
}

async fn status(ctx: &Ctx, layout: &Layout) -> anyhow::Result<()> {
    let mut wanted = entries(layout);
    if cfg!(target_os = "linux") && !wanted.iter().any(|e| e.path.ends_with("aperod.desktop")) {
        wanted = files::linux_entries(layout, false);
    }
    let states: Vec<FileState> = wanted
        .into_iter()
        .map(|e| {
            let on_disk = std::fs::read_to_string(&e.path).ok();
            FileState { what: e.what, current: on_disk.as_deref() == Some(&e.contents), present: on_disk.is_some(), path: e.path }
        })
        .collect();
    let systemd = cfg!(target_os = "linux") && systemd_session().is_ok();
    let query = |what: &str| systemd.then(|| systemctl(&[what, files::UNIT_NAME]).unwrap_or_else(|e| e));
    let pid = match ctx.client().await {
        Ok(mut c) => c.status().await.ok().map(|s| s.pid),
        Err(_) => None,
    };
    let report = StatusReport {
        installed: states.iter().any(|s| s.present),
        systemd_enabled: query("is-enabled"),
        systemd_active: query("is-active"),
        daemon_running: pid.is_some(),
        daemon_pid: pid,
        tray_running: process_running("apero-tray"),
        files: states,
    };
    if ctx.json {
        output::json(&report);
        return Ok(());
    }
    outln!("Start at login: {}", if report.installed { "installed" } else { "not installed (`apero service install`)" });
    for f in &report.files {
        let state = match (f.present, f.current) {
            (true, true) => "present",
            (true, false) => "present, differs from what install writes now (run install again)",
            (false, _) => "absent",
        };
        outln!("  {:<58} {state}\n    {}", f.what, f.path.display());
    }
    if let (Some(en), Some(ac)) = (&report.systemd_enabled, &report.systemd_active) {
        outln!("systemd unit {}: {en}, {ac}", files::UNIT_NAME);
    }
    match report.daemon_pid {
        Some(pid) => outln!("Daemon: running (pid {pid})"),
        None => outln!("Daemon: not running"),
    }
    outln!("Tray: {}", if report.tray_running { "running" } else { "not running" });
    Ok(())
}

fn default_socket(layout: &Layout) -> PathBuf {
    apero_control::socket_path(layout.apero_home.as_deref())
}

/// Whether a process of this user with this name runs (Linux's /proc;
/// elsewhere unknown, so false).
#[cfg(unix)]
fn process_running(name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(me), Ok(dir)) = (std::fs::metadata("/proc/self"), std::fs::read_dir("/proc")) else { return false };
    dir.flatten().any(|e| {
        e.metadata().is_ok_and(|m| m.uid() == me.uid())
            && std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
    })
}

#[cfg(not(unix))]
fn process_running(_name: &str) -> bool {
    false
}
