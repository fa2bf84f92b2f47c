//! Reading multiaddrs: relayed or not, through which relay, loopback,
//! whose.

use std::net::IpAddr;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

pub(crate) fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// The relay in `/.../p2p/RELAY/p2p-circuit/...`.
pub(super) fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let mut last = None;
    for p in addr.iter() {
        match p {
            Protocol::P2p(id) => last = Some(id),
            Protocol::P2pCircuit => return last,
            _ => {}
        }
    }
    None
}

pub(crate) fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

/// The IP an address starts from, if any.
pub(super) fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

pub(super) fn is_ip6_wildcard(addr: &Multiaddr) -> bool {
    matches!(ip_of(addr), Some(IpAddr::V6(ip)) if ip.is_unspecified())
}

/// A direct (not relayed) address on global unicast IPv6 (2000::/3).
pub(super) fn is_global_ip6(addr: &Multiaddr) -> bool {
    !is_relayed(addr) && matches!(ip_of(addr), Some(IpAddr::V6(ip)) if ip.segments()[0] & 0xe000 == 0x2000)
}

pub(super) fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}
