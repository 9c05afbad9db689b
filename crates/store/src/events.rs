//! Event and shopper rows.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Statement, params};
use vitrine_core::{Event, EventDraft, EventKind, EventQuery, Page, Result, now_millis};

use crate::error::db;

pub(crate) fn kind_code(kind: EventKind) -> i64 {
    match kind {
        EventKind::View => 0,
        EventKind::Cart => 1,
        EventKind::Purchase => 2,
        EventKind::Impression => 3,
        EventKind::Click => 4,
    }
}

fn kind_from_code(code: i64) -> rusqlite::Result<EventKind> {
    EventKind::ALL
        .into_iter()
        .find(|k| kind_code(*k) == code)
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(3, code))
}

/// The shopper's row id, creating the shopper on first sight. A known shopper (the common
/// case) costs one index lookup.
pub(crate) fn shopper_row(conn: &Connection, external: &str) -> Result<i64> {
    let known: Option<i64> = conn
        .prepare_cached("SELECT id FROM shoppers WHERE external_id = ?1")
        .and_then(|mut s| s.query_row([external], |r| r.get(0)).optional())
        .map_err(db)?;
    if let Some(id) = known {
        return Ok(id);
    }
    conn.prepare_cached(
        "INSERT INTO shoppers (external_id, created_at) VALUES (?1, ?2) RETURNING id",
    )
    .and_then(|mut s| s.query_row(params![external, now_millis()], |r| r.get(0)))
    .map_err(db)
}

/// Remembers shopper row ids during a bulk import so each shopper costs one lookup, not one per
/// event. Bounded: it forgets everything past `CAPACITY` entries, which only costs lookups.
#[derive(Debug, Default)]
pub(crate) struct ShopperCache {
    ids: HashMap<String, i64>,
}

/// About 20 MB of ids; a shopper beyond it costs one index lookup.
const CAPACITY: usize = 250_000;

impl ShopperCache {
    pub(crate) fn get(&mut self, conn: &Connection, external: &str) -> Result<i64> {
        if let Some(id) = self.ids.get(external) {
            return Ok(*id);
        }
        let id = shopper_row(conn, external)?;
        if self.ids.len() >= CAPACITY {
            self.ids.clear();
        }
        self.ids.insert(external.to_string(), id);
        Ok(id)
    }

    /// Forgets everything (after a rollback the cached ids may not exist).
    pub(crate) fn clear(&mut self) {
        self.ids.clear();
    }
}

/// Inserts one event unless it is already stored; returns its id and whether it was new.
pub(crate) fn insert(conn: &Connection, shopper: i64, e: &EventDraft) -> Result<(i64, bool)> {
    let variant = e.variant.as_deref().unwrap_or("");
    let inserted: Option<i64> = conn
        .prepare_cached(
            "INSERT INTO events (shopper, product_id, kind, ts, variant) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .and_then(|mut s| {
            s.query_row(
                params![shopper, e.product, kind_code(e.kind), e.ts, variant],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(db)?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    let id = conn
        .prepare_cached(
            "SELECT id FROM events WHERE shopper = ?1 AND ts = ?2 AND product_id = ?3 \
             AND kind = ?4 AND variant = ?5",
        )
        .and_then(|mut s| {
            s.query_row(
                params![shopper, e.ts, e.product, kind_code(e.kind), variant],
                |r| r.get(0),
            )
        })
        .map_err(db)?;
    Ok((id, false))
}

/// The bulk insert, prepared once per batch by `insert_bulk`'s caller.
pub(crate) const INSERT_BULK: &str = "INSERT INTO events (shopper, product_id, kind, ts, variant) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";

/// Inserts an event in a bulk import with the prepared `INSERT_BULK`; returns whether it was new.
pub(crate) fn insert_bulk(
    insert: &mut Statement<'_>,
    shopper: i64,
    e: &EventDraft,
) -> Result<bool> {
    let n = insert
        .execute(params![
            shopper,
            e.product,
            kind_code(e.kind),
            e.ts,
            e.variant.as_deref().unwrap_or("")
        ])
        .map_err(db)?;
    Ok(n == 1)
}

pub(crate) fn list(conn: &Connection, q: &EventQuery) -> Result<Page<Event>> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(s) = &q.shopper {
        clauses.push("s.external_id = ?");
        args.push(SqlValue::Text(s.clone()));
    }
    if let Some(p) = &q.product {
        clauses.push("e.product_id = ?");
        args.push(SqlValue::Text(p.clone()));
    }
    if let Some(k) = q.kind {
        clauses.push("e.kind = ?");
        args.push(SqlValue::Integer(kind_code(k)));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let from = "events e JOIN shoppers s ON s.id = e.shopper";
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM {from} {filter}"))
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
        .map_err(db)?;
    args.push(SqlValue::Integer(i64::from(q.limit)));
    args.push(SqlValue::Integer(
        i64::try_from(q.offset).unwrap_or(i64::MAX),
    ));
    let items = conn
        .prepare_cached(&format!(
            "SELECT e.id, s.external_id, e.product_id, e.kind, e.ts, e.variant FROM {from} {filter} \
             ORDER BY e.ts DESC, e.id DESC LIMIT ? OFFSET ?"
        ))
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let variant: String = r.get(5)?;
                Ok(Event {
                    id: r.get(0)?,
                    shopper: r.get(1)?,
                    product: r.get(2)?,
                    kind: kind_from_code(r.get(3)?)?,
                    ts: r.get(4)?,
                    variant: (!variant.is_empty()).then_some(variant),
                })
            })?
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

/// Views, carts and purchases in `(shopper, ts)` order: the unique index's own order, so the scan
/// needs no sort.
pub(crate) fn scan_interactions(conn: &Connection, visit: &mut dyn FnMut(Event)) -> Result<()> {
    let mut stmt = conn
        .prepare(
            "SELECT e.id, s.external_id, e.product_id, e.kind, e.ts, e.variant \
             FROM events e JOIN shoppers s ON s.id = e.shopper \
             WHERE e.kind IN (0, 1, 2) ORDER BY e.shopper, e.ts, e.id",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        let variant: String = r.get(5).map_err(db)?;
        visit(Event {
            id: r.get(0).map_err(db)?,
            shopper: r.get(1).map_err(db)?,
            product: r.get(2).map_err(db)?,
            kind: kind_from_code(r.get(3).map_err(db)?).map_err(db)?,
            ts: r.get(4).map_err(db)?,
            variant: (!variant.is_empty()).then_some(variant),
        });
    }
    Ok(())
}

pub(crate) fn shopper_exists(conn: &Connection, id: &str) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM shoppers WHERE external_id = ?1")
        .and_then(|mut s| s.query_row([id], |_| Ok(())).optional())
        .map(|r| r.is_some())
        .map_err(db)
}
