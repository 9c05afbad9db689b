//! Training the conditional GAN or the conditional VAE, one artifact directory per run.
//!
//! - GAN: per batch, one discriminator step on real images (target `real_target`, 0.9 by
//!   default: one-sided label smoothing) and on generated ones (target 0), then one generator
//!   step with the non-saturating loss on the same generated ones; Adam with β₁ = 0.5 as in
//!   DCGAN. Pixels are scaled to [-1, 1] to match the generator's tanh.
//! - GAN with `ema` (the default): after every generator step, a moving average of its weights
//!   is updated; that average is what the run serves (`generator.bpk`; the trained weights are
//!   kept in `generator-trained.bpk` to resume), its batch-norm statistics measured again on its
//!   own images after each epoch.
//! - VAE: per batch, one Adam step on reconstruction BCE plus KL; pixels in [0, 1].
//!
//! A run directory holds `config.json` (model and training settings, data), the weights
//! (`generator.bpk` and `discriminator.bpk`, or `vae.bpk`) with their optimizers' state,
//! `state.json` (every finished epoch), `metrics.json`, `samples/epoch-NNN.png` (one row per
//! category, the same noise every epoch) and `loss.png`. Training again into the same directory
//! resumes after the last finished epoch; each epoch seeds its shuffle and its noise from the
//! run's seed and the epoch number, so a resumed run continues as an uninterrupted one would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::sigmoid;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use vitrine_ml::checkpoint::{
    load_module, read, read_json, read_json_if_present, save_module, write_atomic, write_json,
};

use crate::data::Images;
use crate::gan::{Discriminator, GanConfig, Generator, SIDE};
use crate::grid::grid;
use crate::loss::{discriminator_loss, generator_loss, vae_loss};
use crate::vae::{Vae, VaeConfig};
use crate::{Error, Result};

/// Samples per category in each epoch's picture.
pub const SAMPLES_PER_CLASS: usize = 8;

/// Which model, with its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    /// The conditional DCGAN.
    Gan(GanConfig),
    /// The conditional VAE.
    Vae(VaeConfig),
}

impl ModelConfig {
    /// Categories the model knows.
    pub fn classes(&self) -> usize {
        match self {
            Self::Gan(c) => c.classes,
            Self::Vae(c) => c.classes,
        }
    }

    /// `gan` or `vae`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gan(_) => "gan",
            Self::Vae(_) => "vae",
        }
    }
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Most epochs.
    pub epochs: usize,
    /// Images per batch.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Adam's β₁.
    pub beta1: f64,
    /// Seed of the initial weights, the shuffles and the noise.
    pub seed: u64,
    /// GAN: the discriminator's target for real images (1, or 0.9 for one-sided label
    /// smoothing). Unused by the VAE.
    pub real_target: f64,
    /// Training time budget in minutes: after each epoch, training stops when another as long
    /// would pass it (so the first epoch always runs whole). `None` for no limit.
    pub max_minutes: Option<f64>,
    /// GAN: the decay of the generator's exponential moving average ("The Unusual Effectiveness
    /// of Averaging in GAN Training", Yazıcı et al., ICLR 2019), which is what the run serves;
    /// `None` serves the generator as trained. Unused by the VAE.
    #[serde(default)]
    pub ema: Option<f64>,
}

impl TrainConfig {
    /// DCGAN's Adam (β₁ = 0.5) and one-sided label smoothing at 0.9, with a learning rate of
    /// 5e-4 rather than DCGAN's 2e-4 and batches of 32 rather than 64: over the same 5 epochs
    /// these brought the evaluation FID from 20.2 to 7.6 (README). The served generator is the
    /// moving average of its weights (decay 0.999), which keeps the larger steps' noise out of
    /// what is served. Up to 30 epochs: the 20-minute budget decides first on a 2-core machine.
    pub fn gan() -> Self {
        Self {
            epochs: 30,
            batch: 32,
            lr: 5e-4,
            beta1: 0.5,
            seed: 1,
            real_target: 0.9,
            max_minutes: Some(20.0),
            ema: Some(0.999),
        }
    }

