//! Catalog and event import: format detection, streaming parsers, and the batched pipeline that
//! writes through `ImportTx`.
//!
//! Memory stays flat whatever the file size: files are read as a stream (gzip decoded on the
//! fly), rows are written in batches, and rejected rows are reported through the caller's sink
//! rather than collected. Every batch is one transaction, so a kill loses at most the batch in
//! flight and a rerun (which skips identical rows) finishes the job without duplicates.

mod delimited;
mod html;
mod jsonl;
mod myntra;
mod s3rec;
mod shopify;
mod source;
pub mod synthetic;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vitrine_core::{EventDraft, EventKind, ImportTx, ProductDraft, Store};

use crate::{Error, Result};
pub(crate) use source::Source;

/// Catalog file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductFormat {
    /// One product JSON object per line (the API's product shape).
    Jsonl,
    /// CSV with a header row naming the columns.
    Csv,
    /// Shopify's product export CSV (one row per variant, grouped by Handle).
    Shopify,
    /// The Myntra fashion catalog CSV.
    Myntra,
}

/// Event file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    /// One event JSON object per line.
    Jsonl,
    /// S3-Rec sequences: `user item item …` per line, in time order.
    S3Rec,
}

impl FromStr for ProductFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "jsonl" | "ndjson" => Ok(Self::Jsonl),
            "csv" => Ok(Self::Csv),
            "shopify" => Ok(Self::Shopify),
            "myntra" => Ok(Self::Myntra),
            other => Err(Error::Format(format!(
                "unknown product format '{other}': use jsonl, csv, shopify or myntra"
            ))),
        }
    }
}

impl FromStr for EventFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "jsonl" | "ndjson" => Ok(Self::Jsonl),
            "s3rec" => Ok(Self::S3Rec),
            other => Err(Error::Format(format!(
                "unknown event format '{other}': use jsonl or s3rec"
            ))),
        }
    }
}

impl fmt::Display for ProductFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Shopify => "shopify",
            Self::Myntra => "myntra",
        })
    }
}

impl fmt::Display for EventFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jsonl => "jsonl",
            Self::S3Rec => "s3rec",
        })
    }
}

/// How to run an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// All or nothing: any rejected row aborts the import and nothing is written.
    pub strict: bool,
    /// Rows per transaction.
    pub batch_size: usize,
    /// Currency for prices given without one (CSV, Shopify).
    pub default_currency: String,
    /// The kind given to S3-Rec interactions (they carry none).
    pub s3rec_kind: EventKind,
    /// Namespace for S3-Rec ids (`PREFIX:id`); `None` uses the file's stem, `Some("")` none.
    pub s3rec_prefix: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            strict: false,
            batch_size: 5_000,
            default_currency: "USD".into(),
            s3rec_kind: EventKind::Purchase,
            s3rec_prefix: None,
        }
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
}

/// What an import reports while it runs.
#[derive(Debug, Clone)]
pub enum ImportEvent {
    /// Progress after a batch.
    Progress {
        /// Bytes of the file read so far (compressed bytes for .gz).
        bytes: u64,
        /// The file's size.
        total_bytes: u64,
        /// Records read so far.
        records: u64,
    },
    /// A row was rejected.
    Rejected(Rejection),
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// The format read.
    pub format: String,
    /// Records (products or events) read, rejected ones included.
    pub records: u64,
    /// New records stored.
    pub imported: u64,
    /// Existing products whose content changed.
    pub updated: u64,
    /// Records already stored with identical content.
    pub unchanged: u64,
    /// Rejected rows.
    pub rejected: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Whether the import committed. False for a strict import with rejected rows: then nothing
    /// was written, and imported/updated/unchanged are 0.
    pub committed: bool,
}

