//! `vitrine eval rec` runs the recommender crate's models on a sequence file
//! with the published protocols and sets the results beside the published numbers.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};
use vitrine_recsys::{
    Evaluation, ItemKnn, ItemKnnConfig, Popularity, Protocol, RunDir, SasRecScorer, Scorer,
    Sequences, Stage, evaluate,
};

use crate::Result;

/// A recommender `vitrine eval rec` can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecModel {
    /// Most-popular items in training.
    Popularity,
    /// Item-to-item co-occurrence.
    ItemKnn,
    /// Popularity over every interaction, test targets included: not a model but the published
    /// PopRec's counting, a check on the evaluator.
    PopularityAll,
    /// A trained SASRec run (`RecEvalConfig::run`).
    SasRec,
}

impl RecModel {
    /// The model's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RecModel::Popularity => "popularity",
            RecModel::ItemKnn => "item-knn",
            RecModel::PopularityAll => "popularity-all",
            RecModel::SasRec => "sasrec",
        }
    }
}

/// What `vitrine eval rec` measures.
#[derive(Debug, Clone)]
pub struct RecEvalConfig {
    /// Sequences in the S3-Rec format (`user item item ...`, gzip or not).
    pub data: PathBuf,
    /// Models to measure, in this order.
    pub models: Vec<RecModel>,
    /// Seed of the sampled protocol's negatives.
    pub seed: u64,
    /// Settings of the item-kNN baseline.
    pub knn: ItemKnnConfig,
    /// The SASRec run directory, for `RecModel::SasRec`.
    pub run: Option<PathBuf>,
}

/// Evaluates each model on validation and test targets, full ranking and sampled, and returns
/// the report (`progress(model, done, total)` follows each pass).
pub fn eval_rec(
    config: &RecEvalConfig,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<Value> {
    let data = Sequences::read_s3rec(&config.data)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results = Vec::new();
    for &model in &config.models {
        let started = Instant::now();
        let scorer: Box<dyn Scorer> = match model {
            RecModel::Popularity => Box::new(Popularity::fit(&data)),
            RecModel::ItemKnn => Box::new(ItemKnn::fit(&data, &config.knn)),
            RecModel::PopularityAll => Box::new(Popularity::fit_all(&data)),
            RecModel::SasRec => {
                let run = config.run.as_ref().ok_or_else(|| {
                    crate::Error::Format("the sasrec model needs --run DIR".into())
                })?;
                let scorer = SasRecScorer::load(&RunDir::new(run))?;
                if scorer.n_items() != data.n_items() {
                    return Err(crate::Error::Format(format!(
                        "{} was trained on {} items, {} has {}",
                        run.display(),
                        scorer.n_items(),
                        config.data.display(),
                        data.n_items()
                    )));
                }
                Box::new(scorer)
            }
        };
        // SASRec parallelises inside its matrix products; the baselines by shopper.
        let threads = if model == RecModel::SasRec {
            1
        } else {
            threads
        };
        let fit_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let runs = evaluate_all(
            scorer.as_ref(),
            &data,
            config.seed,
            threads,
            &|done, total| progress(model.as_str(), done, total),
        );
        results.push(json!({
            "model": model.as_str(),
            "fit_seconds": fit_seconds,
            "eval_seconds": started.elapsed().as_secs_f64(),
            "evaluations": runs,
        }));
    }
    let dataset = dataset_name(&config.data);
    Ok(json!({
        "data": config.data.display().to_string(),
        "dataset": dataset,
        "users": data.len(),
        "items": data.n_items(),
        "interactions": data.interactions(),
        "split": "leave-one-out: last item test, second-to-last validation, the rest trains",
        "sampled_seed": config.seed,
        "item_knn": config.knn,
        "results": results,
        "published": published(&dataset),
        "notes": [
            "full: the target against every item, the shopper's history masked (S3-Rec repo, all_rank table)",
            "sampled-99: the target against 99 unseen items drawn with the seed; the paper's own negatives were not published, so its numbers are comparable only roughly",
            "ties are counted at their expected place, neither first nor last",
            "popularity-all counts every interaction, test targets included, as the published PopRec row does: a check on the evaluator, not a model",
        ],
    }))
}

/// Validation and test targets, each under full ranking and the sampled protocol (negatives
/// drawn with `seed`), in that order.
pub(super) fn evaluate_all(
    scorer: &dyn Scorer,
    data: &Sequences,
    seed: u64,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Evaluation> {
    let mut runs = Vec::new();
    for protocol in [Protocol::Full, Protocol::sampled(seed)] {
        for stage in [Stage::Valid, Stage::Test] {
            runs.push(evaluate(scorer, data, stage, protocol, threads, progress));
        }
    }
    runs
}

/// `Beauty` for `.../Beauty.txt.gz`.
pub(super) fn dataset_name(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_owned()
}

/// The published numbers on the same files (../shared/data/README.md: the S3-Rec repo's
/// `all_rank.PNG` for full ranking, the S3-Rec paper's main table for sampled).
pub(super) fn published(dataset: &str) -> Value {
    match dataset {
        "Beauty" => json!({
            "full": {
                "PopRec": {"HR@10": 0.0152, "NDCG@10": 0.0068},
                "SASRec": {"HR@5": 0.0387, "NDCG@5": 0.0249, "HR@10": 0.0605, "NDCG@10": 0.0318, "HR@20": 0.0902, "NDCG@20": 0.0394},
                "S3-Rec": {"HR@5": 0.0387, "NDCG@5": 0.0244, "HR@10": 0.0647, "NDCG@10": 0.0327, "HR@20": 0.0994, "NDCG@20": 0.0414},
            },
            "sampled-99": {
                "SASRec": {"HR@1": 0.1870, "HR@5": 0.3741, "NDCG@5": 0.2848, "HR@10": 0.4696, "NDCG@10": 0.3156, "MRR": 0.2852},
                "S3-Rec": {"HR@1": 0.2192, "HR@5": 0.4502, "NDCG@5": 0.3407, "HR@10": 0.5506, "NDCG@10": 0.3732, "MRR": 0.3340},
            },
        }),
        "Toys_and_Games" => json!({
            "full": {
                "SASRec": {"HR@5": 0.0463, "NDCG@5": 0.0306, "HR@10": 0.0675, "NDCG@10": 0.0374, "HR@20": 0.0941, "NDCG@20": 0.0441},
                "S3-Rec": {"HR@5": 0.0443, "NDCG@5": 0.0294, "HR@10": 0.0700, "NDCG@10": 0.0376, "HR@20": 0.1065, "NDCG@20": 0.0468},
            },
            "sampled-99": {
                "SASRec": {"HR@1": 0.1878, "HR@5": 0.3682, "NDCG@5": 0.2820, "HR@10": 0.4663, "NDCG@10": 0.3136, "MRR": 0.2842},
                "S3-Rec": {"HR@1": 0.2003, "HR@5": 0.4420, "NDCG@5": 0.3270, "HR@10": 0.5530, "NDCG@10": 0.3629, "MRR": 0.3202},
            },
        }),
        _ => Value::Null,
    }
}
