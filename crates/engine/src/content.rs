//! Generated content on the engine: descriptions and ad creatives written for a product and
//! stored as drafts with their provenance, the review of drafts (approve, edit, reject), and
//! what shoppers see (approved text only).

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use rand::RngCore;
use serde::Serialize;
use serde_json::{Value, json};
use vitrine_content::{
    AD_PROMPT_VERSION, AdOptions, Channel, Counting, DEFAULT_EXAMPLES, DESCRIPTION_PROMPT_VERSION,
    DescriptionOptions, EXAMPLE_CHARS, Example, Extractor, Facts, Field, Grounding, Report,
    Verifier, description_messages, similar,
};
use vitrine_core::{
    ContentKind, Decision, Draft, DraftNew, DraftQuery, DraftStatus, Error as CoreError, Origin,
    Page, Product, ProductQuery, Prompt, Provenance, Review, TextGenerator, now_millis,
};

use crate::ads::{Refused, advertise, describe_claim};
use crate::copy::{CopySettings, describe};
use crate::{Engine, Error, Result};

/// Products of the same category (and of the same brand) looked at for examples.
const EXAMPLE_POOL: u32 = 200;
/// The longest note on a review.
const MAX_NOTE_CHARS: usize = 500;
/// The longest text a person may write into a draft.
const MAX_EDIT_CHARS: usize = 5_000;

/// What a generation request stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Generated {
    /// The drafts, one per variant that succeeded.
    pub drafts: Vec<Draft>,
    /// Variants asked for.
    pub requested: u32,
    /// Why variants are missing, if any are.
    pub failures: Vec<String>,
}

/// The claims extractor of the catalog: its brands and the merchant's banned phrases. Built
/// once and rebuilt when the catalog's product count changes.
#[derive(Debug, Default)]
pub(crate) struct ExtractorCache {
    built: RwLock<Option<(u64, Arc<Extractor>)>>,
}

impl Engine {
    /// The extractor for the current catalog.
    pub(crate) fn extractor(&self) -> Result<Arc<Extractor>> {
        let products = self.store().stats()?.products;
        if let Ok(guard) = self.extractors.built.read()
            && let Some((count, extractor)) = guard.as_ref()
            && *count == products
        {
            return Ok(extractor.clone());
        }
        let mut brands = BTreeSet::new();
        self.each_product(|p| brands.extend(p.brand))?;
        let extractor = Arc::new(Extractor::new(brands, self.banned_phrases.iter().cloned()));
        if let Ok(mut guard) = self.extractors.built.write() {
            *guard = Some((products, extractor.clone()));
        }
        Ok(extractor)
    }

    fn model(&self) -> Result<Arc<dyn TextGenerator>> {
        self.generator().ok_or(Error::NoModel)
    }

    /// Few-shot examples for `product`: the merchant's descriptions of similar products.
    fn examples(&self, product: &Product) -> Result<Vec<Example>> {
        let mut pool: Vec<Product> = Vec::new();
        for query in [
            ProductQuery {
                category: product.category.clone(),
                limit: EXAMPLE_POOL,
                ..ProductQuery::default()
            },
            ProductQuery {
                brand: product.brand.clone(),
                limit: EXAMPLE_POOL,
                ..ProductQuery::default()
            },
        ] {
            if query.category.is_none() && query.brand.is_none() {
                continue;
            }
            pool.extend(self.store().list_products(&query)?.items);
        }
        // Approved generated descriptions count as the merchant's own.
        let approved = self.store().list_drafts(&DraftQuery {
            kind: Some(ContentKind::Description),
            status: Some(DraftStatus::Approved),
            limit: 50,
            ..DraftQuery::default()
        })?;
        for draft in approved.items {
            if let (Ok(mut p), Some(text)) = (
                self.store().get_product(&draft.product_id),
                draft.content["text"].as_str(),
            ) {
                p.description = Some(text.to_owned());
                pool.push(p);
            }
        }
        pool.sort_by(|a, b| a.id.cmp(&b.id));
        pool.dedup_by(|a, b| a.id == b.id);
        Ok(similar(product, &pool, DEFAULT_EXAMPLES)
            .into_iter()
            .filter_map(|p| Example::from_product(p, EXAMPLE_CHARS))
            .collect())
    }

