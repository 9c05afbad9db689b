//! Product images: the conditional GAN and VAE of `vitrine_imagegen`, trained on a folder of
//! images into a run directory (`vitrine train gan|vae`).

mod serving;
mod training;

use std::path::Path;

use serde_json::{Value, json};
pub use vitrine_imagegen::{
    ClassifierConfig, EpochRecord, EvalReport, FASHION_MNIST_CLASSES, GanConfig, Images, Judge,
    ModelConfig, RunDir, Sampler, TrainConfig, TrainProgress, TrainState, VaeConfig, grid,
};

pub(crate) use serving::ImageSlot;
pub use serving::{
    BannerRequest, Generated, ImageModel, ImageRequest, MAX_IMAGE_REQUESTS, MAX_IMAGES, MAX_SCALE,
    encode_png,
};
pub(crate) use training::ImageTrainings;
pub use training::{ImageTraining, ImageTrainingRequest};

use crate::Result;

/// Reads the training images in `dir`: Fashion-MNIST's training set when the folder holds its
/// IDX files (`train-images-idx3-ubyte[.gz]` and labels), else `dir/<category>/*.png`.
pub fn load_images(dir: &Path) -> Result<Images> {
    let idx = ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"]
        .iter()
        .any(|f| dir.join(f).is_file());
    Ok(if idx {
        Images::read_fashion_mnist(dir, "train")?
    } else {
        Images::read_png_dir(dir)?
    })
}

/// Trains (or resumes) `model` on `data` into `run`, then writes the run's `metrics.json`
/// (every epoch's losses and speed) and returns it. `cancelled` is asked after every batch.
pub fn train_images(
    data: &Images,
    source: &str,
    model: &ModelConfig,
    config: &TrainConfig,
    run: &RunDir,
    progress: &mut dyn FnMut(TrainProgress),
    cancelled: &dyn Fn() -> bool,
) -> Result<Value> {
    let state = vitrine_imagegen::train(data, source, model, config, run, progress, cancelled)?;
    let seconds: f64 = state.history.iter().map(|e| e.train_seconds).sum();
    let images: usize = state.history.len() * (data.len() / config.batch) * config.batch;
    let metrics = json!({
        "data": source,
        "images": data.len(),
        "classes": data.classes(),
        "model": model,
        "train": config,
        "epochs": state.history,
        "stopped": state.stopped,
        "train_seconds": seconds,
        "images_per_second": if seconds > 0.0 { images as f64 / seconds } else { 0.0 },
    });
    run.write_metrics(&metrics)?;
    Ok(metrics)
}

/// What `vitrine eval images` measures.
#[derive(Debug, Clone)]
pub struct ImageEvalConfig {
    /// The trained runs (GAN or VAE) to measure.
    pub runs: Vec<std::path::PathBuf>,
    /// The labelled images: Fashion-MNIST's folder (train and t10k sets) or a PNG folder
    /// (every sixth image held out as the test set). Default: the first run's data.
    pub data: Option<std::path::PathBuf>,
    /// Where the classifier is kept (trained there on first use).
    pub classifier: std::path::PathBuf,
    /// The classifier's shape and training.
    pub classifier_config: Option<ClassifierConfig>,
    /// Images generated per category and run.
    pub per_category: usize,
    /// Seed of the generated images and of the floor's sample.
    pub seed: u64,
}

/// What an image evaluation reports as it goes.
#[derive(Debug, Clone)]
pub enum ImageEvalProgress {
    /// A batch of the classifier's training.
    Classifier {
        /// Epoch.
        epoch: usize,
        /// Batches done in it.
        done: usize,
        /// Batches in it.
        total: usize,
    },
    /// A step of the measurement.
    Step(String),
}

/// The training and test sets of `dir`: Fashion-MNIST's own split when the folder holds its
/// IDX files, else its PNGs with every sixth image held out.
pub fn load_image_sets(dir: &Path) -> Result<(Images, Images)> {
    let idx = ["t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"]
        .iter()
        .any(|f| dir.join(f).is_file());
    if idx {
        Ok((
            Images::read_fashion_mnist(dir, "train")?,
            Images::read_fashion_mnist(dir, "t10k")?,
        ))
    } else {
        Ok(Images::read_png_dir(dir)?.split(6))
    }
}

/// Measures trained image runs with a classifier trained on the real images (see
/// `vitrine_imagegen::evaluate`), writes the VAE runs' reconstruction and interpolation
/// pictures into their folders, and returns the report.
pub fn eval_images(
    config: &ImageEvalConfig,
    progress: &mut dyn FnMut(ImageEvalProgress),
) -> Result<Value> {
    let invalid = |field: &str, why: String| -> crate::Error {
        vitrine_core::Error::invalid(field, why).into()
    };
    if config.runs.is_empty() {
        return Err(invalid("run", "name at least one run".into()));
    }
    if !(1..=10_000).contains(&config.per_category) {
        return Err(invalid(
            "per_category",
            "must be between 1 and 10000".into(),
        ));
    }
    let mut samplers = Vec::new();
    for run in &config.runs {
        samplers.push((run.display().to_string(), Sampler::load(&RunDir::new(run))?));
    }
    let data = match &config.data {
        Some(d) => d.clone(),
        None => samplers[0].1.config().data.clone().into(),
    };
    let (train, test) = load_image_sets(&data)?;
    let classifier_config = config
        .classifier_config
        .clone()
        .unwrap_or_else(|| ClassifierConfig::new(train.classes().len()));
    let judge = Judge::load_or_train(
        &config.classifier,
        &data.display().to_string(),
        &train,
        &test,
        &classifier_config,
        &mut |epoch, done, total| progress(ImageEvalProgress::Classifier { epoch, done, total }),
    )?;
    let runs: Vec<(String, &Sampler)> = samplers.iter().map(|(n, s)| (n.clone(), s)).collect();
    let report = vitrine_imagegen::evaluate(
        &judge,
        &train,
        &test,
        &runs,
        config.per_category,
        config.seed,
        &mut |step| progress(ImageEvalProgress::Step(step.to_owned())),
    )?;
    let mut pictures = Vec::new();
    for ((_, sampler), dir) in samplers.iter().zip(&config.runs) {
        if sampler.kind() == "vae" {
            pictures.extend(vitrine_imagegen::vae_pictures(sampler, &test, dir)?);
        }
    }
    let mut value = serde_json::to_value(&report)
        .map_err(|e| crate::Error::from(vitrine_core::Error::Storage(format!("report: {e}"))))?;
    value["data"] = json!(data.display().to_string());
    value["pictures"] = json!(pictures);
    Ok(value)
}
