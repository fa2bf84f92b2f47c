//! Audio checks for voice tests: speech from espeak-ng, envelopes, the best
//! circular cross-correlation against a looped input, and silent gaps.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const RATE: u32 = 48_000;
/// 10 ms blocks.
pub const BLOCK: usize = 480;

/// Speech at 48 kHz mono 16-bit, made with espeak-ng and sox, or `None`
/// when they are not installed (see [`super::skip`]: a failure under CI).
pub fn speech(dir: &Path, text: &str) -> Option<PathBuf> {
    for tool in ["espeak-ng", "sox"] {
        if super::which(tool).is_none() {
            super::skip(tool, "it makes the speech the voice tests send (scripts/test.sh installs it when root)");
            return None;
        }
    }
    let raw = dir.join("speech-raw.wav");
    let out = dir.join("speech.wav");
    let run = |cmd: &mut Command| -> Result<(), String> {
        let o = cmd.output().map_err(|e| e.to_string())?;
        o.status.success().then_some(()).ok_or_else(|| format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr).trim()))
    };
    let made = run(Command::new("espeak-ng").arg("-w").arg(&raw).arg(text))
        .and_then(|()| run(Command::new("sox").arg(&raw).args(["-r", "48000", "-c", "1", "-b", "16"]).arg(&out)));
    if let Err(e) = made {
        super::skip("espeak-ng and sox", &format!("they are installed but made no speech: {e}"));
        return None;
    }
    Some(out)
}

