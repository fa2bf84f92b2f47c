//! Every setting as a config file holds it, with its default, and the
//! settings one start resolved (handed whole to a background start).

use std::path::{Path, PathBuf};

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::node::quic::Congestion;
use crate::voice::transport::Design;

/// Public libp2p DHT bootstrap nodes (the IPFS DHT): the default way in.
pub const DEFAULT_BOOTSTRAP: &[&str] = &[
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
];

/// IPv4 and IPv6, QUIC and TCP: many home connections have IPv6 without any
/// NAT, where two friends reach each other directly with no hole to punch.
pub const DEFAULT_LISTEN: &[&str] = &["/ip4/0.0.0.0/udp/0/quic-v1", "/ip4/0.0.0.0/tcp/0", "/ip6/::/udp/0/quic-v1", "/ip6/::/tcp/0"];

pub(super) fn clamp_kbps(kbps: u32) -> u32 {
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
    /// Processing of the microphone (docs/audio-processing.md): all on
    /// suits a laptop without headset; a headset needs no echo cancelling.
    pub echo_cancel: bool,
    pub noise_suppression: bool,
    pub gain_control: bool,
    #[serde(with = "design_by_name")]
    pub voice_transport: Design,
    /// 0: the codec's default; else clamped to 8..=128.
    pub voice_kbps: u32,
    /// kbit/s, 0: no cap.
    pub upload_limit: u64,
    pub relay: bool,
    pub lab: bool,
    pub pace_transfers: bool,
    pub quic_congestion: Congestion,
    /// Dial TCP through this proxy (`http://[user:pass@]host:port`,
    /// `socks5://...`), or `none`; not set: the environment's
    /// (`HTTPS_PROXY`, `ALL_PROXY`, with `NO_PROXY`).
    pub proxy: Option<String>,
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
            echo_cancel: true,
            noise_suppression: true,
            gain_control: true,
            voice_transport: Design::default(),
            voice_kbps: 0,
            upload_limit: 0,
            relay: false,
            lab: false,
            pace_transfers: true,
            quic_congestion: Congestion::default(),
            proxy: None,
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
    pub(super) fn normalize(&mut self) {
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
    /// Voice settings set by this run's environment or flags: they win over
    /// what `call settings` kept from earlier runs (voice::kept).
    #[serde(default)]
    pub pinned: crate::voice::kept::Pinned,
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
