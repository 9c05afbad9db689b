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
    /// Jobs this process has a runner thread for.
    runners: std::sync::Mutex<std::collections::HashSet<String>>,
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
                runners: std::sync::Mutex::default(),
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

    /// Runs a batch job on its own thread until it ends. While another runner holds it (a CLI
    /// run, or a process that died and whose hold has not yet gone stale), the thread waits and
    /// tries again, so a job left by a killed process is always taken up.
    pub(crate) fn spawn_job(&self, id: String, workers: usize) {
        // One runner thread per job in this process: a resumed request reuses it.
        if let Ok(mut runners) = self.inner.runners.lock()
            && !runners.insert(id.clone())
        {
            return;
        }
        let state = self.clone();
        let engine = self.inner.engine.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("job-{id}"))
            .spawn(move || {
                Self::run_job_thread(&engine, &id, workers);
                if let Ok(mut runners) = state.inner.runners.lock() {
                    runners.remove(&id);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a job thread");
        }
    }

    fn run_job_thread(engine: &Engine, id: &str, workers: usize) {
        loop {
            match engine.run_job(id, workers, &|_| {}) {
                Ok(job) if job.status == vitrine_core::JobStatus::Running => {
                    // Stopped without finishing (its hold was taken over): look again.
                }
                Ok(job) => {
                    tracing::info!(
                        job = %job.id, status = %job.status, done = job.done,
                        failed = job.failed, "job runner stopped"
                    );
                    return;
                }
                Err(vitrine_engine::Error::Domain(vitrine_core::Error::Conflict(reason))) => {
                    tracing::debug!(job = %id, %reason, "job has another runner; waiting");
                }
                Err(e) => {
                    // A storage hiccup: try again while the job is unfinished.
                    tracing::error!(job = %id, error = %e, "job runner failed; retrying");
                }
            }
            std::thread::sleep(std::time::Duration::from_secs(5));
            match engine.job(id) {
                Ok(job) if !job.status.is_finished() => {}
                _ => return,
            }
        }
    }

    /// Takes up the jobs left running by an earlier server (killed or restarted): each gets a
    /// runner once its old holder's hold has gone stale.
    pub fn resume_jobs(&self, workers: usize) {
        let engine = self.inner.engine.clone();
        if engine.generator().is_none() {
            return;
        }
        match engine.jobs(
            Some(vitrine_core::JobStatus::Running),
            vitrine_engine::MAX_PAGE,
            0,
        ) {
            Ok(page) => {
                for job in page.items {
                    tracing::info!(job = %job.id, pending = job.pending(), "resuming job");
                    self.spawn_job(job.id, workers);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list unfinished jobs"),
        }
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
