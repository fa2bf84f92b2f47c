use std::path::{Path, PathBuf};

const SOCKET_NAME: &str = "aperod.sock";

/// The socket inside an explicit `--home DIR`.
pub fn socket_path_in(home: &Path) -> PathBuf {
    home.join(SOCKET_NAME)
}

/// Where the daemon listens when no `--home` is given.
///
/// On Linux this is `$XDG_RUNTIME_DIR/apero/aperod.sock` (a per-user tmpfs that
/// only its owner can enter), falling back to the data dir
/// (`$XDG_DATA_HOME/apero` or `~/.local/share/apero`). The daemon computes its
/// path with this same function, so the two can never disagree.
pub fn default_socket_path() -> PathBuf {
    if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(rt).join("apero").join(SOCKET_NAME);
    }
    default_data_dir().join(SOCKET_NAME)
}

/// Mirrors what the `directories` crate returns for apero's data dir on Linux
/// (`ProjectDirs::from("", "", "apero")`), without depending on it.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("apero");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local").join("share").join("apero")
}

/// One of apero's programs (`aperod`, `apero`, `apero-tray`): next to the
/// running executable (an install or a cargo build puts them together),
/// else on PATH, else the bare name (so that a later spawn fails with a
/// "cannot run" error that names it). The clients start each other with it.
pub fn find_program(name: &str) -> PathBuf {
    let exe = if cfg!(windows) { format!("{name}.exe") } else { name.to_string() };
    if let Some(sibling) = std::env::current_exe().ok().and_then(|me| me.canonicalize().ok()).map(|me| me.with_file_name(&exe)) {
        if sibling.is_file() {
            return sibling;
        }
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(&exe)).find(|p| p.is_file()))
        .unwrap_or_else(|| PathBuf::from(exe))
}

/// The socket of the daemon whose home is `home` (`--home DIR`), or of the
/// default one.
pub fn socket_path(home: Option<&Path>) -> PathBuf {
    home.map_or_else(default_socket_path, socket_path_in)
}

/// `$XDG_CONFIG_HOME`, else `~/.config`: where the daemon's config file,
/// the tray's settings, the systemd user unit and autostart entries live.
/// Every program computes it here, so they all look in the same place.
pub fn config_home() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".config")
}

/// The daemon's config file when no `--config FILE` is given:
/// `DIR/config.toml` under `--home DIR` (a home holds everything of its
/// daemon, so several daemons on one machine, tests included, never read
/// the user's file), else `$XDG_CONFIG_HOME/apero/config.toml`.
pub fn default_config_file(home: Option<&Path>) -> PathBuf {
    match home {
        Some(h) => h.join(CONFIG_NAME),
        None => config_home().join("apero").join(CONFIG_NAME),
    }
}

const CONFIG_NAME: &str = "config.toml";

/// The systemd user unit `apero service install` writes for the daemon.
pub const SYSTEMD_UNIT: &str = "aperod.service";

/// Where that unit is, under a config home (see [`config_home`]).
pub fn systemd_unit_path(config_home: &Path) -> PathBuf {
    config_home.join("systemd").join("user").join(SYSTEMD_UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_holds_its_socket_and_config_file() {
        let h = Path::new("/srv/apero-b");
        assert_eq!(socket_path(Some(h)), h.join("aperod.sock"));
        assert_eq!(default_config_file(Some(h)), h.join("config.toml"));
        assert_eq!(systemd_unit_path(Path::new("/c")), Path::new("/c/systemd/user/aperod.service"));
    }
}
