//! The `Store` trait: everything the engine asks of a database, so SQLite and PostgreSQL are
//! interchangeable behind it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    ApiKey, Decision, Draft, DraftNew, DraftQuery, Event, EventDraft, EventKind, ItemOutcome, Job,
    JobItem, JobNew, JobStatus, Millis, Product, ProductDraft, ProductSelection, Result,
};

/// Filters and paging for the product list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductQuery {
    /// Full-text query over title, brand and description; results are ranked by relevance.
    pub text: Option<String>,
    /// Exact brand.
    pub brand: Option<String>,
    /// Exact category.
    pub category: Option<String>,
    /// Exact currency.
    pub currency: Option<String>,
    /// Lowest price, inclusive, in minor units.
    pub min_price_minor: Option<i64>,
    /// Highest price, inclusive, in minor units.
    pub max_price_minor: Option<i64>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// Filters and paging for events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Only this shopper's events.
    pub shopper: Option<String>,
    /// Only events about this product.
    pub product: Option<String>,
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// One page of results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the filters, over all pages.
    pub total: u64,
    /// Page size asked for.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// What an upsert did to one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// The product was new.
    Inserted,
    /// The product existed with different content and was replaced.
    Updated,
    /// The product existed with identical content; nothing was written.
    Unchanged,
}

/// Counts for one batch of product upserts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductBatchOutcome {
    /// New products.
    pub inserted: u64,
    /// Changed products.
    pub updated: u64,
    /// Identical products.
    pub unchanged: u64,
    /// Rows whose id an earlier row of the same import already wrote, as (line, first line, id);
    /// they are skipped, so one file cannot both insert and overwrite a product (which would make
    /// every re-import report it as updated).
    pub duplicates: Vec<(u64, u64, String)>,
}

/// Counts for one batch of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventBatchOutcome {
    /// Events stored for the first time.
    pub inserted: u64,
    /// Events that were already stored.
    pub duplicates: u64,
}

/// A bulk import in progress: writes go into an open transaction. `commit_batch` makes everything
/// so far durable and opens the next transaction; dropping the import without `finish` rolls
/// back whatever was not committed.
pub trait ImportTx {
    /// Inserts or updates products given with their line numbers, skipping identical ones and
    /// ids this import already wrote.
    fn upsert_products(&mut self, batch: &[(u64, ProductDraft)]) -> Result<ProductBatchOutcome>;
    /// Inserts events, skipping ones already stored.
    fn insert_events(&mut self, batch: &[EventDraft]) -> Result<EventBatchOutcome>;
    /// Commits the open transaction and starts the next.
    fn commit_batch(&mut self) -> Result<()>;
    /// Commits and ends the import.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// The database behind Vitrine.
pub trait Store: Send + Sync {
    /// Checks the database answers.
    fn ping(&self) -> Result<()>;

    /// One product, or `NotFound`.
    fn get_product(&self, id: &str) -> Result<Product>;
    /// A filtered, paged list of products.
    fn list_products(&self, query: &ProductQuery) -> Result<Page<Product>>;
    /// Stores a new product; `Conflict` if the id exists.
    fn create_product(&self, draft: &ProductDraft) -> Result<Product>;
    /// Replaces an existing product's content; `NotFound` if it does not exist.
    fn replace_product(&self, draft: &ProductDraft) -> Result<Product>;
    /// Reads, changes and writes back a product in one transaction.
    fn modify_product(
        &self,
        id: &str,
        change: &mut dyn FnMut(ProductDraft) -> Result<ProductDraft>,
    ) -> Result<Product>;
    /// Deletes a product; `NotFound` if it does not exist. Its events are kept as history.
    fn delete_product(&self, id: &str) -> Result<()>;

    /// Stores events durably in one transaction (all or none), returning them with their ids;
    /// an event already stored is returned with its existing id.
    fn insert_events(&self, events: &[EventDraft]) -> Result<Vec<Event>>;
    /// A filtered, paged list of events, newest first.
    fn list_events(&self, query: &EventQuery) -> Result<Page<Event>>;
    /// Whether a shopper has been seen.
    fn shopper_exists(&self, id: &str) -> Result<bool>;
    /// Every view, cart and purchase event, shopper by shopper and oldest first within a shopper
    /// (the recommender's training data), streamed to `visit` without holding them all.
    fn scan_interactions(&self, visit: &mut dyn FnMut(Event)) -> Result<()>;

