//! Product rows: reading, writing and searching them on any connection.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params};
use vitrine_core::{
    Error, Page, Product, ProductDraft, ProductQuery, Result, UpsertOutcome, now_millis,
};

use crate::error::db;

const COLUMNS: &str = "p.id, p.sku, p.title, p.brand, p.category, p.price_minor, p.currency, \
                       p.attributes, p.description, p.image_urls, p.created_at, p.updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    let attributes: String = row.get(7)?;
    let images: String = row.get(9)?;
    let corrupt = |col: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
    };
    let draft = ProductDraft {
        id: row.get(0)?,
        sku: row.get(1)?,
        title: row.get(2)?,
        brand: row.get(3)?,
        category: row.get(4)?,
        price_minor: row.get(5)?,
        currency: row.get(6)?,
        attributes: serde_json::from_str(&attributes).map_err(|e| corrupt(7, e))?,
        description: row.get(8)?,
        image_urls: serde_json::from_str(&images).map_err(|e| corrupt(9, e))?,
    };
    Ok(Product::from_draft(draft, row.get(10)?, row.get(11)?))
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Product>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM products p WHERE p.id = ?1"))
        .and_then(|mut s| s.query_row([id], from_row).optional())
        .map_err(db)
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Storage(e.to_string()))
}

/// Adds a row's text to the search index.
fn index_text(conn: &Connection, rowid: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO products_fts (rowid, title, brand, description) \
         SELECT rowid, title, brand, description FROM products WHERE rowid = ?1",
    )
    .and_then(|mut s| s.execute([rowid]))
    .map_err(db)?;
    Ok(())
}

/// Removes a row's text from the search index; must run while the row still holds the text
/// that was indexed (FTS5's external-content contract).
fn unindex_text(conn: &Connection, rowid: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO products_fts (products_fts, rowid, title, brand, description) \
         SELECT 'delete', rowid, title, brand, description FROM products WHERE rowid = ?1",
    )
    .and_then(|mut s| s.execute([rowid]))
    .map_err(db)?;
    Ok(())
}

/// Indexes every row above `rowid` (the rows a bulk batch inserted) in one statement.
pub(crate) fn index_text_after(conn: &Connection, rowid: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO products_fts (rowid, title, brand, description) \
         SELECT rowid, title, brand, description FROM products WHERE rowid > ?1",
    )
    .and_then(|mut s| s.execute([rowid]))
    .map_err(db)?;
    Ok(())
}

/// The highest row id in use (new rows get higher ones).
pub(crate) fn max_rowid(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(rowid), 0) FROM products")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(db)
}

/// Runs `sql`, whose parameters ?1..?12 are the product's columns in table order, its content
/// hash and the time of writing; returns the rows changed.
fn write_row(
    conn: &Connection,
    sql: &str,
    d: &ProductDraft,
    hash: &[u8; 32],
    now: i64,
) -> Result<usize> {
    let attributes = json(&d.attributes)?;
    let images = json(&d.image_urls)?;
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.execute(params![
                d.id,
                d.sku,
                d.title,
                d.brand,
                d.category,
                d.price_minor,
                d.currency,
                attributes,
                d.description,
                images,
                &hash[..],
                now
            ])
        })
        .map_err(db)
}

/// Inserts the row (without indexing its text) and returns its row id.
fn insert(conn: &Connection, d: &ProductDraft, hash: &[u8; 32], now: i64) -> Result<i64> {
    write_row(
        conn,
        "INSERT INTO products (id, sku, title, brand, category, price_minor, currency, attributes, \
         description, image_urls, content_hash, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        d,
        hash,
        now,
    )?;
    Ok(conn.last_insert_rowid())
}

/// Rewrites the row with id `d.id` (without touching the search index).
fn update(conn: &Connection, d: &ProductDraft, hash: &[u8; 32], now: i64) -> Result<bool> {
    let n = write_row(
        conn,
        "UPDATE products SET sku = ?2, title = ?3, brand = ?4, category = ?5, price_minor = ?6, \
         currency = ?7, attributes = ?8, description = ?9, image_urls = ?10, \
         content_hash = ?11, updated_at = ?12 WHERE id = ?1",
        d,
        hash,
        now,
    )?;
    Ok(n == 1)
}

