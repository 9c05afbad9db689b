//! One module per top-level command.

pub(crate) mod bench;
pub(crate) mod db;
pub(crate) mod eval;
pub(crate) mod import;
pub(crate) mod keys;
pub(crate) mod models;
pub(crate) mod serve;

use std::path::PathBuf;

use vitrine_engine::{Engine, EngineConfig};

use crate::exit::Failure;

/// Options every command shares.
#[derive(Debug, Clone)]
pub(crate) struct Global {
    pub(crate) db: PathBuf,
    pub(crate) currency: String,
}

impl Global {
    pub(crate) fn engine(&self) -> Result<Engine, Failure> {
        Ok(Engine::open(&EngineConfig {
            db_path: self.db.clone(),
            default_currency: self.currency.to_ascii_uppercase(),
        })?)
    }
}
