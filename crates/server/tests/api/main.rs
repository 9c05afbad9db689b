//! The server's API tests in one test binary. Each file under `tests/` used to be its own binary,
//! and every one of them linked its own copy of llama.cpp, burn and the engine: twelve binaries
//! of hundreds of megabytes each, which filled CI's disk and spent its minutes linking.

mod common;

mod auth;
mod content;
mod errors;
mod events;
mod images;
mod llm_local;
mod metrics;
mod openai;
mod openapi;
mod products;
mod recommendations;
mod remote;
mod serve;
mod training;
