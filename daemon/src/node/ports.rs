//! Sticky listen ports. The default listeners ask for port 0 (any free
//! port), so each restart used to come back on new ports and every address
//! the room's members had stored for us went stale: after a restart we could
//! dial them, but they could not dial us, and two members restarted one after
//! the other could not find each other at all until a third carried their new
//! addresses. We remember the ports we got and ask for them again; a port
//! taken meanwhile falls back to a free one.

use std::collections::HashMap;

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;

/// "ip4/udp", "ip6/tcp", ... and the port, for a direct listen address.
pub fn key_port(addr: &Multiaddr) -> Option<(String, u16)> {
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(_) => ip = Some("ip4"),
            Protocol::Ip6(_) => ip = Some("ip6"),
            Protocol::Udp(n) => port = Some(("udp", n)),
            Protocol::Tcp(n) => port = Some(("tcp", n)),
            Protocol::P2pCircuit => return None,
            _ => {}
        }
    }
    let (proto, n) = port?;
    Some((format!("{}/{proto}", ip?), n))
}

/// Whether nobody else holds `addr`'s port. libp2p's sockets set
/// SO_REUSEPORT, so a second daemon could bind a port another one listens
/// on and the kernel would split the connections between them; a plain
/// socket (without it) is refused while any socket holds the port.
pub fn free(addr: &Multiaddr) -> bool {
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Udp(n) => port = Some((true, n)),
            Protocol::Tcp(n) => port = Some((false, n)),
            _ => {}
        }
    }
    match (ip, port) {
        (Some(ip), Some((true, n))) => std::net::UdpSocket::bind((ip, n)).is_ok(),
        (Some(ip), Some((false, n))) => std::net::TcpListener::bind((ip, n)).is_ok(),
        _ => false,
    }
}

/// `addr` on the port remembered for its kind, if it asks for port 0 and
/// one is remembered.
pub fn remembered(addr: &Multiaddr, last: &HashMap<String, u16>) -> Option<Multiaddr> {
    let (key, 0) = key_port(addr)? else { return None };
    let want = *last.get(&key).filter(|p| **p != 0)?;
    Some(
        addr.iter()
            .map(|p| match p {
                Protocol::Udp(0) => Protocol::Udp(want),
                Protocol::Tcp(0) => Protocol::Tcp(want),
                other => other,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_listeners_get_their_last_port_back() {
        let last: HashMap<String, u16> = [("ip4/udp".to_string(), 4242), ("ip6/tcp".to_string(), 4343)].into();
        let q: Multiaddr = "/ip4/0.0.0.0/udp/0/quic-v1".parse().unwrap();
        assert_eq!(remembered(&q, &last).unwrap().to_string(), "/ip4/0.0.0.0/udp/4242/quic-v1");
        let t6: Multiaddr = "/ip6/::/tcp/0".parse().unwrap();
        assert_eq!(remembered(&t6, &last).unwrap().to_string(), "/ip6/::/tcp/4343");
        // A fixed port stays; a kind with nothing remembered stays at 0.
        assert!(remembered(&"/ip4/0.0.0.0/udp/9/quic-v1".parse().unwrap(), &last).is_none());
        assert!(remembered(&"/ip4/0.0.0.0/tcp/0".parse().unwrap(), &last).is_none());
        let circuit: Multiaddr = "/ip4/1.2.3.4/tcp/1/p2p/12D3KooWRH6LPFwVAHrbxbibwEmfFiY5Emab6kfmW1kE6nT3nWxo/p2p-circuit".parse().unwrap();
        assert!(key_port(&circuit).is_none());
        assert_eq!(key_port(&"/ip4/10.0.0.1/udp/5/quic-v1".parse().unwrap()), Some(("ip4/udp".to_string(), 5)));
    }

    #[test]
    fn a_port_someone_holds_is_not_free() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(!free(&format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()));
        drop(held);
        assert!(free(&format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        assert!(!free(&format!("/ip4/127.0.0.1/udp/{port}/quic-v1").parse().unwrap()));
    }
}
