//! The one error type of the daemon's services, and how each variant maps to
//! the control protocol's [`ErrorKind`] (which the CLI turns into its exit
//! code). Services return these; the control socket sends `{kind, message}`.

use apero_control::ErrorKind;

use crate::node::NodeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    InvalidCode(String),
    #[error("{0}")]
    Expired(String),
    #[error("this invite code was revoked by the person who made it; ask them for a new one")]
    Revoked,
    #[error("this single-use invite code was already used; ask for a new one")]
    AlreadyUsed,
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    AlreadyMember(String),
    /// A short code that nobody announces.
    #[error("{0}")]
    NoSuchCode(String),
    /// A file or directory of the user's could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The sound devices or the audio backend failed.
    #[error("{0}")]
    Audio(String),
    /// The screen, window or camera could not be captured or encoded.
    #[error("{0}")]
    Capture(String),
    /// A broken invariant or a task that died: a bug, logged as an error.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl ServiceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::NotFound(_) => ErrorKind::NotFound,
            ServiceError::Ambiguous(_) => ErrorKind::Ambiguous,
            ServiceError::BadRequest(_) => ErrorKind::BadRequest,
            ServiceError::TooLarge(_) => ErrorKind::TooLarge,
            ServiceError::InvalidCode(_) => ErrorKind::InvalidCode,
            ServiceError::Expired(_) => ErrorKind::Expired,
            ServiceError::Revoked => ErrorKind::Revoked,
            ServiceError::AlreadyUsed => ErrorKind::AlreadyUsed,
            ServiceError::Refused(_) => ErrorKind::Refused,
            ServiceError::Unreachable(_) => ErrorKind::Unreachable,
            ServiceError::AlreadyMember(_) => ErrorKind::AlreadyMember,
            ServiceError::NoSuchCode(_) => ErrorKind::NoSuchCode,
            ServiceError::Io(_) => ErrorKind::Io,
            ServiceError::Audio(_) => ErrorKind::Audio,
            ServiceError::Capture(_) => ErrorKind::Capture,
            ServiceError::Internal(_) | ServiceError::Store(_) | ServiceError::Node(_) => ErrorKind::Internal,
        }
    }

    /// Whether this is our fault rather than the request's: worth an error
    /// line in the log.
    pub fn is_internal(&self) -> bool {
        self.kind() == ErrorKind::Internal
    }

    /// A task that panicked or was cancelled under a request.
    pub fn task(e: tokio::task::JoinError) -> ServiceError {
        ServiceError::Internal(format!("a worker task failed: {e}"))
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_failures_are_not_bad_requests() {
        assert_eq!(ServiceError::Io("disk full".into()).kind(), ErrorKind::Io);
        assert_eq!(ServiceError::Audio("no device".into()).kind(), ErrorKind::Audio);
        assert_eq!(ServiceError::Internal("bug".into()).kind(), ErrorKind::Internal);
        assert!(ServiceError::Internal("bug".into()).is_internal());
        assert!(!ServiceError::BadRequest("x".into()).is_internal());
        assert_ne!(ErrorKind::Io.exit_code(), ErrorKind::BadRequest.exit_code());
    }
}
