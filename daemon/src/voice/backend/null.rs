//! Captures silence, discards output: a call with no sound at all.

use super::paced::{Paced, Sink, Source};
use super::{AudioError, Backend, BackendConfig, Devices, Ports, Running};

pub struct Null;

pub fn new(_: &BackendConfig) -> Result<Box<dyn Backend>, AudioError> {
    Ok(Box::new(Null))
}

struct Silence;
impl Source for Silence {
    fn fill(&mut self, frame: &mut [i16]) {
        frame.fill(0);
    }
}

struct Discard;
impl Sink for Discard {
    fn write(&mut self, _: &[i16]) -> Result<(), AudioError> {
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        Ok(())
    }
}

impl Backend for Null {
    fn name(&self) -> &'static str {
        "null"
    }
    fn devices(&self) -> Result<Devices, AudioError> {
        Ok(Devices { inputs: vec!["silence".into()], outputs: vec!["discard".into()], ..Default::default() })
    }
    fn pulls(&self) -> bool {
        true
    }
    fn start(&self, ports: Ports) -> Result<Box<dyn Running>, AudioError> {
        Ok(Box::new(Paced::start(ports, Box::new(Silence), Box::new(Discard))?))
    }
}
