//! A raw libp2p peer for tests of the daemon's protocols: any identity,
//! any bytes, on any protocol.
#![allow(dead_code)]

use std::time::Duration;

use aperod::node::quic::{Congestion, Datagrams, QuicTransport};
use aperod::wire::{PeerRequest, PeerResponse, PROTOCOL as ROOM};
use futures::{AsyncWriteExt, StreamExt};
use libp2p::{Multiaddr, PeerId, StreamProtocol};

use super::Daemon;

/// Connects to `target` over QUIC from a throwaway libp2p identity.
pub async fn raw_peer(target: &Daemon) -> (libp2p_stream::Control, PeerId) {
    raw_peer_with(target, libp2p::identity::Keypair::generate_ed25519()).await
}

pub async fn raw_peer_with(target: &Daemon, key: libp2p::identity::Keypair) -> (libp2p_stream::Control, PeerId) {
    let (control, peer, _) = raw_peer_datagrams(target, key).await;
    (control, peer)
}

/// Like [`raw_peer_with`], on the daemon's own QUIC transport, with the
/// connection's datagrams.
pub async fn raw_peer_datagrams(target: &Daemon, key: libp2p::identity::Keypair) -> (libp2p_stream::Control, PeerId, Datagrams) {
    let st = target.json(&["status"]);
    let peer: PeerId = st["peer_id"].as_str().unwrap().parse().unwrap();
    let addr: Multiaddr =
        st["listen"].as_array().unwrap().iter().find(|a| a.as_str().unwrap().contains("quic")).unwrap().as_str().unwrap().parse().unwrap();
    let datagrams = Datagrams::default();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| QuicTransport::new(key, Congestion::Bbr, datagrams.clone()).unwrap())
        .unwrap()
        .with_behaviour(|_| libp2p_stream::Behaviour::new())
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let control = swarm.behaviour().new_control();
    swarm.dial(addr).unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let libp2p::swarm::SwarmEvent::ConnectionEstablished { .. } = swarm.select_next_some().await {
                break;
            }
        }
    })
    .await
    .expect("connect to the daemon");
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    (control, peer, datagrams)
}

/// `bytes` on a new stream of the room protocol.
pub async fn send_raw(control: &mut libp2p_stream::Control, peer: PeerId, bytes: &[u8]) {
    let mut s = control.open_stream(peer, ROOM).await.expect("open stream");
    let _ = s.write_all(bytes).await;
    let _ = s.close().await;
}

/// `bytes` on a new stream of `protocol`. The daemon may refuse or reset a
/// hostile stream, and that is no failure of the test.
pub async fn send_raw_on(control: &mut libp2p_stream::Control, peer: PeerId, protocol: StreamProtocol, bytes: &[u8]) {
    if let Ok(mut s) = control.open_stream(peer, protocol).await {
        let _ = s.write_all(bytes).await;
        let _ = s.close().await;
    }
}

pub fn framed(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// One request and its response on a new stream of the room protocol.
pub async fn rpc(control: &mut libp2p_stream::Control, peer: PeerId, req: &PeerRequest) -> PeerResponse {
    let mut s = control.open_stream(peer, ROOM).await.unwrap();
    s.write_all(&framed(&serde_json::to_vec(req).unwrap())).await.unwrap();
    s.flush().await.unwrap();
    let mut len = [0u8; 4];
    futures::AsyncReadExt::read_exact(&mut s, &mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    futures::AsyncReadExt::read_exact(&mut s, &mut body).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}
