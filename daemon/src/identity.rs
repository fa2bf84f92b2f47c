//! The node's persistent ed25519 identity: created once, kept 0600.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use libp2p::identity::Keypair;

pub fn load_or_create(path: &Path) -> anyhow::Result<Keypair> {
    match std::fs::read(path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes)
            .with_context(|| format!("the identity key {} is corrupt; move it away to create a new identity", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Keypair::generate_ed25519();
            let bytes = key.to_protobuf_encoding().context("encoding the new identity")?;
            // Write to a temporary file then rename, so a crash never leaves half a key.
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            tracing::info!("created a new identity {}", key.public().to_peer_id());
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Our display name: read by every service, changed at run time by
/// `apero name` (and then kept in the data directory's `name` file, where
/// the next start finds it unless a `--name` or the config sets one).
#[derive(Debug, Clone)]
pub struct Name {
    value: std::sync::Arc<std::sync::RwLock<String>>,
    file: Option<std::path::PathBuf>,
}

impl Name {
    pub fn new(name: impl Into<String>, file: Option<std::path::PathBuf>) -> Name {
        Name { value: std::sync::Arc::new(std::sync::RwLock::new(name.into())), file }
    }

    pub fn get(&self) -> String {
        self.value.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets and keeps it; the caller has checked it (a room entry carries it).
    pub fn set(&self, name: &str) -> std::io::Result<()> {
        if let Some(f) = &self.file {
            std::fs::write(f, name)?;
        }
        *self.value.write().unwrap_or_else(|p| p.into_inner()) = name.to_string();
        Ok(())
    }
}