    /// The VAE's: Adam at 1e-3, batches of 64.
    pub fn vae() -> Self {
        Self {
            epochs: 10,
            batch: 64,
            lr: 1e-3,
            beta1: 0.9,
            seed: 1,
            real_target: 1.0,
            max_minutes: Some(20.0),
            ema: None,
        }
    }
}

/// The run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The model and its shape.
    pub model: ModelConfig,
    /// How it is trained.
    pub train: TrainConfig,
    /// Where the images came from.
    pub data: String,
    /// Images trained on.
    pub images: usize,
    /// The category names, by label.
    pub classes: Vec<String>,
}

impl RunConfig {
    /// The record of training `model` with `train` on `data`, read from `source`.
    pub fn new(model: &ModelConfig, train: &TrainConfig, source: &str, data: &Images) -> Self {
        Self {
            model: model.clone(),
            train: train.clone(),
            data: source.to_owned(),
            images: data.len(),
            classes: data.classes().to_vec(),
        }
    }

    /// Whether a run recorded as `self` can train on as `wanted`: the same model, data and
    /// settings, but for the most epochs and the time budget, which may grow to train a
    /// finished run further.
    pub fn continues_as(&self, wanted: &Self) -> bool {
        let loose = |c: &Self| {
            let mut c = c.clone();
            c.train.epochs = 0;
            c.train.max_minutes = None;
            c
        };
        loose(self) == loose(wanted)
    }
}

/// Why training stops after `epoch` (of `spent` seconds in all, the last `last` long), if it
/// does: the epochs are done, or another epoch as long as the last would overrun the budget.
fn stop_reason(epoch: usize, config: &TrainConfig, spent: f64, last: f64) -> Option<String> {
    if epoch >= config.epochs {
        Some(format!("{epoch} epochs"))
    } else if config.max_minutes.is_some_and(|m| spent + last > m * 60.0) {
        Some(format!(
            "time budget: another epoch would pass it ({spent:.0} s of training)"
        ))
    } else {
        None
    }
}

/// One finished epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean losses of the epoch's batches, by name (`d_loss`, `g_loss`, `d_real`, `d_fake`
    /// for the GAN: the last two are the discriminator's mean probability of "real"; `loss`,
    /// `reconstruction`, `kl` for the VAE).
    pub losses: BTreeMap<String, f64>,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Images trained on per second.
    pub images_per_second: f64,
}

/// What a run directory says about its training.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainState {
    /// Every finished epoch.
    pub history: Vec<EpochRecord>,
    /// Whether training stopped for good (epochs or time spent).
    pub finished: bool,
    /// Why it stopped, once it has.
    pub stopped: Option<String>,
}

/// Progress reports.
#[derive(Debug, Clone)]
pub enum TrainProgress {
    /// A checkpoint was found: training continues after `epoch`.
    Resumed {
        /// The last finished epoch.
        epoch: usize,
    },
    /// A batch finished.
    Batch {
        /// The epoch.
        epoch: usize,
        /// Batches done in this epoch.
        done: usize,
        /// Batches in the epoch.
        total: usize,
    },
    /// An epoch finished.
    Epoch(EpochRecord),
}

