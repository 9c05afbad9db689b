//! The engine's errors.

use std::path::PathBuf;

/// Errors from the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A domain rule or the store refused the operation.
    #[error(transparent)]
    Domain(#[from] vitrine_core::Error),
    /// The store could not be opened.
    #[error("cannot open the database: {0}")]
    Open(#[from] vitrine_store::Error),
    /// An input file could not be read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The input is not in a format Vitrine reads, or the format given does not fit it.
    #[error("{0}")]
    Format(String),
    /// The language model could not generate.
    #[error(transparent)]
    Generate(#[from] vitrine_core::GenerateError),
    /// The recommender refused its data or settings.
    #[error(transparent)]
    Recommender(#[from] vitrine_recsys::Error),
    /// The image models refused their data or settings, or a run's files.
    #[error(transparent)]
    Images(#[from] vitrine_imagegen::Error),
    /// Images were asked for and no trained image model can serve; the message says what to
    /// run.
    #[error("{0}")]
    NoImageModel(String),
    /// The image model already has as many requests as it may queue; retry in a moment.
    #[error("the image model is busy: {0} requests are running or waiting; retry in a second")]
    ImagesBusy(usize),
    /// Text generation was asked of an engine without a language model.
    #[error("no language model is configured")]
    NoModel,
}

/// Result with the engine's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
