//! Shopify's product export CSV. A product spans consecutive rows with the same `Handle`: the
//! first carries the title, HTML body, vendor, type and tags; every row may carry a variant
//! (options, SKU, price) and an image. The rows become one product whose price is the lowest
//! variant price and whose variants, options and tags are attributes. One bad row rejects the
//! whole product, so a product never lands with variants missing.

use serde_json::{Map, Value, json};
use vitrine_core::{ProductDraft, ProductInput, format_minor, parse_price};

use super::delimited::{CsvRows, Row};
use super::{Record, Records, Source, html};
use crate::{Error, Result};

/// Column positions; only `Handle` and `Title` are required.
struct Columns {
    handle: usize,
    title: usize,
    body: Option<usize>,
    vendor: Option<usize>,
    category: Option<usize>,
    kind: Option<usize>,
    tags: Option<usize>,
    status: Option<usize>,
    option_names: [Option<usize>; 3],
    option_values: [Option<usize>; 3],
    sku: Option<usize>,
    price: Option<usize>,
    compare_at: Option<usize>,
    grams: Option<usize>,
    barcode: Option<usize>,
    inventory: Option<usize>,
    image: Option<usize>,
    variant_image: Option<usize>,
    seo_title: Option<usize>,
    seo_description: Option<usize>,
}

struct Groups {
    rows: CsvRows,
    cols: Columns,
    pending: Option<(u64, Vec<String>)>,
    /// Unreadable rows that belong to the group `pending` starts.
    pending_bad: Vec<(u64, String)>,
    currency: String,
    done: bool,
}

pub(crate) fn products(source: Source, currency: &str) -> Result<Records<'static, ProductDraft>> {
    let rows = CsvRows::new(source)?;
    let c = |n: &str| rows.column(&[n]);
    let required = |n: &str| {
        c(n).ok_or_else(|| Error::Format(format!("Shopify export without a '{n}' column")))
    };
    let cols = Columns {
        handle: required("Handle")?,
        title: required("Title")?,
        body: c("Body (HTML)"),
        vendor: c("Vendor"),
        category: c("Product Category"),
        kind: c("Type"),
        tags: c("Tags"),
        status: c("Status"),
        option_names: [c("Option1 Name"), c("Option2 Name"), c("Option3 Name")],
        option_values: [c("Option1 Value"), c("Option2 Value"), c("Option3 Value")],
        sku: c("Variant SKU"),
        price: c("Variant Price"),
        compare_at: c("Variant Compare At Price"),
        grams: c("Variant Grams"),
        barcode: c("Variant Barcode"),
        inventory: c("Variant Inventory Qty"),
        image: c("Image Src"),
        variant_image: c("Variant Image"),
        seo_title: c("SEO Title"),
        seo_description: c("SEO Description"),
    };
    Ok(Box::new(Groups {
        rows,
        cols,
        pending: None,
        pending_bad: Vec::new(),
        currency: currency.to_string(),
        done: false,
    }))
}

impl Iterator for Groups {
    type Item = Result<Record<ProductDraft>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut group: Vec<(u64, Vec<String>)> = self.pending.take().into_iter().collect();
        let mut bad: Vec<(u64, String)> = std::mem::take(&mut self.pending_bad);
        // Unreadable rows seen since the last readable one: their handle is unknown until the
        // next readable row shows whether the group went on or a new product began.
        let mut unplaced: Vec<(u64, String)> = Vec::new();
        loop {
            let row: Option<Result<Row>> = self.rows.next();
            let (line, cells) = match row {
                None => {
                    self.done = true;
                    bad.append(&mut unplaced);
                    break;
                }
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(r)) => r,
            };
            let cells = match cells {
                Ok(c) => c,
                Err(reason) => {
                    unplaced.push((line, reason));
                    continue;
                }
            };
            let handle = cells.get(self.cols.handle).cloned().unwrap_or_default();
            let current = group
                .first()
                .and_then(|(_, c)| c.get(self.cols.handle))
                .cloned();
            match current {
                Some(h) if h != handle => {
                    // A new product begins here. If this row has no title, it continues a
                    // product whose first row was unreadable: those rows belong to it, not to
                    // the product before.
                    let has_title = cells.get(self.cols.title).is_some_and(|t| !t.is_empty());
                    if has_title {
                        bad.append(&mut unplaced);
                    } else {
                        self.pending_bad = std::mem::take(&mut unplaced);
                    }
                    self.pending = Some((line, cells));
                    break;
                }
                _ => {
                    bad.append(&mut unplaced);
                    group.push((line, cells));
                }
            }
        }
        if group.is_empty() && bad.is_empty() {
            return None;
        }
        Some(Ok(self.build(group, bad)))
    }
}

impl Groups {
    fn build(
        &self,
        group: Vec<(u64, Vec<String>)>,
        mut bad: Vec<(u64, String)>,
    ) -> Record<ProductDraft> {
        let handle = group
            .first()
            .and_then(|(_, c)| c.get(self.cols.handle))
            .cloned()
            .unwrap_or_default();
        let result = if bad.is_empty() {
            self.product(&handle, &group)
        } else {
            Err((0, String::new()))
        };
        match result {
            Ok(d) => Record::Ok(group.first().map_or(0, |(l, _)| *l), d),
            Err((line, reason)) => {
                if line != 0 {
                    bad.push((line, reason));
                }
                let first_bad = bad.iter().map(|(l, _)| *l).min().unwrap_or(0);
                for (line, _) in &group {
                    if !bad.iter().any(|(l, _)| l == line) {
                        bad.push((
                            *line,
                            format!("product '{handle}' rejected because line {first_bad} was"),
                        ));
                    }
                }
                bad.sort_by_key(|(l, _)| *l);
                Record::Rejected(bad)
            }
        }
    }