/// Files of a run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Reads `config.json`.
    pub fn config(&self) -> Result<RunConfig> {
        Ok(read_json(&self.file("config.json"))?)
    }

    /// Reads `state.json`, or `None` before the first epoch finished.
    pub fn state(&self) -> Result<Option<TrainState>> {
        Ok(read_json_if_present(&self.file("state.json"))?)
    }

    /// Writes `metrics.json` (replacing it whole, never half-written).
    pub fn write_metrics<T: Serialize>(&self, metrics: &T) -> Result<()> {
        Ok(write_json(&self.file("metrics.json"), metrics)?)
    }

    fn write_plot(&self, history: &[EpochRecord]) -> Result<()> {
        use vitrine_ml::{Panel, Series};
        let names: Vec<&String> = history
            .first()
            .map(|e| e.losses.keys().collect())
            .unwrap_or_default();
        let series = |keep: &dyn Fn(&str) -> bool| -> Vec<Series> {
            names
                .iter()
                .filter(|n| keep(n))
                .map(|n| Series {
                    name: (*n).clone(),
                    points: history
                        .iter()
                        .map(|e| (e.epoch as f64, e.losses.get(*n).copied().unwrap_or(0.0)))
                        .collect(),
                })
                .collect()
        };
        let panels = vec![
            Panel {
                title: "Losses".into(),
                y_label: "mean per batch".into(),
                series: series(&|n| !n.starts_with("d_real") && !n.starts_with("d_fake")),
            },
            Panel {
                title: "Discriminator".into(),
                y_label: "mean P(real)".into(),
                series: series(&|n| n == "d_real" || n == "d_fake"),
            },
        ];
        let panels: Vec<Panel> = panels
            .into_iter()
            .filter(|p| !p.series.is_empty())
            .collect();
        let path = self.file("loss.png");
        vitrine_ml::write_panels(&path, "Training", "epoch", &panels).map_err(|e| Error::Data {
            path,
            reason: e.to_string(),
        })
    }
}

/// The models being trained, with their optimizers. One value lives per training, so the
/// variants' difference in size costs nothing.
#[allow(clippy::large_enum_variant)]
enum Models {
    Gan {
        config: GanConfig,
        g: Generator,
        d: Discriminator,
        opt_g: ModuleOptimizer,
        opt_d: ModuleOptimizer,
        /// The moving average of `g` (inference mode), when the training keeps one.
        ema: Option<Generator>,
        /// Generator steps taken, for the average's warm-up.
        steps: u64,
    },
    Vae {
        config: VaeConfig,
        vae: Vae,
        opt: ModuleOptimizer,
    },
}

impl Models {
    fn new(model: &ModelConfig, train: &TrainConfig, device: &Device) -> Self {
        let adam = || AdamConfig::new().with_beta_1(train.beta1 as f32).init();
        match model {
            ModelConfig::Gan(config) => {
                let g = Generator::new(config, device);
                Self::Gan {
                    config: config.clone(),
                    ema: train.ema.map(|_| g.valid()),
                    g,
                    d: Discriminator::new(config, device),
                    opt_g: adam(),
                    opt_d: adam(),
                    steps: 0,
                }
            }
            ModelConfig::Vae(config) => Self::Vae {
                config: config.clone(),
                vae: Vae::new(config, device),
                opt: adam(),
            },
        }
    }

