//! `vitrine train rec`: SASRec trained on a sequence file or on the store's events into a run
//! directory, then measured on validation and test targets (full ranking and sampled) and the
//! results written to the run's `metrics.json`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use vitrine_recsys::{
    ItemAttributes, RunDir, SasRecConfig, SasRecScorer, Sequences, TrainConfig, TrainProgress,
    train,
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

/// Where the items' attributes come from, when the model is to use them.
#[derive(Debug, Clone, Default)]
pub enum RecAttributes {
    /// None: the model sees items only (the paper's SASRec).
    #[default]
    None,
    /// An S3-Rec `*_item2attributes.json` file (gzip when it ends in `.gz`).
    File(PathBuf),
    /// The store's products: each item's brand and category.
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

    /// The brand and category of every product among `data`'s items (`brand:…`,
    /// `category:…`), the model's item attributes.
    pub fn product_attributes(&self, data: &Sequences) -> Result<ItemAttributes> {
        let mut pairs = Vec::new();
        self.each_product(|p| {
            if let Some(brand) = p.brand.filter(|b| !b.trim().is_empty()) {
                pairs.push((p.id.clone(), format!("brand:{}", brand.trim())));
            }
            if let Some(category) = p.category.filter(|c| !c.trim().is_empty()) {
                pairs.push((p.id, format!("category:{}", category.trim())));
            }
        })?;
        Ok(ItemAttributes::from_pairs(data, pairs))
    }
}

/// Loads the sequences of `source` (the store's through `engine`) with the items' attributes
/// of `attributes`.
pub fn load_sequences(
    source: &RecSource,
    attributes: &RecAttributes,
    engine: Option<&Engine>,
) -> Result<(Sequences, String)> {
    let needs_store = || {
        crate::Error::Format("training from the store or its products needs the database".into())
    };
    let (mut data, name) = match (source, engine) {
        (RecSource::File(path), _) => (Sequences::read_s3rec(path)?, path.display().to_string()),
        (RecSource::Store, Some(engine)) => (engine.interaction_sequences()?, "store".into()),
        (RecSource::Store, None) => return Err(needs_store()),
    };
    let attributes = match (attributes, engine) {
        (RecAttributes::None, _) => return Ok((data, name)),
        (RecAttributes::File(path), _) => ItemAttributes::read_s3rec(path, &data)?,
        (RecAttributes::Store, Some(engine)) => engine.product_attributes(&data)?,
        (RecAttributes::Store, None) => return Err(needs_store()),
    };
    if attributes.is_empty() {
        return Err(vitrine_core::Error::invalid(
            "attributes",
            "none of the items has an attribute (a brand or a category) to learn from",
        )
        .into());
    }
    data.set_attributes(attributes)?;
    Ok((data, name))
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
        attributes: data.attributes().map_or(0, ItemAttributes::len),
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
        "items_with_attributes": data.attributes().map(ItemAttributes::items_with_attributes),
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
