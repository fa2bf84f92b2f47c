//! Where the daemon keeps its state, and its settings.
//!
//! Settings are resolved once, lowest precedence first: built-in defaults
//! ([`Settings::default`]), a TOML file, `APERO_*` environment variables,
//! flags. The environment and the flags arrive together through clap
//! ([`Args`]; a flag beats its variable), and [`Args::resolve`] lays them
//! over the file. [`Config::new`] checks the result and turns it into what
//! `run` needs. A background start hands its child the [`Resolved`] settings
//! whole (`--resolved-settings`), so the child never reads again a file or an
//! environment that may have changed in between. Every key is listed with
//! its default in docs/config.md (a test checks).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::builder::FalseyValueParser;
use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::voice::{backend::BackendConfig, call::VoiceConfig, transport::Design};

#[derive(Debug, Clone)]
pub struct Paths {
    /// Identity key, database, lock file.
    pub data: PathBuf,
    /// Logs.
    pub state: PathBuf,
    pub socket: PathBuf,
}

impl Paths {
    /// Everything under one directory (`--home DIR`).
    pub fn in_home(home: &Path) -> Paths {
        Paths { data: home.to_path_buf(), state: home.join("logs"), socket: apero_control::socket_path_in(home) }
    }

    /// The platform's directories: XDG data/state/runtime dirs on Linux.
    pub fn platform() -> anyhow::Result<Paths> {
        let dirs = directories::ProjectDirs::from("", "", "apero").context("cannot find your home directory; pass --home DIR")?;
        let data = dirs.data_dir().to_path_buf();
        let state = dirs.state_dir().map(|d| d.join("logs")).unwrap_or_else(|| data.join("logs"));
        Ok(Paths { data, state, socket: apero_control::default_socket_path() })
    }

    pub fn resolve(home: Option<&Path>) -> anyhow::Result<Paths> {
        match home {
            Some(h) => Ok(Paths::in_home(&std::path::absolute(h)?)),
            None => Paths::platform(),
        }
    }

    pub fn key(&self) -> PathBuf {
        self.data.join("identity.key")
    }
    pub fn db(&self) -> PathBuf {
        self.data.join("apero.sqlite3")
    }
    pub fn lock(&self) -> PathBuf {
        self.data.join("aperod.lock")
    }
    pub fn name_file(&self) -> PathBuf {
        self.data.join("name")
    }
    pub fn log(&self) -> PathBuf {
        self.state.join("aperod.log")
    }

    /// Creates the directories, private to the user.
    pub fn create(&self) -> anyhow::Result<()> {
        let mut dirs = vec![&self.data, &self.state];
        let sock_dir = self.socket.parent().map(Path::to_path_buf);
        if let Some(d) = &sock_dir {
            dirs.push(d);
        }
        for d in dirs {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} private", d.display()))?;
        }
        Ok(())
    }
}

/// What `run` needs, checked: built by [`Config::new`] from [`Settings`].
#[derive(Debug, Clone)]
pub struct Config {
    pub paths: Paths,
    pub name: String,
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    pub mdns: bool,
    pub voice: VoiceConfig,
    /// Cap on bytes served to others, kbit/s; 0 is none.
    pub upload_limit_kbit: u64,
    /// Relay for anyone (`--relay`).
    pub relay: bool,
    /// NAT testbed: test-range addresses count as public for AutoNAT.
    pub lab: bool,
    /// The voice bitrate on a clean path, kbit/s, within 8..=128; 0: the
    /// codec's own default.
    pub voice_kbps: u32,
    /// Whether downloads yield to calls; off only to measure what a call
    /// suffers without it (docs/benchmarks.md).
    pub pace_transfers: bool,
}

