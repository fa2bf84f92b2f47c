//! Whether the tray is running, and starting it: a call must never go on
//! with nothing on screen saying so. The tray holds a lock on a file beside
//! the daemon's socket for as long as it runs; the window tries that lock
//! to know whether a tray is there. A lock, not a pid file: it goes with
//! the process however it ends, and a second tray sees it and steps aside.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The tray's lock for the daemon at `daemon_socket`.
pub fn lock_path(daemon_socket: &Path) -> PathBuf {
    daemon_socket.with_file_name("apero-tray.lock")
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).truncate(false).write(true).open(path)
}

/// Takes the lock for this tray: `None` when another tray holds it. Keep
/// the file for as long as the tray runs.
pub fn hold(path: &Path) -> std::io::Result<Option<File>> {
    let f = open(path)?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether a tray holds the lock (a file that cannot be opened counts as
/// no tray: better a second icon than none).
pub fn running(path: &Path) -> bool {
    let Ok(f) = open(path) else { return false };
    matches!(f.try_lock(), Err(TryLockError::WouldBlock))
}

/// Starts `apero-tray [--home DIR]` unless one runs for this daemon.
/// `Ok(false)`: one was running already.
pub fn ensure_running(daemon_socket: &Path, home: Option<&Path>) -> std::io::Result<bool> {
    if running(&lock_path(daemon_socket)) {
        return Ok(false);
    }
    let mut cmd = std::process::Command::new(apero_control::find_program("apero-tray"));
    if let Some(h) = home {
        cmd.arg("--home").arg(h);
    }
    cmd.stdin(std::process::Stdio::null()).spawn()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_shows_the_tray_running_and_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir.path().join("aperod.sock"));
        assert!(!running(&path));
        let held = hold(&path).unwrap().expect("the first tray takes the lock");
        assert!(running(&path));
        assert!(hold(&path).unwrap().is_none(), "a second tray steps aside");
        drop(held);
        assert!(!running(&path), "the lock goes with the tray");
    }
}
