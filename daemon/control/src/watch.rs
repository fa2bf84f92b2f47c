//! Noticing the daemon's return quickly, for the clients that stay up while
//! it restarts (the tray, the window): a daemon that was killed leaves its
//! socket file behind, and the new one replaces it with a fresh file. So a
//! client watches the file's identity, a `stat` every [`WATCH_EVERY`],
//! and connects as soon as it changes, instead of knocking every few
//! seconds (each knock is a connection the daemon logs).

use std::path::Path;
use std::time::Duration;

/// How often the socket's file is looked at while the daemon is away.
pub const WATCH_EVERY: Duration = Duration::from_millis(200);

/// What identifies one daemon's socket: a new daemon binds a new file.
/// The inode alone is not enough: a file system hands a deleted file's
/// inode number to the next new file, so the change time goes with it.
fn identity(socket: &Path) -> Option<(u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(socket).ok().map(|m| (m.dev(), m.ino(), m.ctime(), m.ctime_nsec()))
}

/// Returns when the socket at `socket` is a new file (a daemon has bound it
/// since this was called), or after `at_most` in any case, so a caller
/// still tries now and then (a daemon that came back before we looked).
pub async fn socket_renewed(socket: &Path, at_most: Duration) -> bool {
    let before = identity(socket);
    let deadline = tokio::time::Instant::now() + at_most;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(WATCH_EVERY).await;
        let now = identity(socket);
        if now.is_some() && now != before {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_socket_is_noticed_within_a_fraction_of_a_second() {
        let dir = std::env::temp_dir().join(format!("apero-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("aperod.sock");
        let old = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        drop(old); // a killed daemon: the file stays
        let replace = {
            let sock = sock.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                std::fs::remove_file(&sock).unwrap();
                std::os::unix::net::UnixListener::bind(&sock).unwrap()
            })
        };
        let start = std::time::Instant::now();
        assert!(socket_renewed(&sock, Duration::from_secs(5)).await, "the new socket was not noticed");
        let took = start.elapsed();
        assert!(took < Duration::from_millis(300) + WATCH_EVERY * 2, "noticed after {took:?}");
        drop(replace.await.unwrap());
        // Unchanged: waits the whole time and says so.
        assert!(!socket_renewed(&sock, Duration::from_millis(500)).await);
        std::fs::remove_dir_all(&dir).ok();
    }
}
