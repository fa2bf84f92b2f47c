//! What can go wrong in our QUIC transport.

#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot start a QUIC connection: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("QUIC connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("the QUIC handshake timed out")]
    HandshakeTimeout,
    #[error("the peer's TLS identity is unusable: {0}")]
    Identity(&'static str),
    #[error("no QUIC listener to hole-punch from")]
    NoListener,
    #[error("a hole punch to {0} is already under way")]
    PunchInProgress(std::net::SocketAddr),
    #[error("the hole punch to {0} got no answer")]
    PunchTimeout(std::net::SocketAddr),
    #[error("TLS setup: {0}")]
    Tls(String),
}
