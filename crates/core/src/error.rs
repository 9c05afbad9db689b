//! The domain error: what went wrong, in terms a caller can act on.

/// Errors shared by every layer that speaks the domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value broke a domain rule; `field` names it.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (or input) at fault.
        field: String,
        /// Why it is not acceptable.
        reason: String,
    },
    /// The thing asked for does not exist.
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// What kind of thing was asked for.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The thing already exists, or the request conflicts with current state.
    #[error("{0}")]
    Conflict(String),
    /// The storage backend failed; the message is for logs, not for clients.
    #[error("storage: {0}")]
    Storage(String),
}

impl Error {
    /// A validation error on `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
