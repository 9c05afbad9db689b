//! Recommendations for one shopper, served from the store: the model is fitted on every view,
//! cart and purchase once (on first use, or again on `refit`), and each request reads the
//! shopper's latest events, so events recorded after fitting count without a refit. Purchased
//! items are never recommended. A shopper whose history holds no item the model knows gets the
//! most popular items of the categories they looked at lately, or the most popular items
//! overall; the answer says which strategy produced it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use utoipa::ToSchema;
use vitrine_core::{Error as CoreError, EventKind, EventQuery, ProductQuery, Store};
use vitrine_recsys::{
    Combined, ItemKnn, ItemKnnConfig, PAD, Popularity, RunDir, SasRecScorer, Scorer, Sequences,
    Together,
};

use super::explain::{ANCHOR_CANDIDATES, Anchor, Explanation, Target, basis, explain, strength};
use crate::{Engine, MAX_PAGE, Result};

/// The most recommendations one request may ask for.
pub const MAX_K: usize = 100;
/// Newest events of a shopper read per request.
const HISTORY_EVENTS: u32 = 200;
/// Products of the latest events whose categories a cold-start answer draws on.
const RECENT_PRODUCTS: usize = 5;

/// How a list of recommendations was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The sequence model, from the shopper's history.
    Sequence,
    /// No known item in the history: the most popular items of the categories the shopper
    /// looked at lately.
    PopularInCategories,
    /// Nothing to go on: the most popular items.
    Popular,
}

/// One recommended product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recommended {
    /// Product id.
    pub product: String,
    /// The strategy's score: higher is better; comparable only within one answer.
    pub score: f32,
    /// The product's title, when the catalog has the product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The product's brand, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// The product's category, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Why it is recommended, when asked for (`explain=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// A shopper's recommendations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recommendations {
    /// The shopper.
    pub shopper: String,
    /// Which strategy answered.
    pub strategy: Strategy,
    /// The model behind the `sequence` strategy: `sasrec` (a trained run) or `item-knn`.
    pub model: String,
    /// Views, carts and purchases the model was fitted on.
    pub fitted_events: usize,
    /// History items the model knew (the rest arrived after fitting or are new products).
    pub history_items_used: usize,
    /// Categories a `popular_in_categories` answer drew on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Best first.
    pub items: Vec<Recommended>,
}

/// A fitted model and what serving needs beside it.
pub(crate) struct Served {
    data: Sequences,
    scorer: Box<dyn Scorer + Send>,
    popularity: Popularity,
    /// Which shoppers had each item, for "shoppers who looked at A also looked at B".
    together: Together,
    events: usize,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("model", &self.scorer.name())
            .field("items", &self.data.n_items())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The engine's recommender slot: empty until first use; the SASRec run to serve, if any.
#[derive(Debug, Default)]
pub(crate) struct RecommenderSlot {
    served: Mutex<Option<Arc<Served>>>,
    run: Mutex<Option<std::path::PathBuf>>,
}

impl Served {
    fn fit(store: &dyn Store, run: Option<&std::path::Path>) -> Result<Self> {
        let started = Instant::now();
        let pairs = interaction_pairs(store)?;
        let events = pairs.len();
        let (data, scorer): (Sequences, Box<dyn Scorer + Send>) = match run {
            Some(run) => {
                let run = RunDir::new(run);
                let scorer = SasRecScorer::load(&run)?;
                let items = run.items()?;
                if items.len() != scorer.n_items() + 1 {
                    return Err(vitrine_recsys::Error::Unusable(format!(
                        "{}: items.json does not match the model",
                        run.path().display()
                    ))
                    .into());
                }
                // Concurrent requests share the network's forward passes.
                (
                    Sequences::from_items_and_pairs(items, pairs),
                    Box::new(Combined::new(scorer)),
                )
            }
            None => {
                let data = Sequences::from_pairs(pairs);
                let knn = ItemKnn::fit_all(&data, &ItemKnnConfig::default());
                (data, Box::new(knn))
            }
        };
        let popularity = Popularity::fit_all(&data);
        let together = Together::fit(&data);
        tracing::info!(
            events,
            shoppers = data.len(),
            items = data.n_items(),
            seconds = started.elapsed().as_secs_f64(),
            "recommender fitted"
        );
        Ok(Self {
            data,
            scorer,
            popularity,
            together,
            events,
        })
    }
}

/// Every `(shopper, product)` view, cart and purchase, shopper by shopper, oldest first.
pub(super) fn interaction_pairs(store: &dyn Store) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    store.scan_interactions(&mut |e| pairs.push((e.shopper, e.product)))?;
    Ok(pairs)
}

impl Engine {
    /// This engine serving the SASRec run in `dir` (from `vitrine train rec`) instead of
    /// item-kNN fitted on the store; the run is loaded at the first recommendation.
    pub fn with_recommender_run(mut self, dir: std::path::PathBuf) -> Self {
        self.recommender = Arc::new(RecommenderSlot {
            served: Mutex::default(),
            run: Mutex::new(Some(dir)),
        });
        self
    }

