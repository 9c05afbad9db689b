//! `vitrine train rec`: SASRec on a sequence file or on the store's events, into a run
//! directory; rerunning the same command after an interruption resumes the last epoch.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use indicatif::ProgressBar;
use serde_json::Value;
use vitrine_engine::rec::{
    Loss, RecAttributes, RecSource, RecTrainConfig, SasRecConfig, TrainConfig, TrainProgress,
    load_sequences, train_rec,
};

use super::Global;
use crate::exit::{Failure, Outcome};
use crate::progress::styled_bar;

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The sequential recommender (SASRec), with early stopping on validation NDCG@10; then
    /// its validation and test metrics, written to the run's metrics.json.
    Rec(RecArgs),
    /// The conditional GAN for product images (DCGAN, one category per label), with a sample
    /// grid per epoch (one row per category) and loss curves in the run directory.
    Gan(ImageArgs),
    /// The conditional VAE for product images, with a sample grid per epoch and loss curves.
    Vae(ImageArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImageArgs {
    /// The images: a folder with Fashion-MNIST's IDX files (its training set is read), or
    /// `DIR/<category>/*.png` (28×28, grey or turned grey).
    #[arg(long)]
    data: PathBuf,
    /// The run directory: config.json, weights, state.json, metrics.json, samples/, loss.png.
    /// An existing run with the same settings resumes; given more epochs or a larger budget, a
    /// finished run trains further.
    #[arg(long)]
    run: PathBuf,
    /// Most epochs (default: 30 for the GAN, whose time budget usually decides first; 10 for
    /// the VAE).
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per batch (default: 32 for the GAN, 64 for the VAE).
    #[arg(long)]
    batch: Option<usize>,
    /// Adam's learning rate (default: 5e-4 for the GAN, 1e-3 for the VAE).
    #[arg(long)]
    lr: Option<f64>,
    /// Seed of the weights, the shuffles and the noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Training time budget in minutes (0: none), counting the run's earlier epochs.
    #[arg(long, default_value_t = 20.0)]
    max_minutes: f64,
    /// Latent (noise) size (default: 64 for the GAN, 16 for the VAE).
    #[arg(long)]
    latent: Option<usize>,
    /// Channels of the 14×14 feature maps (default: 32).
    #[arg(long)]
    channels: Option<usize>,
    /// GAN: decay of the served moving average of the generator's weights (0: serve the
    /// generator as trained; default 0.999).
    #[arg(long)]
    ema: Option<f64>,
}

/// The training objective.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LossArg {
    /// Cross-entropy over every item.
    Softmax,
    /// Cross-entropy over the target and --negatives shared random items per batch.
    Sampled,
    /// The SASRec paper's binary cross-entropy with one random unseen item per position.
    Bce,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RecArgs {
    /// Sequences in the S3-Rec format (`user item item ...`); without it, the store's views,
    /// carts and purchases.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Item attributes added to each item's embedding: an S3-Rec `*_item2attributes.json(.gz)`
    /// file, or `store` for the brand and category of the store's products. Without it, the
    /// model sees items only, as the paper's SASRec.
    #[arg(long, value_name = "FILE|store")]
    attributes: Option<String>,
    /// The run directory: config.json, items.json, model.bpk, metrics.json and the checkpoint.
    /// An existing run with the same settings resumes.
    #[arg(long)]
    run: PathBuf,
    /// Most epochs.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Shoppers per batch.
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    /// Seed of the weights, shuffles, dropout and the sampled evaluation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Epochs without a better validation NDCG@10 before stopping.
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    patience: usize,
    /// Training time budget in minutes (0: none), counting the run's earlier epochs.
    #[arg(long, default_value_t = 15.0)]
    max_minutes: f64,
    /// The objective.
    #[arg(long, value_enum, default_value = "softmax")]
    loss: LossArg,
    /// Negatives per batch for --loss sampled.
    #[arg(long, default_value_t = 1024)]
    negatives: usize,
    /// Longest history read.
    #[arg(long, default_value_t = SasRecConfig::new(0).max_len)]
    max_len: usize,
    /// Embedding width.
    #[arg(long, default_value_t = SasRecConfig::new(0).hidden)]
    hidden: usize,
    /// Self-attention blocks.
    #[arg(long, default_value_t = SasRecConfig::new(0).blocks)]
    blocks: usize,
    /// Attention heads.
    #[arg(long, default_value_t = SasRecConfig::new(0).heads)]
    heads: usize,
    /// Dropout.
    #[arg(long, default_value_t = SasRecConfig::new(0).dropout)]
    dropout: f64,
}

pub(crate) fn run(global: &Global, command: Command) -> Outcome {
    match command {
        Command::Rec(args) => rec(global, args),
        Command::Gan(args) => images(args, true),
        Command::Vae(args) => images(args, false),
    }
}

fn images(args: ImageArgs, gan: bool) -> Outcome {
    use vitrine_engine::images::{
        GanConfig, ModelConfig, RunDir, TrainConfig as ImageTrain, TrainProgress as ImageProgress,
        VaeConfig, load_images, train_images,
    };
    if !args.data.is_dir() {
        return Err(Failure::BadInput(format!(
            "--data {}: no such folder",
            args.data.display()
        )));
    }
    if !(args.max_minutes >= 0.0 && args.max_minutes.is_finite()) {
        return Err(Failure::BadInput("--max-minutes must be 0 or more".into()));
    }
    if args.latent == Some(0) || args.channels == Some(0) {
        return Err(Failure::BadInput(
            "--latent and --channels must be at least 1".into(),
        ));
    }
    let data = load_images(&args.data)?;
    let classes = data.classes().len();
    let (model, base) = if gan {
        let d = GanConfig::new(classes);
        let model = GanConfig {
            latent: args.latent.unwrap_or(d.latent),
            channels: args.channels.unwrap_or(d.channels),
            ..d
        };
        (ModelConfig::Gan(model), ImageTrain::gan())
    } else {
        let d = VaeConfig::new(classes);
        let model = VaeConfig {
            latent: args.latent.unwrap_or(d.latent),
            channels: args.channels.unwrap_or(d.channels),
            ..d
        };
        (ModelConfig::Vae(model), ImageTrain::vae())
    };
    if args.epochs == Some(0) {
        return Err(Failure::BadInput("--epochs must be at least 1".into()));
    }
    let config = ImageTrain {
        epochs: args.epochs.unwrap_or(base.epochs),
        batch: args.batch.unwrap_or(base.batch),
        lr: args.lr.unwrap_or(base.lr),
        seed: args.seed,
        max_minutes: (args.max_minutes > 0.0).then_some(args.max_minutes),
        ema: match args.ema {
            _ if !gan => None,
            Some(0.0) => None,
            Some(decay) if !(decay > 0.0 && decay < 1.0) => {
                return Err(Failure::BadInput(
                    "--ema must be 0 (off) or above 0 and below 1".into(),
                ));
            }
            Some(decay) => Some(decay),
            None => base.ema,
        },
        ..base
    };
    let name = model.name();
    eprintln!(
        "train {name}: {} images of {} categories ({}) from {} into {}",
        data.len(),
        classes,
        data.classes().join(", "),
        args.data.display(),
        args.run.display()
    );
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let metrics = train_images(
        &data,
        &args.data.display().to_string(),
        &model,
        &config,
        &RunDir::new(&args.run),
        &mut |p| match p {
            ImageProgress::Resumed { epoch } => {
                eprintln!("train {name}: resuming after epoch {epoch}");
            }
            ImageProgress::Batch { epoch, done, total } if tty => {
                epoch_bar(&mut bar, epoch, done, total);
            }
            ImageProgress::Batch { .. } => {}
            ImageProgress::Epoch(e) => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                let losses: Vec<String> = e
                    .losses
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect();
                eprintln!(
                    "epoch {:>3}  {}  ({:.0} s, {:.0} images/s)",
                    e.epoch,
                    losses.join("  "),
                    e.train_seconds,
                    e.images_per_second
                );
            }
        },
        &|| false,
    )?;
    println!(
        "stopped: {}, {:.0} s of training, {:.0} images/s; samples in {}",
        metrics["stopped"].as_str().unwrap_or("-"),
        metrics["train_seconds"].as_f64().unwrap_or(0.0),
        metrics["images_per_second"].as_f64().unwrap_or(0.0),
        args.run.join("samples").display()
    );
    Ok(())
}

