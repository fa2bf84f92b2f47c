//! Our own QUIC transport for libp2p, on quinn, so that voice can use QUIC
//! datagrams: `libp2p-quic` 0.14 turns them off and hides its connections.
//! docs/transport.md says why this design and what it costs.
//!
//! It speaks the same wire protocol as `libp2p-quic` (QUIC v1, the libp2p
//! TLS handshake of `libp2p-tls`, `/quic-v1` addresses), so peers running
//! either interoperate. Every completed connection is also handed to
//! [`Datagrams`], which the voice engine sends and receives through.
//!
//! Hole punching: DCUtR dials with the listener role and port reuse; such a
//! dial goes out from the listening socket, so both sides' Initial packets
//! open each other's NAT mappings, and one of the two connections wins.

mod datagrams;
mod error;
mod muxer;

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use libp2p::core::transport::{DialOpts, ListenerId, PortUse, TransportError, TransportEvent};
use libp2p::core::Transport;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};

pub use datagrams::{DatagramError, Datagrams};
pub use error::QuicError;
pub use muxer::{Connection, Substream};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Datagrams waiting for the congestion window: 16 kB is ~1 s of voice to one
/// peer. Beyond that quinn drops the oldest, which is what voice wants.
const DATAGRAM_SEND_BUFFER: usize = 16 * 1024;
const DATAGRAM_RECEIVE_BUFFER: usize = 64 * 1024;

/// Which congestion controller the connections use. Voice is a small
/// constant-rate flow: a loss-based controller (Cubic, NewReno) reads random
/// Wi-Fi loss as congestion and shrinks the window, BBR models the path's
/// rate and delay instead (measured in docs/benchmarks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Congestion {
    #[default]
    Bbr,
    Cubic,
    Newreno,
}

type Upgrade = BoxFuture<'static, Result<(PeerId, Connection), QuicError>>;

pub struct QuicTransport {
    client: quinn::ClientConfig,
    server: quinn::ServerConfig,
    endpoint_config: quinn::EndpointConfig,
    listeners: Vec<Listener>,
    /// Endpoints for dials that could not reuse a listener's port, per family (v6 = true).
    dialers: HashMap<bool, quinn::Endpoint>,
    datagrams: Datagrams,
    waker: Option<Waker>,
}

struct Listener {
    id: ListenerId,
    endpoint: quinn::Endpoint,
    local: SocketAddr,
    accept: BoxFuture<'static, Option<quinn::Incoming>>,
    watcher: Option<if_watch::tokio::IfWatcher>,
    /// The interface addresses we listen on (all of them for 0.0.0.0).
    ips: HashSet<IpAddr>,
    pending: VecDeque<TransportEvent<Upgrade, QuicError>>,
    closed: bool,
}

/// The key of our stateless-reset tokens, derived from the identity: after
/// a restart (kill -9, a crash) on the same port, the new run answers packets
/// of the old run's connections with a reset the other side accepts, and it
/// drops the dead connection at once instead of after the idle timeout. A
/// random key per run, quinn's default, made those resets unverifiable.
struct ResetKey([u8; 32]);

impl quinn::crypto::HmacKey for ResetKey {
    fn sign(&self, data: &[u8], out: &mut [u8]) {
        out.copy_from_slice(blake3::keyed_hash(&self.0, data).as_bytes());
    }

    fn signature_len(&self) -> usize {
        blake3::OUT_LEN
    }

    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), quinn::crypto::CryptoError> {
        // blake3::Hash compares in constant time.
        let ok = <[u8; 32]>::try_from(signature).is_ok_and(|s| blake3::keyed_hash(&self.0, data) == blake3::Hash::from(s));
        if ok {
            Ok(())
        } else {
            Err(quinn::crypto::CryptoError)
        }
    }
}

fn tls_err(e: impl std::fmt::Display) -> QuicError {
    QuicError::Tls(e.to_string())
}

