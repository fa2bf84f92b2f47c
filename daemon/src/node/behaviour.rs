use std::time::Duration;

use libp2p::core::Transport;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{autonat, dcutr, identify, kad, mdns, noise, ping, relay, tcp, yamux, StreamProtocol, Swarm, SwarmBuilder};

use super::own_addrs::OwnAddrs;
use super::{NodeConfig, NodeError, RelayMembers};
use crate::wire;

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub rooms: request_response::Behaviour<wire::Codec>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Raw streams for voice and files, outside this event loop: opened
    /// through libp2p-stream, accepted through our own queues.
    pub streams: libp2p_stream::Behaviour,
    pub inbound: super::inbound::Behaviour,
    /// Listening on relays (`/p2p-circuit`) when we cannot be dialed.
    pub relay_client: relay::client::Behaviour,
    /// Relaying for anyone (`--relay`), or for room members once AutoNAT
    /// finds us public; advertised (and accepting) only in those cases.
    pub relay: relay::Behaviour,
    /// Upgrades relayed connections to direct ones by hole punching.
    pub dcutr: dcutr::Behaviour,
    pub autonat: autonat::Behaviour,
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
}

/// The public IPFS DHT, so that the built-in bootstrap list is useful.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfs/kad/1.0.0");

/// Connections to friends carry periodic syncs; an idle one is cheap to redial.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The libp2p defaults (2 minutes, 128 KiB per circuit) cut a call within
/// seconds; these let a relayed call run for hours while the rate limits keep
/// strangers from using us as a free proxy. With `members`, only they may
/// reserve or open circuits (a friend's desktop relays for its friends, not
/// for the whole DHT).
fn relay_config(members: Option<RelayMembers>) -> relay::Config {
    let n = |v: u32| std::num::NonZeroU32::new(v).expect("non-zero");
    let mut c = relay::Config {
        reservation_rate_limiters: Vec::new(),
        circuit_src_rate_limiters: Vec::new(),
        max_reservations: 256,
        max_reservations_per_peer: 4,
        reservation_duration: Duration::from_secs(60 * 60),
        max_circuits: 64,
        max_circuits_per_peer: 8,
        max_circuit_duration: Duration::from_secs(12 * 60 * 60),
        max_circuit_bytes: 8 << 30,
    };
    if let Some(m) = members {
        // First in the list: the limiters stop at the first refusal, so
        // strangers do not use up the members' rate.
        let m2 = m.clone();
        c.reservation_rate_limiters.push(Box::new(move |peer, _: &libp2p::Multiaddr, _| m.contains(&peer)));
        c.circuit_src_rate_limiters.push(Box::new(move |peer, _: &libp2p::Multiaddr, _| m2.contains(&peer)));
    }
    c = c
        .reservation_rate_per_peer(n(30), Duration::from_secs(120))
        .reservation_rate_per_ip(n(60), Duration::from_secs(60))
        .circuit_src_per_peer(n(30), Duration::from_secs(60))
        .circuit_src_per_ip(n(60), Duration::from_secs(60));
    c
}

pub(super) fn build_swarm(
    key: Keypair,
    config: &NodeConfig,
    members: RelayMembers,
    datagrams: super::quic::Datagrams,
    inbound: &super::inbound::Inbound,
) -> Result<Swarm<Behaviour>, NodeError> {
    let inbound = inbound.behaviour();
    let setup = |e: &dyn std::fmt::Display| NodeError::Setup(e.to_string());
    let mdns_on = config.mdns;
    let lab = config.lab;
    let relay_server = config.relay_server;
    // The run id tells a peer's restart from its second connection (see
    // `connections::run_of`).
    let agent = format!("{} {}{:016x}", config.agent, super::connections::RUN_PREFIX, rand::random::<u64>());
    let congestion = config.congestion;
    let (proxy, proxy_use) = (config.proxy.clone(), config.proxy_use.clone());
    let codec = wire::Codec { bad_frames: config.bad_frames.clone() };
    let swarm = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        // Both transports behind `OwnAddrs`: a wildcard listener must not
        // announce a point-to-point link's far end as ours. TCP is therefore
        // put together here as `with_tcp` would.
        .with_other_transport(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
            // Dials the proxy settings name go through the proxy (node::proxy).
            let tcp = super::proxy::transport::ProxiedTcp::new(tcp, proxy, proxy_use)
                .upgrade(libp2p::core::upgrade::Version::V1Lazy)
                .authenticate(noise::Config::new(key)?)
                .multiplex(yamux::Config::default())
                .map(|(peer, muxer), _| (peer, libp2p::core::muxing::StreamMuxerBox::new(muxer)));
            Ok(OwnAddrs::new(tcp))
        })
        .map_err(|e| setup(&e))?
        .with_other_transport(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            Ok(OwnAddrs::new(super::quic::QuicTransport::new(key, congestion, datagrams)?))
        })
        .map_err(|e| setup(&e))?
        .with_dns()
        .map_err(|e| setup(&e))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| setup(&e))?
        .with_behaviour(|key, relay_client| {
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
                    identify::Config::new("/apero/1".into(), key.public())
                        .with_agent_version(agent)
                        // Friends learn our new relayed or changed addresses
                        // at once instead of at the next periodic identify.
                        .with_push_listen_addr_updates(true),
                ),
                ping: ping::Behaviour::new(ping::Config::new()),
                mdns: Toggle::from(mdns),
                streams: libp2p_stream::Behaviour::new(),
                inbound,
                relay_client,
                relay: {
                    let mut r = relay::Behaviour::new(peer_id, relay_config((!relay_server).then_some(members)));
                    // By default a relay turns itself on once it has any
                    // confirmed external address, relayed ones included; we
                    // decide instead: `--relay` says it is public, AutoNAT
                    // decides for everyone else (see `on_nat`).
                    r.set_status(Some(if relay_server { relay::Status::Enable } else { relay::Status::Disable }));
                    r
                },
                dcutr: dcutr::Behaviour::new(peer_id),
                autonat: autonat::Behaviour::new(
                    peer_id,
                    autonat::Config {
                        // Addresses in the test ranges count as public in the
                        // NAT testbed (`--lab`); elsewhere only global ones do.
                        only_global_ips: !lab,
                        boot_delay: Duration::from_secs(2),
                        retry_interval: Duration::from_secs(30),
                        throttle_server_period: Duration::from_secs(15),
                        ..Default::default()
                    },
                ),
                kad: {
                    let mut cfg = kad::Config::new(KAD_PROTOCOL);
                    cfg.set_query_timeout(Duration::from_secs(30));
                    let mut k = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), cfg);
                    // Answering DHT queries only makes sense once others can
                    // dial us; a relayed address does not count.
                    k.set_mode(Some(if relay_server { kad::Mode::Server } else { kad::Mode::Client }));
                    k
                },
            }
        })
        .map_err(|e| setup(&e))?
        // Not multistream-select V1Lazy: it saves a round trip per new
        // stream (which the per-frame voice design wanted), but Kademlia's
        // ADD_PROVIDER writes and closes its stream at once, and with
        // V1Lazy the relay never received it (see docs/benchmarks.md).
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    Ok(swarm)
}