fn rec(global: &Global, args: RecArgs) -> Outcome {
    if let Some(path) = &args.data
        && !path.is_file()
    {
        return Err(Failure::BadInput(format!(
            "--data {}: no such file",
            path.display()
        )));
    }
    if !(args.max_minutes >= 0.0 && args.max_minutes.is_finite()) {
        return Err(Failure::BadInput("--max-minutes must be 0 or more".into()));
    }
    let source = match &args.data {
        Some(path) => RecSource::File(path.clone()),
        None => RecSource::Store,
    };
    let engine = match source {
        RecSource::Store => Some(global.engine()?),
        RecSource::File(_) => None,
    };
    let attributes = match args.attributes.as_deref() {
        None => RecAttributes::None,
        Some("store") => RecAttributes::Store,
        Some(file) if Path::new(file).is_file() => RecAttributes::File(file.into()),
        Some(file) => {
            return Err(Failure::BadInput(format!(
                "--attributes {file}: no such file (give a file, or `store`)"
            )));
        }
    };
    let engine = match (engine, &attributes) {
        (None, RecAttributes::Store) => Some(global.engine()?),
        (engine, _) => engine,
    };
    let (data, name) = load_sequences(&source, &attributes, engine.as_ref())?;
    if data.is_empty() {
        return Err(Failure::BadInput(
            "no views, carts or purchases to train on (import events first)".into(),
        ));
    }
    let config = RecTrainConfig {
        source,
        run: args.run.clone(),
        model: SasRecConfig {
            n_items: data.n_items(),
            max_len: args.max_len,
            hidden: args.hidden,
            heads: args.heads,
            blocks: args.blocks,
            dropout: args.dropout,
            attributes: data.attributes().map_or(0, |a| a.len()),
        },
        train: TrainConfig {
            epochs: args.epochs,
            batch: args.batch,
            lr: args.lr,
            seed: args.seed,
            patience: args.patience,
            loss: match args.loss {
                LossArg::Softmax => Loss::Softmax,
                LossArg::Sampled => Loss::Sampled {
                    negatives: args.negatives,
                },
                LossArg::Bce => Loss::Bce,
            },
            max_minutes: (args.max_minutes > 0.0).then_some(args.max_minutes),
        },
        sampled_seed: args.seed,
    };
    let described = match data.attributes() {
        Some(a) => format!(
            ", {} attributes on {} items",
            a.len(),
            a.items_with_attributes()
        ),
        None => String::new(),
    };
    eprintln!(
        "train rec: {} shoppers, {} items, {} interactions{described} from {name} into {}",
        data.len(),
        data.n_items(),
        data.interactions(),
        args.run.display()
    );
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let metrics = train_rec(
        &data,
        &name,
        &config,
        &mut |p| match p {
            TrainProgress::Resumed { epoch } => {
                eprintln!("train rec: resuming after epoch {epoch}");
            }
            TrainProgress::Batch {
                epoch, done, total, ..
            } if tty => {
                epoch_bar(&mut bar, epoch, done, total);
            }
            TrainProgress::Batch { .. } => {}
            TrainProgress::Validating { .. } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
            TrainProgress::Epoch(e) => eprintln!(
                "epoch {:>3}  loss {:.4}  valid NDCG@10 {:.4}  HR@10 {:.4}  ({:.0} s + {:.0} s validation)",
                e.epoch, e.loss, e.valid_ndcg10, e.valid_hr10, e.train_seconds, e.valid_seconds
            ),
        },
        &|| false,
    )?;
    print_summary(&metrics);
    println!("written to {}", args.run.join("metrics.json").display());
    Ok(())
}

