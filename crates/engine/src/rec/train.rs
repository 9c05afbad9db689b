//! `vitrine train rec`: SASRec trained on a sequence file or on the store's events into a run
//! directory, then measured on validation and test targets (full ranking and sampled) and the
//! results written to the run's `metrics.json`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use vitrine_recsys::{
    RunDir, SasRecConfig, SasRecScorer, Sequences, TrainConfig, TrainProgress, train,
};

use super::eval::{evaluate_all, published};
use crate::{Engine, Result};

/// Where training sequences come from.
#[derive(Debug, Clone)]
pub enum RecSource {
    /// A file in the S3-Rec format.
    File(PathBuf),
    /// Every view, cart and purchase in the store, per shopper in time order.
    Store,
}

/// What `vitrine train rec` does.
#[derive(Debug, Clone)]
pub struct RecTrainConfig {
    /// The sequences.
    pub source: RecSource,
    /// The run directory (created, or resumed when it holds a checkpoint).
    pub run: PathBuf,
    /// The network's shape (`n_items` is taken from the data).
    pub model: SasRecConfig,
    /// How to train.
    pub train: TrainConfig,
    /// Seed of the sampled protocol's negatives in the final measurement.
    pub sampled_seed: u64,
}

impl Engine {
    /// Every shopper's views, carts and purchases, oldest first: the recommender's data.
    pub fn interaction_sequences(&self) -> Result<Sequences> {
        Ok(Sequences::from_pairs(super::serving::interaction_pairs(
            self.store(),
        )?))
    }
}

/// Loads the sequences of `source` (the store's through `engine`).
pub fn load_sequences(source: &RecSource, engine: Option<&Engine>) -> Result<(Sequences, String)> {
    match (source, engine) {
        (RecSource::File(path), _) => {
            Ok((Sequences::read_s3rec(path)?, path.display().to_string()))
        }
        (RecSource::Store, Some(engine)) => Ok((engine.interaction_sequences()?, "store".into())),
        (RecSource::Store, None) => Err(crate::Error::Format(
            "training from the store needs the database".into(),
        )),
    }
}

/// Trains (or resumes) the run, then measures its best weights; returns `metrics.json`.
/// `cancelled` is asked after every batch (see `vitrine_recsys::train`).
pub fn train_rec(
    data: &Sequences,
    source: &str,
    config: &RecTrainConfig,
    progress: &mut dyn FnMut(TrainProgress),
    cancelled: &dyn Fn() -> bool,
) -> Result<Value> {
    let model = SasRecConfig {
        n_items: data.n_items(),
        ..config.model.clone()
    };
    let run = RunDir::new(&config.run);
    let state = train(
        data,
        source,
        &model,
        &config.train,
        &run,
        progress,
        cancelled,
    )?;
    let scorer = SasRecScorer::load(&run)?;
    let evaluations = evaluate_all(&scorer, data, config.sampled_seed, 1, &|_, _| {});
    let metrics = json!({
        "data": source,
        "users": data.len(),
        "items": data.n_items(),
        "interactions": data.interactions(),
        "model": model,
        "train": config.train,
        "epochs": state.history,
        "best_epoch": state.best_epoch,
        "best_valid_ndcg10": state.best_valid_ndcg10,
        "stopped": state.stopped,
        "train_seconds": state.history.iter().map(|e| e.train_seconds).sum::<f64>(),
        "sampled_seed": config.sampled_seed,
        "evaluations": evaluations,
        "published": published(&dataset_of(source)),
    });
    run.write_metrics(&metrics)?;
    Ok(metrics)
}

fn dataset_of(source: &str) -> String {
    super::eval::dataset_name(Path::new(source))
}