impl Config {
    /// Checks the settings and saves a name given in them for next time
    /// (see [`display_name`]), so call it once `paths` exist.
    pub fn new(paths: Paths, settings: &Settings) -> Result<Config, ConfigError> {
        let (listen, bootstrap) = settings.addresses()?;
        let voice = VoiceConfig {
            backend: settings.audio.clone(),
            audio: BackendConfig {
                input: settings.input.clone(),
                output: settings.output.clone(),
                wav_in: settings.wav_in.clone(),
                wav_out: settings.wav_out.clone(),
            },
            design: settings.voice_transport,
        };
        Ok(Config {
            name: display_name(&paths, settings.name.as_deref()),
            paths,
            listen,
            bootstrap,
            mdns: settings.mdns,
            voice,
            upload_limit_kbit: settings.upload_limit,
            relay: settings.relay,
            lab: settings.lab,
            voice_kbps: clamp_kbps(settings.voice_kbps),
            pace_transfers: settings.pace_transfers,
        })
    }
}

/// Public libp2p DHT bootstrap nodes (the IPFS DHT): the default way in.
pub const DEFAULT_BOOTSTRAP: &[&str] = &[
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
];

pub const DEFAULT_LISTEN: &[&str] = &["/ip4/0.0.0.0/udp/0/quic-v1", "/ip4/0.0.0.0/tcp/0"];

/// The display name: the configured one, else the one saved by an earlier
/// start that had one, else the OS user name.
pub fn display_name(paths: &Paths, configured: Option<&str>) -> String {
    if let Some(n) = configured.map(str::trim).filter(|n| !n.is_empty()) {
        let _ = std::fs::write(paths.name_file(), n);
        return n.to_string();
    }
    if let Ok(saved) = std::fs::read_to_string(paths.name_file()) {
        if !saved.trim().is_empty() {
            return saved.trim().to_string();
        }
    }
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "friend".to_string())
}

fn clamp_kbps(kbps: u32) -> u32 {
    if kbps == 0 {
        0
    } else {
        kbps.clamp(8, 128)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The causes are part of the messages, not `source`s, so that `{:#}`
    // does not print them twice.
    #[error("cannot read the config file {}: {error}", .path.display())]
    Read { path: PathBuf, error: std::io::Error },
    /// The message names the line, the column and, for an unknown key, the key.
    #[error("in the config file {}: {}", .path.display(), .error.to_string().trim_end())]
    Parse { path: PathBuf, error: Box<toml::de::Error> },
    #[error("{key} = {value}: {why}")]
    Invalid { key: &'static str, value: String, why: String },
    #[error("the settings handed over by the starting aperod do not decode: {0}")]
    Handoff(serde_json::Error),
    #[error("cannot write the settings as TOML: {0}")]
    Print(toml::ser::Error),
    #[error("cannot find the current directory: {0}")]
    Cwd(std::io::Error),
}

/// Every setting, as a config file holds it. A key missing from a file
/// keeps its default; a key the daemon does not know is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The name friends see; `None`: the saved one, else the user name.
    pub name: Option<String>,
    /// Multiaddrs to listen on.
    pub listen: Vec<String>,
    /// DHT bootstrap multiaddrs; empty (or `none` among them): no DHT.
    pub bootstrap: Vec<String>,
    pub mdns: bool,
    /// The audio backend's name.
    pub audio: String,
    pub input: Option<String>,
    pub output: Option<String>,
    pub wav_in: Option<PathBuf>,
    pub wav_out: Option<PathBuf>,
    #[serde(with = "design_by_name")]
    pub voice_transport: Design,
    /// 0: the codec's default; else clamped to 8..=128.
    pub voice_kbps: u32,
    /// kbit/s, 0: no cap.
    pub upload_limit: u64,
    pub relay: bool,
    pub lab: bool,
    pub pace_transfers: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            name: None,
            listen: DEFAULT_LISTEN.iter().map(|a| a.to_string()).collect(),
            bootstrap: DEFAULT_BOOTSTRAP.iter().map(|a| a.to_string()).collect(),
            mdns: true,
            audio: "cpal".into(),
            input: None,
            output: None,
            wav_in: None,
            wav_out: None,
            voice_transport: Design::default(),
            voice_kbps: 0,
            upload_limit: 0,
            relay: false,
            lab: false,
            pace_transfers: true,
        }
    }
}

