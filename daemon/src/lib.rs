//! aperod: the apero daemon. See `main.rs` for the process and `run` for how
//! the parts are put together.

//!
//! The layers, top to bottom (`scripts/check-layers.py` keeps them so):
//! `config` → `control` (the socket) → `app` (composition root and
//! dispatcher) → the services `room`, `voice`, `files` (which never import
//! each other) → `handles`, `events`, `counters`, `error` → `node`, `store`,
//! `entry`, `wire`, `identity`, `lock`. See docs/architecture.md.

pub mod app;
pub mod channels;
pub mod config;
pub mod control;
pub mod counters;
pub mod entry;
pub mod error;
pub mod events;
pub mod files;
pub mod handles;
pub mod identity;
pub mod lock;
pub mod node;
pub mod rate;
pub mod room;
pub mod store;
pub mod video;
pub mod voice;
pub mod wire;

use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;

/// Runs the daemon until SIGTERM, SIGINT or a `shutdown` request.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let paths = &config.paths;
    paths.create()?;
    let _lock = lock::acquire(&paths.lock(), &paths.data)?;
    // We hold the lock, so a socket file here was left by a daemon that died.
    if paths.socket.exists() {
        tracing::info!("removing a stale socket left by an earlier daemon");
        std::fs::remove_file(&paths.socket).with_context(|| format!("removing {}", paths.socket.display()))?;
    }
    let key = identity::load_or_create(&paths.key())?;
    let db = store::Store::open(&paths.db()).with_context(|| format!("opening {}", paths.db().display()))?;

    let db = std::sync::Arc::new(db);
    let last_ports = db
        .meta(app::PORT_KEY)?
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(app::PORT_KEY)?.to_string(), v.parse().ok()?)))
        .collect();
    let counters = std::sync::Arc::new(counters::Counters::default());
    let proxy = std::sync::Arc::new(config.proxy.clone());
    let proxy_use = std::sync::Arc::new(node::proxy::transport::ProxyUse::default());
    if let Some(p) = &proxy.proxy {
        tracing::info!("TCP dials go through the proxy {} (from {})", p.display(), p.source);
    }
    let node_config = node::NodeConfig {
        bad_frames: counters.bad_frames.clone(),
        shed_events: counters.shed_events.clone(),
        coalesced_events: counters.coalesced_events.clone(),
        listen: config.listen.clone(),
        mdns: config.mdns,
        bootstrap: config.bootstrap.clone(),
        relay_server: config.relay,
        lab: config.lab,
        agent: format!("aperod/{}", env!("CARGO_PKG_VERSION")),
        congestion: config.quic_congestion,
        last_ports,
        proxy: proxy.clone(),
        proxy_use: proxy_use.clone(),
    };
    let (node, node_events, event_loop) = node::new(key.clone(), node_config)?;
    let net = tokio::spawn(event_loop.run());
    let app_config = app::AppConfig {
        name: config.name.clone(),
        home: paths.data.clone(),
        voice: config.voice.clone(),
        voice_kbps: config.voice_kbps,
        upload_limit_kbit: config.upload_limit_kbit,
        pace_transfers: config.pace_transfers,
        frames: paths.socket.parent().unwrap_or(&paths.data).join("frames"),
        proxy,
        proxy_use,
    };
    let app = app::App::start(db.clone(), node.clone(), node_events, key, counters, app_config)?;

    let listener = control::bind(&paths.socket).with_context(|| format!("binding {}", paths.socket.display()))?;
    let server = tokio::spawn(control::serve(listener, app.clone()));
    tracing::info!(peer_id = %app.peer_id(), name = %config.name, socket = %paths.socket.display(), "aperod is running");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut stop = app.shutdown.subscribe();
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        _ = stop.changed() => tracing::info!("shutdown requested"),
    }
    // Leaving the call finishes the audio backend's files. Bounded: telling
    // peers we left goes over the network, and peers behind a relay that
    // just died would hold up a stop the user asked for (a daemon once took
    // over 15 s to obey SIGTERM in the chaos run).
    match tokio::time::timeout(Duration::from_secs(2), app.calls.leave()).await {
        Ok(Err(e)) => tracing::warn!("{e}"),
        Err(_) => tracing::warn!("leaving the call took too long; stopping anyway"),
        Ok(Ok(())) => {}
    }
    if let Err(e) = app.calls.sound_check_stop().await {
        tracing::warn!("{e}");
    }
    let _ = app.shutdown.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let _ = std::fs::remove_file(&paths.socket);
    node.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), net).await;
    if let Err(e) = db.close() {
        tracing::warn!("closing the database: {e}");
    }
    tracing::info!("stopped");
    Ok(())
}
