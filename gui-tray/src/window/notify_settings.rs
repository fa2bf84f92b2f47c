//! Which rooms stay silent, in `$XDG_CONFIG_HOME/apero/tray.json`: the
//! tray's notifications, switched per room from the tray's menu or the
//! window's Settings (the tray reads the file again when it changes). The
//! daemon knows nothing of them, so several trays (or none) never disagree
//! with the daemon.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot encode the settings: {0}")]
    Encode(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Room ids whose notifications are off.
    pub silent_rooms: BTreeSet<String>,
}

impl Settings {
    /// `$XDG_CONFIG_HOME/apero/tray.json`, else `~/.config/apero/tray.json`.
    pub fn default_path() -> PathBuf {
        apero_control::config_home().join("apero").join("tray.json")
    }

    /// A missing file is the defaults; a broken one too, with a warning,
    /// so a bad edit never keeps the tray from starting.
    pub fn load(path: &Path) -> Settings {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("ignoring {}: {e}", path.display());
                Settings::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                tracing::warn!("cannot read {}: {e}", path.display());
                Settings::default()
            }
        }
    }

    /// Written to a temporary file and renamed, so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let err = |source| SettingsError::Write { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    pub fn notifies(&self, room: &str) -> bool {
        !self.silent_rooms.contains(room)
    }

    /// When the file last changed (`None`: there is none), to see whether
    /// another program (the window, the tray) wrote it since.
    pub fn stamp(path: &Path) -> Option<std::time::SystemTime> {
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    pub fn toggle(&mut self, room: &str) {
        if !self.silent_rooms.remove(room) {
            self.silent_rooms.insert(room.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggles_persist_and_bad_files_fall_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apero").join("tray.json");
        assert_eq!(Settings::load(&path), Settings::default());
        let mut s = Settings::default();
        s.toggle("room-a");
        assert!(!s.notifies("room-a") && s.notifies("room-b"));
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path), s);
        s.toggle("room-a");
        assert!(s.notifies("room-a"));
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
    }
}
