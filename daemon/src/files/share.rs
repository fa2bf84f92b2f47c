//! Offering files to a room and listing what was offered.

use std::path::{Path, PathBuf};

use apero_control::{FileInfo, OfferInfo};

use super::service::Files;
use super::{guess_mime, hash_file, names, CHUNK};
use crate::entry::{Body, MAX_FILE_NAME_BYTES};
use crate::error::{ServiceError, ServiceResult};
use crate::store::{OfferRow, RoomRow, SharedRow};

/// More at once is almost certainly a mistake (a glob gone wrong).
const MAX_PATHS: usize = 256;

impl Files {
    /// Hashes each file and announces a signed offer. Nothing is copied: the
    /// file stays where it is and is served from there. `channel`: the id
    /// of the channel they are offered in (`None`: general).
    pub async fn send_files(
        &self,
        room: &RoomRow,
        paths: Vec<String>,
        name: Option<String>,
        channel: Option<String>,
    ) -> ServiceResult<Vec<OfferInfo>> {
        if paths.is_empty() {
            return Err(ServiceError::BadRequest("no file given".into()));
        }
        if paths.len() > MAX_PATHS {
            return Err(ServiceError::TooLarge(format!("at most {MAX_PATHS} files at once")));
        }
        if name.is_some() && paths.len() != 1 {
            return Err(ServiceError::BadRequest("--name works with one file only".into()));
        }
        // Check them all before announcing any.
        let mut files = Vec::new();
        for p in &paths {
            let path = PathBuf::from(p);
            if !path.is_absolute() {
                return Err(ServiceError::BadRequest(format!("{p}: the path must be absolute")));
            }
            let meta = std::fs::metadata(&path).map_err(|e| ServiceError::NotFound(format!("{p}: {e}")))?;
            if !meta.is_file() {
                return Err(ServiceError::BadRequest(format!("{p}: not a regular file (folders: send the files inside, or a zip)")));
            }
            let offered = name.clone().unwrap_or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            if offered.is_empty() || offered.len() > MAX_FILE_NAME_BYTES {
                return Err(ServiceError::BadRequest(format!("{p}: the file name must be 1 to {MAX_FILE_NAME_BYTES} bytes")));
            }
            files.push((path, offered));
        }
        let mut out = Vec::new();
        for (path, offered) in files {
            let p = path.clone();
            let (manifest, mtime_ns) = tokio::task::spawn_blocking(move || hash_file(&p, CHUNK, |_| {}))
                .await
                .map_err(ServiceError::task)?
                .map_err(|e| ServiceError::Io(format!("cannot read {}: {e}", path.display())))?;
            let id = manifest.root();
            self.deps.store.shared_add(&SharedRow {
                file: id.clone(),
                path: path.to_string_lossy().into_owned(),
                size: manifest.size,
                mtime_ns,
                chunk_size: manifest.chunk_size,
                hashes: manifest.hashes.clone(),
            })?;
            let mime = guess_mime(&offered).to_string();
            self.thumbnail(&id, &path, &mime).await;
            if !self.deps.store.offered_in(&room.id, &id)? {
                let offer = Body::Offer {
                    file: id.clone(),
                    name: offered.clone(),
                    size: manifest.size,
                    chunk_size: manifest.chunk_size,
                    mime: mime.clone(),
                    // General's offers name no channel: daemons without channels read them as before.
                    channel: channel.clone().filter(|c| c != crate::entry::host::GENERAL),
                };
                self.deps.publisher.publish(room.id.clone(), offer).await?;
            }
            out.push(OfferInfo { hash: id.clone(), id, name: offered, size: manifest.size, mime });
        }
        Ok(out)
    }

    /// `channel` (an id): only the files offered there.
    pub async fn files(&self, room: &RoomRow, channel: Option<&str>) -> ServiceResult<Vec<FileInfo>> {
        let online: Vec<String> =
            self.deps.node.info().await.map(|i| i.peers.iter().map(|p| p.peer.to_string()).collect()).unwrap_or_default();
        let offers = self.deps.store.offers(&room.id)?;
        let general = crate::entry::host::GENERAL;
        offers
            .iter()
            .filter(|o| channel.is_none_or(|c| o.channel.as_deref().unwrap_or(general) == c))
            .map(|o| self.offer_info(o, &online))
            .collect()
    }

    pub fn file_info(&self, room: &str, file: &str) -> ServiceResult<Option<FileInfo>> {
        let offers = self.deps.store.offers(room)?;
        offers.iter().find(|o| o.file == file).map(|o| self.offer_info(o, &[])).transpose()
    }

    fn offer_info(&self, o: &OfferRow, online: &[String]) -> ServiceResult<FileInfo> {
        let holders = self.deps.store.holders(&o.room, &o.file)?;
        let me = self.peer_id.to_string();
        let copy = self.deps.store.shared(&o.file)?.into_iter().find(still_there);
        let have = copy.is_some();
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
            path: copy.map(|c| c.path),
            thumbnail: Some(super::thumbs::path(&self.deps.thumbs, &o.file))
                .filter(|p| have && p.exists())
                .map(|p| p.to_string_lossy().into_owned()),
            channel_name: o.channel.as_ref().and_then(|c| Some(self.deps.store.authority(&o.room).ok()?.channel_name(c)?.to_string())),
            channel: o.channel.clone(),
        })
    }
}

fn still_there(s: &SharedRow) -> bool {
    std::fs::metadata(Path::new(&s.path)).map(|m| m.len() == s.size && super::mtime_ns(&m) == s.mtime_ns).unwrap_or(false)
}
