//! Training SASRec on the leave-one-out split, one artifact directory per run.
//!
//! Every training sequence predicts its next item at every position. Three objectives:
//! - `softmax`: cross-entropy over every item (Klenitskiy & Vasilev, RecSys 2023, found it far
//!   stronger than the paper's loss); the logits are computed only at real positions, so the
//!   big product is `positions × d × n_items`, not `batch × max_len × n_items`;
//! - `sampled`: cross-entropy against the target and `negatives` items drawn uniformly per
//!   batch and shared by its positions (a negative that is a row's own target is masked);
//! - `bce`: the paper's binary cross-entropy with one unseen negative per position.
//!
//! After each epoch the model is ranked on the validation targets (full ranking, history
//! masked); the best epoch's weights are kept, and training stops after `patience` epochs
//! without improvement or when the time budget is spent. Batches hold shoppers of similar
//! length and are cut to their longest sequence, so padding costs little.
//!
//! A run directory holds `config.json` (model and training settings, data), `items.json` (the
//! external id of every item index), `attributes.json` (when the model uses item attributes:
//! their names and each item's), `model.bpk` (the
//! best weights), `metrics.json` (per-epoch loss and validation metrics, the best epoch), and
//! a checkpoint of the last finished epoch (`last.bpk`, `optim.bpk`, `state.json`). Training
//! again into the same directory resumes after that epoch. Each epoch seeds its shuffle and
//! its dropout from the run's seed and the epoch number, so a resumed run continues exactly
//! as an uninterrupted one would.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use vitrine_ml::checkpoint;

use crate::attributes::ItemAttributes;
use crate::evaluate::{Protocol, evaluate};
use crate::sasrec::{SasRec, SasRecConfig, left_pad, output_rows};
use crate::scorer::Scorer;
use crate::sequences::Sequences;
use crate::split::{Stage, train_part};
use crate::{Error, Result};

/// The training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Loss {
    /// Cross-entropy over every item.
    Softmax,
    /// Cross-entropy over the target and `negatives` shared uniform negatives per batch.
    Sampled {
        /// Negatives drawn per batch.
        negatives: usize,
    },
    /// Binary cross-entropy with one unseen negative per position (the paper's).
    Bce,
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Most epochs.
    pub epochs: usize,
    /// Shoppers per batch.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initial weights, the shuffles and dropout.
    pub seed: u64,
    /// Epochs without a better validation NDCG@10 before stopping.
    pub patience: usize,
    /// The objective.
    pub loss: Loss,
    /// Training time budget in minutes (validation not counted); `None` for no limit.
    pub max_minutes: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 200,
            batch: 128,
            lr: 1e-3,
            seed: 1,
            patience: 5,
            loss: Loss::Softmax,
            max_minutes: Some(15.0),
        }
    }
}

/// One finished epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Validation NDCG@10, full ranking.
    pub valid_ndcg10: f64,
    /// Validation HR@10, full ranking.
    pub valid_hr10: f64,
    /// Seconds of training (validation not counted).
    pub train_seconds: f64,
    /// Seconds of validation.
    pub valid_seconds: f64,
}

/// What a run directory says about its training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// Every finished epoch.
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights are `model.bpk` (0 before any).
    pub best_epoch: usize,
    /// Its validation NDCG@10.
    pub best_valid_ndcg10: f64,
    /// Whether training stopped for good (early stop, epochs or time spent).
    pub finished: bool,
    /// Why it stopped, once it has.
    pub stopped: Option<String>,
}

/// The run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The network's shape.
    pub model: SasRecConfig,
    /// How it is trained.
    pub train: TrainConfig,
    /// Where the sequences came from (a file, or the store).
    pub data: String,
    /// Shoppers and interactions in the data, to notice a run resumed on other data.
    pub shoppers: usize,
    /// Interactions in the data.
    pub interactions: usize,
}

