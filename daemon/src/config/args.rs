//! aperod's command line: every setting's flag and `APERO_*` variable, laid
//! over the config file by [`Args::resolve`].

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use libp2p::Multiaddr;

use super::settings::{ConfigError, Resolved, Settings};
use crate::node::quic::Congestion;
use crate::voice::transport::Design;

/// apero's background daemon: keeps your rooms, chat history and calls, and
/// talks to your friends' daemons directly, with no server in between.
///
/// Usually started by `apero up` or at login; the `apero` command and the
/// tray talk to it over a private local socket.
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "aperod", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Keep all state (identity, database, socket, logs, config.toml) in DIR
    /// instead of the standard per-user directories.
    #[arg(long, value_name = "DIR", env = "APERO_HOME")]
    pub home: Option<PathBuf>,
    /// Read the settings from FILE, which must exist (default: DIR/config.toml
    /// with --home DIR, else $XDG_CONFIG_HOME/apero/config.toml, each read
    /// only when it exists).
    #[arg(long, value_name = "FILE", env = "APERO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the resolved settings as a config file, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Stay in the foreground and log to standard error.
    #[arg(long)]
    pub foreground: bool,
    /// The name your friends see (default: the name saved by an earlier
    /// --name, else your user name).
    #[arg(long, env = "APERO_NAME")]
    pub name: Option<String>,
    /// Address to listen on, e.g. /ip4/0.0.0.0/udp/4001/quic-v1 (repeatable;
    /// default: QUIC and TCP on all IPv4 and IPv6 interfaces, ports chosen by
    /// the OS).
    #[arg(long, value_name = "MULTIADDR", env = "APERO_LISTEN", value_delimiter = ',')]
    pub listen: Vec<Multiaddr>,
    /// DHT bootstrap node, replacing the built-in public list (repeatable;
    /// `none` for no bootstrap at all).
    #[arg(long, value_name = "MULTIADDR", env = "APERO_BOOTSTRAP", value_delimiter = ',')]
    pub bootstrap: Vec<String>,
    /// Do not look for friends on the local network with mDNS.
    #[arg(long, env = "APERO_NO_MDNS", value_parser = FalseyValueParser::new())]
    pub no_mdns: bool,
    /// Audio backend: cpal (sound devices, the default), wav (files) or null;
    /// `?` lists them.
    #[arg(long, value_name = "NAME", env = "APERO_AUDIO")]
    pub audio: Option<String>,
    /// Input device name for the cpal backend (default: the system's).
    #[arg(long, value_name = "NAME", env = "APERO_INPUT")]
    pub input: Option<String>,
    /// Output device name for the cpal backend (default: the system's).
    #[arg(long, value_name = "NAME", env = "APERO_OUTPUT")]
    pub output: Option<String>,
    /// The wav backend's microphone: a 48 kHz mono 16-bit WAV, looped.
    #[arg(long, value_name = "FILE", env = "APERO_WAV_IN")]
    pub wav_in: Option<PathBuf>,
    /// The wav backend's speaker: written in real time during a call.
    #[arg(long, value_name = "FILE", env = "APERO_WAV_OUT")]
    pub wav_out: Option<PathBuf>,
    /// Processing of the microphone before it is sent: `on` (echo
    /// cancellation, noise suppression, gain control: the default), `off`
    /// (for measurements), or those to keep, e.g. `noise,gain` for a headset.
    #[arg(long, value_name = "on|off|echo,noise,gain", env = "APERO_AUDIO_PROCESSING", value_parser = parse_processing)]
    pub audio_processing: Option<apero_control::AudioProcessing>,
    /// How voice frames travel: one long-lived stream per peer (the default),
    /// or a new stream per frame (see docs/benchmarks.md).
    #[arg(long, value_enum, env = "APERO_VOICE_TRANSPORT")]
    pub voice_transport: Option<Design>,
    /// Voice bitrate on a clean path, kbit/s, 8 to 128 (0: the built-in
    /// default); the daemon lowers it as loss grows.
    #[arg(long, value_name = "KBIT", env = "APERO_VOICE_KBPS")]
    pub voice_kbps: Option<u32>,
    /// The QUIC congestion controller: bbr (the default: random Wi-Fi loss
    /// does not shrink its window), cubic or newreno (docs/benchmarks.md).
    #[arg(long, value_enum, env = "APERO_QUIC_CONGESTION")]
    pub quic_congestion: Option<Congestion>,
    /// Dial TCP through this proxy: http://[user:pass@]host:port or
    /// socks5://host:port, or `none` for no proxy at all. Without it the
    /// environment's HTTPS_PROXY / ALL_PROXY is used, with NO_PROXY.
    #[arg(long, value_name = "URL", env = "APERO_PROXY")]
    pub proxy: Option<String>,
    /// Cap the bandwidth used to serve files to others, in kbit/s (0: no cap).
    /// On a slow uplink this keeps room for calls.
    #[arg(long, value_name = "KBIT", env = "APERO_UPLOAD_LIMIT")]
    pub upload_limit: Option<u64>,
    /// Relay for others: run this on a machine with a public address (a home
    /// server, a small VPS, a desktop with a forwarded port) so that friends
    /// behind strict NATs can always reach each other. Circuits last long
    /// enough for calls; per-peer and per-IP rate limits keep strangers from
    /// abusing it.
    #[arg(long, env = "APERO_RELAY", value_parser = FalseyValueParser::new())]
    pub relay: bool,
    /// Testbed only: treat test-range addresses (198.18.0.0/15, private
    /// ranges) as public when checking reachability.
    #[arg(long, hide = true, env = "APERO_LAB", value_parser = FalseyValueParser::new())]
    pub lab: bool,
    /// Measurements only: downloads do not yield to calls.
    #[arg(long, hide = true, env = "APERO_NO_PACE", value_parser = FalseyValueParser::new())]
    pub no_pace: bool,
    /// Set by a background start for the daemon it starts: the settings it
    /// resolved, used as they are.
    #[arg(long, hide = true, value_name = "JSON")]
    pub resolved_settings: Option<String>,
}

