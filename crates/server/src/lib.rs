//! Vitrine's HTTP API: the axum router, bearer-key auth with roles, the OpenAI-compatible API
//! over the engine's language model, Prometheus metrics and the OpenAPI document. Handlers
//! extract, call the synchronous `Engine` on the blocking pool (or submit to its `TextGenerator`
//! and stream from a channel), and map the result; no business rules live here, and no model
//! code.

mod app;
mod auth;
mod error;
mod extract;
mod metrics;
mod openapi;
mod routes;
mod sse;
mod state;

pub use app::{DEFAULT_BODY_LIMIT, ServerConfig, router, serve};
pub use error::{ApiError, Error, ErrorBody, ErrorDetail, Result};
pub use openapi::openapi;
pub use state::AppState;
