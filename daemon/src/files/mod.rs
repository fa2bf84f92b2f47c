//! Files shared in a room: content-addressed offers, verified chunked
//! downloads from any member who has the file, resumable across restarts.
//!
//! A file is cut into fixed-size chunks; its id is the BLAKE3 hash of a small
//! manifest (size, chunk size, every chunk's BLAKE3 hash). The signed offer
//! carries that id, so a downloader that fetched the chunk-hash list from any
//! member can check it against the offer and then check every chunk before
//! writing it.

mod fetch;
pub mod names;
pub mod pace;
mod running;
pub mod serve;
pub mod service;
pub mod share;
pub mod thumbs;
pub mod transfer;
pub mod wire;

pub use service::{FileDeps, Files};

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub const CHUNK: u32 = 1024 * 1024;
pub use crate::entry::MIN_CHUNK;
/// 4 TiB in 1 MiB chunks: a chunk-hash list stays a few tens of MiB at most.
pub const MAX_CHUNKS: u64 = 4 * 1024 * 1024;

/// What a file's id commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub size: u64,
    pub chunk_size: u32,
    /// 32 bytes per chunk.
    pub hashes: Vec<u8>,
}

impl Manifest {
    pub fn chunks(&self) -> u64 {
        chunk_count(self.size, self.chunk_size)
    }

    /// The file id: BLAKE3 over a domain tag, the sizes and the chunk hashes.
    pub fn root(&self) -> String {
        root_of(self.size, self.chunk_size, &self.hashes)
    }

    pub fn chunk_hash(&self, index: u64) -> Option<&[u8]> {
        let i = usize::try_from(index).ok()?.checked_mul(32)?;
        self.hashes.get(i..i + 32)
    }

    /// Length of chunk `index` (the last one may be short).
    pub fn chunk_len(&self, index: u64) -> u64 {
        chunk_len(self.size, self.chunk_size, index)
    }
}

pub fn chunk_count(size: u64, chunk_size: u32) -> u64 {
    size.div_ceil(u64::from(chunk_size.max(1)))
}

pub fn chunk_len(size: u64, chunk_size: u32, index: u64) -> u64 {
    let start = index.saturating_mul(u64::from(chunk_size));
    size.saturating_sub(start).min(u64::from(chunk_size))
}

pub fn root_of(size: u64, chunk_size: u32, hashes: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"apero/file/v1\0");
    h.update(&size.to_be_bytes());
    h.update(&chunk_size.to_be_bytes());
    h.update(hashes);
    h.finalize().to_hex().to_string()
}

pub fn hash_chunk(data: &[u8]) -> [u8; 32] {
    *blake3::hash(data).as_bytes()
}

/// Hashes a file chunk by chunk, streaming (memory: one chunk). Calls
/// `progress` with the bytes hashed so far. Blocking: run it off the runtime.
pub fn hash_file(path: &Path, chunk_size: u32, mut progress: impl FnMut(u64)) -> std::io::Result<(Manifest, i64)> {
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let mtime = mtime_ns(&meta);
    let mut buf = vec![0u8; chunk_size as usize];
    let mut hashes = Vec::new();
    let mut size = 0u64;
    loop {
        let n = read_full(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        hashes.extend_from_slice(&hash_chunk(&buf[..n]));
        size += n as u64;
        progress(size);
        if n < buf.len() {
            break;
        }
    }
    // A file that changed while we read it would make a wrong offer.
    let after = std::fs::metadata(path)?;
    if after.len() != size || mtime_ns(&after) != mtime {
        return Err(std::io::Error::other("the file changed while it was being read; try again"));
    }
    Ok((Manifest { size, chunk_size, hashes }, mtime))
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec())
}

/// A MIME type from the extension; good enough to mark images and for the tray.
pub fn guess_mime(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "heic" => "image/heic",
        "bmp" => "image/bmp",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain",
        "html" | "htm" => "text/html",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "mp3" => "audio/mpeg",
        "ogg" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        _ => "application/octet-stream",
    }
}

/// A bitmap of chunks, one bit each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    bits: Vec<u8>,
    len: u64,
}

impl Bitmap {
    pub fn new(len: u64) -> Bitmap {
        Bitmap { bits: vec![0; len.div_ceil(8) as usize], len }
    }
    /// Restores a saved bitmap; a wrong-sized one (corrupt row) starts over.
    pub fn from_bytes(bytes: Vec<u8>, len: u64) -> Bitmap {
        if bytes.len() as u64 == len.div_ceil(8) {
            Bitmap { bits: bytes, len }
        } else {
            Bitmap::new(len)
        }
    }
    pub fn get(&self, i: u64) -> bool {
        i < self.len && self.bits[(i / 8) as usize] & (1 << (i % 8)) != 0
    }
    pub fn set(&mut self, i: u64) {
        if i < self.len {
            self.bits[(i / 8) as usize] |= 1 << (i % 8);
        }
    }
    pub fn count(&self) -> u64 {
        (0..self.len).filter(|&i| self.get(i)).count() as u64
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_of_a_file_and_its_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let (m, _) = hash_file(&p, MIN_CHUNK, |_| {}).unwrap();
        assert_eq!(m.size, 100_000);
        assert_eq!(m.chunks(), 7);
        assert_eq!(m.chunk_len(6), 100_000 - 6 * 16384);
        assert_eq!(m.chunk_hash(6).unwrap(), &hash_chunk(&data[6 * 16384..]));
        assert!(m.chunk_hash(7).is_none());
        let mut other = m.clone();
        other.hashes[0] ^= 1;
        assert_ne!(m.root(), other.root(), "the root commits to every chunk hash");
    }

    #[test]
    fn empty_file_has_no_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        std::fs::write(&p, b"").unwrap();
        let (m, _) = hash_file(&p, CHUNK, |_| {}).unwrap();
        assert_eq!(m.chunks(), 0);
        assert_eq!(m.root().len(), 64);
    }

    #[test]
    fn bitmap_roundtrip() {
        let mut b = Bitmap::new(20);
        b.set(0);
        b.set(19);
        b.set(25);
        assert_eq!(b.count(), 2);
        let back = Bitmap::from_bytes(b.bytes().to_vec(), 20);
        assert!(back.get(19) && !back.get(18));
        assert_eq!(Bitmap::from_bytes(vec![1], 20).count(), 0, "a wrong-sized bitmap starts over");
    }
}
