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
