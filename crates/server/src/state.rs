//! The state every handler shares, and the bridge from async handlers to the synchronous engine.

use std::sync::Arc;

use vitrine_core::TextGenerator;
use vitrine_engine::Engine;

use crate::ApiError;
use crate::metrics::Metrics;

/// What the router's handlers share: the engine, this router's metrics and its body limit.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    metrics: Metrics,
    body_limit: usize,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("engine", &self.inner.engine)
            .field("body_limit", &self.inner.body_limit)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `engine`, refusing request bodies over `body_limit` bytes.
    pub fn new(engine: Engine, body_limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                engine,
                metrics: Metrics::new(),
                body_limit,
            }),
        }
    }

    /// The largest request body accepted, in bytes.
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The engine's language model, if it has one.
    pub(crate) fn generator(&self) -> Option<Arc<dyn TextGenerator>> {
        self.inner.engine.generator()
    }

    /// Runs a synchronous engine call on the blocking pool: SQLite calls block, and a blocked
    /// runtime worker would stall every other connection on it.
    pub(crate) async fn engine<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Engine) -> vitrine_engine::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let engine = self.inner.engine.clone();
        Ok(tokio::task::spawn_blocking(move || call(&engine)).await??)
    }
}