impl ImportReport {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A parsed record, or the rows that were rejected instead of it.
#[derive(Debug)]
pub(crate) enum Record<T> {
    /// A valid record that starts at `line`.
    Ok(u64, T),
    /// Rejected rows: (line, reason) for each.
    Rejected(Vec<(u64, String)>),
}

/// A parser: yields records until the file ends; an `Err` is fatal (unreadable file).
pub(crate) type Records<'a, T> = Box<dyn Iterator<Item = Result<Record<T>>> + Send + 'a>;

/// Picks the product format from the extension and the first line.
pub fn detect_product_format(path: &Path, head: &[u8]) -> Result<ProductFormat> {
    let ext = source::extension(path);
    let first = source::first_line(head);
    let is_jsonl = matches!(ext.as_str(), "jsonl" | "ndjson" | "json")
        || (!matches!(ext.as_str(), "csv" | "tsv") && first.trim_start().starts_with('{'));
    if is_jsonl {
        return Ok(ProductFormat::Jsonl);
    }
    let header: Vec<String> = first
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let has = |name: &str| header.iter().any(|h| h == name);
    if has("handle") && has("title") && (has("variant price") || has("body (html)")) {
        Ok(ProductFormat::Shopify)
    } else if has("product_id") && has("product_name") && has("product_brand") {
        Ok(ProductFormat::Myntra)
    } else if ext == "csv" || header.len() > 1 {
        Ok(ProductFormat::Csv)
    } else {
        Err(Error::Format(format!(
            "{}: cannot tell the format from the name or first line; pass --format jsonl|csv|shopify|myntra",
            path.display()
        )))
    }
}

/// Picks the event format from the extension and the first line.
pub fn detect_event_format(path: &Path, head: &[u8]) -> Result<EventFormat> {
    let ext = source::extension(path);
    let first = source::first_line(head);
    if matches!(ext.as_str(), "jsonl" | "ndjson" | "json") || first.trim_start().starts_with('{') {
        Ok(EventFormat::Jsonl)
    } else if ext == "txt"
        || first
            .split_ascii_whitespace()
            .all(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(EventFormat::S3Rec)
    } else {
        Err(Error::Format(format!(
            "{}: cannot tell the format from the name or first line; pass --format jsonl|s3rec",
            path.display()
        )))
    }
}

/// Opens `path` and settles its format: the one given, or the one its name and first line show.
fn open<F>(
    path: &Path,
    format: Option<F>,
    detect: fn(&Path, &[u8]) -> Result<F>,
) -> Result<(Source, F, source::Progress)> {
    let mut source = Source::open(path)?;
    let format = match format {
        Some(f) => f,
        None => detect(path, source.head()?)?,
    };
    let progress = source.progress();
    Ok((source, format, progress))
}

/// Imports a catalog file.
pub fn import_products(
    store: &dyn Store,
    path: &Path,
    format: Option<ProductFormat>,
    options: &ImportOptions,
    sink: &mut dyn FnMut(ImportEvent),
) -> Result<ImportReport> {
    let (source, format, progress) = open(path, format, detect_product_format)?;
    let records: Records<'_, ProductDraft> = match format {
        ProductFormat::Jsonl => jsonl::products(source, &options.default_currency),
        ProductFormat::Csv => delimited::products(source, &options.default_currency)?,
        ProductFormat::Shopify => shopify::products(source, &options.default_currency)?,
        ProductFormat::Myntra => myntra::products(source)?,
    };
    run(
        store,
        path,
        format.to_string(),
        records,
        options,
        progress,
        sink,
        |tx, batch| {
            let o = tx.upsert_products(batch)?;
            Ok(Written {
                inserted: o.inserted,
                updated: o.updated,
                unchanged: o.unchanged,
                rejected: o
                    .duplicates
                    .into_iter()
                    .map(|(line, first, id)| {
                        (
                            line,
                            format!("id '{id}' appears again (first at line {first}); this row is skipped"),
                        )
                    })
                    .collect(),
            })
        },
    )
}

/// Reads a catalog file into memory without storing it (evaluation and benchmarks over a
/// dataset): the valid products, and how many rows were rejected.
pub fn read_products(
    path: &Path,
    format: Option<ProductFormat>,
    default_currency: &str,
) -> Result<(Vec<ProductDraft>, usize)> {
    let (source, format, _) = open(path, format, detect_product_format)?;
    let records: Records<'_, ProductDraft> = match format {
        ProductFormat::Jsonl => jsonl::products(source, default_currency),
        ProductFormat::Csv => delimited::products(source, default_currency)?,
        ProductFormat::Shopify => shopify::products(source, default_currency)?,
        ProductFormat::Myntra => myntra::products(source)?,
    };
    let mut drafts = Vec::new();
    let mut rejected = 0;
    for record in records {
        match record? {
            Record::Ok(_, draft) => drafts.push(draft),
            Record::Rejected(rows) => rejected += rows.len(),
        }
    }
    Ok((drafts, rejected))
}

/// Imports an event file.
pub fn import_events(
    store: &dyn Store,
    path: &Path,
    format: Option<EventFormat>,
    options: &ImportOptions,
    sink: &mut dyn FnMut(ImportEvent),
) -> Result<ImportReport> {
    let (source, format, progress) = open(path, format, detect_event_format)?;
    let records: Records<'_, Vec<EventDraft>> = match format {
        EventFormat::Jsonl => jsonl::events(source),
        EventFormat::S3Rec => {
            let prefix = match &options.s3rec_prefix {
                Some(p) if p.is_empty() => String::new(),
                Some(p) => format!("{p}:"),
                None => format!("{}:", source::stem(path)),
            };
            s3rec::events(source, options.s3rec_kind, prefix)
        }
    };
    run(
        store,
        path,
        format.to_string(),
        records,
        options,
        progress,
        sink,
        |tx, batch: &[EventDraft]| {
            let o = tx.insert_events(batch)?;
            Ok(Written {
                inserted: o.inserted,
                unchanged: o.duplicates,
                ..Written::default()
            })
        },
    )
}

/// Things a record can be counted as (an S3-Rec line holds many events).
trait Batchable: Send {
    type Row;
    fn count(&self) -> u64;
    fn push_into(self, line: u64, batch: &mut Vec<Self::Row>);
}

