//! Where the daemon keeps its state, and the name it shows.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(Debug, Clone)]
pub struct Paths {
    /// Identity key, database, lock file.
    pub data: PathBuf,
    /// Logs.
    pub state: PathBuf,
    pub socket: PathBuf,
}

impl Paths {
    /// Everything under one directory (`--home DIR`).
    pub fn in_home(home: &Path) -> Paths {
        Paths { data: home.to_path_buf(), state: home.join("logs"), socket: apero_control::socket_path_in(home) }
    }

    /// The platform's directories: XDG data/state/runtime dirs on Linux.
    pub fn platform() -> anyhow::Result<Paths> {
        let dirs = directories::ProjectDirs::from("", "", "apero").context("cannot find your home directory; pass --home DIR")?;
        let data = dirs.data_dir().to_path_buf();
        let state = dirs.state_dir().map(|d| d.join("logs")).unwrap_or_else(|| data.join("logs"));
        Ok(Paths { data, state, socket: apero_control::default_socket_path() })
    }

    pub fn resolve(home: Option<&Path>) -> anyhow::Result<Paths> {
        match home {
            Some(h) => Ok(Paths::in_home(&std::path::absolute(h)?)),
            None => Paths::platform(),
        }
    }

    pub fn key(&self) -> PathBuf {
        self.data.join("identity.key")
    }
    pub fn db(&self) -> PathBuf {
        self.data.join("apero.sqlite3")
    }
    pub fn lock(&self) -> PathBuf {
        self.data.join("aperod.lock")
    }
    pub fn name_file(&self) -> PathBuf {
        self.data.join("name")
    }
    pub fn log(&self) -> PathBuf {
        self.state.join("aperod.log")
    }

    /// Creates the directories, private to the user.
    pub fn create(&self) -> anyhow::Result<()> {
        let mut dirs = vec![&self.data, &self.state];
        let sock_dir = self.socket.parent().map(Path::to_path_buf);
        if let Some(d) = &sock_dir {
            dirs.push(d);
        }
        for d in dirs {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} private", d.display()))?;
        }
        Ok(())
    }
}

/// The display name: the configured one, else the one saved by an earlier
/// start that had one, else the OS user name.
pub fn display_name(paths: &Paths, configured: Option<&str>) -> String {
    if let Some(n) = configured.map(str::trim).filter(|n| !n.is_empty()) {
        let _ = std::fs::write(paths.name_file(), n);
        return n.to_string();
    }
    if let Ok(saved) = std::fs::read_to_string(paths.name_file()) {
        if !saved.trim().is_empty() {
            return saved.trim().to_string();
        }
    }
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "friend".to_string())
}
