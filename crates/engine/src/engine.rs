//! The `Engine` handle.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vitrine_core::{
    ApiKey, Error as CoreError, Event, EventInput, EventQuery, Page, Product, ProductInput,
    ProductQuery, Role, Store, StoreStats, TextGenerator, now_millis,
};
use vitrine_store::{SqliteConfig, SqliteStore};

use crate::import::{self, EventFormat, ImportEvent, ImportOptions, ImportReport, ProductFormat};
use crate::keys::{self, NewKey};
use crate::{Error, Result};

/// The largest page a list returns.
pub const MAX_PAGE: u32 = 1000;
/// The most events one batch request may carry.
pub const MAX_EVENT_BATCH: usize = 10_000;

/// How to build an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The SQLite database file.
    pub db_path: PathBuf,
    /// Currency assumed for prices given without one.
    pub default_currency: String,
}

/// The shared handle: cheap to clone, safe to use from many threads.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    default_currency: String,
    /// The language model, local or remote; `None` serves without text generation.
    generator: Option<Arc<dyn TextGenerator>>,
    /// The claims extractor, built from the catalog's brands.
    pub(crate) extractors: Arc<crate::content::ExtractorCache>,
    /// Phrases the merchant never wants in generated copy.
    pub(crate) banned_phrases: Arc<Vec<String>>,
    /// The recommender fitted on the store's events, once asked for.
    pub(crate) recommender: Arc<crate::rec::RecommenderSlot>,
    /// Where the admin API's training runs go (`runs` beside the database by default).
    pub(crate) runs_dir: Option<PathBuf>,
    /// The trainings this process runs.
    pub(crate) trainings: Arc<crate::rec::Trainings>,
    /// The image model loaded for serving.
    pub(crate) images: Arc<crate::images::ImageSlot>,
    /// The image trainings this process runs.
    pub(crate) image_trainings: Arc<crate::images::ImageTrainings>,
    /// Held while a training of either kind checks that none runs and registers itself.
    pub(crate) training_gate: Arc<std::sync::Mutex<()>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("default_currency", &self.default_currency)
            .field("generator", &self.generator)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the store (running migrations) and builds the engine.
    pub fn open(config: &EngineConfig) -> Result<Self> {
        vitrine_core::currency_exponent(&config.default_currency)?;
        let store = SqliteStore::open(&SqliteConfig {
            path: config.db_path.clone(),
        })?;
        let engine = Self::with_store(Arc::new(store), &config.default_currency);
        Ok(match config.db_path.parent() {
            Some(dir) => engine.with_runs_dir(dir.join("runs")),
            None => engine,
        })
    }

    /// Builds an engine over any store (tests, other backends).
    pub fn with_store(store: Arc<dyn Store>, default_currency: &str) -> Self {
        Self {
            store,
            default_currency: default_currency.to_ascii_uppercase(),
            generator: None,
            extractors: Arc::default(),
            banned_phrases: Arc::default(),
            recommender: Arc::default(),
            runs_dir: None,
            trainings: Arc::default(),
            images: Arc::default(),
            image_trainings: Arc::default(),
            training_gate: Arc::default(),
        }
    }

    /// This engine with phrases no generated text may contain (the merchant's list; matched
    /// without regard to case).
    pub fn with_banned_phrases(mut self, phrases: Vec<String>) -> Self {
        self.banned_phrases = Arc::new(
            phrases
                .into_iter()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        );
        self.extractors = Arc::default();
        self
    }

    /// This engine with `generator` as its language model.
    pub fn with_generator(mut self, generator: Arc<dyn TextGenerator>) -> Self {
        self.generator = Some(generator);
        self
    }

    /// The language model, if one is configured.
    pub fn generator(&self) -> Option<Arc<dyn TextGenerator>> {
        self.generator.clone()
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Hands every product of the catalog to `visit`, a page of `MAX_PAGE` at a time.
    pub(crate) fn each_product(&self, mut visit: impl FnMut(Product)) -> Result<()> {
        let mut offset = 0;
        loop {
            let page = self.store().list_products(&ProductQuery {
                limit: MAX_PAGE,
                offset,
                ..ProductQuery::default()
            })?;
            let (count, total) = (page.items.len() as u64, page.total);
            page.items.into_iter().for_each(&mut visit);
            offset += count;
            if count == 0 || offset >= total {
                return Ok(());
            }
        }
    }

    /// Currency assumed for prices given without one.
    pub fn default_currency(&self) -> &str {
        &self.default_currency
    }

    /// Whether the database answers.
    pub fn health(&self) -> Result<()> {
        Ok(self.store.ping()?)
    }

    /// Row counts.
    pub fn stats(&self) -> Result<StoreStats> {
        Ok(self.store.stats()?)
    }

    // ---- API keys -------------------------------------------------------------------------

    /// Issues a new key; the secret in the answer is never retrievable again.
    pub fn create_key(&self, name: &str, role: Role) -> Result<NewKey> {
        if name.trim().is_empty() {
            return Err(CoreError::invalid("name", "is missing").into());
        }
        keys::create(self.store.as_ref(), name, role)
    }

    /// The live key for a bearer token, if any.
    pub fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>> {
        keys::authenticate(self.store.as_ref(), secret)
    }

    /// Every key, without secrets.
    pub fn list_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(self.store.list_api_keys()?)
    }

    /// Revokes a key.
    pub fn revoke_key(&self, id: &str) -> Result<()> {
        Ok(self.store.revoke_api_key(id)?)
    }

    // ---- catalog --------------------------------------------------------------------------

    /// One product.
    pub fn product(&self, id: &str) -> Result<Product> {
        Ok(self.store.get_product(id)?)
    }

    /// A filtered page of products; `limit` must be 1..=MAX_PAGE.
    pub fn products(&self, query: &ProductQuery) -> Result<Page<Product>> {
        check_limit(query.limit)?;
        if let (Some(lo), Some(hi)) = (query.min_price_minor, query.max_price_minor)
            && lo > hi
        {
            return Err(CoreError::invalid("min_price", "is above max_price").into());
        }
        Ok(self.store.list_products(query)?)
    }

    /// Creates a product from its JSON shape.
    pub fn create_product(&self, input: ProductInput) -> Result<Product> {
        let draft = input.into_draft(&self.default_currency)?;
        Ok(self.store.create_product(&draft)?)
    }

    /// Replaces a product's whole content (PUT); the path id wins and a different body id is an error.
    pub fn replace_product(&self, id: &str, mut input: ProductInput) -> Result<Product> {
        match &input.id {
            Some(body_id) if body_id.trim() != id => {
                return Err(CoreError::invalid(
                    "id",
                    format!("body id '{body_id}' differs from the path id '{id}'"),
                )
                .into());
            }
            _ => input.id = Some(id.to_string()),
        }
        let draft = input.into_draft(&self.default_currency)?;
        Ok(self.store.replace_product(&draft)?)
    }

    /// Changes the fields present in `patch` (PATCH).
    pub fn patch_product(&self, id: &str, patch: ProductInput) -> Result<Product> {
        let mut patch = Some(patch);
        Ok(self.store.modify_product(id, &mut |current| {
            patch
                .take()
                .ok_or_else(|| CoreError::Storage("patch applied twice".into()))?
                .apply(current)
        })?)
    }

    /// Deletes a product (its events stay as history).
    pub fn delete_product(&self, id: &str) -> Result<()> {
        Ok(self.store.delete_product(id)?)
    }

    // ---- import ---------------------------------------------------------------------------

    /// Imports a catalog file; see [`crate::import`].
    pub fn import_products(
        &self,
        path: &Path,
        format: Option<ProductFormat>,
        options: &ImportOptions,
        sink: &mut dyn FnMut(ImportEvent),
    ) -> Result<ImportReport> {
        import::import_products(self.store.as_ref(), path, format, options, sink)
    }

    /// Imports an event file; see [`crate::import`].
    pub fn import_events(
        &self,
        path: &Path,
        format: Option<EventFormat>,
        options: &ImportOptions,
        sink: &mut dyn FnMut(ImportEvent),
    ) -> Result<ImportReport> {
        import::import_events(self.store.as_ref(), path, format, options, sink)
    }

    // ---- events ---------------------------------------------------------------------------

    /// Records one event durably; a missing timestamp means "now".
    pub fn record_event(&self, input: EventInput) -> Result<Event> {
        let draft = input.into_draft(Some(now_millis()))?;
        self.store
            .insert_events(std::slice::from_ref(&draft))?
            .pop()
            .ok_or_else(|| CoreError::Storage("the store returned no event".into()).into())
    }

    /// Records a batch of events durably, all or none; a missing timestamp means "now". A bad
    /// event is named by its index (`events[3].kind: …`).
    pub fn record_event_batch(&self, inputs: Vec<EventInput>) -> Result<Vec<Event>> {
        if inputs.is_empty() {
            return Err(CoreError::invalid("events", "is empty").into());
        }
        if inputs.len() > MAX_EVENT_BATCH {
            return Err(CoreError::invalid(
                "events",
                format!(
                    "has {} events, over the limit of {MAX_EVENT_BATCH}",
                    inputs.len()
                ),
            )
            .into());
        }
        let now = now_millis();
        let drafts = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| {
                input.into_draft(Some(now)).map_err(|e| match e {
                    CoreError::Invalid { field, reason } => {
                        CoreError::invalid(format!("events[{i}].{field}"), reason)
                    }
                    other => other,
                })
            })
            .collect::<vitrine_core::Result<Vec<_>>>()?;
        Ok(self.store.insert_events(&drafts)?)
    }

    /// A page of events, newest first.
    pub fn events(&self, query: &EventQuery) -> Result<Page<Event>> {
        check_limit(query.limit)?;
        Ok(self.store.list_events(query)?)
    }

    /// A shopper's events, newest first; `NotFound` for a shopper never seen.
    pub fn shopper_events(&self, shopper: &str, query: EventQuery) -> Result<Page<Event>> {
        if !self.store.shopper_exists(shopper)? {
            return Err(CoreError::NotFound {
                kind: "shopper",
                id: shopper.to_string(),
            }
            .into());
        }
        self.events(&EventQuery {
            shopper: Some(shopper.to_string()),
            ..query
        })
    }
}

pub(crate) fn check_limit(limit: u32) -> Result<()> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(
            CoreError::invalid("limit", format!("must be between 1 and {MAX_PAGE}")).into(),
        );
    }
    Ok(())
}

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Domain(d) => d,
            other => CoreError::Storage(other.to_string()),
        }
    }
}
