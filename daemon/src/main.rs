//! `aperod`: parse arguments, start in the background unless `--foreground`,
//! set up logging, run.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use libp2p::Multiaddr;

use aperod::config::{display_name, Config, Paths, DEFAULT_BOOTSTRAP, DEFAULT_LISTEN};

/// apero's background daemon: keeps your rooms, chat history and calls, and
/// talks to your friends' daemons directly, with no server in between.
///
/// Usually started by `apero up` or at login; the `apero` command and the
/// tray talk to it over a private local socket.
#[derive(Parser, Debug)]
#[command(name = "aperod", version)]
struct Args {
    /// Keep all state (identity, database, socket, logs) in DIR instead of
    /// the standard per-user directories.
    #[arg(long, value_name = "DIR", env = "APERO_HOME")]
    home: Option<PathBuf>,
    /// The name your friends see (default: the name saved by an earlier
    /// --name, else your user name).
    #[arg(long)]
    name: Option<String>,
    /// Address to listen on, e.g. /ip4/0.0.0.0/udp/4001/quic-v1 (repeatable;
    /// default: QUIC and TCP on all IPv4 interfaces, ports chosen by the OS).
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<Multiaddr>,
    /// DHT bootstrap node, replacing the built-in public list (repeatable;
    /// `none` for no bootstrap at all).
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Do not look for friends on the local network with mDNS.
    #[arg(long)]
    no_mdns: bool,
    /// Stay in the foreground and log to standard error.
    #[arg(long)]
    foreground: bool,
    /// Audio backend: cpal (sound devices), wav (files) or null; `?` lists them.
    #[arg(long, default_value = "cpal", value_name = "NAME")]
    audio: String,
    /// Input device name for the cpal backend (default: the system's).
    #[arg(long, value_name = "NAME")]
    input: Option<String>,
    /// Output device name for the cpal backend (default: the system's).
    #[arg(long, value_name = "NAME")]
    output: Option<String>,
    /// The wav backend's microphone: a 48 kHz mono 16-bit WAV, looped.
    #[arg(long, value_name = "FILE")]
    wav_in: Option<PathBuf>,
    /// The wav backend's speaker: written in real time during a call.
    #[arg(long, value_name = "FILE")]
    wav_out: Option<PathBuf>,
    /// How voice frames travel: one long-lived stream per peer, or a new
    /// stream per frame (see docs/benchmarks.md).
    #[arg(long, value_enum, default_value_t = aperod::voice::transport::Design::Stream)]
    voice_transport: aperod::voice::transport::Design,
    /// Cap the bandwidth used to serve files to others, in kbit/s (0: no cap).
    /// On a slow uplink this keeps room for calls.
    #[arg(long, value_name = "KBIT", default_value_t = 0)]
    upload_limit: u64,
    /// Relay for others: run this on a machine with a public address (a home
    /// server, a small VPS, a desktop with a forwarded port) so that friends
    /// behind strict NATs can always reach each other. Circuits last long
    /// enough for calls; per-peer and per-IP rate limits keep strangers from
    /// abusing it.
    #[arg(long)]
    relay: bool,
    /// Testbed only: treat test-range addresses (198.18.0.0/15, private
    /// ranges) as public when checking reachability.
    #[arg(long, hide = true)]
    lab: bool,
}

fn main() {
    let args = Args::parse();
    if args.audio == "?" {
        print!("{}", aperod::voice::backend::list());
        return;
    }
    let result = if args.foreground { run_foreground(args) } else { start_background(args) };
    if let Err(e) = result {
        eprintln!("aperod: {e:#}");
        std::process::exit(1);
    }
}

fn run_foreground(args: Args) -> anyhow::Result<()> {
    let paths = Paths::resolve(args.home.as_deref())?;
    // Everything we create (database, key, socket) is private to the user.
    unsafe { libc::umask(0o077) };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,libp2p_mdns=warn,libp2p_swarm=warn,libp2p_tcp=warn,libp2p_quic=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    paths.create()?;
    let bootstrap = parse_bootstrap(&args.bootstrap)?;
    let listen = if args.listen.is_empty() {
        DEFAULT_LISTEN.iter().map(|a| a.parse().expect("built-in listen address")).collect()
    } else {
        args.listen
    };
    let voice = aperod::voice::call::VoiceConfig {
        backend: args.audio.clone(),
        audio: aperod::voice::backend::BackendConfig {
            input: args.input.clone(),
            output: args.output.clone(),
            wav_in: args.wav_in.as_ref().map(|p| absolute(p)),
            wav_out: args.wav_out.as_ref().map(|p| absolute(p)),
        },
        design: args.voice_transport,
    };
    let config = Config { name: display_name(&paths, args.name.as_deref()), paths, listen, bootstrap, mdns: !args.no_mdns, voice, upload_limit_kbit: args.upload_limit, relay: args.relay, lab: args.lab };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(aperod::run(config))
}

fn parse_bootstrap(given: &[String]) -> anyhow::Result<Vec<Multiaddr>> {
    if given.iter().any(|b| b == "none") {
        return Ok(Vec::new());
    }
    let list: Vec<&str> = if given.is_empty() { DEFAULT_BOOTSTRAP.to_vec() } else { given.iter().map(String::as_str).collect() };
    list.iter().map(|b| b.parse().with_context(|| format!("--bootstrap {b:?} is not a multiaddr"))).collect()
}

/// Re-executes ourselves with `--foreground` in a new session, logging to the
/// log file, and returns once the daemon answers on its socket.
fn start_background(args: Args) -> anyhow::Result<()> {
    let paths = Paths::resolve(args.home.as_deref())?;
    unsafe { libc::umask(0o077) };
    paths.create()?;
    // Check the lock here too, so a second start fails loudly in the terminal.
    drop(aperod::lock::acquire(&paths.lock(), &paths.data)?);
    let log = std::fs::OpenOptions::new().create(true).append(true).open(paths.log())?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--foreground");
    if let Some(home) = &args.home {
        cmd.arg("--home").arg(home);
    }
    if let Some(n) = &args.name {
        cmd.arg("--name").arg(n);
    }
    for l in &args.listen {
        cmd.arg("--listen").arg(l.to_string());
    }
    for b in &args.bootstrap {
        cmd.arg("--bootstrap").arg(b);
    }
    if args.no_mdns {
        cmd.arg("--no-mdns");
    }
    cmd.arg("--audio").arg(&args.audio);
    for (flag, v) in [("--input", &args.input), ("--output", &args.output)] {
        if let Some(v) = v {
            cmd.arg(flag).arg(v);
        }
    }
    for (flag, v) in [("--wav-in", &args.wav_in), ("--wav-out", &args.wav_out)] {
        if let Some(v) = v {
            cmd.arg(flag).arg(absolute(v));
        }
    }
    cmd.arg("--voice-transport").arg(format!("{:?}", args.voice_transport).to_lowercase());
    cmd.arg("--upload-limit").arg(args.upload_limit.to_string());
    if args.relay {
        cmd.arg("--relay");
    }
    if args.lab {
        cmd.arg("--lab");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting the daemon process")?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(status) = child.try_wait()? {
            bail!("the daemon exited at once ({status}); see {}", paths.log().display());
        }
        if std::os::unix::net::UnixStream::connect(&paths.socket).is_ok() {
            println!("aperod is running (pid {}); log: {}", child.id(), paths.log().display());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the daemon did not open its socket within 20 s; see {}", paths.log().display())
}

fn absolute(p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}
