//! Training the image models in the background, for the admin API: a GAN or a VAE on a folder of
//! images on the server's disk (Fashion-MNIST's IDX files or `DIR/<category>/*.png`) into a named
//! run under the runs folder, with live progress and cancellation. One training at a time,
//! recommender trainings included (each takes every core). The run directory is the record: a
//! restarted server reads finished epochs back from `state.json`, and starting the same run again
//! resumes it (with more epochs or a larger budget, a finished run trains further).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_core::Error as CoreError;
use vitrine_imagegen::{
    EpochRecord, GanConfig, ModelConfig, RunConfig, RunDir, TrainConfig, TrainProgress, VaeConfig,
};

use super::serving::ImageModel;
use super::{load_images, train_images};
use crate::live::{Registry, Status};
use crate::rec::{TrainingState, run_name_ok};
use crate::{Engine, Error, Result};

/// An image training to start. Unset settings take `vitrine train gan|vae`'s defaults.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageTrainingRequest {
    /// The run's name: its folder under the runs folder (letters, digits, `.`, `_`, `-`; at
    /// most 64). Starting an unfinished run again resumes it.
    pub run: String,
    /// `gan` or `vae`.
    pub model: ImageModel,
    /// The images, a folder on the server: Fashion-MNIST's (its training set is read) or
    /// `DIR/<category>/*.png` with 28×28 images.
    #[schema(value_type = String)]
    pub data: PathBuf,
    /// Most epochs (1 to 1000; default 30 for the GAN, 10 for the VAE). More than a finished
    /// run has trains it further.
    pub epochs: Option<usize>,
    /// Training time budget in minutes, counting the run's earlier epochs (default 20; 0 for
    /// none).
    pub max_minutes: Option<f64>,
    /// Images per batch (2 to 1024; default 32 for the GAN, 64 for the VAE).
    pub batch: Option<usize>,
    /// Adam's learning rate (default 5e-4 for the GAN, 1e-3 for the VAE).
    pub lr: Option<f64>,
    /// Seed of the weights, shuffles and noise (default 1).
    pub seed: Option<u64>,
    /// Latent size (1 to 512; default 64 for the GAN, 16 for the VAE).
    pub latent: Option<usize>,
    /// Channels of the 14×14 maps (1 to 256; default 32).
    pub channels: Option<usize>,
    /// GAN only: decay of the moving average of the generator's weights that the run serves
    /// (above 0 and below 1; default 0.999; 0 serves the generator as trained).
    pub ema: Option<f64>,
}

/// An image training and its progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageTraining {
    /// The run's name.
    pub run: String,
    /// `gan` or `vae`.
    pub model: String,
    /// Where it stands.
    pub state: TrainingState,
    /// The epoch in progress while running, else the last finished one.
    pub epoch: usize,
    /// Batches done in the epoch in progress.
    pub batches_done: usize,
    /// Batches in an epoch.
    pub batches_total: usize,
    /// Every finished epoch: mean losses, seconds, images per second.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<EpochRecord>,
    /// Why training stopped, once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// What went wrong, for a failed training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Counts changes, so a watcher can tell a new state from the same one.
    pub updates: u64,
}

impl ImageTraining {
    fn new(run: &str, model: &str) -> Self {
        Self {
            run: run.to_owned(),
            model: model.to_owned(),
            state: TrainingState::Running,
            epoch: 0,
            batches_done: 0,
            batches_total: 0,
            history: Vec::new(),
            stopped: None,
            error: None,
            updates: 0,
        }
    }
}

impl Status for ImageTraining {
    fn state(&self) -> TrainingState {
        self.state
    }

    fn count_update(&mut self) {
        self.updates += 1;
    }
}

/// The image trainings this process runs or ran.
pub(crate) type ImageTrainings = Registry<ImageTraining>;

fn invalid(field: &str, why: impl Into<String>) -> Error {
    CoreError::invalid(field, why).into()
}

