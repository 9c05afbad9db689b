//! `vitrine eval copy`: description quality on a real catalog (see `vitrine_engine::eval`),
//! printed as a table and written as JSON.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::{Subcommand, ValueEnum};
use indicatif::ProgressBar;
use serde_json::Value;
use vitrine_engine::eval::{CopyEvalConfig, Length, eval_copy};
use vitrine_engine::rec::{ItemKnnConfig, RecEvalConfig, RecModel, eval_rec};
use vitrine_engine::text::{LocalConfig, LocalGenerator};

use crate::exit::{Failure, Outcome};
use crate::progress::terminal_bar;

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Descriptions from attributes alone, against the catalog's human descriptions: the
    /// plain-prompt baseline, grounded generation before verification, and after.
    Copy(CopyArgs),
    /// Recommenders on a sequence file (S3-Rec format) with the published protocols: full
    /// ranking with the history masked, and 99 sampled negatives; validation and test targets.
    Rec(RecArgs),
    /// Trained GAN and VAE runs, judged by a CNN classifier trained on the real images (kept
    /// after the first use): conditional accuracy, and FID in the classifier's feature space
    /// against the real-against-real floor.
    Images(ImagesArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImagesArgs {
    /// A trained run directory (`vitrine train gan|vae --run DIR`); give `--run` once per run.
    #[arg(long, required = true)]
    run: Vec<PathBuf>,
    /// The labelled images: Fashion-MNIST's folder (its train and t10k sets), or
    /// `DIR/<category>/*.png` (every sixth image held out). Default: the first run's data.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the classifier is kept, trained there on first use (default:
    /// `runs/classifier-<data folder's name>`).
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Images generated per category and run.
    #[arg(long, default_value_t = 1000)]
    per_category: usize,
    /// Seed of the generated images.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the JSON result.
    #[arg(long, default_value = "bench/results/images-eval.json")]
    out: PathBuf,
}

/// A recommender to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RecModelArg {
    /// Most-popular items in training.
    Popularity,
    /// Item-to-item co-occurrence (cosine over shoppers).
    ItemKnn,
    /// Popularity counted over every interaction, test targets included, as the published
    /// PopRec row was: a check on the evaluator, not a model.
    PopularityAll,
    /// A SASRec run trained on the same file (`vitrine train rec --data FILE --run DIR`).
    Sasrec,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RecArgs {
    /// Sequences, one shopper per line: `user item item ...` in time order (gzip or not).
    #[arg(
        long,
        default_value = "../shared/data/amazon-seqrec-s3rec/Beauty.txt.gz"
    )]
    data: PathBuf,
    /// Models to measure (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "popularity,popularity-all,item-knn"
    )]
    model: Vec<RecModelArg>,
    /// Seed of the sampled protocol's negatives.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Neighbours kept per item by item-kNN.
    #[arg(long, default_value_t = ItemKnnConfig::default().neighbours)]
    knn_neighbours: usize,
    /// Latest history items that vote in item-kNN.
    #[arg(long, default_value_t = ItemKnnConfig::default().window)]
    knn_window: usize,
    /// Weight of each older vote relative to the next newer one in item-kNN (0 to 1).
    #[arg(long, default_value_t = ItemKnnConfig::default().decay)]
    knn_decay: f32,
    /// The SASRec run directory measured by `--model sasrec`.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Where to write the JSON result (default: `bench/results/rec-eval-DATASET.json`).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Description length, as the API names it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LengthArg {
    /// About 40 words.
    Short,
    /// About 90 words.
    Medium,
    /// About 160 words.
    Long,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CopyArgs {
    /// The catalog: Myntra CSV (gzip or not), or any product file `vitrine import` reads.
    #[arg(
        long,
        default_value = "../shared/data/myntra-products/myntra_products_catalog.csv.gz"
    )]
    catalog: PathBuf,
    /// Products sampled.
    #[arg(long, default_value_t = 30)]
    sample: usize,
    /// Seed of the sample and of the generations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Description length.
    #[arg(long, value_enum, default_value = "medium")]
    length: LengthArg,
    /// Grounded variants per product (2 or more also measures distinct-2).
    #[arg(long, default_value_t = 2)]
    variants: u32,
    /// Products generated at once; the model batches their requests.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Few-shot examples from similar products per prompt.
    #[arg(long, default_value_t = vitrine_engine::options::DEFAULT_EXAMPLES)]
    examples: usize,
    /// How many of the sampled products also get two ad creatives on every channel, checked
    /// against the channels' limits.
    #[arg(long, default_value_t = 30)]
    ads: usize,
    /// The model: a catalog name or a GGUF path.
    #[arg(long, default_value = vitrine_engine::models::DEFAULT_MODEL)]
    model: String,
    /// The models folder.
    #[arg(long, env = "VITRINE_MODELS", default_value_os_t = super::models::default_models_dir())]
    models_dir: PathBuf,
    /// Copies of the model's context (default: one per core; see `vitrine serve --help`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    llm_replicas: Option<u32>,
    /// CPU threads of each replica (default: the cores shared out between the replicas).
    #[arg(long)]
    llm_threads: Option<u32>,
    /// Where to write the JSON result.
    #[arg(long, default_value = "bench/results/copy-eval.json")]
    out: PathBuf,
}

