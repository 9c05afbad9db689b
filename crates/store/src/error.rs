//! The store's errors, and how they become domain errors at the `Store` trait.

/// Errors from opening or using the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused or failed an operation.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file was written by a newer Vitrine.
    #[error(
        "database schema version {found} is newer than this vitrine understands ({known}); upgrade vitrine"
    )]
    TooNew {
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database file or its folder could not be created.
    #[error("cannot open {path}: {reason}")]
    Open {
        /// The database path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Result with the store's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for vitrine_core::Error {
    fn from(e: Error) -> Self {
        vitrine_core::Error::Storage(e.to_string())
    }
}

/// Shorthand for mapping a driver error straight into the domain error.
pub(crate) fn db(e: rusqlite::Error) -> vitrine_core::Error {
    Error::Sqlite(e).into()
}