impl Settings {
    /// Every key a config file may hold, sorted.
    pub fn keys() -> Vec<String> {
        // JSON, unlike TOML, writes unset options too (as null).
        let mut keys: Vec<String> = match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        };
        keys.sort();
        keys
    }

    /// Reads a config file. Relative `wav_in`/`wav_out` are taken from the
    /// file's directory, as a reader of the file would.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_path_buf(), error })?;
        let mut s = Settings::from_toml(&text, path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in [&mut s.wav_in, &mut s.wav_out].into_iter().flatten() {
            *p = dir.join(&*p);
        }
        Ok(s)
    }

    /// A config file's text; `path` only names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), error: Box::new(e) })
    }

    /// The listen and bootstrap addresses, parsed.
    pub fn addresses(&self) -> Result<(Vec<Multiaddr>, Vec<Multiaddr>), ConfigError> {
        if self.listen.is_empty() {
            let why = "the daemon needs an address to listen on (port 0: any free port)".into();
            return Err(ConfigError::Invalid { key: "listen", value: "[]".into(), why });
        }
        let listen = parse_addrs("listen", &self.listen)?;
        let bootstrap = if self.bootstrap.iter().any(|b| b == "none") { Vec::new() } else { parse_addrs("bootstrap", &self.bootstrap)? };
        Ok((listen, bootstrap))
    }

    /// The forms a reader of `--print-config` should see: `none` as the
    /// empty list it means, the bitrate as it will be used.
    fn normalize(&mut self) {
        if self.bootstrap.iter().any(|b| b == "none") {
            self.bootstrap.clear();
        }
        self.voice_kbps = clamp_kbps(self.voice_kbps);
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            self.name = None;
        }
    }
}

fn parse_addrs(key: &'static str, addrs: &[String]) -> Result<Vec<Multiaddr>, ConfigError> {
    addrs
        .iter()
        .map(|a| a.parse().map_err(|e| ConfigError::Invalid { key, value: format!("{a:?}"), why: format!("not a multiaddr ({e})") }))
        .collect()
}

/// `voice_transport` by the name its flag takes (`stream`, `frames`).
mod design_by_name {
    use clap::ValueEnum;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::voice::transport::Design;

    pub fn serialize<S: Serializer>(design: &Design, s: S) -> Result<S::Ok, S::Error> {
        match design.to_possible_value() {
            Some(v) => s.serialize_str(v.get_name()),
            None => Err(serde::ser::Error::custom(format!("{design:?} has no name"))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Design, D::Error> {
        let name = String::deserialize(d)?;
        Design::from_str(&name, false).map_err(|_| {
            let names: Vec<String> =
                Design::value_variants().iter().filter_map(|v| v.to_possible_value()).map(|v| format!("`{}`", v.get_name())).collect();
            serde::de::Error::custom(format!("unknown voice transport `{name}`, expected {}", names.join(" or ")))
        })
    }
}

/// The settings one start uses, and the file they were read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolved {
    pub settings: Settings,
    pub file: Option<PathBuf>,
}

impl Resolved {
    /// For `--resolved-settings`: one line of JSON.
    pub fn to_handoff(&self) -> Result<String, ConfigError> {
        serde_json::to_string(self).map_err(ConfigError::Handoff)
    }

    pub fn from_handoff(json: &str) -> Result<Resolved, ConfigError> {
        serde_json::from_str(json).map_err(ConfigError::Handoff)
    }

    /// `--print-config`: a config file that gives these settings.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let body = toml::to_string(&self.settings).map_err(ConfigError::Print)?;
        let from = self.file.as_ref().map_or("no config file".to_string(), |f| f.display().to_string());
        let unset: Vec<String> = Settings::keys().into_iter().filter(|k| !body.lines().any(|l| l.starts_with(&format!("{k} =")))).collect();
        let mut out = format!(
            "# aperod's settings: built-in defaults < {from} < APERO_* environment < flags.\n# Every key is described in docs/config.md.\n"
        );
        if !unset.is_empty() {
            out.push_str(&format!("# Not set: {}.\n", unset.join(", ")));
        }
        out.push_str(&body);
        Ok(out)
    }
}

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
    /// default: QUIC and TCP on all IPv4 interfaces, ports chosen by the OS).
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
    /// How voice frames travel: one long-lived stream per peer (the default),
    /// or a new stream per frame (see docs/benchmarks.md).
    #[arg(long, value_enum, env = "APERO_VOICE_TRANSPORT")]
    pub voice_transport: Option<Design>,
    /// Voice bitrate on a clean path, kbit/s, 8 to 128 (0: the built-in
    /// default); the daemon lowers it as loss grows.
    #[arg(long, value_name = "KBIT", env = "APERO_VOICE_KBPS")]
    pub voice_kbps: Option<u32>,
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
        Ok(Resolved { settings, file })
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
        if let Some(d) = self.voice_transport {
            s.voice_transport = d;
        }
        if let Some(k) = self.voice_kbps {
            s.voice_kbps = k;
        }
        if let Some(u) = self.upload_limit {
            s.upload_limit = u;
        }
        s.relay |= self.relay;
        s.lab |= self.lab;
        s.pace_transfers &= !self.no_pace;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use clap::Parser;

