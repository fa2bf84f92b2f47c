//! WAV files as microphone and speaker, paced in real time: the input file
//! (48 kHz mono 16-bit) loops from the moment the call is joined; everything
//! that would have been played is written to the output file, which is a
//! valid WAV once the call ends.

use std::path::PathBuf;

use super::paced::{Paced, Sink, Source};
use super::{AudioError, Backend, BackendConfig, Devices, Ports, Running};
use crate::voice::RATE;

pub struct Wav {
    input: PathBuf,
    output: PathBuf,
}

pub fn new(config: &BackendConfig) -> Result<Box<dyn Backend>, AudioError> {
    let input = config.wav_in.clone().ok_or_else(|| AudioError::Config("the wav backend needs --wav-in FILE".into()))?;
    let output = config.wav_out.clone().ok_or_else(|| AudioError::Config("the wav backend needs --wav-out FILE".into()))?;
    Ok(Box::new(Wav { input, output }))
}

struct Looping {
    samples: Vec<i16>,
    pos: usize,
}

impl Source for Looping {
    fn fill(&mut self, frame: &mut [i16]) {
        if self.samples.is_empty() {
            frame.fill(0);
            return;
        }
        for s in frame.iter_mut() {
            *s = self.samples[self.pos];
            self.pos = (self.pos + 1) % self.samples.len();
        }
    }
}

struct Writer(hound::WavWriter<std::io::BufWriter<std::fs::File>>);

impl Sink for Writer {
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        for &s in frame {
            self.0.write_sample(s).map_err(|e| AudioError::File(e.to_string()))?;
        }
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        self.0.finalize().map_err(|e| AudioError::File(e.to_string()))
    }
}

fn load(path: &PathBuf) -> Result<Vec<i16>, AudioError> {
    let reader = hound::WavReader::open(path).map_err(|e| AudioError::File(format!("{}: {e}", path.display())))?;
    let spec = reader.spec();
    if spec.sample_rate != RATE || spec.channels != 1 || spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
        return Err(AudioError::File(format!(
            "{} must be 48 kHz mono 16-bit (it is {} Hz, {} channel(s), {} bit); convert it with `sox IN -r 48000 -c 1 -b 16 OUT.wav`",
            path.display(),
            spec.sample_rate,
            spec.channels,
            spec.bits_per_sample
        )));
    }
    reader.into_samples::<i16>().collect::<Result<_, _>>().map_err(|e| AudioError::File(e.to_string()))
}

impl Backend for Wav {
    fn name(&self) -> &'static str {
        "wav"
    }
    fn devices(&self) -> Result<Devices, AudioError> {
        let (i, o) = (self.input.display().to_string(), self.output.display().to_string());
        Ok(Devices { inputs: vec![i.clone()], outputs: vec![o.clone()], default_input: Some(i), default_output: Some(o) })
    }
    fn pulls(&self) -> bool {
        true
    }
    fn start(&self, ports: Ports) -> Result<Box<dyn Running>, AudioError> {
        let samples = load(&self.input)?;
        let spec = hound::WavSpec { channels: 1, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let writer =
            hound::WavWriter::create(&self.output, spec).map_err(|e| AudioError::File(format!("{}: {e}", self.output.display())))?;
        Ok(Box::new(Paced::start(ports, Box::new(Looping { samples, pos: 0 }), Box::new(Writer(writer)))?))
    }
}
