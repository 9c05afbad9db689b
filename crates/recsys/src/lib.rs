//! Vitrine's sequential recommender: shoppers' item sequences and the leave-one-out split of the
//! published tables, the baselines (most-popular, item-kNN), and the evaluator (full ranking with
//! the history masked, and the sampled protocol), and SASRec, trained with burn on the CPU. No text, no HTTP, no database: the engine turns
//! the store's events into `Sequences` and serves the scores.

mod attributes;
mod combine;
mod error;
mod evaluate;
mod itemknn;
mod metrics;
mod popularity;
mod sasrec;
mod scorer;
mod sequences;
mod split;
mod together;
mod train;

pub use attributes::ItemAttributes;
pub use combine::Combined;
pub use error::{Error, Result};
pub use evaluate::{Evaluation, Protocol, evaluate, negatives_for};
pub use itemknn::{ItemKnn, ItemKnnConfig};
pub use metrics::{Metrics, Rank};
pub use popularity::Popularity;
pub use sasrec::{SasRec, SasRecConfig, left_pad};
pub use scorer::Scorer;
pub use sequences::{PAD, Sequences};
pub use split::{MIN_EVALUATED, Stage, held_out, train_part};
pub use together::Together;
pub use train::{
    EpochRecord, Loss, RunConfig, RunDir, SasRecScorer, TrainConfig, TrainProgress, TrainState,
    train,
};