fn settings(request: &ImageTrainingRequest, classes: usize) -> Result<(ModelConfig, TrainConfig)> {
    let in_range = |field: &str, v: usize, lo: usize, hi: usize| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(invalid(field, format!("must be between {lo} and {hi}")))
        }
    };
    let (model, base) = match request.model {
        ImageModel::Gan => {
            let d = GanConfig::new(classes);
            let c = GanConfig {
                latent: in_range("latent", request.latent.unwrap_or(d.latent), 1, 512)?,
                channels: in_range("channels", request.channels.unwrap_or(d.channels), 1, 256)?,
                ..d
            };
            (ModelConfig::Gan(c), TrainConfig::gan())
        }
        ImageModel::Vae => {
            let d = VaeConfig::new(classes);
            let c = VaeConfig {
                latent: in_range("latent", request.latent.unwrap_or(d.latent), 1, 512)?,
                channels: in_range("channels", request.channels.unwrap_or(d.channels), 1, 256)?,
                ..d
            };
            (ModelConfig::Vae(c), TrainConfig::vae())
        }
    };
    let lr = request.lr.unwrap_or(base.lr);
    if !(lr > 0.0 && lr <= 1.0) {
        return Err(invalid("lr", "must be above 0 and at most 1"));
    }
    // 0 means no budget, as `--max-minutes 0` does on the command line.
    let max_minutes = match request.max_minutes {
        Some(0.0) => None,
        Some(m) => Some(m),
        None => base.max_minutes,
    };
    if max_minutes.is_some_and(|m| !(m > 0.0 && m <= 24.0 * 60.0)) {
        return Err(invalid(
            "max_minutes",
            "must be 0 (no budget) or above 0 and at most 1440",
        ));
    }
    let ema = match (request.model, request.ema) {
        (_, None) => base.ema,
        (ImageModel::Vae, Some(_)) => return Err(invalid("ema", "is for the GAN only")),
        (ImageModel::Gan, Some(0.0)) => None,
        (ImageModel::Gan, Some(d)) if d > 0.0 && d < 1.0 => Some(d),
        (ImageModel::Gan, Some(_)) => {
            return Err(invalid("ema", "must be 0 (off) or above 0 and below 1"));
        }
    };
    let train = TrainConfig {
        epochs: in_range("epochs", request.epochs.unwrap_or(base.epochs), 1, 1000)?,
        batch: in_range("batch", request.batch.unwrap_or(base.batch), 2, 1024)?,
        lr,
        seed: request.seed.unwrap_or(base.seed),
        max_minutes,
        ema,
        ..base
    };
    Ok((model, train))
}

