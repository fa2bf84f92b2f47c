//! One QUIC connection as libp2p sees it: a stream muxer over quinn's
//! bidirectional streams. Datagrams bypass it (see `datagrams.rs`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::{AsyncRead, AsyncWrite, FutureExt};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};

use super::error::QuicError;

type Opening = BoxFuture<'static, Result<(quinn::SendStream, quinn::RecvStream), quinn::ConnectionError>>;

pub struct Connection {
    conn: quinn::Connection,
    inbound: Option<Opening>,
    outbound: Option<Opening>,
    closing: Option<BoxFuture<'static, quinn::ConnectionError>>,
}

impl Connection {
    pub(super) fn new(conn: quinn::Connection) -> Connection {
        Connection { conn, inbound: None, outbound: None, closing: None }
    }
}

impl Drop for Connection {
    // The datagram registry holds clones of the quinn connection, which would
    // keep it open after libp2p let it go: libp2p's drop is the close.
    fn drop(&mut self) {
        self.conn.close(0u32.into(), b"");
    }
}

fn poll_open(slot: &mut Option<Opening>, cx: &mut Context<'_>, start: impl FnOnce() -> Opening) -> Poll<Result<Substream, QuicError>> {
    let fut = slot.get_or_insert_with(start);
    let res = futures::ready!(fut.poll_unpin(cx));
    *slot = None;
    Poll::Ready(res.map(|(send, recv)| Substream { send, recv, closed: None }).map_err(QuicError::from))
}

impl StreamMuxer for Connection {
    type Substream = Substream;
    type Error = QuicError;

    fn poll_inbound(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Substream, QuicError>> {
        let this = self.get_mut();
        let conn = &this.conn;
        poll_open(&mut this.inbound, cx, || {
            let conn = conn.clone();
            async move { conn.accept_bi().await }.boxed()
        })
    }

    fn poll_outbound(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Substream, QuicError>> {
        let this = self.get_mut();
        let conn = &this.conn;
        poll_open(&mut this.outbound, cx, || {
            let conn = conn.clone();
            async move { conn.open_bi().await }.boxed()
        })
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), QuicError>> {
        let this = self.get_mut();
        let conn = &this.conn;
        let fut = this.closing.get_or_insert_with(|| {
            conn.close(0u32.into(), b"");
            let conn = conn.clone();
            async move { conn.closed().await }.boxed()
        });
        match futures::ready!(fut.poll_unpin(cx)) {
            quinn::ConnectionError::LocallyClosed => Poll::Ready(Ok(())),
            e => Poll::Ready(Err(e.into())),
        }
    }

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<StreamMuxerEvent, QuicError>> {
        // QUIC migrates paths itself; nothing to report.
        Poll::Pending
    }
}

/// A bidirectional QUIC stream as one read/write object.
pub struct Substream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    /// How closing ended. Protocols close more than once (a codec, then the
    /// handler), and quinn answers a second finish with an error.
    closed: Option<Result<(), io::ErrorKind>>,
}

impl AsyncRead for Substream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if matches!(this.closed, Some(Err(_))) {
            // The stream was reset under us: what a reader gets is its end.
            return Poll::Ready(Ok(0));
        }
        AsyncRead::poll_read(Pin::new(&mut this.recv), cx, buf)
    }
}

impl AsyncWrite for Substream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(Pin::new(&mut self.get_mut().send), cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().send), cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(r) = this.closed {
            return Poll::Ready(r.map_err(io::Error::from));
        }
        let r = futures::ready!(AsyncWrite::poll_close(Pin::new(&mut this.send), cx));
        this.closed = Some(r.as_ref().map(|_| ()).map_err(io::Error::kind));
        Poll::Ready(r)
    }
}
