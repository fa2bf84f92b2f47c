//! What the microphone's processing and the speech gate do to a recording,
//! offline and without a network: the real processor (`voice::processing`)
//! and gate (`voice::gate`), frame by frame as the engine runs them, with
//! nothing playing on the far end. Writes what comes out of the processor,
//! and what a listener gets of it (frames the gate does not send are
//! silence), and what a listener's decoder makes of the Opus packets the
//! gate and DTX let through (a pause's first 10 frames concealed, then
//! silence, as the playout does), so bench/voice_offline.py can score each
//! against the input with PESQ and find which stage costs what.
//!
//! `cargo run --release -p aperod --example voice_offline -- IN.wav OUT_DIR SETTINGS...`
//! where each SETTINGS is `off`, `on`, or a list such as `noise,gain`.

use std::path::Path;

use apero_control::AudioProcessing;
use aperod::voice::codec::{Decoder, Encoder};
use aperod::voice::gate::Gate;
use aperod::voice::mix::level_dbfs;
use aperod::voice::processing::Processor;
use aperod::voice::FRAME;

fn settings(s: &str) -> AudioProcessing {
    let mut p = AudioProcessing::OFF;
    if s == "on" {
        return AudioProcessing::default();
    }
    for part in s.split(',') {
        match part {
            "echo" => p.echo_cancel = true,
            "noise" => p.noise_suppression = true,
            "gain" => p.gain_control = true,
            _ => {}
        }
    }
    p
}

fn write(path: &Path, samples: &[i16]) -> anyhow::Result<()> {
    let spec = hound::WavSpec { channels: 1, sample_rate: 48_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 4, "usage: voice_offline IN.wav OUT_DIR SETTINGS...");
    let input: Vec<i16> = hound::WavReader::open(&args[1])?.samples::<i16>().collect::<Result<_, _>>()?;
    let out = Path::new(&args[2]);
    std::fs::create_dir_all(out)?;
    let silence = [0i16; FRAME];
    for name in &args[3..] {
        let mut p = Processor::new(settings(name));
        let mut gate = Gate::default();
        let (mut enc, mut dec) = (Encoder::new(0)?, Decoder::new()?);
        let mut gap = 0u32;
        let mut decoded = Vec::with_capacity(input.len());
        let (mut processed, mut heard) = (Vec::with_capacity(input.len()), Vec::with_capacity(input.len()));
        let (mut sent, mut frames) = (0usize, 0usize);
        for chunk in input.chunks_exact(FRAME) {
            let mut frame = [0i16; FRAME];
            frame.copy_from_slice(chunk);
            p.render(&silence);
            let prob = p.capture(&mut frame, false);
            let d = gate.decide(level_dbfs(&frame), p.decides_speech().then_some(prob), false);
            processed.extend_from_slice(&frame);
            heard.extend_from_slice(if d.send { &frame } else { &silence });
            let mut out = [0i16; FRAME];
            match enc.encode(&frame)?.filter(|_| d.send) {
                Some(packet) => {
                    gap = 0;
                    if !dec.decode(packet, &mut out) {
                        dec.conceal(&mut out);
                    }
                }
                None => {
                    gap += 1;
                    if gap <= 10 {
                        dec.conceal(&mut out);
                    }
                }
            }
            decoded.extend_from_slice(&out);
            frames += 1;
            sent += d.send as usize;
        }
        write(&out.join(format!("{name}-processed.wav")), &processed)?;
        write(&out.join(format!("{name}-heard.wav")), &heard)?;
        write(&out.join(format!("{name}-decoded.wav")), &decoded)?;
        println!("{name}: {sent}/{frames} frames sent");
    }
    Ok(())
}
