//! Job and job item rows: batch work over many products, its progress, and which runner holds
//! it. Callers run the writers inside a transaction; these functions never open one.

use std::collections::HashSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params};
use vitrine_core::{
    Error, ItemOutcome, ItemStatus, Job, JobItem, JobNew, JobStatus, Millis, Page,
    ProductSelection, Result, now_millis,
};

use crate::columns::{json, named, to_json};
use crate::drafts;
use crate::error::db;

const COLUMNS: &str =
    "id, kind, status, params, total, done, failed, actor, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        kind: row.get(1)?,
        status: named(row, 2)?,
        params: json(row, 3)?,
        total: row.get(4)?,
        done: row.get(5)?,
        failed: row.get(6)?,
        actor: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<JobItem> {
    Ok(JobItem {
        product_id: row.get(0)?,
        status: named(row, 1)?,
        error: row.get(2)?,
        drafts: json(row, 3)?,
        elapsed_ms: row.get(4)?,
    })
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "job",
        id: id.to_string(),
    }
}

/// One job, if it exists.
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Job>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], from_row).optional())
        .map_err(db)
}

/// One job, or `NotFound`.
pub(crate) fn require(conn: &Connection, id: &str) -> Result<Job> {
    get(conn, id)?.ok_or_else(|| not_found(id))
}

fn require_exists(conn: &Connection, id: &str) -> Result<()> {
    let found = conn
        .prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")
        .and_then(|mut s| s.exists([id]))
        .map_err(db)?;
    if found { Ok(()) } else { Err(not_found(id)) }
}

/// The ids of the products a selection covers, in id order. A description counts as missing
/// when the catalog's is absent or blank and no generated one is waiting for review or
/// approved (a rejected or superseded one does not count: the product still needs one).
pub(crate) fn select_products(conn: &Connection, sel: &ProductSelection) -> Result<Vec<String>> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(c) = &sel.category {
        clauses.push("p.category = ?");
        args.push(SqlValue::Text(c.clone()));
    }
    if sel.missing_description {
        clauses.push(
            "(p.description IS NULL OR trim(p.description, ' ' || char(9, 10, 11, 12, 13)) = '') \
             AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.product_id = p.id \
             AND d.kind = 'description' AND d.status IN ('draft', 'approved'))",
        );
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    conn.prepare_cached(&format!(
        "SELECT p.id FROM products p {filter} ORDER BY p.id"
    ))
    .and_then(|mut s| {
        s.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
            .collect()
    })
    .map_err(db)
}

/// Creates a running job with one pending item per distinct product; `Conflict` if the id is
/// taken.
/// The running job of `kind` whose parameters equal `params`, oldest first.
pub(crate) fn find_running(
    conn: &Connection,
    kind: &str,
    params: &serde_json::Value,
) -> Result<Option<Job>> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM jobs WHERE status = 'running' AND kind = ?1 ORDER BY created_at, seq",
        )
        .and_then(|mut s| {
            s.query_map([kind], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    for id in ids {
        if let Some(job) = get(conn, &id)?
            && &job.params == params
        {
            return Ok(Some(job));
        }
    }
    Ok(None)
}

pub(crate) fn create(conn: &Connection, job: &JobNew, products: &[String]) -> Result<Job> {
    if get(conn, &job.id)?.is_some() {
        return Err(Error::Conflict(format!("job '{}' already exists", job.id)));
    }
    let mut seen = HashSet::with_capacity(products.len());
    let distinct: Vec<&String> = products.iter().filter(|p| seen.insert(*p)).collect();
    let total = distinct.len() as u64;
    let params_json = to_json(&job.params)?;
    conn.prepare_cached(
        "INSERT INTO jobs (id, kind, status, params, total, actor, created_at, updated_at) \
         VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            job.id,
            job.kind,
            params_json,
            total,
            job.actor,
            job.created_at
        ])
    })
    .map_err(db)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO job_items (job_id, product_id) VALUES (?1, ?2)")
        .map_err(db)?;
    for product in distinct {
        insert.execute(params![job.id, product]).map_err(db)?;
    }
    Ok(Job {
        id: job.id.clone(),
        kind: job.kind.clone(),
        status: JobStatus::Running,
        params: job.params.clone(),
        total,
        done: 0,
        failed: 0,
        actor: job.actor.clone(),
        created_at: job.created_at,
        updated_at: job.created_at,
    })
}

pub(crate) fn list(
    conn: &Connection,
    status: Option<JobStatus>,
    limit: u32,
    offset: u64,
) -> Result<Page<Job>> {
    let mut args: Vec<SqlValue> = Vec::new();
    let filter = match status {
        Some(s) => {
            args.push(SqlValue::Text(s.as_str().into()));
            "WHERE status = ?"
        }
        None => "",
    };
    let total: u64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM jobs {filter}"))
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
        .map_err(db)?;
    args.push(SqlValue::Integer(i64::from(limit)));
    args.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let items = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs {filter} ORDER BY created_at DESC, seq DESC \
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
        limit,
        offset,
    })
}

