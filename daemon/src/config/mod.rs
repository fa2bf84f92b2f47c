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

mod args;
mod paths;
mod settings;

use libp2p::Multiaddr;

pub use args::Args;
pub use paths::{display_name, Paths};
pub use settings::{ConfigError, Resolved, Settings, DEFAULT_BOOTSTRAP, DEFAULT_LISTEN};

use crate::voice::{backend::BackendConfig, call::VoiceConfig};

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
    pub quic_congestion: crate::node::quic::Congestion,
    /// The proxy TCP dials go through (from the setting, else the environment).
    pub proxy: crate::node::proxy::ProxySettings,
}

impl Config {
    /// Checks the settings and saves a name given in them for next time
    /// (see [`display_name`]), so call it once `paths` exist.
    pub fn new(paths: Paths, settings: &Settings) -> Result<Config, ConfigError> {
        let (listen, bootstrap) = settings.addresses()?;
        let proxy = crate::node::proxy::ProxySettings::resolve(settings.proxy.as_deref(), |k| std::env::var(k).ok())
            .map_err(|why| ConfigError::Invalid { key: "proxy", value: settings.proxy.clone().unwrap_or_default(), why })?;
        let voice = VoiceConfig {
            backend: settings.audio.clone(),
            audio: BackendConfig {
                input: settings.input.clone(),
                output: settings.output.clone(),
                wav_in: settings.wav_in.clone(),
                wav_out: settings.wav_out.clone(),
            },
            design: settings.voice_transport,
            processing: apero_control::AudioProcessing {
                echo_cancel: settings.echo_cancel,
                noise_suppression: settings.noise_suppression,
                gain_control: settings.gain_control,
            },
            pinned: Default::default(),
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
            voice_kbps: settings::clamp_kbps(settings.voice_kbps),
            pace_transfers: settings.pace_transfers,
            quic_congestion: settings.quic_congestion,
            proxy,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use clap::Parser;

    use super::*;
    use crate::voice::transport::Design;

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
                echo_cancel: false,
                noise_suppression: true,
                gain_control: false,
                voice_transport: Design::Frames,
                voice_kbps: 64,
                upload_limit: 2000,
                relay: true,
                lab: true,
                pace_transfers: false,
                quic_congestion: crate::node::quic::Congestion::Cubic,
                proxy: Some("http://proxy.corp:3128".into()),
            },
            file: Some("/home/ana/.config/apero/config.toml".into()),
            pinned: crate::voice::kept::Pinned { processing: true, input: false, output: true },
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
        let mut resolved = Resolved { settings: Settings::default(), file: None, pinned: Default::default() };
        let text = resolved.to_toml().unwrap();
        assert!(text.contains("# Not set: input, name, output, proxy, wav_in, wav_out."), "{text}");
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
        assert_eq!(keys.len(), 20, "{keys:?}");
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