    use super::*;

    /// Tests that set `APERO_*` variables take turns, and start and end
    /// with none set.
    static ENV: Mutex<()> = Mutex::new(());
    const VARS: &[&str] = &[
        "APERO_HOME",
        "APERO_CONFIG",
        "APERO_NAME",
        "APERO_LISTEN",
        "APERO_BOOTSTRAP",
        "APERO_NO_MDNS",
        "APERO_AUDIO",
        "APERO_INPUT",
        "APERO_OUTPUT",
        "APERO_WAV_IN",
        "APERO_WAV_OUT",
        "APERO_VOICE_TRANSPORT",
        "APERO_VOICE_KBPS",
        "APERO_UPLOAD_LIMIT",
        "APERO_RELAY",
        "APERO_LAB",
        "APERO_NO_PACE",
    ];

    struct CleanEnv {
        _turn: std::sync::MutexGuard<'static, ()>,
    }

    impl CleanEnv {
        fn new() -> CleanEnv {
            let turn = ENV.lock().unwrap_or_else(|e| e.into_inner());
            clear_vars();
            CleanEnv { _turn: turn }
        }
    }

    impl Drop for CleanEnv {
        fn drop(&mut self) {
            clear_vars();
        }
    }

    fn clear_vars() {
        for v in VARS {
            std::env::remove_var(v);
        }
    }

    fn resolve(argv: &[&str]) -> Result<Resolved, ConfigError> {
        let mut full = vec!["aperod"];
        full.extend_from_slice(argv);
        Args::try_parse_from(full).unwrap().resolve()
    }

    #[test]
    fn the_file_then_the_environment_then_flags() {
        let _env = CleanEnv::new();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "name = \"file\"\nupload_limit = 100\nvoice_kbps = 24\naudio = \"null\"\nwav_in = \"mic.wav\"\nrelay = true\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();

        let s = resolve(&["--config", f]).unwrap().settings;
        assert_eq!((s.name.as_deref(), s.upload_limit, s.voice_kbps, s.audio.as_str()), (Some("file"), 100, 24, "null"));
        assert_eq!(s.wav_in, Some(dir.path().join("mic.wav")), "relative to the file");
        assert!(s.relay && s.mdns && s.pace_transfers);
        assert_eq!(s.listen, Settings::default().listen, "what the file does not say keeps its default");

        std::env::set_var("APERO_NAME", "env");
        std::env::set_var("APERO_UPLOAD_LIMIT", "200");
        std::env::set_var("APERO_NO_PACE", "1");
        std::env::set_var("APERO_NO_MDNS", "yes");
        std::env::set_var("APERO_LISTEN", "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1");
        let s = resolve(&["--config", f]).unwrap().settings;
        assert_eq!((s.name.as_deref(), s.upload_limit, s.voice_kbps), (Some("env"), 200, 24));
        assert!(!s.pace_transfers && !s.mdns);
        assert_eq!(s.listen, ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]);