/// Inserts, updates or leaves alone one product, by comparing content hashes. Rows inserted
/// here are not yet searchable: a bulk import indexes them per batch with `index_text_after`,
/// passing the `max_rowid` it read before the batch, which must be `indexed_up_to` here.
pub(crate) fn upsert(
    conn: &Connection,
    d: &ProductDraft,
    now: i64,
    indexed_up_to: i64,
) -> Result<UpsertOutcome> {
    let hash = d.content_hash();
    let existing: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT rowid, content_hash FROM products WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([&d.id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(db)?;
    match existing {
        None => {
            insert(conn, d, &hash, now)?;
            Ok(UpsertOutcome::Inserted)
        }
        Some((_, old)) if old.as_slice() == hash.as_slice() => Ok(UpsertOutcome::Unchanged),
        Some((rowid, _)) => {
            // A row this batch inserted is indexed with the batch, from its final text.
            let indexed = rowid <= indexed_up_to;
            if indexed {
                unindex_text(conn, rowid)?;
            }
            update(conn, d, &hash, now)?;
            if indexed {
                index_text(conn, rowid)?;
            }
            Ok(UpsertOutcome::Updated)
        }
    }
}

fn rowid_of(conn: &Connection, id: &str) -> Result<Option<i64>> {
    conn.prepare_cached("SELECT rowid FROM products WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(db)
}

/// Whether a product with this id exists.
pub(crate) fn exists(conn: &Connection, id: &str) -> Result<bool> {
    Ok(rowid_of(conn, id)?.is_some())
}

pub(crate) fn create(conn: &Connection, d: &ProductDraft) -> Result<Product> {
    if rowid_of(conn, &d.id)?.is_some() {
        return Err(Error::Conflict(format!(
            "product '{}' already exists",
            d.id
        )));
    }
    let rowid = insert(conn, d, &d.content_hash(), now_millis())?;
    index_text(conn, rowid)?;
    get(conn, &d.id)?.ok_or_else(|| Error::Storage("product vanished after insert".into()))
}

pub(crate) fn replace(conn: &Connection, d: &ProductDraft) -> Result<Product> {
    let not_found = || Error::NotFound {
        kind: "product",
        id: d.id.clone(),
    };
    let old = get(conn, &d.id)?.ok_or_else(not_found)?;
    let hash = d.content_hash();
    if old.to_draft().content_hash() != hash {
        let rowid = rowid_of(conn, &d.id)?.ok_or_else(not_found)?;
        unindex_text(conn, rowid)?;
        update(conn, d, &hash, now_millis())?;
        index_text(conn, rowid)?;
    }
    get(conn, &d.id)?.ok_or_else(not_found)
}

pub(crate) fn delete(conn: &Connection, id: &str) -> Result<()> {
    let rowid = rowid_of(conn, id)?.ok_or_else(|| Error::NotFound {
        kind: "product",
        id: id.to_string(),
    })?;
    unindex_text(conn, rowid)?;
    conn.prepare_cached("DELETE FROM products WHERE rowid = ?1")
        .and_then(|mut s| s.execute([rowid]))
        .map_err(db)?;
    Ok(())
}

/// Turns free text into an FTS5 query that cannot be a syntax error: every word is quoted, all
/// must match, and the last one matches as a prefix so search-as-you-type works.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect();
    let last = words.len().checked_sub(1)?;
    Some(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last {
                    format!("{w}*")
                } else {
                    w.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

pub(crate) fn list(conn: &Connection, q: &ProductQuery) -> Result<Page<Product>> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let fts = q.text.as_deref().and_then(fts_query);
    let from = if let Some(m) = &fts {
        clauses.push("products_fts MATCH ?");
        args.push(SqlValue::Text(m.clone()));
        "products_fts JOIN products p ON p.rowid = products_fts.rowid"
    } else {
        "products p"
    };
    if q.text.is_some() && fts.is_none() {
        // Text with no searchable word in it matches nothing.
        return Ok(Page {
            items: Vec::new(),
            total: 0,
            limit: q.limit,
            offset: q.offset,
        });
    }
    let mut text_filter = |clause: &'static str, v: &Option<String>| {
        if let Some(v) = v {
            clauses.push(clause);
            args.push(SqlValue::Text(v.clone()));
        }
    };
    text_filter("p.brand = ?", &q.brand);
    text_filter("p.category = ?", &q.category);
    text_filter("p.currency = ?", &q.currency);
    if let Some(min) = q.min_price_minor {
        clauses.push("p.price_minor >= ?");
        args.push(SqlValue::Integer(min));
    }
    if let Some(max) = q.max_price_minor {
        clauses.push("p.price_minor <= ?");
        args.push(SqlValue::Integer(max));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM {from} {filter}"))
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
        .map_err(db)?;
    let order = if fts.is_some() {
        "products_fts.rank, p.id"
    } else {
        "p.id"
    };
    args.push(SqlValue::Integer(i64::from(q.limit)));
    args.push(SqlValue::Integer(
        i64::try_from(q.offset).unwrap_or(i64::MAX),
    ));
    let items = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {from} {filter} ORDER BY {order} LIMIT ? OFFSET ?"
        ))
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(args.iter()), from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    Ok(Page {
        items,
        total: total as u64,
        limit: q.limit,
        offset: q.offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_are_always_valid_syntax() {
        assert_eq!(fts_query("red shoe").as_deref(), Some("\"red\" \"shoe\"*"));
        assert_eq!(fts_query("\"AND (NOT").as_deref(), Some("\"AND\" \"NOT\"*"));
        assert_eq!(fts_query(" -- ** "), None);
    }
}