    /// Starts a bulk import.
    fn begin_import(&self) -> Result<Box<dyn ImportTx + '_>>;

    /// Stores a new key under the SHA-256 of its secret.
    fn create_api_key(&self, key: &ApiKey, secret_hash: &[u8; 32]) -> Result<()>;
    /// The live (not revoked) key with this secret hash.
    fn find_api_key(&self, secret_hash: &[u8; 32]) -> Result<Option<ApiKey>>;
    /// Every key, revoked ones included.
    fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
    /// Revokes a key; `NotFound` if there is no such key.
    fn revoke_api_key(&self, id: &str) -> Result<()>;

    /// Counts of products, shoppers and events.
    fn stats(&self) -> Result<StoreStats>;

    /// Stores drafts in one transaction; `NotFound` if a product (or a parent draft) does not
    /// exist.
    fn insert_drafts(&self, drafts: &[DraftNew]) -> Result<Vec<Draft>>;
    /// One draft, or `NotFound`.
    fn get_draft(&self, id: &str) -> Result<Draft>;
    /// A filtered page of drafts, newest first.
    fn list_drafts(&self, query: &DraftQuery) -> Result<Page<Draft>>;
    /// Records a review. Approving (a draft, or a rejected or superseded one: a merchant may
    /// roll back) supersedes the approved draft of the same product and kind in the same
    /// transaction; approving an approved draft or rejecting a rejected one changes nothing;
    /// rejecting an approved draft unpublishes it; rejecting a superseded one is `Conflict`.
    fn review_draft(&self, id: &str, decision: &Decision) -> Result<Draft>;
    /// The approved draft of each kind for a product (what shoppers see).
    fn published(&self, product_id: &str) -> Result<Vec<Draft>>;

    /// The ids of the products a selection covers, in id order.
    fn select_products(&self, selection: &ProductSelection) -> Result<Vec<String>>;
    /// Creates a running job over `products` (each becomes a pending item). A job without
    /// products is left running: its creator ends it.
    fn create_job(&self, job: &JobNew, products: &[String]) -> Result<Job>;
    /// Starts a job over the products `selection` covers, or, in the same transaction, finds
    /// the running job of the same kind with equal parameters (true then): two identical
    /// requests at once make one job, never two. A job over no products is created done.
    fn start_job(&self, job: &JobNew, selection: &ProductSelection) -> Result<(Job, bool)>;
    /// One job, or `NotFound`.
    fn get_job(&self, id: &str) -> Result<Job>;
    /// A page of jobs, newest first; `status` filters.
    fn list_jobs(&self, status: Option<JobStatus>, limit: u32, offset: u64) -> Result<Page<Job>>;
    /// A page of a job's items in id order; `NotFound` if the job does not exist.
    fn job_items(&self, id: &str, limit: u32, offset: u64) -> Result<Page<JobItem>>;
    /// The products of a job's pending items, in id order; `NotFound` if the job does not exist.
    fn pending_items(&self, id: &str) -> Result<Vec<String>>;
    /// Takes a running job for `runner` when nobody holds it or its holder's last heartbeat
    /// is older than `stale_before`; true if `runner` now holds it. A holder calls it again
    /// as its heartbeat.
    fn claim_job(&self, id: &str, runner: &str, now: Millis, stale_before: Millis) -> Result<bool>;
    /// Finishes a pending item: stores its drafts and counts it, in one transaction. `Conflict`
    /// if the item is not pending (another runner finished it), so nothing is written twice.
    fn finish_item(&self, job_id: &str, product_id: &str, outcome: &ItemOutcome) -> Result<Job>;
    /// Ends a running job as done or cancelled and releases it; a finished job is returned
    /// unchanged.
    fn end_job(&self, id: &str, status: JobStatus) -> Result<Job>;
}

/// Row counts, for the CLI and health checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StoreStats {
    /// Products in the catalog.
    pub products: u64,
    /// Shoppers seen.
    pub shoppers: u64,
    /// Events stored.
    pub events: u64,
}