    /// One batch's updates; the named losses.
    fn step(
        self,
        real: Tensor<4>,
        labels: Tensor<1, Int>,
        train: &TrainConfig,
    ) -> (Self, Vec<(&'static str, f64)>) {
        let scalar = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        match self {
            Self::Gan {
                config,
                g,
                mut d,
                mut opt_g,
                mut opt_d,
                ema,
                steps,
            } => {
                let b = labels.dims()[0];
                let device = labels.device();
                // One batch of generated images serves both steps, as in PyTorch's DCGAN
                // example: the discriminator learns from it detached (the generator held
                // still), then the generator learns through the updated discriminator's verdict
                // on it. Generating it again for the generator's step made training 13% slower
                // (484 images/s against 556) and did not help (README).
                let noise = Tensor::<2>::random(
                    [b, config.latent],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                );
                let fake = g.forward(noise, labels.clone());
                let real_logits = d.forward(real * 2.0 - 1.0, labels.clone());
                let fake_logits = d.forward(fake.clone().detach(), labels.clone());
                let d_real = scalar(sigmoid(real_logits.clone()).mean());
                let d_fake = scalar(sigmoid(fake_logits.clone()).mean());
                let d_loss = discriminator_loss(real_logits, fake_logits, train.real_target);
                let d_value = scalar(d_loss.clone());
                let grads = GradientsParams::from_grads(d_loss.backward(), &d);
                d = opt_d.step(train.lr, d, grads);
                // Generator: make the discriminator say "real".
                let g_loss = generator_loss(d.forward(fake, labels));
                let g_value = scalar(g_loss.clone());
                let grads = GradientsParams::from_grads(g_loss.backward(), &g);
                let g = opt_g.step(train.lr, g, grads);
                let steps = steps + 1;
                let ema = match (ema, train.ema) {
                    (Some(average), Some(decay)) => Some(moving_average(average, &g, decay, steps)),
                    (ema, _) => ema,
                };
                (
                    Self::Gan {
                        config,
                        g,
                        d,
                        opt_g,
                        opt_d,
                        ema,
                        steps,
                    },
                    vec![
                        ("d_loss", d_value),
                        ("g_loss", g_value),
                        ("d_real", d_real),
                        ("d_fake", d_fake),
                    ],
                )
            }
            Self::Vae {
                config,
                vae,
                mut opt,
            } => {
                let (logits, mean, log_var) = vae.forward(real.clone(), labels);
                let (loss, reconstruction, kl) = vae_loss(logits, real, mean, log_var);
                let values = vec![
                    ("loss", scalar(loss.clone())),
                    ("reconstruction", scalar(reconstruction)),
                    ("kl", scalar(kl)),
                ];
                let grads = GradientsParams::from_grads(loss.backward(), &vae);
                let vae = opt.step(train.lr, vae, grads);
                (Self::Vae { config, vae, opt }, values)
            }
        }
    }

    /// What an epoch's end does: the averaged generator's batch-norm statistics are measured
    /// again.
    fn end_epoch(mut self, batch: usize, device: &Device) -> Self {
        if let Self::Gan { config, ema, .. } = &mut self {
            *ema = ema
                .take()
                .map(|average| recalibrate(average, config, batch, device));
        }
        self
    }

    /// Pixels (0 to 255) of `SAMPLES_PER_CLASS` images per category, category by category,
    /// from the fixed noise of `seed`, generated in inference mode on `plain`.
    fn samples(&self, seed: u64, plain: &Device) -> Vec<u8> {
        match self {
            Self::Gan { config, g, ema, .. } => {
                let (noise, labels) = fixed_inputs(config.classes, config.latent, seed, plain);
                let served = ema.clone().unwrap_or_else(|| g.valid());
                let images = served.forward(noise, labels);
                to_pixels((images + 1.0) * 127.5)
            }
            Self::Vae { config, vae, .. } => {
                let (noise, labels) = fixed_inputs(config.classes, config.latent, seed, plain);
                let images = sigmoid(vae.valid().decoder.forward(noise, labels));
                to_pixels(images * 255.0)
            }
        }
    }

    fn save(&self, run: &RunDir) -> Result<()> {
        match self {
            Self::Gan {
                g,
                d,
                opt_g,
                opt_d,
                ema,
                ..
            } => {
                match ema {
                    // The average is served; the trained weights are kept to resume.
                    Some(average) => {
                        save_module(&g.valid(), &run.file(TRAINED_GENERATOR))?;
                        save_module(average, &run.file("generator.bpk"))?;
                    }
                    None => save_module(&g.valid(), &run.file("generator.bpk"))?,
                }
                save_module(&d.valid(), &run.file("discriminator.bpk"))?;
                save_optimizer(opt_g, &run.file("optim-generator.bpk"))?;
                save_optimizer(opt_d, &run.file("optim-discriminator.bpk"))
            }
            Self::Vae { vae, opt, .. } => {
                save_module(&vae.valid(), &run.file("vae.bpk"))?;
                save_optimizer(opt, &run.file("optim-vae.bpk"))
            }
        }
    }

    /// The checkpoint in `run`, after `steps` generator steps.
    fn load(self, run: &RunDir, steps: u64) -> Result<Self> {
        Ok(match self {
            Self::Gan {
                config,
                g,
                d,
                opt_g,
                opt_d,
                ema,
                ..
            } => {
                let (g, ema) = match ema {
                    Some(average) => (
                        load_module(g, &run.file(TRAINED_GENERATOR))?,
                        Some(load_module(average, &run.file("generator.bpk"))?),
                    ),
                    None => (load_module(g, &run.file("generator.bpk"))?, None),
                };
                Self::Gan {
                    config,
                    g,
                    d: load_module(d, &run.file("discriminator.bpk"))?,
                    opt_g: load_optimizer(opt_g, &run.file("optim-generator.bpk"))?,
                    opt_d: load_optimizer(opt_d, &run.file("optim-discriminator.bpk"))?,
                    ema,
                    steps,
                }
            }
            Self::Vae { config, vae, opt } => Self::Vae {
                config,
                vae: load_module(vae, &run.file("vae.bpk"))?,
                opt: load_optimizer(opt, &run.file("optim-vae.bpk"))?,
            },
        })
    }
}

fn save_optimizer(optim: &ModuleOptimizer, path: &Path) -> Result<()> {
    let bytes = optim.into_bytes().map_err(|e| Error::Data {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(write_atomic(path, &bytes[..])?)
}

fn load_optimizer(optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer> {
    let bytes = read(path)?;
    optim
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| Error::Data {
            path: path.to_owned(),
            reason: format!("not an optimizer checkpoint ({e})"),
        })
}

/// The trained generator's weights in a run that serves their moving average.
const TRAINED_GENERATOR: &str = "generator-trained.bpk";

/// Batches of generated images that re-estimate the averaged generator's batch-norm statistics
/// after each epoch: its weights are not the trained generator's, so neither are its layers'
/// statistics. With the layers' momentum of 0.1, what is left of the old ones is 0.9¹⁰⁰.
const RECALIBRATION_BATCHES: u64 = 100;

/// Every float tensor of a module (parameters and running statistics), flattened, in the
/// order the module visits them.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        self.0.push(value.reshape([n]));
    }
}

/// Moves every float tensor of a module toward the collected ones of another module of the
/// same type: `kept·β + new·(1 − β)`.
struct Blend {
    next: std::vec::IntoIter<Tensor<1>>,
    beta: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(new) = self.next.next() else {
            return param;
        };
        let beta = self.beta;
        param.map(|kept| {
            let shape = kept.shape();
            kept * beta + new.reshape(shape) * (1.0 - beta)
        })
    }
}

