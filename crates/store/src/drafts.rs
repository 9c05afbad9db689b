//! Draft rows: generated (or edited) content and its review, on any connection. Callers run the
//! writers inside a transaction; these functions never open one.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params};
use vitrine_core::{
    ContentKind, Decision, Draft, DraftNew, DraftQuery, DraftStatus, Error, Page, Result, Review,
};

use crate::columns::{json, named, to_json};
use crate::error::db;
use crate::products;

const COLUMNS: &str = "id, product_id, kind, status, origin, parent, content, verification, \
                       provenance, reviewed_by, review_note, reviewed_at, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Draft> {
    let reviewed_by: Option<String> = row.get(9)?;
    let reviewed_at: Option<i64> = row.get(11)?;
    let review = match (reviewed_by, reviewed_at) {
        (Some(by), Some(at)) => Some(Review {
            by,
            note: row.get(10)?,
            at,
        }),
        _ => None,
    };
    Ok(Draft {
        id: row.get(0)?,
        product_id: row.get(1)?,
        kind: named(row, 2)?,
        status: named(row, 3)?,
        origin: named(row, 4)?,
        parent: row.get(5)?,
        content: json(row, 6)?,
        verification: json(row, 7)?,
        provenance: json(row, 8)?,
        review,
        created_at: row.get(12)?,
    })
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "draft",
        id: id.to_string(),
    }
}

/// One draft, if it exists.
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Draft>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM drafts WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], from_row).optional())
        .map_err(db)
}

/// One draft, or `NotFound`.
pub(crate) fn require(conn: &Connection, id: &str) -> Result<Draft> {
    get(conn, id)?.ok_or_else(|| not_found(id))
}

/// Stores one new draft waiting for review. `NotFound` if its product or parent does not
/// exist, `Conflict` if its id is taken, `Invalid` if its parent is about another product or
/// kind (an edit changes the text, never what the text is for).
pub(crate) fn insert(conn: &Connection, d: &DraftNew) -> Result<Draft> {
    if !products::exists(conn, &d.product_id)? {
        return Err(Error::NotFound {
            kind: "product",
            id: d.product_id.clone(),
        });
    }
    let taken = conn
        .prepare_cached("SELECT 1 FROM drafts WHERE id = ?1")
        .and_then(|mut s| s.exists([&d.id]))
        .map_err(db)?;
    if taken {
        return Err(Error::Conflict(format!("draft '{}' already exists", d.id)));
    }
    if let Some(parent) = &d.parent {
        let (product, kind): (String, ContentKind) = conn
            .prepare_cached("SELECT product_id, kind FROM drafts WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([parent], |r| Ok((r.get(0)?, named(r, 1)?)))
                    .optional()
            })
            .map_err(db)?
            .ok_or_else(|| not_found(parent))?;
        if product != d.product_id || kind != d.kind {
            return Err(Error::invalid(
                "parent",
                format!(
                    "draft '{parent}' is a {} of product '{}', not a {} of product '{}'",
                    kind, product, d.kind, d.product_id
                ),
            ));
        }
    }
    let content = to_json(&d.content)?;
    let verification = to_json(&d.verification)?;
    let provenance = to_json(&d.provenance)?;
    conn.prepare_cached(
        "INSERT INTO drafts (id, product_id, kind, status, origin, parent, content, verification, \
         provenance, created_at) VALUES (?1, ?2, ?3, 'draft', ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            d.id,
            d.product_id,
            d.kind.as_str(),
            d.origin.as_str(),
            d.parent,
            content,
            verification,
            provenance,
            d.created_at
        ])
    })
    .map_err(db)?;
    Ok(Draft {
        id: d.id.clone(),
        product_id: d.product_id.clone(),
        kind: d.kind,
        status: DraftStatus::Draft,
        origin: d.origin,
        parent: d.parent.clone(),
        content: d.content.clone(),
        verification: d.verification.clone(),
        provenance: d.provenance.clone(),
        review: None,
        created_at: d.created_at,
    })
}

/// Stores drafts in order (a later one may name an earlier one as its parent); the first
/// failure is returned and the caller's transaction discards the rest.
pub(crate) fn insert_all(conn: &Connection, drafts: &[DraftNew]) -> Result<Vec<Draft>> {
    drafts.iter().map(|d| insert(conn, d)).collect()
}

pub(crate) fn list(conn: &Connection, q: &DraftQuery) -> Result<Page<Draft>> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(p) = &q.product {
        clauses.push("product_id = ?");
        args.push(SqlValue::Text(p.clone()));
    }
    if let Some(k) = q.kind {
        clauses.push("kind = ?");
        args.push(SqlValue::Text(k.as_str().into()));
    }
    if let Some(s) = q.status {
        clauses.push("status = ?");
        args.push(SqlValue::Text(s.as_str().into()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: u64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM drafts {filter}"))
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
        .map_err(db)?;
    args.push(SqlValue::Integer(i64::from(q.limit)));
    args.push(SqlValue::Integer(
        i64::try_from(q.offset).unwrap_or(i64::MAX),
    ));
    // `seq` breaks ties between drafts made in the same millisecond: the later insert first.
    let items = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM drafts {filter} ORDER BY created_at DESC, seq DESC \
             LIMIT ? OFFSET ?"
        ))
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(args.iter()), from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    Ok(Page {
        items,
        total,
        limit: q.limit,
        offset: q.offset,
    })
}

/// Records a review decision; see `SqliteStore::review_draft` for the transitions allowed.
pub(crate) fn review(conn: &Connection, id: &str, decision: &Decision) -> Result<Draft> {
    let to = decision.status;
    if !matches!(to, DraftStatus::Approved | DraftStatus::Rejected) {
        return Err(Error::invalid(
            "status",
            format!("a review approves or rejects a draft; '{to}' is neither"),
        ));
    }
    let current = require(conn, id)?;
    match (to, current.status) {
        // Deciding the same again changes nothing, the first reviewer's record included.
        (DraftStatus::Approved, DraftStatus::Approved)
        | (DraftStatus::Rejected, DraftStatus::Rejected) => return Ok(current),
        (DraftStatus::Rejected, DraftStatus::Superseded) => {
            return Err(Error::Conflict(format!(
                "draft '{id}' was superseded by a newer approved draft; there is nothing to reject"
            )));
        }
        (DraftStatus::Approved, _) => {
            // Before the approval, so the one-approved-per-product-and-kind index never sees two.
            conn.prepare_cached(
                "UPDATE drafts SET status = 'superseded' \
                 WHERE product_id = ?1 AND kind = ?2 AND status = 'approved' AND id <> ?3",
            )
            .and_then(|mut s| s.execute(params![current.product_id, current.kind.as_str(), id]))
            .map_err(db)?;
        }
        _ => {}
    }
    conn.prepare_cached(
        "UPDATE drafts SET status = ?2, reviewed_by = ?3, review_note = ?4, reviewed_at = ?5 \
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            to.as_str(),
            decision.review.by,
            decision.review.note,
            decision.review.at
        ])
    })
    .map_err(db)?;
    require(conn, id)
}

/// The approved draft of each kind for a product, by kind name; `NotFound` if the product does
/// not exist.
pub(crate) fn published(conn: &Connection, product_id: &str) -> Result<Vec<Draft>> {
    if !products::exists(conn, product_id)? {
        return Err(Error::NotFound {
            kind: "product",
            id: product_id.to_string(),
        });
    }
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM drafts WHERE product_id = ?1 AND status = 'approved' ORDER BY kind"
    ))
    .and_then(|mut s| s.query_map([product_id], from_row)?.collect())
    .map_err(db)
}