pub(crate) fn run(command: Command) -> Outcome {
    match command {
        Command::Copy(args) => copy(args),
        Command::Rec(args) => rec(args),
        Command::Images(args) => images(args),
    }
}

fn images(args: ImagesArgs) -> Outcome {
    use vitrine_engine::images::{ImageEvalConfig, ImageEvalProgress, eval_images};
    for run in &args.run {
        if !run.join("config.json").is_file() {
            return Err(Failure::BadInput(format!(
                "--run {}: no trained run (train one with `vitrine train gan|vae --run {}`)",
                run.display(),
                run.display()
            )));
        }
    }
    if let Some(data) = args.data.as_ref().filter(|d| !d.is_dir()) {
        return Err(Failure::BadInput(format!(
            "--data {}: no such folder",
            data.display()
        )));
    }
    let classifier = args.classifier.clone().unwrap_or_else(|| {
        let data = args.data.clone().or_else(|| {
            let text = std::fs::read_to_string(args.run[0].join("config.json")).ok()?;
            let config: Value = serde_json::from_str(&text).ok()?;
            config["data"].as_str().map(PathBuf::from)
        });
        let name = data
            .as_deref()
            .and_then(Path::file_name)
            .map_or("data".into(), |n| n.to_string_lossy().into_owned());
        PathBuf::from(format!("runs/classifier-{name}"))
    });
    let config = ImageEvalConfig {
        runs: args.run.clone(),
        data: args.data.clone(),
        classifier,
        classifier_config: None,
        per_category: args.per_category,
        seed: args.seed,
    };
    let mut bar: Option<ProgressBar> = None;
    let mut shown_epoch = 0;
    let result = eval_images(&config, &mut |p| match p {
        ImageEvalProgress::Classifier { epoch, done, total } => {
            if epoch != shown_epoch {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                shown_epoch = epoch;
                bar = terminal_bar(
                    &format!("classifier epoch {epoch} [{{bar:30}}] {{pos}}/{{len}} batches"),
                    total as u64,
                );
                if bar.is_none() {
                    eprintln!(
                        "eval images: training the classifier ({}), epoch {epoch}",
                        config.classifier.display()
                    );
                }
            }
            if let Some(b) = &bar {
                b.set_position(done as u64);
            }
        }
        ImageEvalProgress::Step(step) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("eval images: {step}");
        }
    })?;
    write_json(&args.out, &result)?;
    print_images_table(&result);
    println!("written to {}", args.out.display());
    Ok(())
}