    fn product(
        &self,
        handle: &str,
        group: &[(u64, Vec<String>)],
    ) -> std::result::Result<ProductDraft, (u64, String)> {
        let cols = &self.cols;
        let first_line = group.first().map_or(0, |(l, _)| *l);
        if handle.is_empty() {
            return Err((first_line, "Handle (the product id) is missing".into()));
        }
        let get = |cells: &Vec<String>, c: Option<usize>| -> Option<String> {
            c.and_then(|i| cells.get(i))
                .filter(|s| !s.is_empty())
                .cloned()
        };
        // The product-level fields come from the first row that has a title.
        let (_, head) = group
            .iter()
            .find(|(_, c)| get(c, Some(cols.title)).is_some())
            .ok_or_else(|| (first_line, "title is missing".to_string()))?;
        let option_names: Vec<Option<String>> =
            cols.option_names.iter().map(|c| get(head, *c)).collect();
        let mut options: Map<String, Value> = Map::new();
        let mut variants = Vec::new();
        let mut images: Vec<String> = Vec::new();
        let mut min_price: Option<i64> = None;
        let mut first_sku = None;
        for (line, cells) in group {
            for img in [get(cells, cols.image), get(cells, cols.variant_image)]
                .into_iter()
                .flatten()
            {
                if !images.contains(&img) {
                    images.push(img);
                }
            }
            let price = get(cells, cols.price);
            let sku = get(cells, cols.sku);
            let mut chosen = Map::new();
            for (name, value_col) in option_names.iter().zip(cols.option_values) {
                let (Some(name), Some(value)) = (name, get(cells, value_col)) else {
                    continue;
                };
                // Shopify's placeholder for a product without options.
                if name == "Title" && value == "Default Title" {
                    continue;
                }
                let values = options
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(v) = values
                    && !v.iter().any(|x| x.as_str() == Some(&value))
                {
                    v.push(Value::String(value.clone()));
                }
                chosen.insert(name.clone(), Value::String(value));
            }
            if price.is_none() && sku.is_none() && chosen.is_empty() {
                continue; // an image-only row
            }
            let price = price.ok_or_else(|| (*line, "Variant Price is missing".to_string()))?;
            let minor = parse_price(&price, &self.currency).map_err(|e| (*line, e.to_string()))?;
            min_price = Some(min_price.map_or(minor, |m: i64| m.min(minor)));
            let mut variant = Map::new();
            if let Some(s) = &sku {
                variant.insert("sku".into(), json!(s));
                first_sku.get_or_insert_with(|| s.clone());
            }
            let exponent = vitrine_core::currency_exponent(&self.currency).unwrap_or(2);
            variant.insert("price".into(), json!(format_minor(minor, exponent)));
            if let Some(c) = get(cells, cols.compare_at) {
                let m = parse_price(&c, &self.currency)
                    .map_err(|e| (*line, format!("Variant Compare At Price: {e}")))?;
                variant.insert("compare_at_price".into(), json!(format_minor(m, exponent)));
            }
            if !chosen.is_empty() {
                variant.insert("options".into(), Value::Object(chosen));
            }
            for (key, col) in [
                ("grams", cols.grams),
                ("barcode", cols.barcode),
                ("inventory_qty", cols.inventory),
            ] {
                if let Some(v) = get(cells, col) {
                    let value = v
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(v));
                    variant.insert(key.into(), value);
                }
            }
            variants.push(Value::Object(variant));
        }
        let price_minor =
            min_price.ok_or_else(|| (first_line, "no variant with a Variant Price".to_string()))?;
        let mut attributes = Map::new();
        if let Some(tags) = get(head, cols.tags) {
            let tags: Vec<Value> = tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_string()))
                .collect();
            attributes.insert("tags".into(), Value::Array(tags));
        }
        if !options.is_empty() {
            attributes.insert("options".into(), Value::Object(options));
        }
        attributes.insert("variants".into(), Value::Array(variants));
        for (key, col) in [
            ("product_category", cols.category),
            ("status", cols.status),
            ("seo_title", cols.seo_title),
            ("seo_description", cols.seo_description),
        ] {
            if let Some(v) = get(head, col) {
                attributes.insert(key.into(), Value::String(v));
            }
        }
        ProductInput {
            id: Some(handle.to_string()),
            sku: first_sku,
            title: get(head, Some(cols.title)),
            brand: get(head, cols.vendor),
            category: get(head, cols.kind),
            price_minor: Some(price_minor),
            currency: Some(self.currency.clone()),
            attributes: Some(attributes),
            description: get(head, cols.body).map(|b| html::to_text(&b)),
            image_urls: Some(images),
            price: None,
        }
        .into_draft(&self.currency)
        .map_err(|e| (first_line, e.to_string()))
    }
}