    /// From the next request on, recommends with the SASRec run in `dir` (every clone of this
    /// engine does: they share the recommender).
    pub fn use_recommender_run(&self, dir: std::path::PathBuf) {
        let slot = &self.recommender;
        *slot.run.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir);
        *slot.served.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether the recommender serves the run in `dir`.
    pub(crate) fn serving_run(&self, dir: &std::path::Path) -> bool {
        let run = self
            .recommender
            .run
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        run.as_deref() == Some(dir)
    }

    fn recommender_run(&self) -> Option<std::path::PathBuf> {
        self.recommender
            .run
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The fitted recommender, fitting it on first use.
    fn recommender(&self) -> Result<Arc<Served>> {
        let slot = &self.recommender;
        let mut served = slot.served.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(served) = served.as_ref() {
            return Ok(served.clone());
        }
        let fitted = Arc::new(Served::fit(
            self.store(),
            self.recommender_run().as_deref(),
        )?);
        *served = Some(fitted.clone());
        Ok(fitted)
    }

    /// Fits the recommender again on every event now stored (new products become
    /// recommendable); returns the number of events it was fitted on.
    pub fn refit_recommender(&self) -> Result<usize> {
        let slot = &self.recommender;
        let fitted = Arc::new(Served::fit(
            self.store(),
            self.recommender_run().as_deref(),
        )?);
        let events = fitted.events;
        *slot.served.lock().unwrap_or_else(|e| e.into_inner()) = Some(fitted);
        Ok(events)
    }

    /// The `k` best products for `shopper` (1 to `MAX_K`); `NotFound` for a shopper never seen.
    /// With `explain`, each carries a sentence on why (see `Explanation`): the language
    /// model's when it has one and the sentence passes the check, else the template's.
    pub fn recommend(&self, shopper: &str, k: usize, explain: bool) -> Result<Recommendations> {
        if !(1..=MAX_K).contains(&k) {
            return Err(CoreError::invalid("k", format!("must be between 1 and {MAX_K}")).into());
        }
        if !self.store().shopper_exists(shopper)? {
            return Err(CoreError::NotFound {
                kind: "shopper",
                id: shopper.to_owned(),
            }
            .into());
        }
        let page = self.store().list_events(&EventQuery {
            shopper: Some(shopper.to_owned()),
            limit: HISTORY_EVENTS.min(MAX_PAGE),
            ..EventQuery::default()
        })?;
        // Newest first from the store; the model reads oldest first.
        let events: Vec<_> = page
            .items
            .into_iter()
            .rev()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::View | EventKind::Cart | EventKind::Purchase
                )
            })
            .collect();
        let purchased: HashSet<&str> = events
            .iter()
            .filter(|e| e.kind == EventKind::Purchase)
            .map(|e| e.product.as_str())
            .collect();
        let served = self.recommender()?;
        let width = served.data.n_items() + 1;
        // A trained run scores the items it was trained on; later ones only in popularity lists.
        let scored_width = served.scorer.n_items() + 1;
        let history: Vec<u32> = events
            .iter()
            .filter_map(|e| served.data.item_index(&e.product))
            .filter(|&i| (i as usize) < scored_width)
            .collect();
        let allowed = |i: u32| i != PAD && !purchased.contains(served.data.item_id(i));
        let (strategy, categories, scored) = if history.is_empty() {
            let recent: Vec<&str> = {
                let mut seen = HashSet::new();
                events
                    .iter()
                    .rev()
                    .map(|e| e.product.as_str())
                    .filter(|p| seen.insert(*p))
                    .take(RECENT_PRODUCTS)
                    .collect()
            };
            let categories = self.categories_of(&recent)?;
            let in_categories = self.items_in_categories(&served, &categories)?;
            if in_categories.iter().any(|&i| allowed(i)) {
                let scored = top_k(
                    in_categories
                        .iter()
                        .map(|&i| (i, served.popularity.count(i))),
                    &allowed,
                    k,
                );
                (Strategy::PopularInCategories, categories, scored)
            } else {
                let scored = top_k(
                    (1..width as u32).map(|i| (i, served.popularity.count(i))),
                    &allowed,
                    k,
                );
                (Strategy::Popular, Vec::new(), scored)
            }
        } else {
            let mut scores = vec![0f32; scored_width];
            served.scorer.score(&[&history], &mut scores);
            let scored = top_k(
                scores.iter().enumerate().map(|(i, &s)| (i as u32, s)),
                &allowed,
                k,
            );
            (Strategy::Sequence, Vec::new(), scored)
        };
        let mut items = scored
            .iter()
            .map(|&(i, score)| self.describe(served.data.item_id(i), score))
            .collect::<Result<Vec<_>>>()?;
        if explain {
            let popular = match strategy {
                Strategy::Sequence => None,
                Strategy::PopularInCategories => Some(categories.as_slice()),
                Strategy::Popular => Some(&[][..]),
            };
            self.explain_items(&served, &events, &scored, &mut items, popular)?;
        }
        Ok(Recommendations {
            shopper: shopper.to_owned(),
            strategy,
            model: served.scorer.name().to_owned(),
            fitted_events: served.events,
            history_items_used: history.len(),
            categories,
            items,
        })
    }

    /// Adds an explanation to each item: the facts linking it to the shopper's history, phrased
    /// by the language model when it passes the check, else by the template.
    fn explain_items(
        &self,
        served: &Served,
        events: &[vitrine_core::Event],
        scored: &[(u32, f32)],
        items: &mut [Recommended],
        popular: Option<&[String]>,
    ) -> Result<()> {
        // The shopper's products, newest first, each with the strongest thing done with it.
        let mut order: Vec<&str> = Vec::new();
        let mut did: std::collections::HashMap<&str, EventKind> = Default::default();
        for e in events.iter().rev() {
            let kind = did.entry(e.product.as_str()).or_insert_with(|| {
                order.push(e.product.as_str());
                e.kind
            });
            if strength(e.kind) > strength(*kind) {
                *kind = e.kind;
            }
        }
        let mut anchors = Vec::new();
        for product in order {
            if anchors.len() == ANCHOR_CANDIDATES {
                break;
            }
            if let Some(p) = self.catalog_product(product)? {
                anchors.push(Anchor {
                    product: p.id,
                    item: served.data.item_index(product),
                    title: p.title,
                    brand: p.brand,
                    category: p.category,
                    did: did[product],
                });
            }
        }
        let together = |a: u32, b: u32| served.together.count(a, b);
        let bases: Vec<_> = items
            .iter()
            .zip(scored)
            .map(|(item, &(i, _))| {
                let target = Target {
                    product: &item.product,
                    item: Some(i),
                    title: item.title.as_deref(),
                    brand: item.brand.as_deref(),
                    category: item.category.as_deref(),
                };
                basis(&target, &anchors, &together, popular)
            })
            .collect();
        let generator = self.generator();
        let extractor = self.extractor()?;
        let explained = explain(&bases, generator.as_deref(), &extractor, 0);
        for (item, explanation) in items.iter_mut().zip(explained) {
            item.explanation = Some(explanation);
        }
        Ok(())
    }

    /// Distinct categories of the products, in order; products not in the catalog are skipped.
    fn categories_of(&self, products: &[&str]) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for id in products {
            let category = self.catalog_product(id)?.and_then(|p| p.category);
            if let Some(c) = category.filter(|c| !out.contains(c)) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Model items whose product is in one of the categories (first `MAX_PAGE` per category).
    fn items_in_categories(&self, served: &Served, categories: &[String]) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for c in categories {
            let page = self.store().list_products(&ProductQuery {
                category: Some(c.clone()),
                limit: MAX_PAGE,
                ..ProductQuery::default()
            })?;
            out.extend(
                page.items
                    .iter()
                    .filter_map(|p| served.data.item_index(&p.id)),
            );
        }
        Ok(out)
    }

    fn describe(&self, product: &str, score: f32) -> Result<Recommended> {
        let found = self.catalog_product(product)?;
        Ok(Recommended {
            product: product.to_owned(),
            score,
            title: found.as_ref().map(|p| p.title.clone()),
            brand: found.as_ref().and_then(|p| p.brand.clone()),
            category: found.and_then(|p| p.category),
            explanation: None,
        })
    }

    /// The catalog's record of a product events mention, or `None`: behaviour data may name
    /// products the catalog does not hold (or no longer).
    fn catalog_product(&self, id: &str) -> Result<Option<vitrine_core::Product>> {
        match self.store().get_product(id) {
            Ok(p) => Ok(Some(p)),
            Err(CoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The `k` best allowed `(item, score)` pairs, best first (ties by item index).
fn top_k(
    scored: impl Iterator<Item = (u32, f32)>,
    allowed: &impl Fn(u32) -> bool,
    k: usize,
) -> Vec<(u32, f32)> {
    let mut all: Vec<(u32, f32)> = scored.filter(|&(i, _)| allowed(i)).collect();
    let better = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if all.len() > k {
        all.select_nth_unstable_by(k - 1, better);
        all.truncate(k);
    }
    all.sort_by(better);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_best_first_and_skips_what_is_not_allowed() {
        let scored = [(1, 0.5), (2, 0.9), (3, 0.9), (4, 0.1), (5, 2.0)];
        let top = top_k(scored.into_iter(), &|i| i != 5, 3);
        assert_eq!(top, vec![(2, 0.9), (3, 0.9), (1, 0.5)]);
        assert_eq!(top_k(scored.into_iter(), &|_| true, 10).len(), 5);
    }
}