/// Progress reports.
#[derive(Debug, Clone)]
pub enum TrainProgress {
    /// A run directory's checkpoint was found: training continues after `epoch`.
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
        /// This batch's loss.
        loss: f64,
    },
    /// Validating after an epoch.
    Validating {
        /// The epoch.
        epoch: usize,
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

    fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Reads `config.json`.
    pub fn config(&self) -> Result<RunConfig> {
        read_json(&self.file("config.json"))
    }

    /// Reads `state.json`, or `None` before the first epoch finished.
    pub fn state(&self) -> Result<Option<TrainState>> {
        Ok(checkpoint::read_json_if_present(&self.file("state.json"))?)
    }

    /// The external id of every item index (`items.json`; index 0 is padding).
    pub fn items(&self) -> Result<Vec<String>> {
        read_json(&self.file("items.json"))
    }

    /// The item attributes the model was trained with (`attributes.json`), or `None` for a
    /// model of items only.
    pub fn attributes(&self) -> Result<Option<ItemAttributes>> {
        let config = self.config()?;
        if config.model.attributes == 0 {
            return Ok(None);
        }
        let path = self.file("attributes.json");
        let attributes: ItemAttributes = read_json(&path)?;
        if attributes.len() != config.model.attributes
            || attributes.n_items() != config.model.n_items
            || !attributes.is_consistent()
        {
            return Err(Error::Data {
                path,
                line: 0,
                reason: "does not match the run's config.json".into(),
            });
        }
        Ok(Some(attributes))
    }

    /// Writes `metrics.json` (replacing it whole, never half-written).
    pub fn write_metrics<T: Serialize>(&self, metrics: &T) -> Result<()> {
        write_json(&self.file("metrics.json"), metrics)
    }

    /// Draws `plot.png`: the mean training loss and the validation NDCG@10 and HR@10 per epoch.
    pub fn write_plot(&self, history: &[EpochRecord]) -> Result<()> {
        use vitrine_ml::{Panel, Series};
        let line = |name: &str, value: fn(&EpochRecord) -> f64| Series {
            name: name.to_owned(),
            points: history.iter().map(|e| (e.epoch as f64, value(e))).collect(),
        };
        let panels = [
            Panel {
                title: "Training loss".into(),
                y_label: "mean loss".into(),
                series: vec![line("loss", |e| e.loss)],
            },
            Panel {
                title: "Validation, full ranking".into(),
                y_label: "metric".into(),
                series: vec![
                    line("NDCG@10", |e| e.valid_ndcg10),
                    line("HR@10", |e| e.valid_hr10),
                ],
            },
        ];
        let path = self.file("plot.png");
        vitrine_ml::write_panels(&path, "SASRec training", "epoch", &panels).map_err(|e| {
            Error::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            }
        })
    }

    /// Loads the best weights onto `device`, checking them against `config.json`.
    pub fn load_best(&self, device: &Device) -> Result<(SasRec, SasRecConfig)> {
        let config = self.config()?;
        let attributes = self.attributes()?;
        let model = load_weights(
            &self.file("model.bpk"),
            &config.model,
            attributes.as_ref(),
            device,
        )?;
        Ok((model, config.model))
    }
}

