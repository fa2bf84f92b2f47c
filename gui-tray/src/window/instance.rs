//! One window per person: a second `apero-app` (the tray's "Open chat" while
//! the window is open, a click in the applications menu) hands its room or
//! code to the first through a Unix socket beside the daemon's, and the
//! first comes to the front. The socket carries one JSON line each way and
//! only its owner can reach it (it sits in the daemon's private directory).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a second launch asks of the first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raise {
    /// Open this room (a name or an id).
    pub room: Option<String>,
    /// Open the join dialog, with this code if not empty.
    pub join: Option<String>,
}

/// A request line is a room name or a code: a few hundred bytes. Anything
/// longer is not from us.
const MAX_LINE: u64 = 16 * 1024;
/// A first instance that accepts but does not answer is stuck: start anew.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Where the window of the daemon at `daemon_socket` listens.
pub fn socket_path(daemon_socket: &Path) -> PathBuf {
    daemon_socket.with_file_name("apero-app.sock")
}

/// Whether this process is the window, or handed over to the one open.
pub enum Claim {
    /// No window is open: this one listens (hand the listener to the app).
    First(Listener),
    /// The open window took the request.
    Forwarded,
}

/// Becomes the window, or hands `raise` to the one already open.
pub fn claim(path: &Path, raise: &Raise) -> std::io::Result<Claim> {
    #[cfg(unix)]
    {
        if forward(path, raise).is_ok() {
            return Ok(Claim::Forwarded);
        }
        // Nobody answered: a file left by a window that crashed, or none.
        let _ = std::fs::remove_file(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        Ok(Claim::First(Listener { listener, path: path.to_path_buf() }))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, raise);
        Ok(Claim::First(Listener { path: path.to_path_buf() }))
    }
}

#[cfg(unix)]
fn forward(path: &Path, raise: &Raise) -> std::io::Result<()> {
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(ANSWER_WITHIN))?;
    s.set_write_timeout(Some(ANSWER_WITHIN))?;
    let mut line = serde_json::to_vec(raise).map_err(std::io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(s).take(64).read_line(&mut answer)?;
    if answer.trim() == "ok" {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("the open window answered {answer:?}")))
    }
}

/// The first window's end; removes the socket when dropped.
pub struct Listener {
    #[cfg(unix)]
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

impl Listener {
    /// Serves second launches on a thread of its own: each request goes to
    /// the returned channel, then `wake` is called (a repaint).
    pub fn serve(self, wake: impl Fn() + Send + 'static) -> mpsc::Receiver<Raise> {
        let (tx, rx) = mpsc::channel();
        #[cfg(unix)]
        {
            let spawned = std::thread::Builder::new().name("apero-app-instance".into()).spawn(move || {
                for conn in self.listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    match answer(conn) {
                        Ok(raise) => {
                            if tx.send(raise).is_err() {
                                return;
                            }
                            wake();
                        }
                        Err(e) => tracing::debug!("a second window's request: {e}"),
                    }
                }
                drop(self);
            });
            if let Err(e) = spawned {
                tracing::warn!("cannot serve second windows: {e}");
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (tx, wake, self);
        }
        rx
    }
}

#[cfg(unix)]
fn answer(conn: std::os::unix::net::UnixStream) -> std::io::Result<Raise> {
    conn.set_read_timeout(Some(ANSWER_WITHIN))?;
    let mut line = String::new();
    BufReader::new((&conn).take(MAX_LINE)).read_line(&mut line)?;
    let raise: Raise = serde_json::from_str(&line).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    (&conn).write_all(b"ok\n")?;
    Ok(raise)
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_second_launch_hands_its_request_to_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir.path().join("aperod.sock"));
        let Claim::First(first) = claim(&path, &Raise::default()).unwrap() else { panic!("nobody was there") };
        let rx = first.serve(|| {});
        let asked = Raise { room: Some("Apéro".into()), join: None };
        assert!(matches!(claim(&path, &asked).unwrap(), Claim::Forwarded));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), asked);
        // Garbage on the socket gets no answer and stops nothing.
        let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
        s.write_all(b"not json\n").unwrap();
        let mut answer = String::new();
        let _ = BufReader::new(s).read_line(&mut answer);
        assert_eq!(answer, "");
        let code = Raise { room: None, join: Some("7-guitar-orbit".into()) };
        assert!(matches!(claim(&path, &code).unwrap(), Claim::Forwarded));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), code);
    }

    #[test]
    fn a_socket_left_by_a_crashed_window_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir.path().join("aperod.sock"));
        // Bound then dropped without removing the file: what a crash leaves.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        assert!(matches!(claim(&path, &Raise::default()).unwrap(), Claim::First(_)));
    }
}
