//! Placeholder until the X11 capturer lands (helper at work).
use super::{Available, Pick, Source, SourceError};
pub fn list() -> Vec<Available> {
    Vec::new()
}
pub fn open(_pick: &Pick) -> Result<Box<dyn Source>, SourceError> {
    Err(SourceError::Unsupported("X11 capture"))
}
