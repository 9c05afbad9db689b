//! One module per top-level command.

pub(crate) mod bench;
pub(crate) mod db;
pub(crate) mod drafts;
pub(crate) mod eval;
pub(crate) mod generate;
pub(crate) mod import;
pub(crate) mod keys;
pub(crate) mod llm;
pub(crate) mod models;
pub(crate) mod recommend;
pub(crate) mod serve;
pub(crate) mod train;

use std::path::PathBuf;

use vitrine_engine::{Engine, EngineConfig};

use crate::exit::Failure;

/// Options every command shares.
#[derive(Debug, Clone)]
pub(crate) struct Global {
    pub(crate) db: PathBuf,
    pub(crate) currency: String,
    pub(crate) banned_phrases: Option<PathBuf>,
}

impl Global {
    pub(crate) fn engine(&self) -> Result<Engine, Failure> {
        let engine = Engine::open(&EngineConfig {
            db_path: self.db.clone(),
            default_currency: self.currency.to_ascii_uppercase(),
        })?;
        Ok(match &self.banned_phrases {
            Some(path) => engine.with_banned_phrases(read_phrases(path)?),
            None => engine,
        })
    }
}

/// The phrases of a banned-phrases file: one per line, blank lines and `#` comments skipped.
fn read_phrases(path: &std::path::Path) -> Result<Vec<String>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::BadInput(format!("--banned-phrases {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}
