//! Training the recommender in the background, for the admin API: SASRec on the store's events
//! into a named run under the engine's runs folder, one training at a time (it takes every
//! core), with live progress, cancellation, and the option to serve the run once trained. The
//! run directory is the record: a restarted server has lost only the live view, reads the rest
//! from `state.json` and `metrics.json`, and starting the same run again resumes it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use vitrine_core::Error as CoreError;
use vitrine_recsys::{
    EpochRecord, ItemAttributes, Loss, RunConfig, RunDir, SasRecConfig, TrainConfig, TrainProgress,
    train_part,
};

use super::train::{RecAttributes, RecSource, RecTrainConfig, load_sequences, train_rec};
use crate::live::{Live, Registry, Status};
use crate::{Engine, Error, Result};

/// What the data of a store-trained run is called in its `config.json`.
const STORE: &str = "store";

/// A training to start. Unset settings take `vitrine train rec`'s defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingRequest {
    /// The run's name: its folder under the runs folder (letters, digits, `.`, `_`, `-`; at
    /// most 64). Starting an unfinished run again resumes it.
    pub run: String,
    /// Most epochs (1 to 1000; default 200).
    pub epochs: Option<usize>,
    /// Training time budget in minutes, validation not counted (default 15).
    pub max_minutes: Option<f64>,
    /// Epochs without a better validation NDCG@10 before stopping (1 to 100; default 5).
    pub patience: Option<usize>,
    /// Seed of the weights, shuffles and dropout (default 1).
    pub seed: Option<u64>,
    /// Shoppers per batch (1 to 4096; default 128).
    pub batch: Option<usize>,
    /// Adam's learning rate (default 0.001).
    pub lr: Option<f64>,
    /// Longest history read (1 to 500; default 50).
    pub max_len: Option<usize>,
    /// Embedding width (1 to 1024; default 64).
    pub hidden: Option<usize>,
    /// Self-attention blocks (1 to 8; default 2).
    pub blocks: Option<usize>,
    /// Attention heads, dividing `hidden` (default 2).
    pub heads: Option<usize>,
    /// Dropout, 0 to below 1 (default 0.2).
    pub dropout: Option<f64>,
    /// Add each item's brand and category from the store's products to its embedding (default
    /// false: items only, the paper's SASRec).
    #[serde(default)]
    pub attributes: bool,
    /// Recommend with this run once it is trained (default false).
    #[serde(default)]
    pub serve: bool,
}

/// Where a training stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrainingState {
    /// Training or measuring now.
    Running,
    /// Trained and measured: `metrics.json` is written.
    Done,
    /// Stopped on an error (`error` says which).
    Failed,
    /// Cancelled; starting it again resumes after its last finished epoch.
    Cancelled,
    /// Stopped with the process that ran it; starting it again resumes.
    Interrupted,
}

/// A training run and its progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Training {
    /// The run's name.
    pub run: String,
    /// Where it stands.
    pub state: TrainingState,
    /// While running: `loading`, `training`, `validating` or `measuring`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The epoch in progress while running, else the last finished one.
    pub epoch: usize,
    /// Batches done in the epoch in progress.
    pub batches_done: usize,
    /// Batches in an epoch.
    pub batches_total: usize,
    /// The last batch's loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_loss: Option<f64>,
    /// Every finished epoch: mean loss, validation NDCG@10 and HR@10, seconds.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights are kept (0 before any).
    pub best_epoch: usize,
    /// Its validation NDCG@10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_valid_ndcg10: Option<f64>,
    /// Why training stopped, once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// What went wrong, for a failed training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Test metrics of the kept weights, full ranking (HR and NDCG at 5, 10, 20), once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub test: Option<Value>,
    /// Whether the engine recommends with this run now.
    pub serving: bool,
    /// Counts changes, so a watcher can tell a new state from the same one.
    pub updates: u64,
}

impl Training {
    fn new(run: &str) -> Self {
        Self {
            run: run.to_owned(),
            state: TrainingState::Running,
            phase: Some("loading".into()),
            epoch: 0,
            batches_done: 0,
            batches_total: 0,
            batch_loss: None,
            history: Vec::new(),
            best_epoch: 0,
            best_valid_ndcg10: None,
            stopped: None,
            error: None,
            test: None,
            serving: false,
            updates: 0,
        }
    }
}

impl Status for Training {
    fn state(&self) -> TrainingState {
        self.state
    }