/// Trains SASRec on `data`'s training part into `run`, resuming its checkpoint if there is one.
/// Returns the final state (the best epoch's weights are in `model.bpk`). `cancelled` is asked
/// after every batch: when it says yes, training stops with `Error::Cancelled`, and the run
/// resumes from its last finished epoch when trained again.
pub fn train(
    data: &Sequences,
    source: &str,
    model_config: &SasRecConfig,
    config: &TrainConfig,
    run: &RunDir,
    progress: &mut dyn FnMut(TrainProgress),
    cancelled: &dyn Fn() -> bool,
) -> Result<TrainState> {
    check(data, model_config, config)?;
    let run_config = RunConfig {
        model: model_config.clone(),
        train: config.clone(),
        data: source.to_owned(),
        shoppers: data.len(),
        interactions: data.interactions(),
    };
    std::fs::create_dir_all(run.path()).map_err(|source| Error::Io {
        path: run.path().to_owned(),
        source,
    })?;
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    device.seed(config.seed);
    let mut model = SasRec::new(model_config, data.attributes(), &device);
    let mut optim = AdamConfig::new()
        .with_beta_2(0.98)
        .with_epsilon(1e-8)
        .init();
    let mut state = TrainState {
        history: Vec::new(),
        best_epoch: 0,
        best_valid_ndcg10: f64::NEG_INFINITY,
        finished: false,
        stopped: None,
    };
    match run.state()? {
        Some(saved) => {
            let existing = run.config()?;
            if existing != run_config {
                return Err(Error::Unusable(format!(
                    "{} holds a run with other settings or data; train into a new directory",
                    run.path().display()
                )));
            }
            if model_config.attributes > 0 && run.attributes()?.as_ref() != data.attributes() {
                return Err(Error::Unusable(format!(
                    "{} was trained with other item attributes (attributes.json differs); train \
                     into a new directory",
                    run.path().display()
                )));
            }
            model = load_weights(
                &run.file("last.bpk"),
                model_config,
                data.attributes(),
                &device,
            )?;
            let record = burn::optim::OptimizerRecord::load(run.file("optim.bpk"))
                .map_err(|e| corrupt(&run.file("optim.bpk"), e))?;
            optim = optim.load_record(record);
            progress(TrainProgress::Resumed {
                epoch: saved.history.len(),
            });
            state = saved;
        }
        None => {
            let items: Vec<&str> = (0..=data.n_items() as u32)
                .map(|i| data.item_id(i))
                .collect();
            write_json(&run.file("items.json"), &items)?;
            if let Some(attributes) = data.attributes().filter(|_| model_config.attributes > 0) {
                write_json(&run.file("attributes.json"), attributes)?;
            }
            write_json(&run.file("config.json"), &run_config)?;
        }
    }
    if state.finished {
        return Ok(state);
    }

    let shoppers: Vec<usize> = (0..data.len())
        .filter(|&u| train_part(data.seq(u)).len() >= 2)
        .collect();
    if shoppers.is_empty() {
        return Err(Error::Unusable(
            "no shopper has two training items to learn a next item from".into(),
        ));
    }
    let seen: Vec<HashSet<u32>> = match config.loss {
        Loss::Bce => data.iter().map(|s| s.iter().copied().collect()).collect(),
        _ => Vec::new(),
    };
    let mut spent: f64 = state.history.iter().map(|e| e.train_seconds).sum();
    let mut bad = state
        .history
        .iter()
        .filter(|e| e.epoch > state.best_epoch)
        .count();
    for epoch in state.history.len() + 1..=config.epochs {
        let started = Instant::now();
        device.seed(config.seed.wrapping_add(epoch as u64));
        let mut rng = StdRng::seed_from_u64(config.seed ^ (epoch as u64).rotate_left(32));
        let batches = batches(data, &shoppers, config.batch, &mut rng);
        let (mut loss_sum, total) = (0.0, batches.len());
        for (done, batch) in batches.iter().enumerate() {
            let loss = batch_loss(
                &model,
                data,
                batch,
                model_config,
                config.loss,
                &seen,
                &mut rng,
                &device,
            );
            let value = f64::from(loss.clone().into_scalar::<f32>());
            loss_sum += value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.lr, model, grads);
            progress(TrainProgress::Batch {
                epoch,
                done: done + 1,
                total,
                loss: value,
            });
            if cancelled() {
                return Err(Error::Cancelled {
                    epoch: state.history.len(),
                });
            }
        }
        let train_seconds = started.elapsed().as_secs_f64();
        spent += train_seconds;
        progress(TrainProgress::Validating { epoch });
        let started = Instant::now();
        let scorer = SasRecScorer::new(model.valid(), model_config.clone(), plain.clone());
        let valid = evaluate(&scorer, data, Stage::Valid, Protocol::Full, 1, &|_, _| {});
        let record = EpochRecord {
            epoch,
            loss: loss_sum / total as f64,
            valid_ndcg10: valid.metrics["NDCG@10"],
            valid_hr10: valid.metrics["HR@10"],
            train_seconds,
            valid_seconds: started.elapsed().as_secs_f64(),
        };
        if record.valid_ndcg10 > state.best_valid_ndcg10 {
            state.best_epoch = epoch;
            state.best_valid_ndcg10 = record.valid_ndcg10;
            save_weights(&model.valid(), &run.file("model.bpk"))?;
            bad = 0;
        } else {
            bad += 1;
        }
        state.history.push(record.clone());
        if bad >= config.patience {
            state.stopped = Some(format!(
                "validation NDCG@10 did not improve for {bad} epochs"
            ));
        } else if epoch == config.epochs {
            state.stopped = Some(format!("{epoch} epochs"));
        } else if config.max_minutes.is_some_and(|m| spent >= m * 60.0) {
            state.stopped = Some(format!("time budget spent ({:.0} s of training)", spent));
        }
        state.finished = state.stopped.is_some();
        // The checkpoint is written before the state that names it, each file atomically, so a
        // kill at any point leaves the previous epoch's checkpoint or this one, never a mix.
        save_weights(&model.valid(), &run.file("last.bpk"))?;
        let optim_path = run.file("optim.bpk");
        let bytes = optim.into_bytes().map_err(|e| corrupt(&optim_path, e))?;
        checkpoint::write_atomic(&optim_path, &bytes[..])?;
        write_json(&run.file("state.json"), &state)?;
        run.write_plot(&state.history)?;
        progress(TrainProgress::Epoch(record));
        if state.finished {
            break;
        }
    }
    Ok(state)
}

