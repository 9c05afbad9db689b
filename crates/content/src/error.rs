//! Errors of the content tasks.

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The product record holds too little to ground copy on.
    #[error("product {product} cannot ground generated copy: it lacks {missing}")]
    NothingToGround {
        /// The product id.
        product: String,
        /// What to add.
        missing: String,
    },
    /// A generation option is out of range.
    #[error("{field}: {reason}")]
    InvalidOption {
        /// The option's name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