impl Batchable for ProductDraft {
    type Row = (u64, ProductDraft);
    fn count(&self) -> u64 {
        1
    }
    fn push_into(self, line: u64, batch: &mut Vec<(u64, ProductDraft)>) {
        batch.push((line, self));
    }
}

impl Batchable for Vec<EventDraft> {
    type Row = EventDraft;
    fn count(&self) -> u64 {
        self.len() as u64
    }
    fn push_into(self, _line: u64, batch: &mut Vec<EventDraft>) {
        batch.extend(self);
    }
}

/// Records per message from the parsing thread.
const CHUNK: usize = 512;

/// Parses ahead of the writer, in chunks; stops at the first fatal error, or when the writer
/// hangs up (it failed, or finished early).
fn read_ahead<T>(records: Records<'_, T>, ahead: mpsc::SyncSender<Result<Vec<Record<T>>>>) {
    let mut chunk = Vec::with_capacity(CHUNK);
    for record in records {
        match record {
            Ok(r) => {
                chunk.push(r);
                if chunk.len() == CHUNK
                    && ahead
                        .send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))))
                        .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                let _ = ahead.send(Err(e));
                return;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = ahead.send(Ok(chunk));
    }
}

/// What writing one batch did.
#[derive(Debug, Default)]
struct Written {
    inserted: u64,
    updated: u64,
    unchanged: u64,
    /// Rows refused while writing: (line, reason).
    rejected: Vec<(u64, String)>,
}

type WriteFn<R> = fn(&mut dyn ImportTx, &[R]) -> vitrine_core::Result<Written>;

/// Counts one rejected row and reports it.
fn reject(
    report: &mut ImportReport,
    sink: &mut dyn FnMut(ImportEvent),
    path: &Path,
    line: u64,
    reason: String,
) {
    report.rejected += 1;
    sink(ImportEvent::Rejected(Rejection {
        path: path.to_path_buf(),
        line,
        reason,
    }));
}

#[allow(clippy::too_many_arguments)]
fn run<T: Batchable>(
    store: &dyn Store,
    path: &Path,
    format: String,
    records: Records<'_, T>,
    options: &ImportOptions,
    progress: source::Progress,
    sink: &mut dyn FnMut(ImportEvent),
    write: WriteFn<T::Row>,
) -> Result<ImportReport> {
    let started = Instant::now();
    let batch_size = options.batch_size.max(1);
    let mut report = ImportReport {
        format,
        ..ImportReport::default()
    };
    let mut tx = store.begin_import()?;
    let mut batch: Vec<T::Row> = Vec::with_capacity(batch_size);
    let flush = |tx: &mut Box<dyn ImportTx + '_>,
                 batch: &mut Vec<T::Row>,
                 report: &mut ImportReport,
                 sink: &mut dyn FnMut(ImportEvent),
                 commit: bool|
     -> Result<()> {
        if !batch.is_empty() {
            let written = write(tx.as_mut(), batch)?;
            report.imported += written.inserted;
            report.updated += written.updated;
            report.unchanged += written.unchanged;
            for (line, reason) in written.rejected {
                reject(report, sink, path, line, reason);
            }
            batch.clear();
        }
        // A strict import commits only at the end, and only if nothing was rejected.
        if commit && !options.strict {
            tx.commit_batch()?;
        }
        Ok(())
    };
    // Parsing runs on its own thread, a few chunks ahead of the writer: on two cores, JSON and
    // CSV decoding overlap with SQLite's work instead of adding to it.
    std::thread::scope(|scope| {
        let (ahead, chunks) = mpsc::sync_channel::<Result<Vec<Record<T>>>>(8);
        scope.spawn(move || read_ahead(records, ahead));
        for chunk in chunks {
            for record in chunk? {
                match record {
                    Record::Ok(line, value) => {
                        report.records += value.count();
                        // After a rejection a strict import only reads on, to report every bad row.
                        if !(options.strict && report.rejected > 0) {
                            value.push_into(line, &mut batch);
                        }
                    }
                    Record::Rejected(rows) => {
                        report.records += rows.len() as u64;
                        for (line, reason) in rows {
                            reject(&mut report, sink, path, line, reason);
                        }
                        if options.strict {
                            batch.clear();
                        }
                    }
                }
                if batch.len() >= batch_size {
                    flush(&mut tx, &mut batch, &mut report, sink, true)?;
                    sink(progress.event(report.records));
                }
            }
        }
        Ok::<(), Error>(())
    })?;
    flush(&mut tx, &mut batch, &mut report, sink, false)?;
    report.elapsed = started.elapsed();
    if options.strict && report.rejected > 0 {
        // Dropping the import rolls back everything it wrote.
        drop(tx);
        report.imported = 0;
        report.updated = 0;
        report.unchanged = 0;
        return Ok(report);
    }
    tx.finish()?;
    report.committed = true;
    report.elapsed = started.elapsed();
    sink(progress.event(report.records));
    Ok(report)
}
