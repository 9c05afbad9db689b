//! Versioned schema migrations, applied in order at start-up; `PRAGMA user_version` records the
//! last one applied. Each migration runs in its own transaction, so a crash never leaves a
//! half-migrated schema.

use rusqlite::Connection;

use crate::{Error, Result};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migrations in order; index + 1 is the version. Never edit one that has shipped: add another.
const MIGRATIONS: &[(&str, &str)] = &[
    ("catalog, shoppers, events, api keys", V1),
    ("content drafts and jobs", V2),
];

const V1: &str = r#"
-- `rid` is the stable integer key the search index points at (an implicit rowid may be
-- renumbered by VACUUM); `id` is the merchant's product id.
CREATE TABLE products (
    rid          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    sku          TEXT,
    title        TEXT NOT NULL,
    brand        TEXT,
    category     TEXT,
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    attributes   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    description  TEXT,
    image_urls   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(image_urls)),
    content_hash BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX products_brand ON products (brand);
CREATE INDEX products_category ON products (category);
CREATE INDEX products_price ON products (price_minor);

-- Full-text search over title, brand and description. Kept in step by the store's own code,
-- not by triggers: a trigger makes every row's INSERT a statement transaction, and FTS5 flushes
-- its pending index at each one, which made bulk imports four times slower (measured: 20k vs
-- 80k products/s). Bulk imports index a whole batch with one statement instead.
CREATE VIRTUAL TABLE products_fts USING fts5 (
    title, brand, description,
    content = 'products', content_rowid = 'rid',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Shoppers are pseudonymous: the merchant's id only. PII columns arrive with the privacy work.
CREATE TABLE shoppers (
    id          INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- Events reference products by id without a foreign key: behaviour data often arrives before
-- (or outlives) the catalog rows it mentions, and history must survive a product's deletion.
-- kind: 0 view, 1 cart, 2 purchase, 3 impression, 4 click. variant '' means none, so that the
-- unique key (which makes re-imports no-ops) treats "no variant" as one value.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    shopper    INTEGER NOT NULL REFERENCES shoppers (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    kind       INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 4),
    ts         INTEGER NOT NULL,
    variant    TEXT NOT NULL DEFAULT '',
    UNIQUE (shopper, ts, product_id, kind, variant)
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'merchant', 'reader')),
    secret_hash BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
"#;

const V2: &str = r#"
-- Generated content under review. `seq` is an explicit rowid so "newest first" has a tie-break
-- that VACUUM cannot renumber; `id` is the engine's id. A draft belongs to its product: deleting
-- the product deletes its drafts. A person's edit points at the draft it changed; deleting
-- that draft keeps the edit and forgets the link.
CREATE TABLE drafts (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    product_id   TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL
                 CHECK (kind IN ('description', 'seo', 'search', 'social', 'sms', 'push', 'email')),
    status       TEXT NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'approved', 'rejected', 'superseded')),
    origin       TEXT NOT NULL CHECK (origin IN ('model', 'human')),
    parent       TEXT REFERENCES drafts (id) ON DELETE SET NULL,
    content      TEXT NOT NULL CHECK (json_valid(content)),
    verification TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(verification)),
    provenance   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(provenance)),
    reviewed_by  TEXT,
    review_note  TEXT,
    reviewed_at  INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX drafts_product ON drafts (product_id, kind, status);
CREATE INDEX drafts_created ON drafts (created_at);
-- The review queue: one status, newest first.
CREATE INDEX drafts_status ON drafts (status, created_at);
-- Deleting a draft looks up the edits pointing at it; without this, each deleted draft (a
-- product's deletion cascades to all of them) would scan the whole table.
CREATE INDEX drafts_parent ON drafts (parent);
-- What shoppers see: at most one approved draft per product and kind.
CREATE UNIQUE INDEX drafts_one_approved ON drafts (product_id, kind) WHERE status = 'approved';

-- Batch jobs. `runner` and `heartbeat_at` say which process works on a running job and when it
-- last said so; a silent holder's claim lapses and another runner may take the job over.
CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'done', 'cancelled')),
    params       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    total        INTEGER NOT NULL CHECK (total >= 0),
    done         INTEGER NOT NULL DEFAULT 0 CHECK (done >= 0),
    failed       INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
    actor        TEXT NOT NULL,
    runner       TEXT,
    heartbeat_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, created_at);

-- One product of a job. No foreign key to products: the product may be deleted later and the
-- item stays as history. `drafts` lists the ids of the drafts the item stored.
CREATE TABLE job_items (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    error      TEXT,
    drafts     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(drafts)),
    elapsed_ms INTEGER NOT NULL DEFAULT 0 CHECK (elapsed_ms >= 0),
    PRIMARY KEY (job_id, product_id)
) WITHOUT ROWID;
-- A job's remaining work without scanning its finished items: finishing items in order would
-- otherwise make every "anything left?" check walk past all the done ones.
CREATE INDEX job_items_pending ON job_items (job_id, product_id) WHERE status = 'pending';
"#;

/// Brings the schema up to `SCHEMA_VERSION`.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(Error::TooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now >= version {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(Error::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn upgrading_a_v1_database_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        // A database as the first release left it.
        conn.execute_batch(V1).unwrap();
        conn.execute_batch("PRAGMA user_version = 1").unwrap();
        conn.execute_batch(
            "INSERT INTO products (id, title, price_minor, currency, content_hash, created_at, \
             updated_at) VALUES ('p1', 'Tee', 100, 'USD', x'00', 1, 1); \
             INSERT INTO shoppers (external_id, created_at) VALUES ('s1', 1); \
             INSERT INTO events (shopper, product_id, kind, ts) VALUES (1, 'p1', 0, 5); \
             INSERT INTO api_keys (id, name, role, secret_hash, created_at) \
             VALUES ('k1', 'ci', 'admin', x'01', 1);",
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        for table in ["products", "shoppers", "events", "api_keys"] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 1, "{table} keeps its row");
        }
        // The new tables work against the old rows.
        conn.execute(
            "INSERT INTO drafts (id, product_id, kind, origin, content, created_at) \
             VALUES ('d1', 'p1', 'description', 'model', '{}', 2)",
            [],
        )
        .unwrap();
        assert!(
            conn.execute(
                "INSERT INTO drafts (id, product_id, kind, origin, content, created_at) \
                 VALUES ('d2', 'nope', 'description', 'model', '{}', 2)",
                [],
            )
            .is_err(),
            "a draft of an unknown product is refused"
        );
        conn.execute("DELETE FROM products WHERE id = 'p1'", [])
            .unwrap();
        let drafts: i64 = conn
            .query_row("SELECT count(*) FROM drafts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(drafts, 0, "deleting a product deletes its drafts");
    }
}