const AFTER_HELP: &str = "\
Settings: built-in defaults < the config file < APERO_* environment variables < flags.
`aperod --print-config` shows the result; docs/config.md describes every key.";

impl Args {
    /// The settings of this start: those handed over by a background start
    /// as they are, else the file under the environment and the flags.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        if let Some(json) = &self.resolved_settings {
            return Resolved::from_handoff(json);
        }
        let cwd = std::env::current_dir().map_err(ConfigError::Cwd)?;
        let (mut settings, file) = match &self.config {
            Some(path) => (Settings::load(path)?, Some(path.clone())),
            None => {
                let path = apero_control::default_config_file(self.home.as_deref());
                match Settings::load(&path) {
                    Ok(s) => (s, Some(path)),
                    Err(ConfigError::Read { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => (Settings::default(), None),
                    Err(e) => return Err(e),
                }
            }
        };
        self.lay_over(&mut settings);
        settings.normalize();
        // Absolute, so that the background child finds the same files: a
        // relative one from a flag or a variable is taken from here.
        let file = file.map(|f| cwd.join(f));
        for p in [&mut settings.wav_in, &mut settings.wav_out].into_iter().flatten() {
            *p = cwd.join(&*p);
        }
        let pinned = crate::voice::kept::Pinned {
            processing: self.audio_processing.is_some(),
            input: self.input.is_some(),
            output: self.output.is_some(),
        };
        Ok(Resolved { settings, file, pinned })
    }

    /// The flags and variables that were given replace what the file says;
    /// a switch can only turn on what it names.
    fn lay_over(&self, s: &mut Settings) {
        if let Some(n) = &self.name {
            s.name = Some(n.clone());
        }
        if !self.listen.is_empty() {
            s.listen = self.listen.iter().map(ToString::to_string).collect();
        }
        if !self.bootstrap.is_empty() {
            s.bootstrap = self.bootstrap.clone();
        }
        if self.no_mdns {
            s.mdns = false;
        }
        if let Some(a) = &self.audio {
            s.audio = a.clone();
        }
        if let Some(i) = &self.input {
            s.input = Some(i.clone());
        }
        if let Some(o) = &self.output {
            s.output = Some(o.clone());
        }
        if let Some(w) = &self.wav_in {
            s.wav_in = Some(w.clone());
        }
        if let Some(w) = &self.wav_out {
            s.wav_out = Some(w.clone());
        }
        if let Some(p) = self.audio_processing {
            (s.echo_cancel, s.noise_suppression, s.gain_control) = (p.echo_cancel, p.noise_suppression, p.gain_control);
        }
        if let Some(d) = self.voice_transport {
            s.voice_transport = d;
        }
        if let Some(k) = self.voice_kbps {
            s.voice_kbps = k;
        }
        if let Some(c) = self.quic_congestion {
            s.quic_congestion = c;
        }
        if let Some(p) = &self.proxy {
            s.proxy = Some(p.clone());
        }
        if let Some(u) = self.upload_limit {
            s.upload_limit = u;
        }
        s.relay |= self.relay;
        s.lab |= self.lab;
        s.pace_transfers &= !self.no_pace;
    }
}

fn parse_processing(v: &str) -> Result<apero_control::AudioProcessing, String> {
    let mut p = apero_control::AudioProcessing::OFF;
    match v {
        "on" | "all" => return Ok(apero_control::AudioProcessing::default()),
        "off" | "none" => return Ok(p),
        _ => {}
    }
    for part in v.split(',').map(str::trim) {
        match part {
            "echo" => p.echo_cancel = true,
            "noise" => p.noise_suppression = true,
            "gain" => p.gain_control = true,
            other => return Err(format!("{other:?} is not a processing stage; say on, off, or some of echo,noise,gain")),
        }
    }
    Ok(p)
}
