//! `vitrine bench import`: generates a synthetic catalog and event stream, imports them in child
//! processes (so each import's peak memory is its own), and writes rows/s and peak RSS as JSON.
//! `vitrine bench llm` (in `llm.rs`) measures language model serving beside llama.cpp;
//! `vitrine bench rec` (in `rec.rs`) recommendation serving; `vitrine bench copy` (in `copy.rs`)
//! the batch description job's throughput.

mod child;
mod copy;
mod llm;
mod load;
mod rec;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use vitrine_engine::import::synthetic;

use super::Global;
use crate::exit::Outcome;

/// Goals from the foundation issue.
const GOAL_PRODUCTS_PER_S: f64 = 50_000.0;
const GOAL_EVENTS_PER_S: f64 = 200_000.0;
const GOAL_PEAK_RSS_MIB: f64 = 200.0;

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Import throughput and peak memory on synthetic data.
    Import {
        /// Products in the large catalog.
        #[arg(long, default_value_t = 1_000_000)]
        products: u64,
        /// Events in the event file.
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Where to write the JSON result.
        #[arg(long, default_value = "bench/results/import.json")]
        out: PathBuf,
        /// Scratch folder for the generated files and database (removed afterwards).
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Language model serving speed and memory beside llama.cpp's llama-bench and llama-server,
    /// on the same GGUF and threads.
    Llm(llm::Args),
    /// Recommendation serving: top-10 latency in the process and requests/s over HTTP under 64
    /// connections (wrk), on a real dataset's shoppers.
    Rec(rec::Args),
    /// The batch description job's throughput with the bundled model, on a real catalog's
    /// products.
    Copy(copy::Args),
    /// Write the synthetic catalog and event files the import benchmark uses, and keep them.
    Generate {
        /// Products to write to DIR/products.jsonl.
        #[arg(long, default_value_t = 1_000_000)]
        products: u64,
        /// Events to write to DIR/events.jsonl.
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Output folder.
        #[arg(long)]
        dir: PathBuf,
    },
}

pub(crate) fn run(_global: &Global, cmd: Command) -> Outcome {
    let (products, events, out, workdir) = match cmd {
        Command::Import {
            products,
            events,
            out,
            workdir,
        } => (products, events, out, workdir),
        Command::Llm(args) => return Ok(llm::run(args)?),
        Command::Rec(args) => return Ok(rec::run(args)?),
        Command::Copy(args) => return Ok(copy::run(args)?),
        Command::Generate {
            products,
            events,
            dir,
        } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            generate(&dir.join("products.jsonl"), |w| {
                synthetic::write_products(w, products, 42)
            })?;
            generate(&dir.join("events.jsonl"), |w| {
                synthetic::write_events(w, events, products, 43)
            })?;
            eprintln!(
                "wrote {products} products and {events} events to {}",
                dir.display()
            );
            return Ok(());
        }
    };
    let work = workdir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("vitrine-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = bench_import(&work, products, events);
    let _ = std::fs::remove_dir_all(&work);
    let result = result?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&result).context("encoding")? + "\n",
    )
    .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&result).context("encoding")?
    );
    eprintln!("written to {}", out.display());
    Ok(())
}

fn generate(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    f(&mut w)?;
    w.flush()?;
    Ok(started.elapsed().as_secs_f64())
}

/// Runs `vitrine import KIND FILE --json` in a child process and returns its summary.
fn import(db: &Path, kind: &str, file: &Path) -> anyhow::Result<Value> {
    let exe = std::env::current_exe().context("locating the vitrine binary")?;
    eprintln!("importing {} …", file.display());
    let output = Process::new(exe)
        .arg("--db")
        .arg(db)
        .args(["import", kind])
        .arg(file)
        .arg("--json")
        .env("VITRINE_LOG", "warn")
        .output()
        .context("running the import")?;
    if !output.status.success() {
        bail!(
            "import of {} failed: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut summary: Value =
        serde_json::from_slice(&output.stdout).context("reading the import summary")?;
    let size = std::fs::metadata(file)?.len();
    summary["file_bytes"] = json!(size);
    summary["peak_rss_mib"] = json!(summary["peak_rss_bytes"].as_f64().unwrap_or(0.0) / 1048576.0);
    Ok(summary)
}

fn verdict(summary: &Value, goal_rate: f64) -> Value {
    let rate = summary["records_per_second"].as_f64().unwrap_or(0.0);
    let rss = summary["peak_rss_mib"].as_f64().unwrap_or(f64::MAX);
    json!({
        "goal_records_per_second": goal_rate,
        "goal_peak_rss_mib": GOAL_PEAK_RSS_MIB,
        "meets_rate_goal": rate >= goal_rate,
        "meets_memory_goal": rss < GOAL_PEAK_RSS_MIB,
    })
}

fn bench_import(work: &Path, products: u64, events: u64) -> anyhow::Result<Value> {
    let small_products = (products / 10).max(1);
    let small_file = work.join("products-small.jsonl");
    let products_file = work.join("products.jsonl");
    let events_file = work.join("events.jsonl");
    eprintln!(
        "generating {products} products and {events} events in {} …",
        work.display()
    );
    let gen_small = generate(&small_file, |w| {
        synthetic::write_products(w, small_products, 7)
    })?;
    let gen_products = generate(&products_file, |w| {
        synthetic::write_products(w, products, 42)
    })?;
    let gen_events = generate(&events_file, |w| {
        synthetic::write_events(w, events, products, 43)
    })?;

    // The small catalog goes into its own database: it shows peak memory does not grow with
    // file size.
    let small = import(&work.join("small.db"), "products", &small_file)?;
    let db = work.join("bench.db");
    let catalog = import(&db, "products", &products_file)?;
    let reimport = import(&db, "products", &products_file)?;
    let stream = import(&db, "events", &events_file)?;
    Ok(json!({
        "benchmark": "import",
        "machine": {
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "os": std::env::consts::OS,
        },
        "vitrine_version": env!("CARGO_PKG_VERSION"),
        "generation_seconds": {"small_products": gen_small, "products": gen_products, "events": gen_events},
        "products_small": small,
        "products": catalog,
        "products_goal": verdict(&catalog, GOAL_PRODUCTS_PER_S),
        "products_reimport_unchanged": reimport,
        "events": stream,
        "events_goal": verdict(&stream, GOAL_EVENTS_PER_S),
    }))
}
