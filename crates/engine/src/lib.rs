//! Vitrine's wiring: the `Engine` handle the server and the CLI share. It owns the store (through
//! the `Store` trait), the language model (through the `TextGenerator` trait), API keys, and the
//! catalog and event importers. Synchronous by design: the
//! HTTP layer calls it from blocking tasks. Owns no HTTP and no SQL.

pub mod ads;
mod content;
pub mod copy;
mod engine;
mod error;
pub mod eval;
pub mod images;
pub mod import;
mod jobs;
mod live;

/// Model files: the catalog, installation from PyPI wheels, verification.
pub mod models {
    pub use vitrine_llm::{
        CATALOG, DEFAULT_MODEL, Error, Installed, KnownModel, ModelDir, Package, Status, find,
    };
}
mod keys;
pub mod rec;

/// Text generators the engine can be given: a GGUF model run by llama.cpp in this process, or a
/// model server reached over HTTP.
pub mod text {
    pub use vitrine_llm::{
        DEFAULT_CONTEXT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, LocalConfig, LocalGenerator,
        RemoteConfig, RemoteGenerator,
    };
}

pub use content::{Generated, kind_of};

/// The options of generated copy, as callers set them.
pub mod options {
    pub use vitrine_content::{
        AdOptions, Channel, DEFAULT_EXAMPLES, DEFAULT_OPT_OUT, DescriptionOptions, Length,
        MAX_VARIANTS, Tone,
    };
}
pub use engine::{Engine, EngineConfig, MAX_EVENT_BATCH, MAX_PAGE};
pub use error::{Error, Result};
pub use jobs::{DESCRIPTIONS, DescriptionJob, JobEvent, STALE_AFTER};
pub use keys::NewKey;
pub use vitrine_store::SCHEMA_VERSION;
