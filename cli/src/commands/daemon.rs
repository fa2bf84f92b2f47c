//! `apero up`, `apero down`, `apero status`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use crate::output::{self, short_id};
use crate::Ctx;

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
}

fn aperod_path() -> PathBuf {
    apero_control::find_program("aperod")
}

pub async fn up(ctx: &Ctx, args: UpArgs) -> anyhow::Result<()> {
    if ctx.client().await.is_err() {
        let mut cmd = Command::new(aperod_path());
        if let Some(h) = &ctx.home {
            cmd.arg("--home").arg(h);
        }
        if let Some(n) = &args.name {
            cmd.arg("--name").arg(n);
        }
        for l in &args.listen {
            cmd.arg("--listen").arg(l);
        }
        if args.no_mdns {
            cmd.arg("--no-mdns");
        }
        for b in &args.bootstrap {
            cmd.arg("--bootstrap").arg(b);
        }
        if args.relay {
            cmd.arg("--relay");
        }
        // aperod detaches itself and returns once its socket answers.
        let out = cmd.output().with_context(|| format!("cannot run {} (is apero installed?)", aperod_path().display()))?;
        if !out.status.success() {
            bail!("the daemon did not start: {}", String::from_utf8_lossy(&out.stderr).trim().trim_start_matches("aperod: "));
        }
    }
    let start = Instant::now();
    let mut client = loop {
        match ctx.client().await {
            Ok(c) => break c,
            Err(e) if start.elapsed() > Duration::from_secs(10) => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let status = client.status().await?;
    if ctx.json {
        output::json(&status);
    } else {
        println!("apero is running as {:?} ({}), pid {}.", status.name, status.peer_id, status.pid);
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
        println!("apero's daemon has stopped.");
    }
    Ok(())
}

pub async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let s = ctx.client().await?.status().await?;
    if ctx.json {
        output::json(&s);
        return Ok(());
    }
    println!("You are {:?}, peer {}", s.name, s.peer_id);
    println!("aperod {} (pid {}), state in {}", s.version, s.pid, s.home);
    println!("Listening on:");
    for a in &s.listen {
        println!("  {a}");
    }
    let nat = match s.nat.as_str() {
        "public" => "reachable directly (public address)",
        "private" => "behind a NAT or firewall",
        _ => "not known yet",
    };
    println!("Reachability: {nat}");
    for a in &s.external {
        println!("  reachable at {a}");
    }
    if !s.relays.is_empty() {
        println!("Relays holding a place for us: {}", s.relays.iter().map(|r| short_id(r)).collect::<Vec<_>>().join(", "));
    }
    match s.relaying.as_str() {
        "members" => println!("Relaying for: members of your rooms (you are publicly reachable)"),
        "anyone" => println!("Relaying for: anyone, within rate limits (aperod --relay)"),
        _ => {}
    }
    println!("Rooms: {}", s.rooms);
    if s.peers.is_empty() {
        println!("Connected to nobody right now.");
    } else {
        println!("Connected peers:");
        for p in &s.peers {
            let rtt = p.rtt_ms.map(|r| format!("{r:.1} ms")).unwrap_or_else(|| "—".into());
            let path = match &p.via {
                Some(v) => format!("{} via {}", p.path, short_id(v)),
                None => p.path.clone(),
            };
            println!("  {:<16} {:<10} {:<22} {:<4} rtt {:<9} {}", p.name.as_deref().unwrap_or("?"), short_id(&p.peer_id), path, p.transport, rtt, p.addr);
        }
    }
    let d = &s.dropped;
    let total = d.bad_frames + d.bad_signatures + d.not_members + d.refused_joins + d.bad_control;
    if total > 0 {
        println!(
            "Dropped input: {} bad frames, {} bad signatures, {} from non-members, {} refused joins, {} bad control requests",
            d.bad_frames, d.bad_signatures, d.not_members, d.refused_joins, d.bad_control
        );
    }
    Ok(())
}