/// The moving average after the `steps`-th step of `current`: `average·β + current·(1 − β)`
/// with β = decay·(1 − decayᵗ⁻¹) / (1 − decayᵗ) for step t, the bias correction of Adam's
/// moments ("Adam", Kingma & Ba, ICLR 2015): the average is every step's weights so far,
/// weighted by decay^age and normalised, so the random initial weights never count. A warm-up of
/// min(decay, (1 + t) / (10 + t)), used before, capped β below 0.999 for the first 9,000 steps
/// and below 0.9999 for 90,000: asking for 0.9999 served the same weights as 0.999 over a
/// 5-epoch run. `average` is in inference mode; `current` may be on an autodiff device.
pub(crate) fn moving_average<M: Module>(average: M, current: &M, decay: f64, steps: u64) -> M {
    let t = i32::try_from(steps.max(1)).unwrap_or(i32::MAX);
    let beta = decay * (1.0 - decay.powi(t - 1)) / (1.0 - decay.powi(t));
    let mut collected = Collect(Vec::new());
    current.valid().visit(&mut collected);
    let current = collected;
    average.map(&mut Blend {
        next: current.0.into_iter(),
        beta,
    })
}

/// `average` with its batch-norm statistics measured on its own images: fixed noise, every
/// category equally, in training mode on `device` (an autodiff device).
fn recalibrate(average: Generator, config: &GanConfig, batch: usize, device: &Device) -> Generator {
    let g = average.fork(device).train();
    for i in 0..RECALIBRATION_BATCHES {
        let noise = crate::sample::normal_noise(batch, config.latent, u64::MAX - i);
        let labels: Vec<i64> = (0..batch)
            .map(|k| ((k + i as usize) % config.classes) as i64)
            .collect();
        // The forward pass in training mode updates the running statistics.
        let _ = g.forward(
            Tensor::from_data(TensorData::new(noise, [batch, config.latent]), device),
            Tensor::from_data(TensorData::new(labels, [batch]), device),
        );
    }
    g.valid()
}