impl QuicTransport {
    pub fn new(key: &Keypair, congestion: Congestion, datagrams: Datagrams) -> Result<QuicTransport, QuicError> {
        let mut t = quinn::TransportConfig::default();
        // libp2p multiplexes on bidirectional streams only.
        t.max_concurrent_uni_streams(0u32.into());
        t.max_concurrent_bidi_streams(256u32.into());
        t.keep_alive_interval(Some(Duration::from_secs(5)));
        t.max_idle_timeout(Some(quinn::VarInt::from_u32(10_000).into()));
        t.allow_spin(false);
        t.stream_receive_window(10_000_000u32.into());
        t.receive_window(15_000_000u32.into());
        t.datagram_receive_buffer_size(Some(DATAGRAM_RECEIVE_BUFFER));
        t.datagram_send_buffer_size(DATAGRAM_SEND_BUFFER);
        match congestion {
            Congestion::Bbr => t.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default())),
            Congestion::Cubic => t.congestion_controller_factory(Arc::new(quinn::congestion::CubicConfig::default())),
            Congestion::Newreno => t.congestion_controller_factory(Arc::new(quinn::congestion::NewRenoConfig::default())),
        };
        let t = Arc::new(t);

        let client_tls = libp2p_tls::make_client_config(key, None).map_err(tls_err)?;
        let mut client = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(client_tls).map_err(tls_err)?));
        client.transport_config(t.clone());
        let server_tls = libp2p_tls::make_server_config(key).map_err(tls_err)?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(server_tls).map_err(tls_err)?));
        server.transport = t;
        // A NAT rebinding would look like a new path; libp2p sees addresses
        // per connection, so a moved connection is a new one.
        server.migration(false);
        let mut endpoint_config = match key.derive_secret(b"apero quic stateless reset") {
            Some(secret) => quinn::EndpointConfig::new(Arc::new(ResetKey(secret))),
            None => quinn::EndpointConfig::default(),
        };
        endpoint_config.supported_versions(vec![1]);
        Ok(QuicTransport { client, server, endpoint_config, listeners: Vec::new(), dialers: HashMap::new(), datagrams, waker: None })
    }

    fn endpoint(&self, socket: UdpSocket, server: bool) -> Result<quinn::Endpoint, QuicError> {
        let server = server.then(|| self.server.clone());
        Ok(quinn::Endpoint::new(self.endpoint_config.clone(), server, socket, Arc::new(quinn::TokioRuntime))?)
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// The listener whose socket a dial to `to` should leave from, so the
    /// NAT mapping (and the address peers observe) is the one we listen on.
    fn listener_for(&self, to: &SocketAddr) -> Option<&Listener> {
        let fits: Vec<&Listener> = self
            .listeners
            .iter()
            .filter(|l| !l.closed && l.local.is_ipv6() == to.is_ipv6())
            .filter(|l| !to.ip().is_loopback() || l.ips.iter().any(IpAddr::is_loopback))
            .collect();
        if fits.is_empty() {
            return None;
        }
        // Several fit: spread by destination, but always the same one per destination.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        to.hash(&mut h);
        fits.get(h.finish() as usize % fits.len()).copied()
    }
}

fn upgrade(connecting: quinn::Connecting, datagrams: Datagrams) -> Upgrade {
    async move {
        let conn = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await.map_err(|_| QuicError::HandshakeTimeout)??;
        let peer = peer_of(&conn)?;
        datagrams.add(peer, conn.clone());
        Ok((peer, Connection::new(conn)))
    }
    .boxed()
}

/// The peer id in the certificate the peer proved it holds the key of.
fn peer_of(conn: &quinn::Connection) -> Result<PeerId, QuicError> {
    let identity = conn.peer_identity().ok_or(QuicError::Identity("no certificate"))?;
    let certs = identity
        .downcast::<Vec<quinn::rustls::pki_types::CertificateDer<'static>>>()
        .map_err(|_| QuicError::Identity("not an X.509 chain"))?;
    let cert = certs.first().ok_or(QuicError::Identity("empty chain"))?;
    let parsed = libp2p_tls::certificate::parse(cert).map_err(|_| QuicError::Identity("not a libp2p certificate"))?;
    Ok(parsed.peer_id())
}

