//! "Open chat": `apero chat ROOM` in a terminal window, the platform's own
//! or the first one found on Linux.

use std::io::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("no terminal found (tried {0}); set $TERMINAL, or run `{1}` yourself")]
    NotFound(String, String),
    #[error("cannot open a terminal: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Terminal programs and the flag after which they take a command.
#[cfg(all(unix, not(target_os = "macos")))]
fn candidates() -> Vec<(String, &'static str)> {
    let mut v: Vec<(String, &str)> = std::env::var("TERMINAL").ok().filter(|t| !t.is_empty()).map(|t| (t, "-e")).into_iter().collect();
    for (t, flag) in [
        ("x-terminal-emulator", "-e"),
        ("gnome-terminal", "--"),
        ("konsole", "-e"),
        ("xfce4-terminal", "-x"),
        ("kitty", "--"),
        ("alacritty", "-e"),
        ("foot", "--"),
        ("xterm", "-e"),
    ] {
        v.push((t.to_string(), flag));
    }
    v
}

#[cfg(all(unix, not(target_os = "macos")))]
pub fn open(command: &[String]) -> Result<(), TerminalError> {
    let tried = candidates();
    for (term, flag) in &tried {
        match tokio::process::Command::new(term).arg(flag).args(command).spawn() {
            // Dropped: tokio reaps the child when it exits.
            Ok(_child) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let names: Vec<&str> = tried.iter().map(|(t, _)| t.as_str()).collect();
    Err(TerminalError::NotFound(names.join(", "), command.join(" ")))
}

#[cfg(target_os = "macos")]
pub fn open(command: &[String]) -> Result<(), TerminalError> {
    let line: Vec<String> = command.iter().map(|a| format!("'{}'", a.replace('\'', r"'\''"))).collect();
    let script = format!("tell application \"Terminal\" to do script \"{}\"", line.join(" ").replace('\\', "\\\\").replace('"', "\\\""));
    match tokio::process::Command::new("osascript").arg("-e").arg(script).spawn() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(TerminalError::NotFound("Terminal.app".into(), command.join(" "))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(windows)]
pub fn open(command: &[String]) -> Result<(), TerminalError> {
    // `start` opens a new console window; its first quoted argument is the title.
    tokio::process::Command::new("cmd").args(["/c", "start", "apero chat"]).args(command).spawn()?;
    Ok(())
}
