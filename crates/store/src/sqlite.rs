//! `SqliteStore`: the embedded default behind `vitrine_core::Store`. One durable writer
//! connection behind a mutex (SQLite has one writer at a time anyway), a pool of readers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;
use vitrine_core::{
    ApiKey, Decision, Draft, DraftNew, DraftQuery, Error as CoreError, Event, EventDraft,
    EventQuery, ImportTx, ItemOutcome, Job, JobItem, JobNew, JobStatus, Millis, Page, Product,
    ProductDraft, ProductQuery, ProductSelection, Result as CoreResult, Store, StoreStats,
    now_millis,
};

use crate::connection::{self, Mode, ReadPool};
use crate::error::db;
use crate::import::SqliteImport;
use crate::{Error, Result, drafts, events, jobs, keys, migrations, products};

/// Where the database lives.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file; created with its folder if missing.
    pub path: PathBuf,
}

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: ReadPool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(config: &SqliteConfig) -> Result<Self> {
        let path = config.path.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Open {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let mut writer = connection::open(&path, Mode::Durable)?;
        migrations::migrate(&mut writer)?;
        Ok(Self {
            readers: ReadPool::new(path.clone()),
            writer: Mutex::new(writer),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> CoreResult<T>) -> CoreResult<T> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| CoreError::Storage("writer connection poisoned".into()))?;
        f(&mut conn)
    }

    /// Runs `f` in an immediate transaction on the writer; commits if it succeeds.
    fn write_tx<T>(&self, f: impl FnOnce(&Connection) -> CoreResult<T>) -> CoreResult<T> {
        self.write(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let out = f(&tx)?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
    }
}

impl Store for SqliteStore {
    fn ping(&self) -> CoreResult<()> {
        self.readers
            .with(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db))
    }

    fn get_product(&self, id: &str) -> CoreResult<Product> {
        self.readers
            .with(|c| products::get(c, id))?
            .ok_or_else(|| CoreError::NotFound {
                kind: "product",
                id: id.to_string(),
            })
    }

    fn list_products(&self, query: &ProductQuery) -> CoreResult<Page<Product>> {
        self.readers.with(|c| products::list(c, query))
    }

    fn create_product(&self, draft: &ProductDraft) -> CoreResult<Product> {
        self.write_tx(|c| products::create(c, draft))
    }

    fn replace_product(&self, draft: &ProductDraft) -> CoreResult<Product> {
        self.write_tx(|c| products::replace(c, draft))
    }

    fn modify_product(
        &self,
        id: &str,
        change: &mut dyn FnMut(ProductDraft) -> CoreResult<ProductDraft>,
    ) -> CoreResult<Product> {
        self.write_tx(|c| {
            let current = products::get(c, id)?.ok_or_else(|| CoreError::NotFound {
                kind: "product",
                id: id.to_string(),
            })?;
            let next = change(current.to_draft())?;
            products::replace(c, &next)
        })
    }

    fn delete_product(&self, id: &str) -> CoreResult<()> {
        self.write_tx(|c| products::delete(c, id))
    }

    fn insert_events(&self, batch: &[EventDraft]) -> CoreResult<Vec<Event>> {
        self.write_tx(|c| {
            batch
                .iter()
                .map(|e| {
                    let shopper = events::shopper_row(c, &e.shopper)?;
                    let (id, _) = events::insert(c, shopper, e)?;
                    Ok(Event {
                        id,
                        shopper: e.shopper.clone(),
                        product: e.product.clone(),
                        kind: e.kind,
                        ts: e.ts,
                        variant: e.variant.clone(),
                    })
                })
                .collect()
        })
    }

    fn list_events(&self, query: &EventQuery) -> CoreResult<Page<Event>> {
        self.readers.with(|c| events::list(c, query))
    }

    fn shopper_exists(&self, id: &str) -> CoreResult<bool> {
        self.readers.with(|c| events::shopper_exists(c, id))
    }

    fn scan_interactions(&self, visit: &mut dyn FnMut(Event)) -> CoreResult<()> {
        self.readers.with(|c| events::scan_interactions(c, visit))
    }

    fn begin_import(&self) -> CoreResult<Box<dyn ImportTx + '_>> {
        let conn = connection::open(&self.path, Mode::Bulk)?;
        Ok(Box::new(SqliteImport::begin(conn)?))
    }

    fn create_api_key(&self, key: &ApiKey, secret_hash: &[u8; 32]) -> CoreResult<()> {
        self.write_tx(|c| keys::create(c, key, secret_hash))
    }

    fn find_api_key(&self, secret_hash: &[u8; 32]) -> CoreResult<Option<ApiKey>> {
        self.readers.with(|c| keys::find(c, secret_hash))
    }

    fn list_api_keys(&self) -> CoreResult<Vec<ApiKey>> {
        self.readers.with(keys::list)
    }

    fn revoke_api_key(&self, id: &str) -> CoreResult<()> {
        self.write_tx(|c| keys::revoke(c, id, now_millis()))
    }

    fn stats(&self) -> CoreResult<StoreStats> {
        self.readers.with(|c| {
            let count = |table: &str| -> CoreResult<u64> {
                c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n as u64)
                .map_err(db)
            };
            Ok(StoreStats {
                products: count("products")?,
                shoppers: count("shoppers")?,
                events: count("events")?,
            })
        })
    }

    /// Stores the drafts, all or none, each waiting for review (`status: draft`). `NotFound`
    /// for an unknown product or parent, `Conflict` for an id already taken (by a stored draft
    /// or an earlier one of the same batch), `Invalid` for a parent about another product or
    /// kind. A draft may name an earlier draft of the same batch as its parent.
    fn insert_drafts(&self, batch: &[DraftNew]) -> CoreResult<Vec<Draft>> {
        self.write_tx(|c| drafts::insert_all(c, batch))
    }

    fn get_draft(&self, id: &str) -> CoreResult<Draft> {
        self.readers.with(|c| drafts::require(c, id))
    }

    /// Newest first by `created_at`, drafts made in the same millisecond latest-stored first.
    fn list_drafts(&self, query: &DraftQuery) -> CoreResult<Page<Draft>> {
        self.readers.with(|c| drafts::list(c, query))
    }

    /// The decision must be `Approved` or `Rejected` (else `Invalid`). Transitions:
    ///
    /// | current status | approve                     | reject                 |
    /// |----------------|-----------------------------|------------------------|
    /// | draft          | approved                    | rejected               |
    /// | approved       | no-op (returned as is)      | rejected (unpublished) |
    /// | rejected       | approved (a change of mind) | no-op                  |
    /// | superseded     | approved (a roll-back)      | `Conflict`             |
    ///
    /// Approving first marks the product's other approved draft of the same kind
    /// `superseded`, in the same transaction, so at most one is ever approved. A no-op keeps
    /// the first reviewer's record. Rejecting an approved draft does not bring back the one
    /// it superseded: the product has no published text of that kind until another approval.
    fn review_draft(&self, id: &str, decision: &Decision) -> CoreResult<Draft> {
        self.write_tx(|c| drafts::review(c, id, decision))
    }

    /// One draft per kind, ordered by kind name; `NotFound` if the product does not exist.
    fn published(&self, product_id: &str) -> CoreResult<Vec<Draft>> {
        self.readers.with(|c| drafts::published(c, product_id))
    }

    /// A description is missing when the catalog's is absent or only whitespace and no
    /// description draft is waiting for review or approved.
    fn select_products(&self, selection: &ProductSelection) -> CoreResult<Vec<String>> {
        self.readers.with(|c| jobs::select_products(c, selection))
    }

    /// Repeated product ids become one item, and `total` counts distinct products; the
    /// products are not checked (one deleted before its turn fails as an item). `Conflict` if
    /// the job id is taken.
    fn create_job(&self, job: &JobNew, products: &[String]) -> CoreResult<Job> {
        self.write_tx(|c| jobs::create(c, job, products))
    }

    fn start_job(&self, job: &JobNew, selection: &ProductSelection) -> CoreResult<(Job, bool)> {
        self.write_tx(|c| {
            if let Some(running) = jobs::find_running(c, &job.kind, &job.params)? {
                return Ok((running, true));
            }
            let products = jobs::select_products(c, selection)?;
            let created = jobs::create(c, job, &products)?;
            // A job with nothing to do is done in the transaction that made it.
            if created.total == 0 {
                return Ok((jobs::end(c, &created.id, JobStatus::Done)?, false));
            }
            Ok((created, false))
        })
    }

    fn get_job(&self, id: &str) -> CoreResult<Job> {
        self.readers.with(|c| jobs::require(c, id))
    }

    fn list_jobs(
        &self,
        status: Option<JobStatus>,
        limit: u32,
        offset: u64,
    ) -> CoreResult<Page<Job>> {
        self.readers.with(|c| jobs::list(c, status, limit, offset))
    }

    fn job_items(&self, id: &str, limit: u32, offset: u64) -> CoreResult<Page<JobItem>> {
        self.readers.with(|c| jobs::items(c, id, limit, offset))
    }

    /// `NotFound` if the job does not exist.
    fn pending_items(&self, id: &str) -> CoreResult<Vec<String>> {
        self.readers.with(|c| jobs::pending(c, id))
    }

    /// False for a job that is not running; `NotFound` if there is no such job.
    fn claim_job(
        &self,
        id: &str,
        runner: &str,
        now: Millis,
        stale_before: Millis,
    ) -> CoreResult<bool> {
        self.write_tx(|c| jobs::claim(c, id, runner, now, stale_before))
    }

    /// `NotFound` if the job or the item does not exist; `Conflict` if the item is done or
    /// failed already; `Invalid` if a draft is about another product than the item's. A done
    /// item's drafts follow `insert_drafts`' rules, and any failure rolls back the whole
    /// transaction (the item stays pending). The last item of a running job ends it as done.
    /// An item of a cancelled job may still be finished (a runner that was mid-item keeps its
    /// work); the job stays cancelled.
    fn finish_item(
        &self,
        job_id: &str,
        product_id: &str,
        outcome: &ItemOutcome,
    ) -> CoreResult<Job> {
        self.write_tx(|c| jobs::finish_item(c, job_id, product_id, outcome))
    }

    /// `Invalid` if `status` is `Running`; `NotFound` if there is no such job.
    fn end_job(&self, id: &str, status: JobStatus) -> CoreResult<Job> {
        self.write_tx(|c| jobs::end(c, id, status))
    }
}