fn print_images_table(r: &Value) {
    let c = &r["classifier"];
    println!(
        "classifier: {:.2}% test accuracy ({} training, {} test images; {})",
        c["test_accuracy"].as_f64().unwrap_or(0.0) * 100.0,
        c["train_images"],
        c["test_images"],
        r["data"].as_str().unwrap_or("-")
    );
    println!(
        "{:<28} {:>5} {:>7} {:>10} {:>12} {:>8} {:>10} {:>9}",
        "run", "model", "epochs", "train s", "images/s", "cond acc", "FID", "FID/floor"
    );
    println!(
        "{:<28} {:>5} {:>7} {:>10} {:>12} {:>8} {:>10.3} {:>9}",
        "real train vs test (floor)",
        "-",
        "-",
        "-",
        "-",
        "-",
        r["floor_fid"].as_f64().unwrap_or(0.0),
        "1.0"
    );
    for run in r["runs"].as_array().into_iter().flatten() {
        println!(
            "{:<28} {:>5} {:>7} {:>10.0} {:>12.0} {:>7.1}% {:>10.3} {:>9.2}",
            run["run"].as_str().unwrap_or("-"),
            run["model"].as_str().unwrap_or("-"),
            run["epochs"],
            run["train_seconds"].as_f64().unwrap_or(0.0),
            run["images_per_second"].as_f64().unwrap_or(0.0),
            run["conditional_accuracy"].as_f64().unwrap_or(0.0) * 100.0,
            run["fid"].as_f64().unwrap_or(0.0),
            run["fid_over_floor"].as_f64().unwrap_or(0.0),
        );
        let per: Vec<String> = run["per_category"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{} {:.0}%",
                    p[0].as_str().unwrap_or("-"),
                    p[1].as_f64().unwrap_or(0.0) * 100.0
                )
            })
            .collect();
        println!("    per category: {}", per.join(", "));
        println!(
            "    FID from the means: {:.3}; feature spread against real: {:.2}",
            run["fid_mean_part"].as_f64().unwrap_or(0.0),
            run["spread"].as_f64().unwrap_or(0.0)
        );
        let per: Vec<String> = run["per_category_fid"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{} {:.2} ({:.2}, spread {:.2})",
                    p["category"].as_str().unwrap_or("-"),
                    p["fid"].as_f64().unwrap_or(0.0),
                    p["floor"].as_f64().unwrap_or(0.0),
                    p["spread"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        println!("    FID per category (floor, spread): {}", per.join(", "));
        println!(
            "    generating 64 images: {:.1} ms (median of 21)",
            run["generate_64_ms"].as_f64().unwrap_or(0.0)
        );
    }
    for pair in r["between_runs"].as_array().into_iter().flatten() {
        println!(
            "FID between {} and {}: {:.3}",
            pair[0].as_str().unwrap_or("-"),
            pair[1].as_str().unwrap_or("-"),
            pair[2].as_f64().unwrap_or(0.0)
        );
    }
    println!("{}", r["note"].as_str().unwrap_or(""));
}

fn rec(args: RecArgs) -> Outcome {
    if !args.data.is_file() {
        return Err(Failure::BadInput(format!(
            "--data {}: no such file",
            args.data.display()
        )));
    }
    if args.knn_neighbours == 0 || args.knn_window == 0 || !(0.0..=1.0).contains(&args.knn_decay) {
        return Err(Failure::BadInput(
            "--knn-neighbours and --knn-window must be at least 1, --knn-decay 0 to 1".into(),
        ));
    }
    if args.model.contains(&RecModelArg::Sasrec) != args.run.is_some() {
        return Err(Failure::BadInput(
            "--model sasrec and --run DIR go together".into(),
        ));
    }
    let mut models = Vec::new();
    for m in &args.model {
        let m = match m {
            RecModelArg::Popularity => RecModel::Popularity,
            RecModelArg::ItemKnn => RecModel::ItemKnn,
            RecModelArg::PopularityAll => RecModel::PopularityAll,
            RecModelArg::Sasrec => RecModel::SasRec,
        };
        if !models.contains(&m) {
            models.push(m);
        }
    }
    let config = RecEvalConfig {
        data: args.data.clone(),
        models,
        seed: args.seed,
        knn: ItemKnnConfig {
            neighbours: args.knn_neighbours,
            window: args.knn_window,
            decay: args.knn_decay,
        },
        run: args.run.clone(),
    };
    let bar = Mutex::new(None::<(String, Option<ProgressBar>)>);
    let result = eval_rec(&config, &|model, done, total| {
        let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
        if bar.as_ref().is_none_or(|(m, _)| m != model) {
            if let Some((_, Some(b))) = bar.take() {
                b.finish_and_clear();
            }
            *bar = Some((
                model.to_owned(),
                terminal_bar(
                    &format!("eval rec {model} [{{bar:30}}] {{pos}}/{{len}} shoppers"),
                    0,
                ),
            ));
        }
        match bar.as_ref().and_then(|(_, b)| b.as_ref()) {
            Some(b) => {
                b.set_length(total as u64);
                b.set_position(done as u64);
            }
            None if done == total => eprintln!("eval rec: {model}: {done}/{total} shoppers"),
            None => {}
        }
    })?;
    if let Some((_, Some(b))) = bar.into_inner().unwrap_or_else(|e| e.into_inner()) {
        b.finish_and_clear();
    }
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "bench/results/rec-eval-{}.json",
            result["dataset"].as_str().unwrap_or("data")
        ))
    });
    write_json(&out, &result)?;
    print_rec_table(&result);
    println!("written to {}", out.display());
    Ok(())
}

