//! `vitrine bench copy`: the batch description job's throughput, as a merchant runs it. A
//! sample of a real catalog (Myntra by default) is imported into a scratch database: most
//! products keep their human descriptions (the few-shot examples come from them), and a fixed
//! number lose theirs. Then `vitrine generate descriptions --all --missing-only` runs in a
//! child process with the bundled model, and the stored drafts are read back: descriptions
//! per minute, attempts, and what the checks did.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use vitrine_core::{ContentKind, DraftQuery, Product};
use vitrine_engine::eval::key_fact_coverage;
use vitrine_engine::import::{ImportOptions, read_products};
use vitrine_engine::{Engine, EngineConfig};

use super::child::Scratch;

/// The goal from the copy issue: medium descriptions per minute in a batch job.
const GOAL_PER_MINUTE: f64 = 20.0;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The catalog (Myntra CSV, or any format the importer reads).
    #[arg(
        long,
        default_value = "../shared/data/myntra-products/myntra_products_catalog.csv.gz"
    )]
    catalog: PathBuf,
    /// Products whose description the job writes.
    #[arg(long, default_value_t = 40)]
    products: usize,
    /// Products imported with their human descriptions, the examples' pool.
    #[arg(long, default_value_t = 400)]
    pool: usize,
    /// Products worked on at once (`generate descriptions --workers`).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Seed of the sample and of the generations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the JSON result.
    #[arg(long, default_value = "bench/results/copy-job.json")]
    out: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    if args.products == 0 {
        bail!("--products must be at least 1");
    }
    let (drafts, _) = read_products(&args.catalog, None, "USD")?;
    let mut catalog: Vec<Product> = drafts
        .into_iter()
        .map(|d| Product::from_draft(d, 0, 0))
        .filter(|p| {
            p.description
                .as_deref()
                .is_some_and(|d| !d.trim().is_empty())
        })
        .collect();
    if catalog.len() < args.products + args.pool {
        bail!(
            "{} has {} products with descriptions; the bench needs {}",
            args.catalog.display(),
            catalog.len(),
            args.products + args.pool
        );
    }
    catalog.shuffle(&mut StdRng::seed_from_u64(args.seed));
    catalog.truncate(args.products + args.pool);

    let scratch = Scratch::new()?;
    let db = scratch.path().join("bench.db");
    let file = scratch.path().join("products.jsonl");
    let mut w = BufWriter::new(std::fs::File::create(&file)?);
    for (i, p) in catalog.iter().enumerate() {
        let description = (i >= args.products)
            .then_some(p.description.clone())
            .flatten();
        let line = json!({
            "id": p.id, "title": p.title, "brand": p.brand, "category": p.category,
            "price": p.price, "currency": p.currency, "attributes": p.attributes,
            "description": description,
        });
        writeln!(w, "{line}")?;
    }
    w.flush()?;
    drop(w);
    {
        let engine = open(&db)?;
        let report = engine.import_products(&file, None, &ImportOptions::default(), &mut |_| {})?;
        if report.rejected > 0 || !report.committed {
            bail!(
                "{} of {} products were rejected",
                report.rejected,
                report.records
            );
        }
    }

    eprintln!(
        "generating {} medium descriptions with {} workers",
        args.products, args.workers
    );
    let exe = std::env::current_exe().context("locating the vitrine binary")?;
    let log = scratch.path().join("generate.log");
    let started = Instant::now();
    let status = Command::new(exe)
        .arg("--db")
        .arg(&db)
        .args(["generate", "descriptions", "--all", "--missing-only"])
        .args(["--workers", &args.workers.to_string()])
        .args(["--seed", &args.seed.to_string()])
        .env("VITRINE_LOG", "warn")
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::options().append(true).open(&log)?)
        .status()
        .context("running vitrine generate descriptions")?;
    let wall = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!(
            "vitrine generate descriptions failed ({status}):\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    let engine = open(&db)?;
    let jobs = engine.jobs(None, 10, 0)?;
    let [job] = jobs.items.as_slice() else {
        bail!("expected one job, found {}", jobs.items.len());
    };
    let job_s = (job.updated_at - job.created_at) as f64 / 1e3;
    let drafts = engine.store().list_drafts(&DraftQuery {
        kind: Some(ContentKind::Description),
        limit: 1000,
        ..DraftQuery::default()
    })?;
    let (mut attempts, mut tokens, mut words, mut unsupported, mut closed, mut covered) =
        (Vec::new(), 0u64, 0usize, 0u64, 0usize, 0.0);
    let mut removed = 0usize;
    for d in &drafts.items {
        let text = d.content["text"].as_str().unwrap_or_default();
        attempts.push(d.provenance.attempts.unwrap_or(1));
        tokens += d.provenance.settings["completion_tokens"]
            .as_u64()
            .unwrap_or(0);
        words += text.split_whitespace().count();
        let v = &d.verification;
        unsupported += v["found"].as_u64().unwrap_or(0) - v["supported"].as_u64().unwrap_or(0);
        removed += v["removed"].as_array().map_or(0, Vec::len);
        closed += usize::from(
            v["closing_sentence_states"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
        );
        if let Ok(product) = engine.store().get_product(&d.product_id) {
            covered += key_fact_coverage(&product, text).unwrap_or(0.0);
        }
    }
    let n = drafts.items.len().max(1) as f64;
    let per_minute = job.done as f64 / job_s.max(1e-9) * 60.0;
    let count = |k: u32| attempts.iter().filter(|&&a| a == k).count();
    let result: Value = json!({
        "bench": "copy-job",
        "catalog": args.catalog.display().to_string(),
        "command": format!(
            "vitrine generate descriptions --all --missing-only --workers {} --seed {}",
            args.workers, args.seed
        ),
        "length": "medium",
        "products": args.products,
        "example_pool": args.pool,
        "workers": args.workers,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "job": {"done": job.done, "failed": job.failed, "seconds": job_s},
        "process_seconds_model_load_included": wall,
        "descriptions_per_minute": per_minute,
        "goal_per_minute": GOAL_PER_MINUTE,
        "met": per_minute >= GOAL_PER_MINUTE && job.failed == 0,
        "attempts": {"1": count(1), "2": count(2), "3": count(3),
                     "mean": attempts.iter().sum::<u32>() as f64 / n},
        "completion_tokens_per_description": tokens as f64 / n,
        "mean_words": words as f64 / n,
        "unsupported_claims_stored": unsupported,
        "sentences_removed": removed,
        "closed_with_key_facts": closed,
        "key_fact_coverage": covered / n,
    });
    let text = serde_json::to_string_pretty(&result)? + "\n";
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, &text).with_context(|| format!("writing {}", args.out.display()))?;
    print!("{text}");
    eprintln!(
        "{per_minute:.1} descriptions/min; written to {}",
        args.out.display()
    );
    Ok(())
}

fn open(db: &Path) -> anyhow::Result<Engine> {
    Ok(Engine::open(&EngineConfig {
        db_path: db.to_owned(),
        default_currency: "USD".into(),
    })?)
}
