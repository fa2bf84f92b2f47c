//! One daemon per home: an exclusive `flock` on a lock file, released by the
//! kernel however the process ends (so `kill -9` leaves no stale lock). And
//! the daemon's one way to take a `Mutex`.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Takes `m` even if a thread panicked while holding it: what the daemon
/// keeps under a mutex stays usable after such a panic (each holder leaves
/// it whole, or a database transaction does), and one failed task must not
/// take every later user of the lock down with it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct HomeLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another aperod is already running for {home} (pid {pid}); stop it with `apero down` first")]
    Held { home: String, pid: String },
    #[error("cannot create the lock file {0}: {1}")]
    Io(String, std::io::Error),
}

pub fn acquire(path: &Path, home: &Path) -> Result<HomeLock, LockError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| LockError::Io(path.display().to_string(), e))?;
    // SAFETY: the descriptor belongs to `file`, which outlives the call;
    // flock touches no memory of ours.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        return Err(LockError::Held { home: home.display().to_string(), pid: pid.trim().to_string() });
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    Ok(HomeLock { _file: file })
}