    /// Writes description drafts for `product` without storing them (a job stores them with
    /// its item). Variants that fail are described in the second list.
    pub(crate) fn write_descriptions(
        &self,
        product: &Product,
        options: &DescriptionOptions,
        actor: &str,
        job: Option<&str>,
    ) -> Result<(Vec<DraftNew>, Vec<String>)> {
        options.validate().map_err(content_error)?;
        let facts =
            Facts::from_product(product, Grounding::WithDescription).map_err(content_error)?;
        let generator = self.model()?;
        let extractor = self.extractor()?;
        let mut examples = self.examples(product)?;
        // Fewer examples rather than a prompt the model's context cannot hold with its answer.
        let context = generator.info().context_length;
        while !examples.is_empty() {
            let prompt = Prompt::Chat(description_messages(&facts, options, &examples));
            match generator.count_tokens(&prompt) {
                Ok(n) if n + options.length.max_tokens() > context => {
                    examples.pop();
                }
                _ => break,
            }
        }
        let seed = options.seed.unwrap_or_else(|| rand::rng().next_u64() >> 11);
        let settings = CopySettings::default();
        let model = generator.info().model;
        let results = describe(
            generator.as_ref(),
            &extractor,
            &facts,
            &examples,
            options,
            seed,
            &settings,
        );
        let mut drafts = Vec::new();
        let mut failures = Vec::new();
        let mut last_error = None;
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(d) if d.text.trim().is_empty() => failures.push(format!(
                    "variant {i}: nothing was left after taking out unsupported claims"
                )),
                Ok(d) => drafts.push(DraftNew {
                    id: new_id("drf"),
                    product_id: product.id.clone(),
                    kind: ContentKind::Description,
                    origin: Origin::Model,
                    parent: None,
                    content: json!({ "text": d.text }),
                    verification: json!({
                        "claims": d.report.claims,
                        "found": d.report.found(),
                        "supported": d.report.supported(),
                        "removed": d.removed,
                        "closing_sentence_states": d.completed,
                        "raw": d.raw,
                        "raw_unsupported": d.raw_report.unsupported().map(describe_claim).collect::<Vec<_>>(),
                    }),
                    provenance: Provenance {
                        model: Some(model.clone()),
                        prompt_version: Some(DESCRIPTION_PROMPT_VERSION.into()),
                        seed: Some(d.seed),
                        settings: json!({
                            "options": options,
                            "temperature": settings.temperature,
                            "steered": settings.steer,
                            "examples": examples.len(),
                            "completion_tokens": d.completion_tokens,
                            "elapsed_ms": d.elapsed.as_millis() as u64,
                        }),
                        attempts: Some(d.attempts),
                        actor: Some(actor.to_owned()),
                        job: job.map(str::to_owned),
                    },
                    created_at: now_millis(),
                }),
                Err(e) => {
                    failures.push(format!("variant {i}: {e}"));
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if drafts.is_empty() => Err(e.into()),
            _ => Ok((drafts, failures)),
        }
    }

    /// Generates description variants for a product and stores them as drafts.
    pub fn generate_descriptions(
        &self,
        product_id: &str,
        options: &DescriptionOptions,
        actor: &str,
    ) -> Result<Generated> {
        let product = self.product(product_id)?;
        let (drafts, failures) = self.write_descriptions(&product, options, actor, None)?;
        self.store_generated(&drafts, options.variants, failures)
    }

    /// Generates ad creatives (or SEO tags) for a product and stores them as drafts.
    pub fn generate_ads(
        &self,
        product_id: &str,
        options: &AdOptions,
        actor: &str,
    ) -> Result<Generated> {
        options.validate().map_err(content_error)?;
        let product = self.product(product_id)?;
        let facts =
            Facts::from_product(&product, Grounding::WithDescription).map_err(content_error)?;
        let generator = self.model()?;
        let extractor = self.extractor()?;
        let seed = options.seed.unwrap_or_else(|| rand::rng().next_u64() >> 11);
        let settings = CopySettings::default();
        let outcome = advertise(
            generator.as_ref(),
            &extractor,
            &facts,
            &product,
            options,
            seed,
            &settings,
        )?;
        let model = generator.info().model;
        let refused: Vec<&Refused> = outcome.refused.iter().collect();
        let drafts: Vec<DraftNew> = outcome
            .creatives
            .iter()
            .map(|ad| DraftNew {
                id: new_id("drf"),
                product_id: product.id.clone(),
                kind: kind_of(options.channel),
                origin: Origin::Model,
                parent: None,
                content: ad.creative.to_json(),
                verification: json!({
                    "claims": ad.report.claims,
                    "found": ad.report.found(),
                    "supported": ad.report.supported(),
                    "within_limits": ad.creative.within_limits(),
                    "sources": ad.creative.fields.iter().map(|(name, items)| {
                        (name.clone(), items.iter().map(|c| c.source).collect::<Vec<_>>())
                    }).collect::<std::collections::BTreeMap<_, _>>(),
                    "refused": refused,
                }),
                provenance: Provenance {
                    model: Some(model.clone()),
                    prompt_version: Some(AD_PROMPT_VERSION.into()),
                    seed: Some(outcome.seed),
                    settings: json!({
                        "options": options,
                        "temperature": settings.temperature,
                        "steered": settings.steer,
                        "completion_tokens": outcome.completion_tokens,
                        "elapsed_ms": outcome.elapsed.as_millis() as u64,
                    }),
                    attempts: Some(1),
                    actor: Some(actor.to_owned()),
                    job: None,
                },
                created_at: now_millis(),
            })
            .collect();
        let mut failures = Vec::new();
        if drafts.len() < options.variants as usize {
            failures.push(format!(
                "{} of {} creatives: the checked candidates ran out ({} model texts refused)",
                drafts.len(),
                options.variants,
                outcome.refused.len()
            ));
        }
        self.store_generated(&drafts, options.variants, failures)
    }

