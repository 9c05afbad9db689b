//! `vitrine import products|events FILE`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;
use vitrine_core::EventKind;
use vitrine_engine::import::{
    EventFormat, ImportEvent, ImportOptions, ImportReport, ProductFormat,
};

use super::Global;
use crate::exit::{Failure, Outcome};
use crate::progress::Progress;

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Import a catalog: JSON Lines, CSV with a header, a Shopify product export or the Myntra
    /// catalog (gzip or plain; the format is detected from the name and header unless given).
    Products {
        /// The file to import.
        file: PathBuf,
        /// jsonl, csv, shopify or myntra.
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Import shopper events: JSON Lines, or S3-Rec sequences (`user item item …` per line).
    Events {
        /// The file to import.
        file: PathBuf,
        /// jsonl or s3rec.
        #[arg(long)]
        format: Option<String>,
        /// The kind given to S3-Rec interactions, which carry none (Amazon reviews follow
        /// purchases).
        #[arg(long, default_value = "purchase")]
        kind: String,
        /// Namespace for S3-Rec ids, stored as PREFIX:id [default: the file name without
        /// extensions, e.g. Beauty]; "" stores the bare numbers.
        #[arg(long)]
        id_prefix: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

/// Default rows per transaction, measured with `vitrine bench import` on 2 cores. Each commit
/// flushes the full-text index and rewrites the index pages it touched, so fewer, larger commits
/// pay off: 1M products: 43-45k/s at 5,000 per batch, 46-51k/s at 20,000 (peak RSS 138 MiB);
/// 5M events: 141k/s at 100,000, 166-191k/s at 250,000 (peak RSS 146-155 MiB).
const PRODUCT_BATCH: usize = 20_000;
const EVENT_BATCH: usize = 250_000;

#[derive(Debug, clap::Args)]
pub(crate) struct Common {
    /// All or nothing: if any row is rejected, nothing is imported.
    #[arg(long)]
    strict: bool,
    /// Rows per transaction [default: 20000 products, 250000 events]. Larger batches write
    /// faster; a kill loses at most the batch in flight (a rerun restores it).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch_size: Option<u64>,
    /// Print the summary as JSON (with peak memory) instead of a sentence.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(global: &Global, cmd: Command) -> Outcome {
    let engine = global.engine()?;
    let mut options = ImportOptions {
        default_currency: global.currency.to_ascii_uppercase(),
        ..ImportOptions::default()
    };
    let (file, common, result) = match cmd {
        Command::Products {
            file,
            format,
            common,
        } => {
            let format = format.map(|f| f.parse::<ProductFormat>()).transpose()?;
            options.strict = common.strict;
            options.batch_size = common.batch_size.map_or(PRODUCT_BATCH, |b| b as usize);
            let result = with_progress(&file, |sink| {
                engine.import_products(&file, format, &options, sink)
            });
            (file, common, result)
        }
        Command::Events {
            file,
            format,
            kind,
            id_prefix,
            common,
        } => {
            options.s3rec_prefix = id_prefix;
            let format = format.map(|f| f.parse::<EventFormat>()).transpose()?;
            options.s3rec_kind = kind
                .parse::<EventKind>()
                .map_err(|e| Failure::BadInput(e.to_string()))?;
            options.strict = common.strict;
            options.batch_size = common.batch_size.map_or(EVENT_BATCH, |b| b as usize);
            let result = with_progress(&file, |sink| {
                engine.import_events(&file, format, &options, sink)
            });
            (file, common, result)
        }
    };
    let report = result?;
    summarise(&file, &report, common.json)?;
    if !report.committed {
        return Err(Failure::BadInput(format!(
            "strict import aborted: {} row(s) rejected, nothing was imported",
            report.rejected
        )));
    }
    if report.rejected > 0 {
        return Err(Failure::BadInput(format!(
            "{} row(s) rejected; the other rows were imported",
            report.rejected
        )));
    }
    Ok(())
}

fn with_progress(
    file: &Path,
    f: impl FnOnce(&mut dyn FnMut(ImportEvent)) -> vitrine_engine::Result<ImportReport>,
) -> vitrine_engine::Result<ImportReport> {
    let label = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut progress = Progress::new(&label, 0);
    let result = f(&mut |event| match event {
        ImportEvent::Progress {
            bytes,
            total_bytes,
            records,
        } => progress.update(bytes, total_bytes, records),
        ImportEvent::Rejected(r) => progress.println(&format!("rejected {r}")),
    });
    progress.finish();
    result
}

fn summarise(file: &Path, r: &ImportReport, json: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    if json {
        let summary = json!({
            "file": file.display().to_string(),
            "format": r.format,
            "records": r.records,
            "imported": r.imported,
            "updated": r.updated,
            "unchanged": r.unchanged,
            "rejected": r.rejected,
            "seconds": r.elapsed.as_secs_f64(),
            "records_per_second": r.rate(),
            "peak_rss_bytes": peak_rss_bytes(),
        });
        writeln!(out, "{summary}")?;
    } else {
        writeln!(
            out,
            "{} ({}): {} imported, {} updated, {} unchanged, {} rejected in {:.2}s ({:.0} records/s)",
            file.display(),
            r.format,
            r.imported,
            r.updated,
            r.unchanged,
            r.rejected,
            r.elapsed.as_secs_f64(),
            r.rate()
        )?;
    }
    Ok(())
}

/// The process's peak resident set size (VmHWM), where the kernel reports it.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
