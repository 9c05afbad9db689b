//! Bulk imports: one connection tuned for throughput, writes inside explicit transactions that
//! the caller commits batch by batch (or once, for an all-or-nothing import).

use rusqlite::Connection;
use vitrine_core::{
    EventBatchOutcome, EventDraft, ImportTx, ProductBatchOutcome, ProductDraft, Result,
    UpsertOutcome, now_millis,
};

use crate::error::db;
use crate::events::{self, ShopperCache};
use crate::products;

/// An import in progress on its own connection.
#[derive(Debug)]
pub(crate) struct SqliteImport {
    conn: Connection,
    shoppers: ShopperCache,
    open: bool,
}

impl SqliteImport {
    pub(crate) fn begin(conn: Connection) -> Result<Self> {
        // The ids this import has written, on disk (temp_store = FILE) so memory stays flat.
        conn.execute_batch(
            "PRAGMA temp_store = FILE; PRAGMA temp.cache_size = -16384; \
             CREATE TEMP TABLE import_seen (id TEXT PRIMARY KEY NOT NULL, line INTEGER NOT NULL) \
             WITHOUT ROWID;",
        )
        .map_err(db)?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        Ok(Self {
            conn,
            shoppers: ShopperCache::default(),
            open: true,
        })
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(|e| {
            self.shoppers.clear();
            db(e)
        })?;
        self.open = false;
        Ok(())
    }
}

impl ImportTx for SqliteImport {
    fn upsert_products(&mut self, batch: &[(u64, ProductDraft)]) -> Result<ProductBatchOutcome> {
        let now = now_millis();
        let mut out = ProductBatchOutcome::default();
        let before = products::max_rowid(&self.conn)?;
        // OR IGNORE, not an upsert: a statement that may abort half-way needs a statement
        // journal, which costs a page copy per row.
        let mut claim = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO temp.import_seen (id, line) VALUES (?1, ?2)")
            .map_err(db)?;
        for (line, draft) in batch {
            if claim
                .execute(rusqlite::params![draft.id, line])
                .map_err(db)?
                == 0
            {
                let first: u64 = self
                    .conn
                    .query_row(
                        "SELECT line FROM temp.import_seen WHERE id = ?1",
                        [&draft.id],
                        |r| r.get(0),
                    )
                    .map_err(db)?;
                out.duplicates.push((*line, first, draft.id.clone()));
                continue;
            }
            match products::upsert(&self.conn, draft, now, before)? {
                UpsertOutcome::Inserted => out.inserted += 1,
                UpsertOutcome::Updated => out.updated += 1,
                UpsertOutcome::Unchanged => out.unchanged += 1,
            }
        }
        if out.inserted > 0 {
            products::index_text_after(&self.conn, before)?;
        }
        Ok(out)
    }

    fn insert_events(&mut self, batch: &[EventDraft]) -> Result<EventBatchOutcome> {
        let mut out = EventBatchOutcome::default();
        // Resolve shoppers first, then insert in index order: the (shopper, ts, …) index is
        // then walked once per batch instead of at random, which keeps the pages a commit
        // dirties (and writes to the WAL) few.
        let mut rows = Vec::with_capacity(batch.len());
        for e in batch {
            rows.push((self.shoppers.get(&self.conn, &e.shopper)?, e));
        }
        rows.sort_unstable_by_key(|a| (a.0, a.1.ts));
        let mut insert = self.conn.prepare_cached(events::INSERT_BULK).map_err(db)?;
        for (shopper, e) in rows {
            if events::insert_bulk(&mut insert, shopper, e)? {
                out.inserted += 1;
            } else {
                out.duplicates += 1;
            }
        }
        Ok(out)
    }

    fn commit_batch(&mut self) -> Result<()> {
        self.commit()?;
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        self.open = true;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.commit()
    }
}

impl Drop for SqliteImport {
    fn drop(&mut self) {
        if self.open {
            // Dropped without finish: nothing since the last commit may land.
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback of an abandoned import failed");
            }
        }
    }
}