impl Engine {
    /// Starts training `request.model` on the images in `request.data` in a background thread
    /// (or resumes it, or trains a finished run further when given more epochs or a larger
    /// budget); returns its first status. `Conflict` while another training runs or when the
    /// folder holds a run with other settings or data.
    pub fn start_image_training(&self, request: &ImageTrainingRequest) -> Result<ImageTraining> {
        if !run_name_ok(&request.run) {
            return Err(invalid(
                "run",
                "must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'",
            ));
        }
        if !request.data.is_dir() {
            return Err(invalid("data", "is not a folder on the server"));
        }
        let dir = self.runs_dir()?.join(&request.run);
        // Everything that can be refused is refused before a training is registered, and the
        // images are read before any lock is taken.
        let data = load_images(&request.data).map_err(|e| invalid("data", e.to_string()))?;
        let (model, train) = settings(request, data.classes().len())?;
        let run = RunDir::new(&dir);
        vitrine_imagegen::check(&data, &model, &train, &run).map_err(|e| match e {
            vitrine_imagegen::Error::Data { reason, .. } => invalid("data", reason),
            other => invalid("data", other.to_string()),
        })?;
        let source = request.data.display().to_string();
        if dir.join("config.json").is_file() {
            let wanted = RunConfig::new(&model, &train, &source, &data);
            if !run.config().is_ok_and(|kept| kept.continues_as(&wanted)) {
                return Err(CoreError::Conflict(format!(
                    "the run '{}' holds another model, other settings or other data (only epochs \
                     and max_minutes may change, to train it further); start a run with a new \
                     name",
                    request.run
                ))
                .into());
            }
        }
        // One training of either kind at a time: the gate is held from the check to the insert.
        let _gate = self.training_gate.lock().unwrap_or_else(|e| e.into_inner());
        self.image_trainings.idle(self.trainings.running())?;
        let mut first = image_training_on_disk(&dir, &request.run)
            .unwrap_or_else(|_| ImageTraining::new(&request.run, model.name()));
        first.state = TrainingState::Running;
        first.error = None;
        let entry = self.image_trainings.insert(&request.run, first);
        let thread = std::thread::Builder::new()
            .name(format!("train-{}", request.run))
            .spawn(move || {
                let work = std::panic::AssertUnwindSafe(|| {
                    train_images(
                        &data,
                        &source,
                        &model,
                        &train,
                        &run,
                        &mut |p| {
                            entry.update(|s| match p {
                                TrainProgress::Resumed { epoch } => s.epoch = epoch,
                                TrainProgress::Batch { epoch, done, total } => {
                                    s.epoch = epoch;
                                    s.batches_done = done;
                                    s.batches_total = total;
                                }
                                TrainProgress::Epoch(record) => s.history.push(record),
                            })
                        },
                        &|| entry.cancelled(),
                    )
                });
                let result = std::panic::catch_unwind(work).unwrap_or_else(|_| {
                    Err(CoreError::Storage("training stopped on an internal error".into()).into())
                });
                let stopped = run.state().ok().flatten().and_then(|s| s.stopped);
                entry.update(|s| match result {
                    Ok(_) => {
                        s.state = TrainingState::Done;
                        s.stopped = stopped;
                        s.epoch = s.history.len();
                    }
                    Err(Error::Images(vitrine_imagegen::Error::Cancelled { .. })) => {
                        s.state = TrainingState::Cancelled;
                    }
                    Err(e) => {
                        tracing::error!(run = %run.path().display(), error = %e, "image training failed");
                        s.state = TrainingState::Failed;
                        s.error = Some(e.to_string());
                    }
                });
            });
        if let Err(e) = thread {
            self.image_trainings.remove(&request.run);
            return Err(CoreError::Storage(format!("cannot start a training thread: {e}")).into());
        }
        self.image_training(&request.run)
    }

    /// Asks the running image training `run` to stop after its current batch.
    pub fn cancel_image_training(&self, run: &str) -> Result<ImageTraining> {
        match self.image_trainings.cancel(run) {
            Some(status) => Ok(status),
            None => self.image_training(run),
        }
    }

    /// Every image run in the runs folder (recommender runs are not listed), by name.
    pub fn image_trainings(&self) -> Result<Vec<ImageTraining>> {
        let names = self.run_names(
            |dir| RunDir::new(dir).config().is_ok(),
            self.image_trainings.names(),
        )?;
        names.iter().map(|n| self.image_training(n)).collect()
    }

    /// The status of image run `run`: live when this process trains it, else from its folder.
    pub fn image_training(&self, run: &str) -> Result<ImageTraining> {
        if let Some(status) = self.image_trainings.get(run) {
            return Ok(status);
        }
        if !run_name_ok(run) {
            return Err(not_found(run));
        }
        image_training_on_disk(&self.runs_dir()?.join(run), run)
    }
}

fn not_found(run: &str) -> Error {
    CoreError::NotFound {
        kind: "image training run",
        id: run.to_owned(),
    }
    .into()
}

/// What an image run's folder says of it.
fn image_training_on_disk(dir: &Path, run: &str) -> Result<ImageTraining> {
    let runs = RunDir::new(dir);
    let config = match runs.config() {
        Ok(c) => c,
        Err(_) => return Err(not_found(run)),
    };
    let mut status = ImageTraining::new(run, config.model.name());
    status.state = TrainingState::Interrupted;
    match runs.state() {
        Ok(Some(state)) => {
            status.epoch = state.history.len();
            status.history = state.history;
            if state.finished {
                status.state = TrainingState::Done;
            }
            status.stopped = state.stopped;
        }
        Ok(None) => {}
        Err(e) => {
            status.state = TrainingState::Failed;
            status.error = Some(format!("the run's files are damaged: {e}"));
        }
    }
    Ok(status)
}