fn check(data: &Sequences, model: &SasRecConfig, config: &TrainConfig) -> Result<()> {
    let bad = |what: &str| Err(Error::Unusable(what.to_owned()));
    if model.n_items != data.n_items() {
        return bad("the model's item count differs from the data's");
    }
    if model.attributes != data.attributes().map_or(0, ItemAttributes::len) {
        return bad("the model's attribute count differs from the data's");
    }
    if model.n_items == 0 || data.is_empty() {
        return bad("no items to train on");
    }
    if model.max_len == 0 || model.hidden == 0 || model.blocks == 0 || model.heads == 0 {
        return bad("max_len, hidden, blocks and heads must be at least 1");
    }
    if !model.hidden.is_multiple_of(model.heads) {
        return bad("hidden must be a multiple of heads");
    }
    if !(0.0..1.0).contains(&model.dropout) {
        return bad("dropout must be in [0, 1)");
    }
    if config.epochs == 0 || config.batch == 0 || config.patience == 0 {
        return bad("epochs, batch and patience must be at least 1");
    }
    if !(config.lr > 0.0 && config.lr.is_finite()) {
        return bad("the learning rate must be positive");
    }
    if let Loss::Sampled { negatives } = config.loss
        && negatives == 0
    {
        return bad("sampled softmax needs at least 1 negative");
    }
    Ok(())
}

/// Shoppers shuffled, then sorted by length within windows of 64 batches so each batch is cut
/// to a similar length, then the batches shuffled.
fn batches(
    data: &Sequences,
    shoppers: &[usize],
    batch: usize,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let mut order = shoppers.to_vec();
    order.shuffle(rng);
    let mut out: Vec<Vec<usize>> = Vec::new();
    for window in order.chunks_mut(batch * 64) {
        window.sort_by_key(|&u| train_part(data.seq(u)).len());
        out.extend(window.chunks(batch).map(<[usize]>::to_vec));
    }
    out.shuffle(rng);
    out
}

/// The loss of one batch: every training sequence predicts its next item at every position.
#[allow(clippy::too_many_arguments)]
fn batch_loss(
    model: &SasRec,
    data: &Sequences,
    batch: &[usize],
    config: &SasRecConfig,
    loss: Loss,
    seen: &[HashSet<u32>],
    rng: &mut StdRng,
    device: &Device,
) -> Tensor<1> {
    let inputs: Vec<&[u32]> = batch
        .iter()
        .map(|&u| {
            let t = train_part(data.seq(u));
            &t[..t.len() - 1]
        })
        .collect();
    let targets: Vec<&[u32]> = batch
        .iter()
        .map(|&u| &train_part(data.seq(u))[1..])
        .collect();
    let (x, l) = left_pad(&inputs, config.max_len);
    let (y, _) = left_pad(&targets, config.max_len);
    let b = inputs.len();
    // Real positions of the flattened [B * L] layout, their targets and their shoppers.
    let positions: Vec<i64> = (0..b * l)
        .filter(|&i| y[i] != 0)
        .map(|i| i as i64)
        .collect();
    let n = positions.len();
    let target: Vec<i64> = positions.iter().map(|&i| y[i as usize] - 1).collect();
    let x = Tensor::<2, Int>::from_data(TensorData::new(x, [b, l]), device);
    let table = model.item_table();
    let h = model
        .forward_with(table.clone(), x)
        .reshape([b * l, config.hidden])
        .select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(positions.clone(), [n]), device),
        );
    let items = output_rows(table);
    match loss {
        Loss::Softmax => {
            let logits = h.matmul(items.transpose());
            let t = Tensor::<2, Int>::from_data(TensorData::new(target, [n, 1]), device);
            log_softmax(logits, 1).gather(1, t).mean().neg()
        }
        Loss::Sampled { negatives } => {
            let drawn: Vec<i64> = (0..negatives)
                .map(|_| rng.random_range(0..config.n_items as i64))
                .collect();
            let collide: Vec<bool> = target
                .iter()
                .flat_map(|&t| drawn.iter().map(move |&d| d == t))
                .collect();
            let pos_emb = items.clone().select(
                0,
                Tensor::<1, Int>::from_data(TensorData::new(target, [n]), device),
            );
            let neg_emb = items.select(
                0,
                Tensor::<1, Int>::from_data(TensorData::new(drawn, [negatives]), device),
            );
            let pos = (h.clone() * pos_emb).sum_dim(1);
            let neg = h.matmul(neg_emb.transpose()).mask_fill(
                Tensor::<2, Bool>::from_data(TensorData::new(collide, [n, negatives]), device),
                -1e9,
            );
            log_softmax(Tensor::cat(vec![pos, neg], 1), 1)
                .slice(s![.., 0..1])
                .mean()
                .neg()
        }
        Loss::Bce => {
            let owner: Vec<usize> = positions.iter().map(|&i| batch[i as usize / l]).collect();
            let neg: Vec<i64> = owner
                .iter()
                .map(|&u| {
                    loop {
                        let c = rng.random_range(1..=config.n_items as u32);
                        if !seen[u].contains(&c) {
                            break i64::from(c) - 1;
                        }
                    }
                })
                .collect();
            let pos_emb = items.clone().select(
                0,
                Tensor::<1, Int>::from_data(TensorData::new(target, [n]), device),
            );
            let neg_emb = items.select(
                0,
                Tensor::<1, Int>::from_data(TensorData::new(neg, [n]), device),
            );
            let pos = (h.clone() * pos_emb).sum_dim(1);
            let negl = (h * neg_emb).sum_dim(1);
            (log_sigmoid(pos) + log_sigmoid(negl.neg())).mean().neg()
        }
    }
}

