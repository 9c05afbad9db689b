//! `SqliteStore`: the embedded default behind `vitrine_core::Store`. One durable writer
//! connection behind a mutex (SQLite has one writer at a time anyway), a pool of readers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;
use vitrine_core::{
    ApiKey, Error as CoreError, Event, EventDraft, EventQuery, ImportTx, Page, Product,
    ProductDraft, ProductQuery, Result as CoreResult, Store, StoreStats, now_millis,
};

use crate::connection::{self, Mode, ReadPool};
use crate::error::db;
use crate::import::SqliteImport;
use crate::{Error, Result, events, keys, migrations, products};

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
}
