//! `apero up`, `apero down`, `apero status`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use apero_control::launch::Start;
use apero_control::{LaunchError, LaunchOptions, Nat, Relaying};
use clap::Args;

use crate::output::{self, outln, short_id};
use crate::{Ctx, CLIENT_NAME};

#[derive(Args, Debug)]
pub struct UpArgs {
    /// The name your friends see (saved for next time).
    #[arg(long)]
    name: Option<String>,
    /// Listen address for the daemon (repeatable); see `aperod --help`.
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// Do not look for friends on the local network.
    #[arg(long)]
    no_mdns: bool,
    /// DHT bootstrap node instead of the public ones (repeatable; `none`: no DHT).
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Also relay for others (on a machine with a public address).
    #[arg(long)]
    relay: bool,
    /// The daemon's config file (default: $XDG_CONFIG_HOME/apero/config.toml,
    /// or DIR/config.toml with --home DIR); see docs/config.md.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Any other aperod option, after `--`: `apero up -- --audio null --upload-limit 2000`.
    #[arg(last = true, value_name = "APEROD_OPTIONS")]
    aperod: Vec<OsString>,
}

impl UpArgs {
    /// These options as `aperod` takes them (but `--config`, which the launcher passes).
    fn aperod_args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = Vec::new();
        let mut flag = |name: &str, value: Option<&str>| {
            v.push(name.into());
            v.extend(value.map(OsString::from));
        };
        if let Some(n) = &self.name {
            flag("--name", Some(n));
        }
        for l in &self.listen {
            flag("--listen", Some(l));
        }
        if self.no_mdns {
            flag("--no-mdns", None);
        }
        for b in &self.bootstrap {
            flag("--bootstrap", Some(b));
        }
        if self.relay {
            flag("--relay", None);
        }
        v.extend(self.aperod.iter().cloned());
        v
    }
}

pub async fn up(ctx: &Ctx, args: UpArgs) -> anyhow::Result<()> {
    let opts =
        LaunchOptions { home: ctx.home.clone(), config: args.config.clone(), args: args.aperod_args(), ..LaunchOptions::new(CLIENT_NAME) };
    let launched = apero_control::start_daemon(&opts).await.map_err(|e| match e {
        // Keeps the daemon's class of error, and so the exit code.
        LaunchError::Client(c) => anyhow::Error::from(c),
        other => other.into(),
    })?;
    for w in &launched.warnings {
        eprintln!("note: {w}");
    }
    if launched.start == Start::AlreadyRunning && (opts.config.is_some() || !opts.args.is_empty()) {
        eprintln!("note: the daemon was already running, so these options were not applied; `apero down` first to restart it with them");
    }
    let mut client = launched.client;
    let status = client.status().await?;
    if ctx.json {
        output::json(&status);
    } else {
        outln!("apero is running as {:?} ({}), pid {}.", status.name, status.peer_id, status.pid);
    }
    Ok(())
}

pub async fn down(ctx: &Ctx) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let pid = client.status().await.map(|s| s.pid).ok();
    client.shutdown().await?;
    // Wait until the socket is gone, so `down && up` is safe.
    let start = Instant::now();
    while ctx.socket.exists() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if ctx.json {
        output::json(&serde_json::json!({"stopped": true, "pid": pid}));
    } else {
        outln!("apero's daemon has stopped.");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct NameArgs {
    /// The new name (at most 64 characters); leave it out to see the current one.
    pub name: Option<String>,
}

pub async fn name(ctx: &Ctx, a: NameArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let Some(new) = a.name else {
        let name = client.status().await?.name;
        if ctx.json {
            output::json(&serde_json::json!({ "name": name }));
        } else {
            outln!("You are {name:?}.");
        }
        return Ok(());
    };
    let r = client.set_name(&new).await?;
    if ctx.json {
        output::json(&r);
    } else if r.rooms == 0 {
        outln!("You are now {:?}.", r.name);
    } else {
        outln!("You are now {:?}; your {} room(s) will show it as members come online.", r.name, r.rooms);
    }
    Ok(())
}

pub async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let s = ctx.client().await?.status().await?;
    if ctx.json {
        output::json(&s);
        return Ok(());
    }
    outln!("You are {:?}, peer {}", s.name, s.peer_id);
    outln!("aperod {} (pid {}), state in {}", s.version, s.pid, s.home);
    outln!("Listening on:");
    for a in &s.listen {
        outln!("  {a}");
    }
    let nat = match s.nat {
        Nat::Public => "reachable directly (public address)",
        Nat::Private => "behind a NAT or firewall",
        Nat::Unknown => "not known yet",
    };
    outln!("Reachability: {nat}");
    for a in &s.external {
        outln!("  reachable at {a}");
    }
    if !s.relays.is_empty() {
        outln!("Relays holding a place for us: {}", s.relays.iter().map(|r| short_id(r)).collect::<Vec<_>>().join(", "));
    }
    match s.relaying {
        Relaying::Members => outln!("Relaying for: members of your rooms (you are publicly reachable)"),
        Relaying::Anyone => outln!("Relaying for: anyone, within rate limits (aperod --relay)"),
        Relaying::Off => {}
    }
    outln!("Rooms: {}", s.rooms);
    if s.peers.is_empty() {
        outln!("Connected to nobody right now.");
    } else {
        outln!("Connected peers:");
        for p in &s.peers {
            let rtt = p.rtt_ms.map(|r| format!("{r:.1} ms")).unwrap_or_else(|| "—".into());
            let path = match &p.via {
                Some(v) => format!("{} via {}", p.path, short_id(v)),
                None => p.path.to_string(),
            };
            let transport = p.transport;
            let name = p.name.as_deref().unwrap_or("?");
            outln!("  {name:<16} {:<10} {path:<22} {transport:<4} rtt {rtt:<9} {}", short_id(&p.peer_id), p.addr);
        }
    }
    let d = &s.dropped;
    let total = d.bad_frames + d.bad_signatures + d.not_members + d.refused_joins + d.bad_control + d.voice + d.files;
    if total > 0 {
        outln!(
            "Dropped input: {} bad frames, {} bad signatures, {} from non-members, {} refused joins, {} bad control requests, \
             {} voice, {} file requests or chunks",
            d.bad_frames,
            d.bad_signatures,
            d.not_members,
            d.refused_joins,
            d.bad_control,
            d.voice,
            d.files
        );
    }
    if d.coalesced_events > 0 {
        outln!(
            "Merged {} connection events that waited too long for the daemon (only each peer's last state was kept)",
            d.coalesced_events
        );
    }
    if d.shed_events > 0 {
        outln!("Shed {} network events the daemon was too slow to take (see its log)", d.shed_events);
    }
    if d.refused_streams > 0 {
        outln!(
            "Refused {} incoming voice or file streams: their queue was full (a peer flooding us, or this computer far behind)",
            d.refused_streams
        );
    }
    Ok(())
}