/// The same noise `[classes * SAMPLES_PER_CLASS, latent]` for a seed, with labels row by row.
pub(crate) fn fixed_inputs(
    classes: usize,
    latent: usize,
    seed: u64,
    device: &Device,
) -> (Tensor<2>, Tensor<1, Int>) {
    let n = classes * SAMPLES_PER_CLASS;
    let noise = crate::sample::normal_noise(n, latent, seed);
    let labels: Vec<i64> = (0..n).map(|i| (i / SAMPLES_PER_CLASS) as i64).collect();
    (
        Tensor::from_data(TensorData::new(noise, [n, latent]), device),
        Tensor::from_data(TensorData::new(labels, [n]), device),
    )
}

/// Pixels of images `[N, 1, 28, 28]` already scaled to 0..255.
pub(crate) fn to_pixels(images: Tensor<4>) -> Vec<u8> {
    let n = images.dims().iter().product();
    let values: Vec<f32> = images.try_into_vec_as().unwrap_or_else(|_| vec![0.0; n]);
    values
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Trains `model` on `data` into `run`, resuming its checkpoint if there is one. `cancelled` is
/// asked after every batch; when it says yes, training stops and the run keeps its finished
/// epochs.
pub fn train(
    data: &Images,
    source: &str,
    model: &ModelConfig,
    config: &TrainConfig,
    run: &RunDir,
    progress: &mut dyn FnMut(TrainProgress),
    cancelled: &dyn Fn() -> bool,
) -> Result<TrainState> {
    check(data, model, config, run)?;
    let run_config = RunConfig::new(model, config, source, data);
    let unusable = |reason: String| Error::Data {
        path: run.path().to_owned(),
        reason,
    };
    std::fs::create_dir_all(run.file("samples")).map_err(|source| Error::Io {
        path: run.path().to_owned(),
        source,
    })?;
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    device.seed(config.seed);
    let mut models = Models::new(model, config, &device);
    let mut state = TrainState::default();
    match run.state()? {
        Some(saved) => {
            let kept = run.config()?;
            if !kept.continues_as(&run_config) {
                return Err(unusable(
                    "holds a run with other settings or data (only the epochs and the time \
                     budget may change, to train it further); train into a new directory"
                        .into(),
                ));
            }
            let steps = (saved.history.len() * (data.len() / config.batch)) as u64;
            models = models.load(run, steps)?;
            progress(TrainProgress::Resumed {
                epoch: saved.history.len(),
            });
            state = saved;
            if kept != run_config {
                // More epochs or a larger budget: a finished run may train on. Its record then
                // says so; a run with nothing left to train keeps the record it has.
                let spent: f64 = state.history.iter().map(|e| e.train_seconds).sum();
                let last = state.history.last().map_or(0.0, |e| e.train_seconds);
                match stop_reason(state.history.len(), config, spent, last) {
                    None => {
                        state.stopped = None;
                        state.finished = false;
                        // The state first: a kill between the two leaves a run that the new
                        // command reopens again, not one marked finished under the new record.
                        write_json(&run.file("state.json"), &state)?;
                        write_json(&run.file("config.json"), &run_config)?;
                    }
                    Some(reason) if !state.finished => {
                        state.stopped = Some(reason);
                        state.finished = true;
                    }
                    Some(_) => {}
                }
            }
        }
        None => write_json(&run.file("config.json"), &run_config)?,
    }
    if state.finished {
        return Ok(state);
    }
    let mut spent: f64 = state.history.iter().map(|e| e.train_seconds).sum();
    let size = SIDE * SIDE;
    for epoch in state.history.len() + 1..=config.epochs {
        let started = Instant::now();
        device.seed(config.seed.wrapping_add(epoch as u64));
        let mut rng = StdRng::seed_from_u64(config.seed ^ (epoch as u64).rotate_left(32));
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.shuffle(&mut rng);
        // Whole batches only: batch norm needs more than one image, and every step sees the
        // same batch size.
        let batches: Vec<&[usize]> = order.chunks_exact(config.batch).collect();
        let total = batches.len();
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for (done, batch) in batches.iter().enumerate() {
            let mut pixels = Vec::with_capacity(batch.len() * size);
            for &i in *batch {
                pixels.extend(data.image(i).iter().map(|&p| f32::from(p) / 255.0));
            }
            let labels: Vec<i64> = batch.iter().map(|&i| i64::from(data.labels()[i])).collect();
            let real = Tensor::<4>::from_data(
                TensorData::new(pixels, [batch.len(), 1, SIDE, SIDE]),
                &device,
            );
            let labels =
                Tensor::<1, Int>::from_data(TensorData::new(labels, [batch.len()]), &device);
            let (next, losses) = models.step(real, labels, config);
            models = next;
            if let Some((name, _)) = losses.iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::Data {
                    path: run.path().to_owned(),
                    reason: format!(
                        "training diverged: {name} is not finite in epoch {epoch}, batch {} (try a \
                         lower learning rate); the run keeps its first {} epochs",
                        done + 1,
                        state.history.len()
                    ),
                });
            }
            for (name, value) in losses {
                *sums.entry(name.to_owned()).or_default() += value;
            }
            progress(TrainProgress::Batch {
                epoch,
                done: done + 1,
                total,
            });
            if cancelled() {
                return Err(Error::Cancelled {
                    epoch: state.history.len(),
                });
            }
        }
        let train_seconds = started.elapsed().as_secs_f64();
        spent += train_seconds;
        let record = EpochRecord {
            epoch,
            losses: sums
                .into_iter()
                .map(|(k, v)| (k, v / total as f64))
                .collect(),
            train_seconds,
            images_per_second: (total * config.batch) as f64 / train_seconds.max(1e-9),
        };
        state.history.push(record.clone());
        state.stopped = stop_reason(epoch, config, spent, train_seconds);
        state.finished = state.stopped.is_some();
        models = models.end_epoch(config.batch, &device);
        let samples = models.samples(config.seed, &plain);
        let picture = grid(&samples, model.classes(), SAMPLES_PER_CLASS, SIDE, 1);
        let path = run.file(&format!("samples/epoch-{epoch:03}.png"));
        picture.save(&path).map_err(|e| Error::Data {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // Weights before the state that names their epoch, each file atomically: a kill leaves
        // the previous epoch's checkpoint or this one.
        models.save(run)?;
        write_json(&run.file("state.json"), &state)?;
        run.write_plot(&state.history)?;
        progress(TrainProgress::Epoch(record));
        if state.finished {
            break;
        }
    }
    Ok(state)
}

/// Checks that `data` and the settings can train `model` into `run` (what `train` checks
/// first), so a caller can refuse bad input before starting a background training.
pub fn check(data: &Images, model: &ModelConfig, config: &TrainConfig, run: &RunDir) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::Data {
            path: run.path().to_owned(),
            reason,
        })
    };
    if (data.height(), data.width()) != (SIDE, SIDE) {
        return bad(format!(
            "the models make {SIDE}×{SIDE} images; these are {}×{}",
            data.width(),
            data.height()
        ));
    }
    let sizes = match model {
        ModelConfig::Gan(c) => vec![c.latent, c.label_dim, c.channels],
        ModelConfig::Vae(c) => vec![c.latent, c.label_dim, c.channels, c.hidden],
    };
    if sizes.contains(&0) {
        return bad(
            "every size of the model (latent, label_dim, channels, hidden) must be at least 1"
                .into(),
        );
    }
    if config
        .max_minutes
        .is_some_and(|m| !(m > 0.0 && m.is_finite()))
    {
        return bad("max_minutes must be above 0".into());
    }
    if model.classes() != data.classes().len() {
        return bad(format!(
            "the model has {} categories, the images {}",
            model.classes(),
            data.classes().len()
        ));
    }
    if config.epochs == 0 || config.batch < 2 {
        return bad("epochs must be at least 1 and batch at least 2".into());
    }
    if data.len() < config.batch {
        return bad(format!(
            "{} images do not fill one batch of {}",
            data.len(),
            config.batch
        ));
    }
    if !(config.lr > 0.0 && config.lr.is_finite() && (0.0..1.0).contains(&config.beta1)) {
        return bad("the learning rate must be positive and beta1 in [0, 1)".into());
    }
    if config.ema.is_some_and(|d| !(d > 0.0 && d < 1.0)) {
        return bad("ema (the moving average's decay) must be above 0 and below 1".into());
    }
    if !(0.0..=1.0).contains(&config.real_target) {
        return bad("real_target must be between 0 and 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};

    use super::*;

    fn weights(linear: &Linear) -> Vec<f32> {
        linear.weight.val().try_into_vec_as().unwrap()
    }

    #[test]
    fn the_moving_average_blends_every_weight_and_corrects_its_start() {
        let plain = Device::flex();
        let device = plain.clone().autodiff();
        device.seed(3);
        let average = LinearConfig::new(2, 3).init(&device).valid();
        let current = LinearConfig::new(2, 3).init(&device);
        let (a, c) = (weights(&average), weights(&current));
        // Late in training β is the decay: a·0.75 + c·0.25.
        let blended = weights(&moving_average(average.clone(), &current, 0.75, 1000));
        for ((a, c), b) in a.iter().zip(&c).zip(&blended) {
            assert!((b - (a * 0.75 + c * 0.25)).abs() < 1e-6, "{a} {c} {b}");
        }
        // The first step's weights replace the initial ones.
        let first = weights(&moving_average(average.clone(), &current, 0.999, 1));
        for (c, b) in c.iter().zip(&first) {
            assert!((b - c).abs() < 1e-6, "{c} {b}");
        }
        // After the second step the two steps count as 0.5·0.5 : 0.5 → β = 0.5/1.5 = 1/3.
        let second = weights(&moving_average(average.clone(), &current, 0.5, 2));
        for ((a, c), b) in a.iter().zip(&c).zip(&second) {
            let expected = a / 3.0 + c * (2.0 / 3.0);
            assert!((b - expected).abs() < 1e-6, "{a} {c} {b}");
        }
        // A long decay averages every step so far: at step 1,000 of 0.9999 β is about 0.999
        // (one step in a thousand), not the 0.991 of a (1 + t) / (10 + t) warm-up.
        let late = weights(&moving_average(average, &current, 0.9999, 1000));
        let beta = 0.9999 * (1.0 - 0.9999f64.powi(999)) / (1.0 - 0.9999f64.powi(1000));
        assert!((beta - 0.99895).abs() < 1e-5, "{beta}");
        for ((a, c), b) in a.iter().zip(&c).zip(&late) {
            let expected = (f64::from(*a) * beta + f64::from(*c) * (1.0 - beta)) as f32;
            assert!((b - expected).abs() < 1e-6, "{a} {c} {b}");
        }
    }
}