/// `/ip4|ip6/<ip>/udp/<port>/quic-v1[/p2p/<id>]`.
pub fn socket_addr_of(addr: &Multiaddr) -> Option<(SocketAddr, Option<PeerId>)> {
    let mut it = addr.iter();
    let ip: IpAddr = match it.next()? {
        Protocol::Ip4(ip) => ip.into(),
        Protocol::Ip6(ip) => ip.into(),
        _ => return None,
    };
    let Protocol::Udp(port) = it.next()? else { return None };
    let Protocol::QuicV1 = it.next()? else { return None };
    let peer = match it.next() {
        None => None,
        Some(Protocol::P2p(id)) => Some(id),
        Some(_) => return None,
    };
    if it.next().is_some() {
        return None;
    }
    Some((SocketAddr::new(ip, port), peer))
}

pub fn multiaddr_of(addr: &SocketAddr) -> Multiaddr {
    Multiaddr::empty().with(addr.ip().into()).with(Protocol::Udp(addr.port())).with(Protocol::QuicV1)
}

fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = if addr.is_ipv6() { socket2::Domain::IPV6 } else { socket2::Domain::IPV4 };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        // One socket per family, as the TCP transport does.
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    Ok(s.into())
}

fn accept_next(endpoint: &quinn::Endpoint) -> BoxFuture<'static, Option<quinn::Incoming>> {
    let ep = endpoint.clone();
    async move { ep.accept().await }.boxed()
}

impl Transport for QuicTransport {
    type Output = (PeerId, Connection);
    type Error = QuicError;
    type ListenerUpgrade = Upgrade;
    type Dial = Upgrade;

    fn listen_on(&mut self, id: ListenerId, addr: Multiaddr) -> Result<(), TransportError<QuicError>> {
        let Some((sock_addr, _)) = socket_addr_of(&addr) else { return Err(TransportError::MultiaddrNotSupported(addr)) };
        let socket = bind(sock_addr).map_err(|e| TransportError::Other(e.into()))?;
        let local = socket.local_addr().map_err(|e| TransportError::Other(e.into()))?;
        let endpoint = self.endpoint(socket, true).map_err(TransportError::Other)?;
        let mut l = Listener {
            id,
            accept: accept_next(&endpoint),
            endpoint,
            local,
            watcher: None,
            ips: HashSet::new(),
            pending: VecDeque::new(),
            closed: false,
        };
        if local.ip().is_unspecified() {
            l.watcher = Some(if_watch::tokio::IfWatcher::new().map_err(|e| TransportError::Other(e.into()))?);
        } else {
            l.ips.insert(local.ip());
            l.pending.push_back(TransportEvent::NewAddress { listener_id: id, listen_addr: multiaddr_of(&local) });
        }
        self.listeners.push(l);
        // Dials now leave from the listening port.
        self.dialers.remove(&local.is_ipv6());
        self.wake();
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        let Some(l) = self.listeners.iter_mut().find(|l| l.id == id && !l.closed) else { return false };
        l.endpoint.close(0u32.into(), b"");
        l.closed = true;
        l.pending.push_back(TransportEvent::ListenerClosed { listener_id: id, reason: Ok(()) });
        self.wake();
        true
    }