pub fn write_silence(path: &Path, secs: f32) {
    let spec = hound::WavSpec { channels: 1, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for _ in 0..(secs * RATE as f32) as usize {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
}

pub fn read(path: &Path) -> Vec<i16> {
    let r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{} is not a valid WAV: {e}", path.display()));
    assert_eq!(r.spec().sample_rate, RATE);
    r.into_samples::<i16>().map(|s| s.unwrap()).collect()
}

/// RMS per 10 ms block.
pub fn envelope(samples: &[i16]) -> Vec<f64> {
    samples.chunks_exact(BLOCK).map(|b| (b.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / BLOCK as f64).sqrt()).collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    if va == 0.0 || vb == 0.0 {
        return 0.0;
    }
    cov / (va.sqrt() * vb.sqrt())
}

/// How well `heard` (from block `skip` on) follows the looped `reference`,
/// at the best alignment: the Pearson correlation of the envelopes.
pub fn looped_correlation(reference: &[i16], heard: &[i16], skip: usize) -> f64 {
    let r = envelope(reference);
    let h = envelope(heard);
    if h.len() <= skip + r.len() / 2 || r.is_empty() {
        return 0.0;
    }
    let h = &h[skip..];
    (0..r.len())
        .map(|lag| {
            let aligned: Vec<f64> = (0..h.len()).map(|i| r[(i + lag) % r.len()]).collect();
            pearson(h, &aligned)
        })
        .fold(f64::MIN, f64::max)
}

/// Longest run of silent blocks, with `circular` wrap-around for a looped input.
pub fn longest_gap(env: &[f64], threshold: f64, circular: bool) -> usize {
    let silent: Vec<bool> = env.iter().map(|&e| e < threshold).collect();
    let seq: Vec<bool> = if circular { silent.iter().chain(silent.iter()).copied().collect() } else { silent };
    let (mut best, mut run) = (0, 0);
    for s in seq {
        run = if s { run + 1 } else { 0 };
        best = best.max(run);
    }
    best.min(env.len())
}

/// The part of `env` between the first and last block above `threshold`.
pub fn active_span(env: &[f64], threshold: f64) -> &[f64] {
    let first = env.iter().position(|&e| e >= threshold).unwrap_or(0);
    let last = env.iter().rposition(|&e| e >= threshold).unwrap_or(0);
    if last <= first {
        &[]
    } else {
        &env[first..=last]
    }
}

/// Best Pearson correlation of envelopes with `reference` played once
/// somewhere inside `heard`.
pub fn best_correlation(reference: &[i16], heard: &[i16]) -> f64 {
    best_lag(reference, heard).1
}

/// Where in `heard` `reference` sits best: (offset in 10 ms blocks, the
/// Pearson correlation of the envelopes there).
pub fn best_lag(reference: &[i16], heard: &[i16]) -> (usize, f64) {
    let r = envelope(reference);
    let h = envelope(heard);
    if h.len() < r.len() {
        return (0, 0.0);
    }
    (0..=h.len() - r.len()).map(|lag| (lag, pearson(&r, &h[lag..lag + r.len()]))).fold((0, f64::MIN), |b, x| if x.1 > b.1 { x } else { b })
}

/// A private PulseAudio server with virtual microphones and speakers
/// (micA/spkA, micB/spkB), as in shared/recipes/audio-rig.md. Stopped on drop.
pub struct PulseRig {
    pub dir: tempfile::TempDir,
}

impl PulseRig {
    /// `None` where no sound server can run here (see [`super::skip`]: a
    /// failure under CI).
    pub fn start() -> Option<PulseRig> {
        // pactl checks the server, paplay and parecord are the test's
        // microphone and ears.
        for tool in ["pulseaudio", "pactl", "paplay", "parecord"] {
            if super::which(tool).is_none() {
                super::skip(tool, "it runs the virtual sound devices (scripts/test.sh installs pulseaudio and pulseaudio-utils when root)");
                return None;
            }
        }
        let dir = tempfile::Builder::new().prefix("apero-pulse-").tempdir_in("/tmp").expect("tempdir");
        let mut pa = String::from("load-module module-native-protocol-unix auth-anonymous=1\n");
        for dev in ["micA", "spkA", "micB", "spkB"] {
            pa += &format!("load-module module-null-sink sink_name={dev} rate=48000 channels=1 sink_properties=device.description={dev}\n");
        }
        pa += "load-module module-null-source source_name=silence rate=48000 channels=1\n";
        // Without these an idle null sink renders in 2 s blocks (see the recipe's pitfalls).
        for dev in ["micA", "spkA", "micB", "spkB"] {
            pa += &format!("load-module module-loopback source=silence sink={dev} latency_msec=20\n");
        }
        std::fs::write(dir.path().join("rig.pa"), pa).expect("write the rig's configuration");
        let rig = PulseRig { dir };
        if let Err(log) = rig.launch() {
            super::skip("a PulseAudio server", &format!("it would not start here: {log}"));
            return None;
        }
        Some(rig)
    }

    /// Starts the server (again, after [`PulseRig::kill`]: same socket, same devices).
    pub fn launch(&self) -> Result<(), String> {
        let started = self
            .cmd("pulseaudio")
            // No real-time scheduling: a real-time thread that overruns its
            // CPU-time limit on a loaded CI machine is killed by the kernel.
            .args(["--daemonize=yes", "--system=false", "--exit-idle-time=-1", "--disallow-exit", "--realtime=no", "--high-priority=no"])
            .args(["-n", "-F"])
            .arg(self.dir.path().join("rig.pa"))
            .arg(format!("--log-target=file:{}", self.dir.path().join("pulse.log").display()))
            .arg("--log-level=info")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let up = started
            && (0..50).any(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                self.cmd("pactl").arg("info").output().map(|o| o.status.success()).unwrap_or(false)
            });
        if up {
            Ok(())
        } else {
            Err(std::fs::read_to_string(self.dir.path().join("pulse.log")).unwrap_or_default())
        }
    }

    /// Stops the server and waits until it is gone (as when PulseAudio or
    /// PipeWire is restarted under a running call).
    pub fn kill(&self) {
        let _ = self.cmd("pulseaudio").arg("--kill").status();
        for _ in 0..50 {
            if !self.cmd("pulseaudio").arg("--check").status().map(|s| s.success()).unwrap_or(false) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the sound server did not stop");
    }

    /// `pactl ARGS`, which must succeed; its output.
    pub fn pactl(&self, args: &[&str]) -> String {
        let o = self.cmd("pactl").args(args).output().expect("pactl");
        assert!(o.status.success(), "pactl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// A further virtual speaker, kept rendering like the others.
    pub fn add_sink(&self, name: &str) {
        self.pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
            "rate=48000",
            "channels=1",
            &format!("sink_properties=device.description={name}"),
        ]);
        self.pactl(&["load-module", "module-loopback", "source=silence", &format!("sink={name}"), "latency_msec=20"]);
    }

    /// Records `source` into `path` until the recorder is stopped.
    pub fn record(&self, source: &str, path: &Path) -> Recorder {
        let child = self
            .cmd("parecord")
            .args(["--latency-msec=20", "-d", source, "--rate=48000", "--channels=1", "--format=s16le", "--file-format=wav"])
            .arg(path)
            .spawn()
            .expect("parecord");
        Recorder { child: Some(child), path: path.to_path_buf() }
    }

    /// Plays a file into a virtual microphone, to its end.
    pub fn play(&self, sink: &str, file: &Path) {
        let played = self.cmd("paplay").args(["-d", sink]).arg(file).status().expect("paplay");
        assert!(played.success(), "paplay into {sink}");
    }

    pub fn server(&self) -> String {
        format!("unix:{}/pulse/native", self.dir.path().display())
    }

    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("XDG_RUNTIME_DIR", self.dir.path()).env("PULSE_SERVER", self.server());
        c
    }
}

impl Drop for PulseRig {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("pulse.log")).unwrap_or_default();
            let alive = self.cmd("pulseaudio").arg("--check").status().map(|s| s.success()).unwrap_or(false);
            super::failure::print_log(&format!("the sound server (running: {alive})"), &log);
        }
        let _ = self.cmd("pulseaudio").arg("--kill").status();
        for _ in 0..50 {
            if !self.cmd("pulseaudio").arg("--check").status().map(|s| s.success()).unwrap_or(false) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// A `parecord` running; `stop` ends it cleanly and reads what it heard.
pub struct Recorder {
    child: Option<std::process::Child>,
    path: PathBuf,
}

impl Recorder {
    pub fn stop(mut self) -> Vec<i16> {
        self.end();
        read(&self.path)
    }

    fn end(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGINT, not SIGKILL: parecord then finishes the WAV header.
            // SAFETY: kill takes plain integers; the pid is our own child's.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(c.id() as i32, libc::SIGINT)
            };
            let _ = c.wait();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.end();
    }
}

/// RMS in dB (full scale 0 dB) of the 10 ms blocks whose level is within
/// 30 dB of the loudest: a phrase's level, not its pauses'.
pub fn active_db(samples: &[i16]) -> f64 {
    let env = envelope(samples);
    let peak = env.iter().cloned().fold(0.0, f64::max);
    let active: Vec<f64> = env.iter().cloned().filter(|&e| e > peak / 31.6).collect();
    if active.is_empty() {
        return -100.0;
    }
    let ms = active.iter().map(|e| e * e).sum::<f64>() / active.len() as f64;
    20.0 * (ms.sqrt() / 32768.0).max(1e-5).log10()
}

/// RMS in dB (full scale 0 dB) of everything.
pub fn rms_db(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return -100.0;
    }
    let ms = samples.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / samples.len() as f64;
    20.0 * (ms.sqrt() / 32768.0).max(1e-5).log10()
}
