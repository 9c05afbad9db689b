//! CSV with a header row: the generic catalog format, and the row reader the Shopify and Myntra
//! formats share. Well-known columns map onto product fields (case-insensitive, common aliases);
//! every other non-empty column becomes an attribute.

use serde_json::{Map, Value};
use vitrine_core::{MAX_FIELD_BYTES, ProductDraft, ProductInput};

use super::{Record, Records, Source};
use crate::{Error, Result};

/// The largest CSV record read; past it the file is taken to be broken (a stray quote makes the
/// rest of the file one field), and reading stops instead of holding the file in memory.
const MAX_RECORD: u64 = 4 * 1024 * 1024;

/// Fails a read once the record being parsed has run past `MAX_RECORD` bytes. `start` is the
/// offset where the current record began, set by `CsvRows` before each record.
struct RecordBound {
    inner: std::io::BufReader<Box<dyn std::io::Read + Send>>,
    read: u64,
    start: u64,
}

impl std::io::Read for RecordBound {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The CSV reader buffers ahead a little; allow for that beyond the bound.
        if self.read > self.start + MAX_RECORD + 64 * 1024 {
            return Err(std::io::Error::other(
                "a CSV record runs past 4 MiB, probably an unclosed quote; nothing after it was read",
            ));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// CSV rows as text: (line, cells) or (line, why the row is unreadable).
pub(crate) struct CsvRows {
    reader: csv::Reader<RecordBound>,
    /// Header names as written (BOM and surrounding spaces removed).
    pub(crate) header: Vec<String>,
    path: std::path::PathBuf,
    record: csv::ByteRecord,
}

pub(crate) type Row = (u64, std::result::Result<Vec<String>, String>);

impl CsvRows {
    pub(crate) fn new(source: Source) -> Result<Self> {
        let path = source.path.clone();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(RecordBound {
                inner: source.into_reader(),
                read: 0,
                start: 0,
            });
        let header = reader
            .byte_headers()
            .map_err(|e| Error::Format(format!("{}: cannot read the header: {e}", path.display())))?
            .iter()
            .map(|h| {
                String::from_utf8_lossy(h)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_string()
            })
            .collect::<Vec<_>>();
        if header.iter().all(|h| h.is_empty()) {
            return Err(Error::Format(format!(
                "{}: the file is empty or has no header row",
                path.display()
            )));
        }
        Ok(Self {
            reader,
            header,
            path,
            record: csv::ByteRecord::new(),
        })
    }

    /// The index of the first header matching one of `names` (case-insensitive).
    pub(crate) fn column(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.header.iter().position(|h| h.eq_ignore_ascii_case(n)))
    }
}

impl Iterator for CsvRows {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.reader.position().clone();
        self.reader.get_mut().start = start.byte();
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                Some(Ok((line, cells(&self.record, &self.header))))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => Some(Ok((
                        line,
                        Err(format!(
                            "malformed CSV: expected {expected_len} fields, found {len}"
                        )),
                    ))),
                    csv::ErrorKind::Io(io) => Some(Err(Error::File {
                        path: self.path.clone(),
                        reason: format!("line {}: {io}", start.line()),
                    })),
                    _ => Some(Ok((line, Err(format!("malformed CSV: {e}"))))),
                }
            }
        }
    }
}

fn cells(record: &csv::ByteRecord, header: &[String]) -> std::result::Result<Vec<String>, String> {
    record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let name = header.get(i).map_or("?", String::as_str);
            if field.len() > MAX_FIELD_BYTES {
                return Err(format!(
                    "column '{name}' is {} bytes, over the 64 KiB limit",
                    field.len()
                ));
            }
            std::str::from_utf8(field)
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    format!(
                        "invalid UTF-8 in column '{name}' at byte {}",
                        e.valid_up_to()
                    )
                })
        })
        .collect()
}

/// Column roles in a generic CSV.
struct Columns {
    id: Option<usize>,
    sku: Option<usize>,
    title: Option<usize>,
    brand: Option<usize>,
    category: Option<usize>,
    price: Option<usize>,
    price_minor: Option<usize>,
    currency: Option<usize>,
    description: Option<usize>,
    images: Option<usize>,
}

pub(crate) fn products(
    source: Source,
    default_currency: &str,
) -> Result<Records<'static, ProductDraft>> {
    let rows = CsvRows::new(source)?;
    let cols = Columns {
        id: rows.column(&["id", "product_id", "handle"]),
        sku: rows.column(&["sku"]),
        title: rows.column(&["title", "name", "product_name"]),
        brand: rows.column(&["brand", "vendor"]),
        category: rows.column(&["category", "type", "product_type"]),
        price: rows.column(&["price"]),
        price_minor: rows.column(&["price_minor"]),
        currency: rows.column(&["currency"]),
        description: rows.column(&["description", "body"]),
        images: rows.column(&["image_urls", "images", "image_url", "image"]),
    };
    let known: Vec<usize> = [
        cols.id,
        cols.sku,
        cols.title,
        cols.brand,
        cols.category,
        cols.price,
        cols.price_minor,
        cols.currency,
        cols.description,
        cols.images,
    ]
    .into_iter()
    .flatten()
    .collect();
    let header = rows.header.clone();
    let currency = default_currency.to_string();
    Ok(Box::new(rows.map(move |row| {
        let (line, cells) = row?;
        let record = match cells.and_then(|c| draft(&c, &cols, &known, &header, &currency)) {
            Ok(d) => Record::Ok(line, d),
            Err(reason) => Record::Rejected(vec![(line, reason)]),
        };
        Ok(record)
    })))
}

fn draft(
    cells: &[String],
    cols: &Columns,
    known: &[usize],
    header: &[String],
    currency: &str,
) -> std::result::Result<ProductDraft, String> {
    let get = |c: Option<usize>| {
        c.and_then(|i| cells.get(i))
            .filter(|s| !s.is_empty())
            .cloned()
    };
    let price_minor = match get(cols.price_minor) {
        Some(m) => Some(
            m.parse::<i64>()
                .map_err(|_| format!("price_minor: '{m}' is not a whole number"))?,
        ),
        None => None,
    };
    let mut attributes = Map::new();
    for (i, value) in cells.iter().enumerate() {
        let name = header.get(i).map_or("", String::as_str);
        if known.contains(&i) || value.is_empty() || name.is_empty() {
            continue;
        }
        attributes.insert(name.to_string(), Value::String(value.clone()));
    }
    let input = ProductInput {
        id: get(cols.id),
        sku: get(cols.sku),
        title: get(cols.title),
        brand: get(cols.brand),
        category: get(cols.category),
        price: get(cols.price).map(Value::String),
        price_minor,
        currency: get(cols.currency),
        attributes: Some(attributes),
        description: get(cols.description),
        image_urls: get(cols.images).map(|s| {
            s.split(['|', ' ', '\n'])
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect()
        }),
    };
    input.into_draft(currency).map_err(|e| e.to_string())
}
