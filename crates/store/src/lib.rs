//! Vitrine's database. SQLite by default (WAL, foreign keys on), with versioned migrations that
//! run when the store opens. Holds the catalog, events, API keys, content drafts under review
//! and batch jobs. Implements `vitrine_core::Store`; callers never see SQL or a driver.
//! Owns no model code and no HTTP.

mod columns;
mod connection;
mod drafts;
mod error;
mod events;
mod import;
mod jobs;
mod keys;
mod migrations;
mod products;
mod sqlite;

pub use error::{Error, Result};
pub use migrations::SCHEMA_VERSION;
pub use sqlite::{SqliteConfig, SqliteStore};
