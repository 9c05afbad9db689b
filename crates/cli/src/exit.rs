//! How a command fails, which decides the exit code.

use vitrine_core::{Error as CoreError, GenerateError};
use vitrine_engine::Error as EngineError;

/// A failed command.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The user's input is at fault (exit code 2): a one-line reason.
    BadInput(String),
    /// Something broke inside (exit code 1).
    Internal(anyhow::Error),
    /// stdout was closed by the reader (`vitrine … | head`): not an error.
    BrokenPipe,
}

pub(crate) type Outcome = Result<(), Failure>;

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Domain(CoreError::Storage(_))
            | EngineError::Open(_)
            | EngineError::Generate(
                GenerateError::Backend(_)
                | GenerateError::Unavailable(_)
                | GenerateError::Timeout(_),
            ) => Failure::Internal(e.into()),
            other => Failure::BadInput(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Internal(e.into())
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}
