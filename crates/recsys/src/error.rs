//! Errors of the recommender.

use std::path::PathBuf;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A data file is malformed; the message names the line and the problem.
    #[error("{}: line {line}: {reason}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// One-based line number (0 when the problem is the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The sequences cannot be used as asked (too few shoppers, no items, ...).
    #[error("{0}")]
    Unusable(String),
    /// Training was cancelled; the run resumes after its last finished epoch.
    #[error(
        "training was cancelled; the run keeps its first {epoch} epochs and resumes from there"
    )]
    Cancelled {
        /// Epochs finished and kept.
        epoch: usize,
    },
}

impl From<vitrine_ml::CheckpointError> for Error {
    fn from(e: vitrine_ml::CheckpointError) -> Self {
        match e {
            vitrine_ml::CheckpointError::Io { path, source } => Self::Io { path, source },
            vitrine_ml::CheckpointError::Corrupt { path, reason } => Self::Data {
                path,
                line: 0,
                reason,
            },
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
