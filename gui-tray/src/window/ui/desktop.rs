//! Handing files and folders to the desktop's own programs.

/// Opens a file or a folder with the desktop's program for it, and says
/// whether one answered: `xdg-open` exits non-zero when nothing handles
/// the file, which a person must hear about (a click that does nothing
/// looks broken). Waited for on a thread, at most a few seconds.
pub(crate) fn open_path(path: &std::path::Path) -> Result<(), String> {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if !path.exists() {
        return Err(format!("{} is not there any more", path.display()));
    }
    let mut child = std::process::Command::new(program)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    // xdg-open hands over to the program and returns at once when one
    // answers; a file manager that stays in front keeps it longer, and
    // that is success too.
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(2) {
        match child.try_wait() {
            Ok(Some(status)) if status.success() || cfg!(windows) => return Ok(()),
            Ok(Some(status)) => return Err(format!("{program} {status}")),
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
