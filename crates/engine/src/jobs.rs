//! Batch jobs: descriptions for a whole catalog (or a category, or the products without one),
//! run in the background by a few workers at once so the model batches their requests.
//!
//! A job fixes its products when created. Each item's drafts are stored in the transaction that
//! marks it done, so a job killed at any moment (kill -9 included) loses at most the items in
//! flight and a rerun continues with the pending ones, never writing an item twice. A runner
//! holds a job through a heartbeat; a second runner cannot take it while the heartbeat is fresh.
//! Cancelling marks the job in the store; runners see it before their next item.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vitrine_content::DescriptionOptions;
use vitrine_core::{
    Error as CoreError, GenerateError, ItemOutcome, Job, JobItem, JobNew, JobStatus, Page,
    ProductSelection, now_millis,
};

use crate::content::new_id;
use crate::{Engine, Error, Result};

/// The kind of a description job.
pub const DESCRIPTIONS: &str = "descriptions";
/// A runner renews its hold this often.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// A hold not renewed for this long is free to take (the runner died). Taking over from a
/// runner that was only slow is safe: an item is finished once, by whichever runner gets
/// there first, and the other's work on it is dropped.
pub const STALE_AFTER: Duration = Duration::from_secs(15);
/// Times an item is retried while the model is busy.
const BUSY_RETRIES: u32 = 20;

/// What a description job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DescriptionJob {
    /// Only this category.
    #[serde(default)]
    pub category: Option<String>,
    /// Only products with no description (in the catalog, waiting for review or approved).
    #[serde(default)]
    pub missing_only: bool,
    /// The options of every product's descriptions.
    #[serde(default)]
    pub options: DescriptionOptions,
}

/// What a runner reports as it goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    /// An item finished; `job` has the new counts.
    Item {
        /// The job after the item.
        job: Job,
        /// The product.
        product_id: String,
        /// Why it failed, if it did.
        error: Option<String>,
        /// Time the item took, in milliseconds.
        elapsed_ms: u64,
    },
}

impl Engine {
    /// Creates a description job, or finds the unfinished one with the same parameters (the
    /// second value is true then): a rerun of the same command resumes instead of starting
    /// over.
    pub fn start_description_job(&self, spec: &DescriptionJob, actor: &str) -> Result<(Job, bool)> {
        spec.options
            .validate()
            .map_err(crate::content::content_error)?;
        let params = serde_json::to_value(spec).map_err(|e| CoreError::Storage(e.to_string()))?;
        Ok(self.store().start_job(
            &JobNew {
                id: new_id("job"),
                kind: DESCRIPTIONS.into(),
                params,
                actor: actor.to_owned(),
                created_at: now_millis(),
            },
            &ProductSelection {
                category: spec.category.clone(),
                missing_description: spec.missing_only,
            },
        )?)
    }

