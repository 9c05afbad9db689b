//! Product images: the conditional GAN and VAE of `vitrine_imagegen`, trained on a folder of
//! images into a run directory (`vitrine train gan|vae`).

use std::path::Path;

use serde_json::{Value, json};
pub use vitrine_imagegen::{
    EpochRecord, FASHION_MNIST_CLASSES, GanConfig, Images, ModelConfig, RunDir, TrainConfig,
    TrainProgress, TrainState, VaeConfig,
};

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