fn print_summary(m: &Value) {
    println!(
        "best epoch {} (validation NDCG@10 {:.4}), stopped: {}, {:.0} s of training",
        m["best_epoch"],
        m["best_valid_ndcg10"].as_f64().unwrap_or(0.0),
        m["stopped"].as_str().unwrap_or("-"),
        m["train_seconds"].as_f64().unwrap_or(0.0)
    );
    for e in m["evaluations"].as_array().into_iter().flatten() {
        let metrics: Vec<String> = e["metrics"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} {:.4}", v.as_f64().unwrap_or(f64::NAN)))
            .collect();
        println!(
            "{:<11} {:<5} {}",
            e["protocol"].as_str().unwrap_or("?"),
            e["stage"].as_str().unwrap_or("?"),
            metrics.join("  ")
        );
    }
}

/// Moves the batch bar of `epoch` to `done` of `total`, drawing it first if need be.
fn epoch_bar(bar: &mut Option<ProgressBar>, epoch: usize, done: usize, total: usize) {
    let b = bar.get_or_insert_with(|| {
        styled_bar(
            &format!("epoch {epoch:>3} [{{bar:30}}] {{pos}}/{{len}} batches, eta {{eta}}"),
            total as u64,
        )
    });
    b.set_position(done as u64);
}