    fn count_update(&mut self) {
        self.updates += 1;
    }
}

/// The recommender trainings this process runs or ran.
pub(crate) type Trainings = Registry<Training>;

fn invalid(field: &str, why: impl Into<String>) -> Error {
    CoreError::invalid(field, why).into()
}

/// Checks `request` and turns it into the run's settings (`n_items` is filled in later).
/// Whether `name` may name a run folder: 1 to 64 letters, digits, `.`, `_` or `-`, not starting
/// with `.` (so never `..` or a path).
pub(crate) fn run_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.')
}

fn settings(request: &TrainingRequest) -> Result<(SasRecConfig, TrainConfig)> {
    if !run_name_ok(&request.run) {
        return Err(invalid(
            "run",
            "must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'",
        ));
    }
    let defaults = TrainConfig::default();
    let shape = SasRecConfig::new(0);
    let in_range = |field: &str, v: usize, lo: usize, hi: usize| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(invalid(field, format!("must be between {lo} and {hi}")))
        }
    };
    let model = SasRecConfig {
        n_items: 0,
        max_len: in_range("max_len", request.max_len.unwrap_or(shape.max_len), 1, 500)?,
        hidden: in_range("hidden", request.hidden.unwrap_or(shape.hidden), 1, 1024)?,
        heads: in_range("heads", request.heads.unwrap_or(shape.heads), 1, 64)?,
        blocks: in_range("blocks", request.blocks.unwrap_or(shape.blocks), 1, 8)?,
        dropout: request.dropout.unwrap_or(shape.dropout),
        attributes: 0,
    };
    if !model.hidden.is_multiple_of(model.heads) {
        return Err(invalid("heads", "must divide hidden"));
    }
    if !(0.0..1.0).contains(&model.dropout) {
        return Err(invalid("dropout", "must be at least 0 and below 1"));
    }
    let lr = request.lr.unwrap_or(defaults.lr);
    if !(lr > 0.0 && lr <= 1.0) {
        return Err(invalid("lr", "must be above 0 and at most 1"));
    }
    let max_minutes = request.max_minutes.or(defaults.max_minutes);
    if max_minutes.is_some_and(|m| !(m > 0.0 && m <= 24.0 * 60.0)) {
        return Err(invalid("max_minutes", "must be above 0 and at most 1440"));
    }
    let train = TrainConfig {
        epochs: in_range("epochs", request.epochs.unwrap_or(defaults.epochs), 1, 1000)?,
        batch: in_range("batch", request.batch.unwrap_or(defaults.batch), 1, 4096)?,
        lr,
        seed: request.seed.unwrap_or(defaults.seed),
        patience: in_range(
            "patience",
            request.patience.unwrap_or(defaults.patience),
            1,
            100,
        )?,
        loss: Loss::Softmax,
        max_minutes,
    };
    Ok((model, train))
}

impl Engine {
    /// This engine keeping the runs the admin API trains under `dir`.
    pub fn with_runs_dir(mut self, dir: PathBuf) -> Self {
        self.runs_dir = Some(dir);
        self
    }

    pub(crate) fn runs_dir(&self) -> Result<&PathBuf> {
        self.runs_dir.as_ref().ok_or_else(|| {
            CoreError::Storage("this engine has no runs folder for training".into()).into()
        })
    }

