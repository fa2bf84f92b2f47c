//! TCP as libp2p's, except that dials the proxy settings send through a
//! proxy go there: a connection to the proxy, its handshake, and then the
//! same stream type as a direct dial, so noise and yamux above it do not
//! know the difference. Listening is libp2p's own.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::FutureExt;
use libp2p::core::multiaddr::Protocol;
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::core::Transport;
use libp2p::tcp;
use libp2p::Multiaddr;

use super::{http_connect, socks5_connect, ProxyKind, ProxySettings};

/// What went through the proxy, for `status` and `doctor`.
#[derive(Debug, Default)]
pub struct ProxyUse {
    pub dials: AtomicU64,
    pub failures: AtomicU64,
    /// The last failure, in words.
    pub last_error: std::sync::Mutex<Option<String>>,
}

pub struct ProxiedTcp {
    inner: tcp::tokio::Transport,
    settings: Arc<ProxySettings>,
    used: Arc<ProxyUse>,
}

impl ProxiedTcp {
    pub fn new(inner: tcp::tokio::Transport, settings: Arc<ProxySettings>, used: Arc<ProxyUse>) -> ProxiedTcp {
        ProxiedTcp { inner, settings, used }
    }
}

/// `/ip4|ip6|dns*/HOST/tcp/PORT[/...]` → (host, port); `None` for anything
/// else (a relayed or QUIC address).
fn host_port(addr: &Multiaddr) -> Option<(String, u16)> {
    let mut it = addr.iter();
    let host = match it.next()? {
        Protocol::Ip4(ip) => ip.to_string(),
        Protocol::Ip6(ip) => ip.to_string(),
        Protocol::Dns(h) | Protocol::Dns4(h) | Protocol::Dns6(h) => h.to_string(),
        _ => return None,
    };
    match it.next()? {
        Protocol::Tcp(port) if port != 0 => Some((host, port)),
        _ => None,
    }
}

impl Transport for ProxiedTcp {
    type Output = tcp::tokio::TcpStream;
    type Error = std::io::Error;
    type ListenerUpgrade = <tcp::tokio::Transport as Transport>::ListenerUpgrade;
    type Dial = BoxFuture<'static, Result<Self::Output, Self::Error>>;

    fn listen_on(&mut self, id: ListenerId, addr: Multiaddr) -> Result<(), TransportError<Self::Error>> {
        self.inner.listen_on(id, addr)
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.inner.remove_listener(id)
    }

    fn dial(&mut self, addr: Multiaddr, opts: DialOpts) -> Result<Self::Dial, TransportError<Self::Error>> {
        let Some((host, port)) = host_port(&addr) else { return Err(TransportError::MultiaddrNotSupported(addr)) };
        let Some(proxy) = self.settings.for_host(&host).cloned() else { return self.inner.dial(addr, opts) };
        let used = self.used.clone();
        Ok(async move {
            used.dials.fetch_add(1, Ordering::Relaxed);
            let result = async {
                let mut s = tokio::net::TcpStream::connect((proxy.host.as_str(), proxy.port))
                    .await
                    .map_err(|err| super::ProxyError::Unreachable { proxy: proxy.display(), err })?;
                let _ = s.set_nodelay(true);
                match proxy.kind {
                    ProxyKind::Http => http_connect(&mut s, &proxy, &host, port).await?,
                    ProxyKind::Socks5 => socks5_connect(&mut s, &proxy, &host, port).await?,
                }
                Ok::<_, super::ProxyError>(tcp::tokio::TcpStream(s))
            }
            .await;
            if let Err(e) = &result {
                used.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("dial through the proxy: {e}");
                *crate::lock::lock(&used.last_error) = Some(e.to_string());
            }
            result.map_err(std::io::Error::from)
        }
        .boxed())
    }

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_tcp_addresses_have_a_host_and_port() {
        let hp = |s: &str| super::host_port(&s.parse().unwrap());
        assert_eq!(
            hp("/ip4/203.0.113.7/tcp/443/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"),
            Some(("203.0.113.7".into(), 443))
        );
        assert_eq!(hp("/dns4/door.example/tcp/443"), Some(("door.example".into(), 443)));
        assert_eq!(hp("/ip6/::1/tcp/7"), Some(("::1".into(), 7)));
        assert_eq!(hp("/ip4/203.0.113.7/udp/443/quic-v1"), None);
        assert_eq!(hp("/ip4/203.0.113.7/tcp/0"), None);
    }
}