fn print_rec_table(r: &Value) {
    println!(
        "{}: {} shoppers, {} items, {} interactions (sampled negatives: seed {})",
        r["dataset"].as_str().unwrap_or("data"),
        r["users"],
        r["items"],
        r["interactions"],
        r["sampled_seed"]
    );
    for (protocol, keys) in [
        (
            "full",
            ["HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20"],
        ),
        (
            "sampled-99",
            ["HR@1", "HR@5", "NDCG@5", "HR@10", "NDCG@10", "MRR"],
        ),
    ] {
        println!();
        print!("{:<28}", format!("{protocol} ranking"));
        for k in keys {
            print!(" {k:>8}");
        }
        println!();
        for result in r["results"].as_array().into_iter().flatten() {
            for e in result["evaluations"].as_array().into_iter().flatten() {
                if e["protocol"] != protocol {
                    continue;
                }
                let label = format!(
                    "{} ({})",
                    e["model"].as_str().unwrap_or("?"),
                    e["stage"].as_str().unwrap_or("?")
                );
                print!("{label:<28}");
                for k in keys {
                    print!(" {:>8.4}", e["metrics"][k].as_f64().unwrap_or(f64::NAN));
                }
                println!();
            }
        }
        for (name, numbers) in r["published"][protocol].as_object().into_iter().flatten() {
            print!("{:<28}", format!("published {name} (test)"));
            for k in keys {
                match numbers[k].as_f64() {
                    Some(v) => print!(" {v:>8.4}"),
                    None => print!(" {:>8}", "-"),
                }
            }
            println!();
        }
    }
}

fn copy(args: CopyArgs) -> Outcome {
    if !args.catalog.is_file() {
        return Err(Failure::BadInput(format!(
            "--catalog {}: no such file",
            args.catalog.display()
        )));
    }
    if args.sample == 0 || !(1..=8).contains(&args.variants) || args.workers == 0 {
        return Err(Failure::BadInput(
            "--sample and --workers must be at least 1, --variants 1 to 8".into(),
        ));
    }
    let (path, id) = super::llm::resolve_model(&args.model, &args.models_dir)?;
    let mut config = LocalConfig::new(path, id);
    config.replicas = super::llm::replicas(args.llm_replicas, args.llm_threads);
    config.threads = args.llm_threads;
    config.slots = u32::try_from(args.workers).unwrap_or(8).clamp(1, 16);
    config.queue = 4 * config.slots as usize;
    // An evaluation queues far more requests than there are slots; a request waits its turn
    // rather than failing after the server's default five minutes.
    config.timeout = std::time::Duration::from_secs(4 * 3600);
    let generator = LocalGenerator::load(&config).map_err(|e| Failure::Internal(e.into()))?;
    let eval = CopyEvalConfig {
        catalog: args.catalog.clone(),
        sample: args.sample,
        seed: args.seed,
        length: match args.length {
            LengthArg::Short => Length::Short,
            LengthArg::Medium => Length::Medium,
            LengthArg::Long => Length::Long,
        },
        variants: args.variants,
        workers: args.workers,
        examples: args.examples,
        ads: args.ads,
    };
    let bar = Mutex::new(terminal_bar(
        "eval copy [{bar:30}] {pos}/{len} products, eta {eta}",
        args.sample as u64,
    ));
    let result = eval_copy(&generator, &eval, &|done, total| {
        let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
        match bar.as_mut() {
            Some(b) => {
                b.set_length(total as u64);
                b.set_position(done as u64);
            }
            None => eprintln!("eval copy: {done}/{total} products"),
        }
    })?;
    if let Some(b) = bar.into_inner().unwrap_or_else(|e| e.into_inner()) {
        b.finish_and_clear();
    }
    write_json(&args.out, &result)?;
    print_table(&result);
    println!("written to {}", args.out.display());
    Ok(())
}

