//! The control socket: newline-delimited JSON, one request → one response,
//! or an event stream after `subscribe`. Every connection must start with a
//! matching `hello`. Bad input gets an error line and the connection (and the
//! daemon) goes on; only a wrong protocol version closes it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apero_control::{
    read_line_capped, ErrorBody, ErrorKind, HelloReply, LineBuf, LineRead, Reply, Request, Response, MAX_REQUEST_BYTES, PROTOCOL_VERSION,
};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;

use crate::app::App;
use crate::counters::Counters;

/// Binds the socket so that only its owner can use it.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

pub async fn serve(listener: UnixListener, app: Arc<App>) {
    let mut stop = app.shutdown.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let app = app.clone();
                    tokio::spawn(async move { connection(stream, app).await });
                }
                Err(e) => {
                    tracing::warn!("control socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorBody { kind, message: message.into() })
}

async fn send(w: &mut OwnedWriteHalf, response: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(response).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

async fn connection(stream: UnixStream, app: Arc<App>) {
    // The socket file is 0600 already; checking the peer's uid as well keeps
    // us safe if someone loosens its mode or its directory.
    // SAFETY: geteuid takes no arguments, touches no memory of ours and
    // cannot fail.
    #[allow(unsafe_code)]
    let me = unsafe { libc::geteuid() };
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == me => {}
        _ => {
            tracing::warn!("refused a control connection from another user");
            return;
        }
    }
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let mut buf = LineBuf::default();
    let mut greeted = false;
    loop {
        let read = match read_line_capped(&mut reader, MAX_REQUEST_BYTES, &mut buf).await {
            Ok(r) => r,
            Err(_) => return,
        };
        let request = match read {
            LineRead::Eof => return,
            LineRead::TooLong => {
                Counters::bump(&app.counters.bad_control, 1);
                let resp = error(ErrorKind::TooLarge, format!("request over {} bytes ignored", MAX_REQUEST_BYTES));
                if send(&mut w, &resp).await.is_err() {
                    return;
                }
                continue;
            }
            LineRead::Line => match serde_json::from_slice::<Request>(&buf) {
                Ok(r) => r,
                Err(e) => {
                    Counters::bump(&app.counters.bad_control, 1);
                    if send(&mut w, &error(ErrorKind::BadRequest, format!("not a valid request: {e}"))).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
        };
        if !greeted {
            let resp = match request {
                Request::Hello { version, .. } if version == PROTOCOL_VERSION => {
                    greeted = true;
                    Response::Ok(Reply::Hello(HelloReply { version: PROTOCOL_VERSION, daemon: env!("CARGO_PKG_VERSION").into() }))
                }
                Request::Hello { version, .. } => {
                    let _ = send(
                        &mut w,
                        &error(
                            ErrorKind::VersionMismatch,
                            format!("daemon {} speaks protocol {PROTOCOL_VERSION}, client speaks {version}", env!("CARGO_PKG_VERSION")),
                        ),
                    )
                    .await;
                    return;
                }
                _ => error(ErrorKind::HelloRequired, "send a hello with the protocol version first"),
            };
            if send(&mut w, &resp).await.is_err() {
                return;
            }
            continue;
        }
        match request {
            Request::Subscribe => {
                let rx = app.events.subscribe();
                if send(&mut w, &Response::Ok(Reply::Subscribed)).await.is_ok() {
                    stream_events(reader, w, rx).await;
                }
                return;
            }
            Request::Shutdown => {
                let _ = send(&mut w, &Response::Ok(Reply::Done)).await;
                let _ = app.shutdown.send(true);
                return;
            }
            other => {
                let resp = match app.dispatch(other).await {
                    Ok(reply) => Response::Ok(reply),
                    Err(e) => {
                        if e.is_internal() {
                            tracing::error!("request failed: {e}");
                        }
                        error(e.kind(), e.to_string())
                    }
                };
                if send(&mut w, &resp).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn stream_events(
    mut reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut w: OwnedWriteHalf,
    mut rx: tokio::sync::broadcast::Receiver<apero_control::Event>,
) {
    let mut sink = LineBuf::default();
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(RecvError::Lagged(n)) => apero_control::Event::Lagged { missed: n },
                    Err(RecvError::Closed) => return,
                };
                let Ok(mut line) = serde_json::to_vec(&ev) else { continue };
                line.push(b'\n');
                if w.write_all(&line).await.is_err() {
                    return;
                }
            }
            // Anything the subscriber writes is ignored; EOF ends the stream.
            read = read_line_capped(&mut reader, MAX_REQUEST_BYTES, &mut sink) => {
                if matches!(read, Ok(LineRead::Eof) | Err(_)) {
                    return;
                }
            }
        }
    }
}
