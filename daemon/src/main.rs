//! `aperod`: resolve the settings (`config`), start in the background unless
//! `--foreground`, set up logging, run.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;

use aperod::config::{Args, Config, Paths, Resolved};

fn main() {
    let args = Args::parse();
    if args.audio.as_deref() == Some("?") {
        print!("{}", aperod::voice::backend::list());
        return;
    }
    if let Err(e) = start(&args) {
        eprintln!("aperod: {e:#}");
        std::process::exit(1);
    }
}

fn start(args: &Args) -> anyhow::Result<()> {
    let resolved = args.resolve()?;
    if args.print_config {
        print!("{}", resolved.to_toml()?);
        return Ok(());
    }
    let paths = Paths::resolve(args.home.as_deref())?;
    if args.foreground {
        run_foreground(paths, &resolved)
    } else {
        start_background(args, paths, &resolved)
    }
}

fn run_foreground(paths: Paths, resolved: &Resolved) -> anyhow::Result<()> {
    private_files();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,libp2p_mdns=warn,libp2p_swarm=warn,libp2p_tcp=warn,libp2p_quic=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    paths.create()?;
    match &resolved.file {
        Some(f) => tracing::info!(file = %f.display(), "settings: defaults < this file < environment < flags"),
        None => tracing::info!("settings: defaults < environment < flags (no config file)"),
    }
    let mut config = Config::new(paths, &resolved.settings).with_context(|| settings_source(resolved))?;
    config.voice.pinned = resolved.pinned;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(aperod::run(config))
}

fn settings_source(resolved: &Resolved) -> String {
    match &resolved.file {
        Some(f) => format!("in the settings from {}, the environment and the flags", f.display()),
        None => "in the settings from the environment and the flags".into(),
    }
}

/// Re-executes ourselves with `--foreground` in a new session, logging to the
/// log file, and returns once the daemon answers on its socket. The child is
/// handed the settings resolved here, whole, instead of flags rebuilt one by
/// one.
fn start_background(args: &Args, paths: Paths, resolved: &Resolved) -> anyhow::Result<()> {
    // Bad settings fail here, in the terminal, not in the log.
    resolved.settings.addresses().with_context(|| settings_source(resolved))?;
    private_files();
    paths.create()?;
    // Check the lock here too, so a second start fails loudly in the terminal.
    drop(aperod::lock::acquire(&paths.lock(), &paths.data)?);
    let log = std::fs::OpenOptions::new().create(true).append(true).open(paths.log())?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--foreground");
    if let Some(home) = &args.home {
        cmd.arg("--home").arg(std::path::absolute(home)?);
    }
    cmd.arg("--resolved-settings").arg(resolved.to_handoff()?);
    let mut child =
        cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).process_group(0).spawn().context("starting the daemon process")?;
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

/// Everything we create from here on (database, key, socket, log) is private
/// to the user.
fn private_files() {
    // SAFETY: umask only sets this process's file mode mask; it takes a plain
    // integer, touches no memory of ours and cannot fail.
    #[allow(unsafe_code)]
    let _previous = unsafe { libc::umask(0o077) };
}
