//! Offering files to a room and listing what was offered.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use apero_control::{FileInfo, OfferInfo};

use super::{guess_mime, hash_file, names, CHUNK};
use crate::app::{App, AppError, AppResult};
use crate::room::entry::{Body, MAX_FILE_NAME_BYTES};
use crate::store::{OfferRow, SharedRow};

/// More at once is almost certainly a mistake (a glob gone wrong).
const MAX_PATHS: usize = 256;

impl App {
    /// Hashes each file and announces a signed offer. Nothing is copied: the
    /// file stays where it is and is served from there.
    pub async fn send_files(self: &Arc<Self>, room: &str, paths: Vec<String>, name: Option<String>) -> AppResult<Vec<OfferInfo>> {
        let room = self.resolve_room(room)?;
        if paths.is_empty() {
            return Err(AppError::BadRequest("no file given".into()));
        }
        if paths.len() > MAX_PATHS {
            return Err(AppError::TooLarge(format!("at most {MAX_PATHS} files at once")));
        }
        if name.is_some() && paths.len() != 1 {
            return Err(AppError::BadRequest("--name works with one file only".into()));
        }
        // Check them all before announcing any.
        let mut files = Vec::new();
        for p in &paths {
            let path = PathBuf::from(p);
            if !path.is_absolute() {
                return Err(AppError::BadRequest(format!("{p}: the path must be absolute")));
            }
            let meta = std::fs::metadata(&path).map_err(|e| AppError::NotFound(format!("{p}: {e}")))?;
            if !meta.is_file() {
                return Err(AppError::BadRequest(format!("{p}: not a regular file (folders: send the files inside, or a zip)")));
            }
            let offered = name.clone().unwrap_or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            if offered.is_empty() || offered.len() > MAX_FILE_NAME_BYTES {
                return Err(AppError::BadRequest(format!("{p}: the file name must be 1 to {MAX_FILE_NAME_BYTES} bytes")));
            }
            files.push((path, offered));
        }
        let mut out = Vec::new();
        for (path, offered) in files {
            let p = path.clone();
            let (manifest, mtime_ns) = tokio::task::spawn_blocking(move || hash_file(&p, CHUNK, |_| {}))
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?
                .map_err(|e| AppError::BadRequest(format!("{}: {e}", path.display())))?;
            let id = manifest.root();
            self.store.shared_add(&SharedRow {
                file: id.clone(),
                path: path.to_string_lossy().into_owned(),
                size: manifest.size,
                mtime_ns,
                chunk_size: manifest.chunk_size,
                hashes: manifest.hashes.clone(),
            })?;
            let mime = guess_mime(&offered).to_string();
            if !self.store.offered_in(&room.id, &id)? {
                self.publish(
                    &room.id,
                    Body::Offer { file: id.clone(), name: offered.clone(), size: manifest.size, chunk_size: manifest.chunk_size, mime: mime.clone() },
                )
                .await?;
            }
            out.push(OfferInfo { hash: id.clone(), id, name: offered, size: manifest.size, mime });
        }
        Ok(out)
    }

    pub async fn files(&self, room: &str) -> AppResult<Vec<FileInfo>> {
        let room = self.resolve_room(room)?;
        let online: Vec<String> =
            self.node.info().await.map(|i| i.peers.iter().map(|p| p.peer.to_string()).collect()).unwrap_or_default();
        let offers = self.store.offers(&room.id)?;
        offers.iter().map(|o| self.offer_info(o, &online)).collect()
    }

    pub fn file_info(&self, room: &str, file: &str) -> AppResult<Option<FileInfo>> {
        let offers = self.store.offers(room)?;
        offers.iter().find(|o| o.file == file).map(|o| self.offer_info(o, &[])).transpose()
    }

    fn offer_info(&self, o: &OfferRow, online: &[String]) -> AppResult<FileInfo> {
        let holders = self.store.holders(&o.room, &o.file)?;
        let me = self.peer_id.to_string();
        let have = self.store.shared(&o.file)?.iter().any(still_there);
        let name = names::sanitize(&o.name);
        let mime = if o.mime.is_empty() { guess_mime(&name).to_string() } else { o.mime.clone() };
        Ok(FileInfo {
            id: o.file.clone(),
            room: o.room.clone(),
            image: mime.starts_with("image/"),
            name,
            size: o.size,
            mime,
            from: o.author.clone(),
            from_name: o.author_name.clone(),
            time: o.time,
            have,
            sources: holders.len(),
            sources_online: holders.iter().filter(|h| **h != me && online.contains(h)).count(),
        })
    }
}

fn still_there(s: &SharedRow) -> bool {
    std::fs::metadata(Path::new(&s.path)).map(|m| m.len() == s.size && super::mtime_ns(&m) == s.mtime_ns).unwrap_or(false)
}