    /// Stores a request's drafts in one transaction.
    fn store_generated(
        &self,
        drafts: &[DraftNew],
        requested: u32,
        failures: Vec<String>,
    ) -> Result<Generated> {
        let drafts = if drafts.is_empty() {
            Vec::new()
        } else {
            self.store().insert_drafts(drafts)?
        };
        Ok(Generated {
            drafts,
            requested,
            failures,
        })
    }

    // ---- review -----------------------------------------------------------------------------

    /// A filtered page of drafts, newest first.
    pub fn drafts(&self, query: &DraftQuery) -> Result<Page<Draft>> {
        crate::engine::check_limit(query.limit)?;
        Ok(self.store().list_drafts(query)?)
    }

    /// One draft.
    pub fn draft(&self, id: &str) -> Result<Draft> {
        Ok(self.store().get_draft(id)?)
    }

    /// Approves or rejects a draft; approving publishes it in place of the product's earlier
    /// approved text of the same kind.
    pub fn review_draft(
        &self,
        id: &str,
        status: DraftStatus,
        actor: &str,
        note: Option<String>,
    ) -> Result<Draft> {
        if !matches!(status, DraftStatus::Approved | DraftStatus::Rejected) {
            return Err(CoreError::invalid("status", "must be approved or rejected").into());
        }
        let note = check_note(note)?;
        Ok(self.store().review_draft(
            id,
            &Decision {
                status,
                review: Review {
                    by: actor.to_owned(),
                    note,
                    at: now_millis(),
                },
            },
        )?)
    }

    /// A person's edit of a draft: stored as a new draft (origin `human`, parent the edited
    /// one), its claims checked and reported but not removed (a person answers for their
    /// words). With `approve`, it is approved at once.
    pub fn edit_draft(
        &self,
        id: &str,
        content: Value,
        actor: &str,
        note: Option<String>,
        approve: bool,
    ) -> Result<Draft> {
        let parent = self.store().get_draft(id)?;
        let product = self.product(&parent.product_id)?;
        let content = check_content(parent.kind, content)?;
        let texts = content_texts(&content);
        let report = match Facts::from_product(&product, Grounding::WithDescription) {
            Ok(facts) => {
                let extractor = self.extractor()?;
                let verifier = Verifier::new(&facts, &extractor);
                Report {
                    claims: texts
                        .iter()
                        .flat_map(|t| verifier.check(t).claims)
                        .collect(),
                }
            }
            Err(_) => Report { claims: Vec::new() },
        };
        let note = check_note(note)?;
        let draft = DraftNew {
            id: new_id("drf"),
            product_id: parent.product_id.clone(),
            kind: parent.kind,
            origin: Origin::Human,
            parent: Some(parent.id.clone()),
            content,
            verification: json!({
                "claims": report.claims,
                "found": report.found(),
                "supported": report.supported(),
                "unsupported": report.unsupported().map(describe_claim).collect::<Vec<_>>(),
            }),
            provenance: Provenance {
                settings: json!({ "note": note }),
                actor: Some(actor.to_owned()),
                ..Provenance::default()
            },
            created_at: now_millis(),
        };
        let stored = self
            .store()
            .insert_drafts(std::slice::from_ref(&draft))?
            .pop()
            .ok_or_else(|| CoreError::Storage("the store returned no draft".into()))?;
        if approve {
            return self.review_draft(&stored.id, DraftStatus::Approved, actor, None);
        }
        Ok(stored)
    }