/// A trained SASRec as a `Scorer`: every item's score after each history's latest item.
#[derive(Debug)]
pub struct SasRecScorer {
    model: SasRec,
    config: SasRecConfig,
    device: Device,
    /// The model's item table, computed once.
    table: Tensor<2>,
}

impl SasRecScorer {
    /// Wraps a model (on a device without autodiff).
    pub fn new(model: SasRec, config: SasRecConfig, device: Device) -> Self {
        let table = model.item_table();
        Self {
            model,
            config,
            device,
            table,
        }
    }

    /// The best weights of a run directory, on the CPU.
    pub fn load(run: &RunDir) -> Result<Self> {
        let device = Device::flex();
        let (model, config) = run.load_best(&device)?;
        Ok(Self::new(model, config, device))
    }
}

impl Scorer for SasRecScorer {
    fn name(&self) -> &str {
        "sasrec"
    }

    fn n_items(&self) -> usize {
        self.config.n_items
    }

    fn score(&self, histories: &[&[u32]], out: &mut [f32]) {
        let width = self.config.n_items + 1;
        let known: Vec<Vec<u32>> = histories
            .iter()
            .map(|h| {
                h.iter()
                    .copied()
                    .filter(|&i| i as usize <= self.config.n_items)
                    .collect()
            })
            .collect();
        let rows: Vec<&[u32]> = known.iter().map(Vec::as_slice).collect();
        let items = output_rows(self.table.clone()).transpose();
        for (chunk, out) in rows.chunks(256).zip(out.chunks_mut(256 * width)) {
            let (flat, l) = left_pad(chunk, self.config.max_len);
            let x =
                Tensor::<2, Int>::from_data(TensorData::new(flat, [chunk.len(), l]), &self.device);
            let h = self
                .model
                .forward_with(self.table.clone(), x)
                .slice(s![.., l - 1..l, ..])
                .reshape([chunk.len(), self.config.hidden]);
            let scores: Vec<f32> = h
                .matmul(items.clone())
                .try_into_vec_as()
                .unwrap_or_else(|_| vec![f32::NAN; chunk.len() * self.config.n_items]);
            for (row, s) in out
                .chunks_mut(width)
                .zip(scores.chunks(self.config.n_items))
            {
                row[0] = f32::NEG_INFINITY;
                row[1..].copy_from_slice(s);
            }
        }
    }
}

fn save_weights(model: &SasRec, path: &Path) -> Result<()> {
    Ok(checkpoint::save_module(model, path)?)
}

fn load_weights(
    path: &Path,
    config: &SasRecConfig,
    attributes: Option<&ItemAttributes>,
    device: &Device,
) -> Result<SasRec> {
    Ok(checkpoint::load_module(
        SasRec::new(config, attributes, device),
        path,
    )?)
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Data {
        path: path.to_owned(),
        line: 0,
        reason: format!("not a checkpoint of this model ({e})"),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    Ok(checkpoint::read_json(path)?)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    Ok(checkpoint::write_json(path, value)?)
}