/// A page of a job's items in product id order; `NotFound` if the job does not exist.
pub(crate) fn items(conn: &Connection, id: &str, limit: u32, offset: u64) -> Result<Page<JobItem>> {
    require_exists(conn, id)?;
    let total: u64 = conn
        .prepare_cached("SELECT count(*) FROM job_items WHERE job_id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .map_err(db)?;
    let items = conn
        .prepare_cached(
            "SELECT product_id, status, error, drafts, elapsed_ms FROM job_items \
             WHERE job_id = ?1 ORDER BY product_id LIMIT ?2 OFFSET ?3",
        )
        .and_then(|mut s| {
            s.query_map(
                params![id, limit, i64::try_from(offset).unwrap_or(i64::MAX)],
                item_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    Ok(Page {
        items,
        total,
        limit,
        offset,
    })
}

/// The products of a job's pending items, in id order; `NotFound` if the job does not exist.
pub(crate) fn pending(conn: &Connection, id: &str) -> Result<Vec<String>> {
    require_exists(conn, id)?;
    // The pending-item queries name their index: without ANALYZE statistics the planner cannot
    // tell the partial index is smaller than the primary key and would walk every finished
    // item of the job, making the "anything left?" check after each item quadratic over a
    // job. INDEXED BY also turns a dropped or renamed index into an error, not a slowdown.
    conn.prepare_cached(
        "SELECT product_id FROM job_items INDEXED BY job_items_pending \
         WHERE job_id = ?1 AND status = 'pending' ORDER BY product_id",
    )
    .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
    .map_err(db)
}

/// Takes (or keeps, as a heartbeat) a running job for `runner`; see `Store::claim_job`.
pub(crate) fn claim(
    conn: &Connection,
    id: &str,
    runner: &str,
    now: Millis,
    stale_before: Millis,
) -> Result<bool> {
    // One statement decides and writes, so two runners cannot both see the job as free.
    let changed = conn
        .prepare_cached(
            "UPDATE jobs SET runner = ?2, heartbeat_at = ?3 \
             WHERE id = ?1 AND status = 'running' AND (runner IS NULL OR runner = ?2 \
             OR heartbeat_at IS NULL OR heartbeat_at < ?4)",
        )
        .and_then(|mut s| s.execute(params![id, runner, now, stale_before]))
        .map_err(db)?;
    if changed == 0 {
        require_exists(conn, id)?;
    }
    Ok(changed == 1)
}

/// Finishes a pending item and counts it; ends the job as done when it was the last one. See
/// `Store::finish_item`.
pub(crate) fn finish_item(
    conn: &Connection,
    job_id: &str,
    product_id: &str,
    outcome: &ItemOutcome,
) -> Result<Job> {
    require_exists(conn, job_id)?;
    let status: ItemStatus = conn
        .prepare_cached("SELECT status FROM job_items WHERE job_id = ?1 AND product_id = ?2")
        .and_then(|mut s| {
            s.query_row(params![job_id, product_id], |r| named(r, 0))
                .optional()
        })
        .map_err(db)?
        .ok_or_else(|| Error::NotFound {
            kind: "job item",
            id: format!("{job_id}/{product_id}"),
        })?;
    if status != ItemStatus::Pending {
        return Err(Error::Conflict(format!(
            "item '{product_id}' of job '{job_id}' is already {}",
            status.as_str()
        )));
    }
    let counter = match outcome {
        ItemOutcome::Done { drafts, elapsed_ms } => {
            if let Some(stray) = drafts.iter().find(|d| d.product_id != product_id) {
                return Err(Error::invalid(
                    "product_id",
                    format!(
                        "draft '{}' is about product '{}', not the item's product '{product_id}'",
                        stray.id, stray.product_id
                    ),
                ));
            }
            let stored = drafts::insert_all(conn, drafts)?;
            let ids: Vec<&str> = stored.iter().map(|d| d.id.as_str()).collect();
            let ids = to_json(&ids)?;
            conn.prepare_cached(
                "UPDATE job_items SET status = 'done', error = NULL, drafts = ?3, elapsed_ms = ?4 \
                 WHERE job_id = ?1 AND product_id = ?2",
            )
            .and_then(|mut s| s.execute(params![job_id, product_id, ids, elapsed_ms]))
            .map_err(db)?;
            "done"
        }
        ItemOutcome::Failed { error, elapsed_ms } => {
            conn.prepare_cached(
                "UPDATE job_items SET status = 'failed', error = ?3, elapsed_ms = ?4 \
                 WHERE job_id = ?1 AND product_id = ?2",
            )
            .and_then(|mut s| s.execute(params![job_id, product_id, error, elapsed_ms]))
            .map_err(db)?;
            "failed"
        }
    };
    conn.prepare_cached(&format!(
        "UPDATE jobs SET {counter} = {counter} + 1, updated_at = ?2 WHERE id = ?1"
    ))
    .and_then(|mut s| s.execute(params![job_id, now_millis()]))
    .map_err(db)?;
    // Indexed as in `pending`.
    let any_pending = conn
        .prepare_cached(
            "SELECT 1 FROM job_items INDEXED BY job_items_pending \
             WHERE job_id = ?1 AND status = 'pending' LIMIT 1",
        )
        .and_then(|mut s| s.exists([job_id]))
        .map_err(db)?;
    if !any_pending {
        conn.prepare_cached(
            "UPDATE jobs SET status = 'done', runner = NULL WHERE id = ?1 AND status = 'running'",
        )
        .and_then(|mut s| s.execute([job_id]))
        .map_err(db)?;
    }
    require(conn, job_id)
}

/// Ends a running job as `status` (done or cancelled) and releases its runner; a finished job
/// is returned unchanged.
pub(crate) fn end(conn: &Connection, id: &str, status: JobStatus) -> Result<Job> {
    if !status.is_finished() {
        return Err(Error::invalid(
            "status",
            "a job ends as done or cancelled, not running",
        ));
    }
    conn.prepare_cached(
        "UPDATE jobs SET status = ?2, runner = NULL, updated_at = ?3 \
         WHERE id = ?1 AND status = 'running'",
    )
    .and_then(|mut s| s.execute(params![id, status.as_str(), now_millis()]))
    .map_err(db)?;
    require(conn, id)
}