        let s =
            resolve(&["--config", f, "--name", "flag", "--upload-limit", "300", "--listen", "/ip4/10.0.0.1/tcp/4001"]).unwrap().settings;
        assert_eq!((s.name.as_deref(), s.upload_limit), (Some("flag"), 300));
        assert_eq!(s.listen, ["/ip4/10.0.0.1/tcp/4001"]);

        // A variable that says "no" is as good as none.
        std::env::set_var("APERO_NO_PACE", "0");
        assert!(resolve(&["--config", f]).unwrap().settings.pace_transfers);
    }

    #[test]
    fn a_home_has_its_own_optional_file() {
        let _env = CleanEnv::new();
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let r = resolve(&["--home", h]).unwrap();
        assert_eq!((r.settings, r.file), (Settings::default(), None));
        std::fs::write(home.path().join("config.toml"), "mdns = false\n").unwrap();
        let r = resolve(&["--home", h]).unwrap();
        assert!(!r.settings.mdns);
        assert_eq!(r.file, Some(home.path().join("config.toml")));
        // Named explicitly, a file must exist.
        let missing = home.path().join("nope.toml");
        let err = resolve(&["--config", missing.to_str().unwrap()]).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }) && err.to_string().contains("nope.toml"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_syntax_are_refused_with_where() {
        let path = Path::new("/etc/apero.toml");
        let err = Settings::from_toml("name = \"ana\"\ncolour = \"blue\"\n", path).unwrap_err().to_string();
        assert!(err.contains("/etc/apero.toml") && err.contains("colour") && err.contains("line 2"), "{err}");
        let err = Settings::from_toml("upload_limit = \n", path).unwrap_err().to_string();
        assert!(err.contains("/etc/apero.toml") && err.contains("line 1, column"), "{err}");
        let err = Settings::from_toml("voice_transport = \"pigeon\"\n", path).unwrap_err().to_string();
        assert!(err.contains("pigeon") && err.contains("`stream`"), "{err}");
        let err = Settings::from_toml("upload_limit = \"fast\"\n", path).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn values_are_checked_and_normalized() {
        let _env = CleanEnv::new();
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let s = |extra: &[&str]| {
            let mut argv = vec!["--home", h];
            argv.extend_from_slice(extra);
            resolve(&argv).unwrap().settings
        };
        assert_eq!(s(&["--voice-kbps", "500"]).voice_kbps, 128);
        assert_eq!(s(&["--voice-kbps", "3"]).voice_kbps, 8);
        assert_eq!(s(&["--voice-kbps", "0"]).voice_kbps, 0);
        assert_eq!(s(&["--voice-transport", "frames"]).voice_transport, Design::Frames);
        let none = s(&["--bootstrap", "none"]);
        assert!(none.bootstrap.is_empty());
        assert!(none.addresses().unwrap().1.is_empty());
        let relative = s(&["--wav-out", "out.wav"]).wav_out.unwrap();
        assert!(relative.is_absolute() && relative.ends_with("out.wav"), "{}", relative.display());

        let mut bad = Settings { bootstrap: vec!["bootstrap.example".into()], ..Settings::default() };
        let err = bad.addresses().unwrap_err().to_string();
        assert!(err.starts_with("bootstrap = \"bootstrap.example\": not a multiaddr"), "{err}");
        bad.listen.clear();
        assert!(bad.addresses().unwrap_err().to_string().starts_with("listen = []"));
    }

    #[test]
    fn config_carries_every_setting() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::in_home(home.path());
        paths.create().unwrap();
        let s = Settings {
            name: Some("ana".into()),
            audio: "wav".into(),
            wav_in: Some("/in.wav".into()),
            voice_transport: Design::Frames,
            voice_kbps: 32,
            upload_limit: 900,
            relay: true,
            lab: true,
            mdns: false,
            pace_transfers: false,
            bootstrap: Vec::new(),
            ..Settings::default()
        };
        let c = Config::new(paths.clone(), &s).unwrap();
        assert_eq!((c.name.as_str(), c.voice.backend.as_str(), c.voice.design), ("ana", "wav", Design::Frames));
        assert_eq!(c.voice.audio.wav_in, Some(PathBuf::from("/in.wav")));
        assert_eq!((c.voice_kbps, c.upload_limit_kbit, c.relay, c.lab, c.mdns, c.pace_transfers), (32, 900, true, true, false, false));
        assert_eq!((c.listen.len(), c.bootstrap.len()), (DEFAULT_LISTEN.len(), 0));
        // The name is saved for a later start that has none.
        assert_eq!(Config::new(paths, &Settings::default()).unwrap().name, "ana");
    }

    #[test]
    fn the_background_child_gets_exactly_the_resolved_settings() {
        let _env = CleanEnv::new();
        let resolved = Resolved {
            settings: Settings {
                name: Some("zoé \"quoted\"".into()),
                listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
                bootstrap: Vec::new(),
                mdns: false,
                audio: "wav".into(),
                input: Some("USB Headset".into()),
                output: Some("Speakers, 2".into()),
                wav_in: Some("/tmp/in.wav".into()),
                wav_out: Some("/tmp/a dir/out.wav".into()),
                voice_transport: Design::Frames,
                voice_kbps: 64,
                upload_limit: 2000,
                relay: true,
                lab: true,
                pace_transfers: false,
            },
            file: Some("/home/ana/.config/apero/config.toml".into()),
        };
        let json = resolved.to_handoff().unwrap();
        assert!(!json.contains('\n'));
        assert_eq!(Resolved::from_handoff(&json).unwrap(), resolved);
        // What the child's own environment says no longer counts.
        std::env::set_var("APERO_NAME", "someone else");
        std::env::set_var("APERO_UPLOAD_LIMIT", "1");
        let child = resolve(&["--foreground", "--resolved-settings", &json]).unwrap();
        assert_eq!(child, resolved);
        assert!(matches!(Resolved::from_handoff("{\"settings\": {}, \"extra\": 1}"), Err(ConfigError::Handoff(_))));
    }

    #[test]
    fn printed_settings_read_back_the_same() {
        let mut resolved = Resolved { settings: Settings::default(), file: None };
        let text = resolved.to_toml().unwrap();
        assert!(text.contains("# Not set: input, name, output, wav_in, wav_out."), "{text}");
        assert_eq!(Settings::from_toml(&text, Path::new("printed")).unwrap(), resolved.settings);
        resolved.settings.name = Some("ana".into());
        resolved.settings.voice_transport = Design::Frames;
        let text = resolved.to_toml().unwrap();
        assert!(text.contains("voice_transport = \"frames\""), "{text}");
        assert_eq!(Settings::from_toml(&text, Path::new("printed")).unwrap(), resolved.settings);
    }

    /// docs/config.md has a table row `| `key` | ... |` for every key, and
    /// its default stands in it.
    #[test]
    fn every_key_is_documented_with_its_default() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.md")).unwrap();
        let defaults = toml::Table::try_from(Settings::default()).unwrap();
        let keys = Settings::keys();
        assert_eq!(keys.len(), 15, "{keys:?}");
        for key in keys {
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `{key}` |")))
                .unwrap_or_else(|| panic!("docs/config.md has no row for `{key}`"));
            match defaults.get(&key) {
                Some(v @ (toml::Value::String(_) | toml::Value::Integer(_) | toml::Value::Boolean(_))) => {
                    assert!(row.contains(&format!("`{v}`")), "the row for `{key}` does not give its default `{v}`: {row}");
                }
                _ => assert!(row.contains("not set") || row.contains("built-in"), "the row for `{key}` does not say its default: {row}"),
            }
        }
    }
}
