//! Pasting a picture or files into the message field shares them, as in
//! Signal or Discord. Files copied in a file manager are offered from where
//! they are; a picture copied from a browser or a screenshot tool has no
//! file, so it is saved as PNG in the daemon's folder (`pasted/`), where it
//! stays for friends to download. Text pastes go to the field as usual.

use std::path::{Path, PathBuf};

use super::AperoApp;
use crate::link::Command;

/// What the clipboard held, if it was not text.
#[derive(Debug, PartialEq)]
pub enum Pasted {
    Files(Vec<PathBuf>),
    /// A picture, saved at this path.
    Picture(PathBuf),
}

/// Where pasted pictures are kept for the daemon at `home` (`None`: the
/// default daemon's data folder).
pub fn folder(home: Option<&Path>) -> PathBuf {
    match home {
        Some(h) => h.join("pasted"),
        None => std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("apero")
            .join("pasted"),
    }
}

/// Saves an RGBA picture as PNG in `dir`, under a name made of the time.
pub fn save_picture(dir: &Path, width: usize, height: usize, rgba: &[u8]) -> Result<PathBuf, String> {
    let img = image::RgbaImage::from_raw(width as u32, height as u32, rgba.to_vec()).ok_or("the picture's size and data disagree")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let stamp = chrono::Local::now().format("%Y-%m-%d %H.%M.%S");
    let mut path = dir.join(format!("pasted {stamp}.png"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("pasted {stamp} ({n}).png"));
    }
    img.save(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Reads the clipboard for files, then a picture.
fn take(dir: &Path) -> Result<Option<Pasted>, String> {
    let mut clip = arboard::Clipboard::new().map_err(|e| e.to_string())?;
    if let Ok(files) = clip.get().file_list() {
        let files: Vec<PathBuf> = files.into_iter().filter(|p| p.is_file()).collect();
        if !files.is_empty() {
            return Ok(Some(Pasted::Files(files)));
        }
    }
    match clip.get_image() {
        Ok(img) => save_picture(dir, img.width, img.height, &img.bytes).map(|p| Some(Pasted::Picture(p))),
        Err(_) => Ok(None),
    }
}

impl AperoApp {
    /// Ctrl+V in an open room: a picture or files on the clipboard are shared there.
    pub(crate) fn pasted(&mut self, ctx: &egui::Context) {
        let Some(room) = self.model.selected.clone() else { return };
        if self.dialog != super::Dialog::None {
            return;
        }
        let asked = ctx.input(|i| {
            i.events.iter().any(|e| match e {
                egui::Event::Paste(_) => true,
                egui::Event::Key { key: egui::Key::V, pressed: true, modifiers, .. } => modifiers.command,
                _ => false,
            })
        });
        if !asked {
            return;
        }
        let dir = folder(self.link.target().home.as_deref());
        match take(&dir) {
            Ok(Some(Pasted::Files(paths))) => {
                for path in paths {
                    self.send(Command::Offer { room: room.clone(), path, channel: self.model.channels.say_in(&room) });
                }
            }
            Ok(Some(Pasted::Picture(path))) => self.send(Command::Offer { channel: self.model.channels.say_in(&room), room, path }),
            Ok(None) => {}
            Err(e) => tracing::info!("nothing pasted from the clipboard: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_picture_is_kept_as_png_under_a_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let rgba: Vec<u8> = (0..4 * 3 * 2).map(|i| i as u8).collect();
        let a = save_picture(dir.path(), 3, 2, &rgba).unwrap();
        let b = save_picture(dir.path(), 3, 2, &rgba).unwrap();
        assert_ne!(a, b, "a second paste the same second must not replace the first");
        let img = image::open(&a).unwrap().to_rgba8();
        assert_eq!((img.width(), img.height()), (3, 2));
        assert_eq!(img.as_raw(), &rgba);
        assert!(save_picture(dir.path(), 5, 5, &rgba).is_err());
    }
}
