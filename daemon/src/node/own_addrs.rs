//! Listen addresses that are really ours.
//!
//! A wildcard listener learns its addresses from the interfaces (if-watch,
//! in libp2p-tcp and in our QUIC transport), and on a point-to-point
//! interface (a VPN's tun, PPP) if-watch reports the *far end's* address:
//! netlink's `IFA_ADDRESS` is the peer there, the local one is `IFA_LOCAL`.
//! Advertised (identify, invite codes), such an address sends friends to a
//! machine that is not us. This wrapper drops every new listen address that
//! the kernel will not let us bind, which is exactly "not one of ours", on
//! every platform. IPv6 link-local addresses go the same way: they cannot be
//! bound (nor dialed) without their interface, which a multiaddr lacks.

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::pin::Pin;
use std::task::{Context, Poll};

use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::core::Transport;
use libp2p::Multiaddr;

use super::addrs::ip_of;

pub struct OwnAddrs<T> {
    inner: T,
    /// Addresses we kept quiet about, so their expiry is kept quiet too.
    dropped: HashSet<Multiaddr>,
}

impl<T> OwnAddrs<T> {
    pub fn new(inner: T) -> OwnAddrs<T> {
        OwnAddrs { inner, dropped: HashSet::new() }
    }
}

/// Whether `addr`'s IP is one of this machine's (any address without an IP,
/// a DNS name or a relay circuit, is left alone).
pub fn is_ours(addr: &Multiaddr) -> bool {
    match ip_of(addr) {
        Some(ip) if !ip.is_unspecified() => UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok(),
        _ => true,
    }
}

impl<T: Transport + Unpin> Transport for OwnAddrs<T> {
    type Output = T::Output;
    type Error = T::Error;
    type ListenerUpgrade = T::ListenerUpgrade;
    type Dial = T::Dial;

    fn listen_on(&mut self, id: ListenerId, addr: Multiaddr) -> Result<(), TransportError<Self::Error>> {
        self.inner.listen_on(id, addr)
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.inner.remove_listener(id)
    }

    fn dial(&mut self, addr: Multiaddr, opts: DialOpts) -> Result<Self::Dial, TransportError<Self::Error>> {
        self.inner.dial(addr, opts)
    }

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        loop {
            let event = match Pin::new(&mut self.inner).poll(cx) {
                Poll::Ready(e) => e,
                Poll::Pending => return Poll::Pending,
            };
            match event {
                TransportEvent::NewAddress { listen_addr, .. } if !is_ours(&listen_addr) => {
                    tracing::info!(
                        "not announcing {listen_addr}: this machine cannot bind it (a point-to-point link's far end, \
                         or an IPv6 link-local address, which needs its interface)"
                    );
                    self.dropped.insert(listen_addr);
                }
                TransportEvent::AddressExpired { listen_addr, .. } if self.dropped.remove(&listen_addr) => {}
                e => return Poll::Ready(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_unspecified_addresses_are_ours_others_are_not() {
        let ours = |s: &str| is_ours(&s.parse().unwrap());
        assert!(ours("/ip4/127.0.0.1/udp/4001/quic-v1"));
        assert!(ours("/ip4/0.0.0.0/tcp/0"));
        assert!(ours("/dns4/example.org/tcp/1"));
        // TEST-NET-3 (RFC 5737): documentation only, never on an interface.
        assert!(!ours("/ip4/203.0.113.9/udp/4001/quic-v1"));
    }
}