    /// Starts training `request.run` on the store's views, carts and purchases in a background
    /// thread (or resumes it, when the folder holds an unfinished run with the same settings and
    /// data); returns its first status. `Conflict` while another training runs, or when the
    /// folder holds a run with other settings or data.
    pub fn start_training(&self, request: &TrainingRequest) -> Result<Training> {
        let (mut model, train) = settings(request)?;
        let run = self.runs_dir()?.join(&request.run);
        // One training of either kind at a time: the gate is held from the check to the insert.
        let _gate = self.training_gate.lock().unwrap_or_else(|e| e.into_inner());
        self.trainings.idle(self.image_trainings.running())?;
        let attributes = if request.attributes {
            RecAttributes::Store
        } else {
            RecAttributes::None
        };
        let (data, _) = load_sequences(&RecSource::Store, &attributes, Some(self))?;
        if !data.iter().any(|s| train_part(s).len() >= 2) {
            return Err(CoreError::invalid(
                "run",
                "the store has no shopper with four or more views, carts or purchases: there is \
                 nothing to learn a next item from yet",
            )
            .into());
        }
        model.n_items = data.n_items();
        model.attributes = data.attributes().map_or(0, ItemAttributes::len);
        let config = RecTrainConfig {
            source: RecSource::Store,
            run: run.clone(),
            model,
            train,
            sampled_seed: request.seed.unwrap_or(1),
        };
        let dir = RunDir::new(&run);
        if run.join("config.json").exists() {
            let wanted = RunConfig {
                model: config.model.clone(),
                train: config.train.clone(),
                data: STORE.into(),
                shoppers: data.len(),
                interactions: data.interactions(),
            };
            // Another run's folder (an image run, a damaged config) is not this run either.
            if dir.config().ok().as_ref() != Some(&wanted) {
                return Err(CoreError::Conflict(format!(
                    "the run '{}' was trained with other settings or on other data (the store \
                     has changed since); start a run with a new name",
                    request.run
                ))
                .into());
            }
        }
        // A resumed run starts from what its folder holds: its finished epochs stay in view.
        let mut first = match self.training_on_disk(&run, &request.run) {
            Ok(disk) => disk,
            Err(_) => Training::new(&request.run),
        };
        first.state = TrainingState::Running;
        first.phase = Some("loading".into());
        first.serving = false;
        let entry = self.trainings.insert(&request.run, first);
        let engine = self.clone();
        let serve = request.serve;
        let thread = std::thread::Builder::new()
            .name(format!("train-{}", request.run))
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| {
                    engine.run_training(&data, &config, &entry, serve)
                });
                if std::panic::catch_unwind(run).is_err() {
                    // A bug must not leave the run "running" and block every later training.
                    entry.update(|s| {
                        s.state = TrainingState::Failed;
                        s.phase = None;
                        s.error = Some("training stopped on an internal error".into());
                    });
                }
            });
        if let Err(e) = thread {
            self.trainings.remove(&request.run);
            return Err(CoreError::Storage(format!("cannot start a training thread: {e}")).into());
        }
        self.training(&request.run)
    }

    fn run_training(
        &self,
        data: &vitrine_recsys::Sequences,
        config: &RecTrainConfig,
        live: &Live<Training>,
        serve: bool,
    ) {
        let result = train_rec(
            data,
            STORE,
            config,
            &mut |p| {
                live.update(|s| match p {
                    TrainProgress::Resumed { epoch } => s.epoch = epoch,
                    TrainProgress::Batch {
                        epoch,
                        done,
                        total,
                        loss,
                    } => {
                        s.phase = Some("training".into());
                        s.epoch = epoch;
                        s.batches_done = done;
                        s.batches_total = total;
                        s.batch_loss = Some(loss);
                    }
                    TrainProgress::Validating { .. } => s.phase = Some("validating".into()),
                    TrainProgress::Epoch(record) => {
                        if s.best_valid_ndcg10.is_none_or(|b| record.valid_ndcg10 > b) {
                            s.best_epoch = record.epoch;
                            s.best_valid_ndcg10 = Some(record.valid_ndcg10);
                        }
                        s.history.push(record);
                        s.phase = Some("training".into());
                    }
                });
            },
            &|| live.cancelled(),
        );
        match result {
            Ok(metrics) => {
                let serving = serve && {
                    self.use_recommender_run(config.run.clone());
                    true
                };
                let mut from_disk = self.training_on_disk(&config.run, &live.snapshot().run);
                live.update(|s| {
                    if let Ok(disk) = from_disk.as_mut() {
                        s.history = std::mem::take(&mut disk.history);
                        s.best_epoch = disk.best_epoch;
                        s.best_valid_ndcg10 = disk.best_valid_ndcg10;
                        s.stopped = disk.stopped.take();
                    }
                    s.state = TrainingState::Done;
                    s.phase = None;
                    s.test = test_metrics(&metrics);
                    s.serving = serving;
                });
                tracing::info!(run = %config.run.display(), "training done");
            }
            Err(Error::Recommender(vitrine_recsys::Error::Cancelled { .. })) => {
                live.update(|s| {
                    s.state = TrainingState::Cancelled;
                    s.phase = None;
                });
                tracing::info!(run = %config.run.display(), "training cancelled");
            }
            Err(e) => {
                tracing::error!(run = %config.run.display(), error = %e, "training failed");
                live.update(|s| {
                    s.state = TrainingState::Failed;
                    s.phase = None;
                    s.error = Some(e.to_string());
                });
            }
        }
    }

    /// Asks the running training `run` to stop after its current batch; its finished epochs
    /// are kept.
    pub fn cancel_training(&self, run: &str) -> Result<Training> {
        match self.trainings.cancel(run) {
            Some(status) => Ok(status),
            None => self.training(run),
        }
    }

    /// The status of `run`: live when this process runs it, else from its folder.
    pub fn training(&self, run: &str) -> Result<Training> {
        if let Some(mut status) = self.trainings.get(run) {
            status.serving = status.serving && self.serving_run(&self.runs_dir()?.join(run));
            return Ok(status);
        }
        if !run_name_ok(run) {
            return Err(not_found(run));
        }
        let dir = self.runs_dir()?.join(run);
        self.training_on_disk(&dir, run)
    }

    /// Every run in the runs folder, by name.
    pub fn trainings(&self) -> Result<Vec<Training>> {
        let names = self.run_names(
            |dir| RunDir::new(dir).config().is_ok(),
            self.trainings.names(),
        )?;
        names.iter().map(|n| self.training(n)).collect()
    }

    /// The names of the runs folder's runs of one kind (`is_run` tells them by their folder;
    /// names a run cannot have are skipped) and of those `live` in this process, sorted.
    pub(crate) fn run_names(
        &self,
        is_run: impl Fn(&std::path::Path) -> bool,
        live: Vec<String>,
    ) -> Result<Vec<String>> {
        let dir = self.runs_dir()?;
        let mut names: Vec<String> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .filter(|e| is_run(&e.path()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| run_name_ok(n))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(CoreError::Storage(format!("{}: {e}", dir.display())).into()),
        };
        for name in live {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// What a run's folder says of it.
    fn training_on_disk(&self, dir: &std::path::Path, run: &str) -> Result<Training> {
        // Image runs share the runs folder: only a recommender's config makes a training here.
        if RunDir::new(dir).config().is_err() {
            return Err(not_found(run));
        }
        let runs = RunDir::new(dir);
        let mut status = Training::new(run);
        status.phase = None;
        status.state = TrainingState::Interrupted;
        if let Some(state) = runs.state()? {
            status.epoch = state.history.len();
            status.history = state.history;
            status.best_epoch = state.best_epoch;
            status.best_valid_ndcg10 = (state.best_epoch > 0).then_some(state.best_valid_ndcg10);
            status.stopped = state.stopped;
        }
        let metrics = dir.join("metrics.json");
        if metrics.is_file() {
            let text = std::fs::read_to_string(&metrics)
                .map_err(|e| CoreError::Storage(format!("{}: {e}", metrics.display())))?;
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| CoreError::Storage(format!("{}: {e}", metrics.display())))?;
            status.state = TrainingState::Done;
            status.test = test_metrics(&value);
        }
        status.serving = self.serving_run(dir);
        Ok(status)
    }
}