fn write_json(out: &Path, value: &Value) -> Outcome {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Internal(e.into()))?;
    std::fs::write(out, text + "\n")?;
    Ok(())
}

fn print_table(r: &Value) {
    let pct = |v: &Value| {
        v.as_f64()
            .map_or("-".into(), |x| format!("{:.1}%", x * 100.0))
    };
    let num = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.3}"));
    println!(
        "{} products from {} (seed {}), {} variants each, model {}",
        r["sample"], r["catalog"], r["seed"], r["variants_per_product"], r["model"]
    );
    println!();
    println!(
        "{:<30} {:>12} {:>12} {:>12} {:>10} {:>8}",
        "", "unsupported", "coverage", "repetition", "ROUGE-L", "words"
    );
    for (label, key) in [
        ("plain prompt", "plain_prompt"),
        (
            "grounded, before verification",
            "grounded_before_verification",
        ),
        ("grounded, verified", "grounded_verified"),
    ] {
        let s = &r[key];
        println!(
            "{:<30} {:>12} {:>12} {:>12} {:>10} {:>8.0}",
            label,
            pct(&s["unsupported_claim_rate"]),
            pct(&s["attribute_coverage"]),
            pct(&s["degenerate_repetition_rate"]),
            num(&s["rouge_l"]),
            s["mean_words"].as_f64().unwrap_or(0.0),
        );
    }
    println!();
    for (label, key) in [
        ("plain prompt", "plain_prompt"),
        ("grounded, verified", "grounded_verified"),
    ] {
        let shares: Vec<String> = r[key]["attribute_mentioned_share"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, share)| format!("{name} {}", pct(share)))
            .collect();
        println!("{label} mentions: {}", shares.join(", "));
    }
    println!(
        "texts with a detail borrowed from an example: plain {}, grounded before verification {}, \
         verified {}",
        r["plain_prompt"]["texts_with_borrowed_details"],
        r["grounded_before_verification"]["texts_with_borrowed_details"],
        r["grounded_verified"]["texts_with_borrowed_details"],
    );
    println!(
        "texts naming what the record does not (a shop, a place, a web address): plain {}, \
         grounded before verification {}, verified {}",
        r["plain_prompt"]["texts_with_invented_names"],
        r["grounded_before_verification"]["texts_with_invented_names"],
        r["grounded_verified"]["texts_with_invented_names"],
    );
    let ads = &r["ads"]["all_channels"];
    println!(
        "ads on every channel for {} products: {} creatives, {} within limits ({}), {} with \
         unsupported claims, {} failed requests",
        r["ads"]["per_channel"]["search"]["products"],
        ads["creatives"],
        ads["within_limits"],
        pct(&ads["compliance"]),
        ads["with_unsupported_claims"],
        ads["failed_requests"],
    );
    println!();
    println!(
        "distinct-2 across variants {}, {:.1} descriptions/minute, {} attempts per variant, {} failed",
        num(&r["distinct_2_across_variants"]),
        r["throughput_descriptions_per_minute"]
            .as_f64()
            .unwrap_or(0.0),
        num(&r["generation_attempts_per_variant"]),
        r["failed_items"],
    );
}