    /// The approved content of a product, by kind: the only generated text shoppers see.
    pub fn published(&self, product_id: &str) -> Result<serde_json::Map<String, Value>> {
        Ok(self
            .store()
            .published(product_id)?
            .into_iter()
            .map(|d| (d.kind.as_str().to_owned(), d.content))
            .collect())
    }
}

/// The draft kind of a channel's creatives.
pub fn kind_of(channel: Channel) -> ContentKind {
    match channel {
        Channel::Search => ContentKind::Search,
        Channel::Social => ContentKind::Social,
        Channel::Sms => ContentKind::Sms,
        Channel::Push => ContentKind::Push,
        Channel::Email => ContentKind::Email,
        Channel::Seo => ContentKind::Seo,
    }
}

fn channel_of(kind: ContentKind) -> Option<Channel> {
    match kind {
        ContentKind::Description => None,
        ContentKind::Search => Some(Channel::Search),
        ContentKind::Social => Some(Channel::Social),
        ContentKind::Sms => Some(Channel::Sms),
        ContentKind::Push => Some(Channel::Push),
        ContentKind::Email => Some(Channel::Email),
        ContentKind::Seo => Some(Channel::Seo),
    }
}

/// Checks a person's content against its kind's shape and its channel's limits.
fn check_content(kind: ContentKind, content: Value) -> Result<Value> {
    let Value::Object(map) = &content else {
        return Err(CoreError::invalid("content", "must be a JSON object").into());
    };
    // A description is one text of up to MAX_EDIT_CHARS; a creative has its channel's fields.
    let fields: Vec<Field> = match channel_of(kind) {
        None => vec![Field {
            name: "text",
            max: MAX_EDIT_CHARS,
            min_items: 1,
            max_items: 1,
            counting: Counting::Chars,
        }],
        Some(channel) => channel.fields().to_vec(),
    };
    for key in map.keys() {
        if !fields.iter().any(|f| f.name == key) {
            return Err(CoreError::invalid(
                format!("content.{key}"),
                format!("is not a field of {kind} content"),
            )
            .into());
        }
    }
    for field in fields {
        let (min_items, max_items) = (field.min_items, field.max_items);
        let field_name = format!("content.{}", field.name);
        let texts: Vec<&str> = match map.get(field.name) {
            Some(Value::String(s)) if max_items == 1 => vec![s.as_str()],
            Some(Value::Array(items)) if max_items > 1 => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| CoreError::invalid(&field_name, "must hold strings only"))
                })
                .collect::<vitrine_core::Result<_>>()?,
            Some(_) if max_items == 1 => {
                return Err(CoreError::invalid(field_name, "must be a string").into());
            }
            Some(_) => {
                return Err(CoreError::invalid(field_name, "must be an array of strings").into());
            }
            None => return Err(CoreError::invalid(field_name, "is missing").into()),
        };
        if !(min_items..=max_items).contains(&texts.len()) {
            return Err(CoreError::invalid(
                field_name,
                format!("must hold {min_items} to {max_items} texts"),
            )
            .into());
        }
        for text in texts {
            if !field.fits(text) {
                let (length, limit) = field.measure(text);
                return Err(CoreError::invalid(
                    field_name,
                    format!("'{text}' is empty or over its limit ({length} of {limit})"),
                )
                .into());
            }
            if kind == ContentKind::Sms && !vitrine_content::has_opt_out(text) {
                return Err(CoreError::invalid(
                    field_name,
                    format!(
                        "an SMS must tell how to opt out (as \"{}\")",
                        vitrine_content::DEFAULT_OPT_OUT
                    ),
                )
                .into());
            }
        }
    }
    Ok(content)
}

fn content_texts(content: &Value) -> Vec<String> {
    match content {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(content_texts).collect(),
        Value::Object(map) => map.values().flat_map(content_texts).collect(),
        _ => Vec::new(),
    }
}

fn check_note(note: Option<String>) -> Result<Option<String>> {
    match note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > MAX_NOTE_CHARS => Err(CoreError::invalid(
            "note",
            format!("is longer than {MAX_NOTE_CHARS} characters"),
        )
        .into()),
        other => Ok(other),
    }
}

/// A content error as the domain's: both kinds are the caller's to fix (422).
pub(crate) fn content_error(e: vitrine_content::Error) -> Error {
    match e {
        vitrine_content::Error::InvalidOption { field, reason } => {
            CoreError::invalid(field, reason).into()
        }
        vitrine_content::Error::NothingToGround { .. } => {
            CoreError::invalid("product", e.to_string()).into()
        }
    }
}

/// A random id with a prefix: "drf_3f9c…" (80 random bits).
pub(crate) fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}