fn not_found(run: &str) -> Error {
    CoreError::NotFound {
        kind: "training run",
        id: run.to_owned(),
    }
    .into()
}

/// The full-ranking test metrics of a run's `metrics.json`.
fn test_metrics(metrics: &Value) -> Option<Value> {
    metrics["evaluations"]
        .as_array()?
        .iter()
        .find(|e| e["stage"] == "test" && e["protocol"] == "full")
        .map(|e| e["metrics"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(run: &str) -> TrainingRequest {
        TrainingRequest {
            run: run.into(),
            ..TrainingRequest::default()
        }
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let (model, train) = settings(&request("rec-1")).unwrap();
        assert_eq!(model.hidden, 64);
        assert_eq!(train.max_minutes, Some(15.0));
        for (bad, field) in [
            (request(""), "run"),
            (request("../etc"), "run"),
            (request(".hidden"), "run"),
            (request(&"x".repeat(65)), "run"),
            (
                TrainingRequest {
                    heads: Some(3),
                    ..request("r")
                },
                "heads",
            ),
            (
                TrainingRequest {
                    dropout: Some(1.0),
                    ..request("r")
                },
                "dropout",
            ),
            (
                TrainingRequest {
                    epochs: Some(0),
                    ..request("r")
                },
                "epochs",
            ),
            (
                TrainingRequest {
                    lr: Some(f64::NAN),
                    ..request("r")
                },
                "lr",
            ),
            (
                TrainingRequest {
                    max_minutes: Some(-1.0),
                    ..request("r")
                },
                "max_minutes",
            ),
        ] {
            let message = settings(&bad).unwrap_err().to_string();
            assert!(message.starts_with(field), "{message}");
        }
    }
}