    fn dial(&mut self, addr: Multiaddr, opts: DialOpts) -> Result<Upgrade, TransportError<QuicError>> {
        let Some((to, _)) = socket_addr_of(&addr) else { return Err(TransportError::MultiaddrNotSupported(addr)) };
        if to.port() == 0 || to.ip().is_unspecified() {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        // The role (a hole punch's "listener") changes nothing here: see the module doc.
        let endpoint = match (opts.port_use, self.listener_for(&to)) {
            (PortUse::Reuse, Some(l)) => l.endpoint.clone(),
            (PortUse::Reuse, None) => match self.dialers.get(&to.is_ipv6()) {
                Some(e) => e.clone(),
                None => {
                    let e = self.new_dialer(&to).map_err(TransportError::Other)?;
                    self.dialers.insert(to.is_ipv6(), e.clone());
                    e
                }
            },
            (PortUse::New, _) => self.new_dialer(&to).map_err(TransportError::Other)?,
        };
        let connecting = endpoint.connect_with(self.client.clone(), to, "l").map_err(|e| TransportError::Other(e.into()))?;
        Ok(upgrade(connecting, self.datagrams.clone()))
    }

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TransportEvent<Upgrade, QuicError>> {
        let datagrams = self.datagrams.clone();
        for l in self.listeners.iter_mut() {
            if let Some(ev) = l.poll_event(cx, &datagrams) {
                return Poll::Ready(ev);
            }
        }
        self.listeners.retain(|l| !(l.closed && l.pending.is_empty()));
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl QuicTransport {
    fn new_dialer(&self, to: &SocketAddr) -> Result<quinn::Endpoint, QuicError> {
        let any: IpAddr = if to.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
        self.endpoint(bind(SocketAddr::new(any, 0))?, false)
    }
}

impl Listener {
    fn poll_event(&mut self, cx: &mut Context<'_>, datagrams: &Datagrams) -> Option<TransportEvent<Upgrade, QuicError>> {
        if let Some(ev) = self.pending.pop_front() {
            return Some(ev);
        }
        if self.closed {
            return None;
        }
        if let Some(w) = self.watcher.as_mut() {
            while let Poll::Ready(ev) = w.poll_if_event(cx) {
                match ev {
                    Ok(if_watch::IfEvent::Up(net)) if net.addr().is_ipv6() == self.local.is_ipv6() => {
                        self.ips.insert(net.addr());
                        let listen_addr = multiaddr_of(&SocketAddr::new(net.addr(), self.local.port()));
                        return Some(TransportEvent::NewAddress { listener_id: self.id, listen_addr });
                    }
                    Ok(if_watch::IfEvent::Down(net)) if net.addr().is_ipv6() == self.local.is_ipv6() => {
                        self.ips.remove(&net.addr());
                        let listen_addr = multiaddr_of(&SocketAddr::new(net.addr(), self.local.port()));
                        return Some(TransportEvent::AddressExpired { listener_id: self.id, listen_addr });
                    }
                    Ok(_) => {}
                    Err(e) => return Some(TransportEvent::ListenerError { listener_id: self.id, error: e.into() }),
                }
            }
        }
        loop {
            match self.accept.poll_unpin(cx) {
                Poll::Ready(Some(incoming)) => {
                    self.accept = accept_next(&self.endpoint);
                    let send_back_addr = multiaddr_of(&incoming.remote_address());
                    let Ok(connecting) = incoming.accept() else { continue };
                    return Some(TransportEvent::Incoming {
                        listener_id: self.id,
                        upgrade: upgrade(connecting, datagrams.clone()),
                        local_addr: multiaddr_of(&self.local),
                        send_back_addr,
                    });
                }
                Poll::Ready(None) => {
                    self.closed = true;
                    return Some(TransportEvent::ListenerClosed { listener_id: self.id, reason: Ok(()) });
                }
                Poll::Pending => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_both_ways() {
        let a: Multiaddr = "/ip4/10.0.0.1/udp/4001/quic-v1".parse().unwrap();
        let (s, p) = socket_addr_of(&a).unwrap();
        assert_eq!(s, "10.0.0.1:4001".parse().unwrap());
        assert!(p.is_none());
        assert_eq!(multiaddr_of(&s), a);
        let id = PeerId::random();
        let with_id = a.clone().with(Protocol::P2p(id));
        assert_eq!(socket_addr_of(&with_id).unwrap().1, Some(id));
        for bad in [
            "/ip4/10.0.0.1/udp/4001",
            "/ip4/10.0.0.1/tcp/4001/quic-v1",
            "/ip4/10.0.0.1/udp/4001/quic",
            "/ip6/::1/udp/1/quic-v1/p2p-circuit",
        ] {
            assert!(socket_addr_of(&bad.parse().unwrap()).is_none(), "{bad}");
        }
    }
}