    /// Runs a job's pending items with `workers` at once until none is left or the job is
    /// cancelled; `Conflict` if another live runner holds it. Failed items are recorded and
    /// the job goes on.
    pub fn run_job(
        &self,
        id: &str,
        workers: usize,
        on_event: &(dyn Fn(&JobEvent) + Sync),
    ) -> Result<Job> {
        let job = self.store().get_job(id)?;
        if job.status.is_finished() {
            return Ok(job);
        }
        if job.kind != DESCRIPTIONS {
            return Err(
                CoreError::invalid("kind", format!("unknown job kind '{}'", job.kind)).into(),
            );
        }
        let spec: DescriptionJob = serde_json::from_value(job.params.clone())
            .map_err(|e| CoreError::Storage(format!("job {id} has unreadable parameters: {e}")))?;
        let runner = new_id("run");
        if !self.claim(id, &runner)? {
            return Err(CoreError::Conflict(format!(
                "job {id} is being run by another process; it is free {}s after that one stops",
                STALE_AFTER.as_secs()
            ))
            .into());
        }
        let pending = self.store().pending_items(id)?;
        if pending.is_empty() {
            // Every item was finished (by an earlier runner that died before ending the job).
            return Ok(self.store().end_job(id, JobStatus::Done)?);
        }
        let pending = Mutex::new(pending.into_iter());
        let stop = AtomicBool::new(false);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            // The heartbeat, until the workers are done.
            let beat = scope.spawn(|| {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if last.elapsed() >= HEARTBEAT {
                        last = Instant::now();
                        if !matches!(self.claim(id, &runner), Ok(true)) {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
            let workers: Vec<_> = (0..workers.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        loop {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            match self.store().get_job(id) {
                                Ok(j) if j.status == JobStatus::Running => {}
                                _ => return,
                            }
                            let next = pending.lock().ok().and_then(|mut p| p.next());
                            let Some(product_id) = next else { return };
                            let started = Instant::now();
                            // A bug on one product fails that item, not the run (and
                            // not, retried forever, every later run).
                            let outcome =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    self.job_item(&product_id, &spec, &job)
                                }))
                                .unwrap_or_else(|_| {
                                    tracing::error!(product = %product_id, "job item panicked");
                                    Err(Error::Format("internal error; the log says more".into()))
                                });
                            let elapsed_ms = started.elapsed().as_millis() as u64;
                            let (outcome, error) = match outcome {
                                Ok(drafts) => (ItemOutcome::Done { drafts, elapsed_ms }, None),
                                Err(e) => (
                                    ItemOutcome::Failed {
                                        error: e.to_string(),
                                        elapsed_ms,
                                    },
                                    Some(e.to_string()),
                                ),
                            };
                            let finished = match self.store().finish_item(id, &product_id, &outcome)
                            {
                                // The product was deleted while its copy was written.
                                Err(CoreError::NotFound {
                                    kind: "product", ..
                                }) => {
                                    let failed = ItemOutcome::Failed {
                                        error: "the product was deleted".into(),
                                        elapsed_ms,
                                    };
                                    self.store().finish_item(id, &product_id, &failed)
                                }
                                other => other,
                            };
                            match finished {
                                Ok(job) => on_event(&JobEvent::Item {
                                    job,
                                    product_id,
                                    error,
                                    elapsed_ms,
                                }),
                                // Another runner finished it: nothing written twice.
                                Err(CoreError::Conflict(_)) => {}
                                Err(e) => {
                                    if let Ok(mut f) = failure.lock() {
                                        f.get_or_insert(e.into());
                                    }
                                    stop.store(true, Ordering::Relaxed);
                                    return;
                                }
                            }
                        }
                    })
                })
                .collect();
            for worker in workers {
                let _ = worker.join();
            }
            stop.store(true, Ordering::Relaxed);
            let _ = beat.join();
        });
        if let Some(e) = failure.into_inner().ok().flatten() {
            return Err(e);
        }
        Ok(self.store().get_job(id)?)
    }

    fn claim(&self, id: &str, runner: &str) -> Result<bool> {
        let now = now_millis();
        Ok(self
            .store()
            .claim_job(id, runner, now, now - STALE_AFTER.as_millis() as i64)?)
    }

    /// One item: the product's description drafts, retried while the model is busy.
    fn job_item(
        &self,
        product_id: &str,
        spec: &DescriptionJob,
        job: &Job,
    ) -> Result<Vec<vitrine_core::DraftNew>> {
        let product = self.product(product_id)?;
        let mut tries = 0;
        loop {
            match self.write_descriptions(&product, &spec.options, &job.actor, Some(&job.id)) {
                Ok((drafts, _)) if !drafts.is_empty() => return Ok(drafts),
                Ok((_, failures)) => {
                    return Err(Error::Format(format!(
                        "no description survived the checks: {}",
                        failures.join("; ")
                    )));
                }
                Err(Error::Generate(GenerateError::Busy { retry_after, .. }))
                    if tries < BUSY_RETRIES =>
                {
                    tries += 1;
                    std::thread::sleep(retry_after.max(Duration::from_millis(250)));
                }
                // What the model's backend said stays in the log; the item says what failed.
                Err(Error::Generate(
                    e @ (GenerateError::Unavailable(_) | GenerateError::Backend(_)),
                )) => {
                    tracing::error!(product = product_id, error = %e, "job item failed");
                    return Err(Error::Format(
                        "text generation failed; the server log says why".into(),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Cancels a running job; finished items keep their drafts. A finished job is returned
    /// as it is.
    pub fn cancel_job(&self, id: &str) -> Result<Job> {
        Ok(self.store().end_job(id, JobStatus::Cancelled)?)
    }

    /// One job.
    pub fn job(&self, id: &str) -> Result<Job> {
        Ok(self.store().get_job(id)?)
    }

    /// A page of jobs, newest first.
    pub fn jobs(&self, status: Option<JobStatus>, limit: u32, offset: u64) -> Result<Page<Job>> {
        crate::engine::check_limit(limit)?;
        Ok(self.store().list_jobs(status, limit, offset)?)
    }

    /// A page of a job's items.
    pub fn job_items(&self, id: &str, limit: u32, offset: u64) -> Result<Page<JobItem>> {
        crate::engine::check_limit(limit)?;
        Ok(self.store().job_items(id, limit, offset)?)
    }
}
