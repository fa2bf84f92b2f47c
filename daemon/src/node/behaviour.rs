use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, mdns, noise, ping, tcp, yamux, Swarm, SwarmBuilder};

use super::{NodeConfig, NodeError};
use crate::wire;

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub rooms: request_response::Behaviour<wire::Codec>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Raw streams for voice, outside this event loop.
    pub streams: libp2p_stream::Behaviour,
}

/// Connections to friends carry periodic syncs; an idle one is cheap to redial.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn build_swarm(key: Keypair, config: &NodeConfig) -> Result<Swarm<Behaviour>, NodeError> {
    let setup = |e: &dyn std::fmt::Display| NodeError::Setup(e.to_string());
    let mdns_on = config.mdns;
    let agent = config.agent.clone();
    let codec = wire::Codec { bad_frames: config.bad_frames.clone() };
    let swarm = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| setup(&e))?
        .with_quic()
        .with_dns()
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let mdns = if mdns_on {
                match mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        // No multicast (a container, a VPN): friends are still
                        // found through stored addresses and invites.
                        tracing::warn!("mDNS is unavailable, LAN discovery is off: {e}");
                        None
                    }
                }
            } else {
                None
            };
            Behaviour {
                rooms: request_response::Behaviour::with_codec(
                    codec,
                    [(wire::PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
                ),
                identify: identify::Behaviour::new(
                    identify::Config::new("/apero/1".into(), key.public()).with_agent_version(agent),
                ),
                ping: ping::Behaviour::new(ping::Config::new()),
                mdns: Toggle::from(mdns),
                streams: libp2p_stream::Behaviour::new(),
            }
        })
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| {
            // Every protocol here is offered alone, so the opener need not wait
            // a round trip for the protocol echo (multistream-select V1) before
            // writing: a new stream costs no extra round trip, which the
            // per-frame voice design depends on.
            c.with_idle_connection_timeout(IDLE_TIMEOUT)
                .with_substream_upgrade_protocol_override(libp2p::core::upgrade::Version::V1Lazy)
        })
        .build();
    Ok(swarm)
}
