//! `vitrine eval copy`: descriptions generated from a product's attributes (title, brand,
//! gender, colour, price), without its human description, measured three ways on a sample of a
//! real catalog: a plain prompt ("use only these facts"), grounded generation before
//! verification (few-shot examples from similar products, steered sampling), and the verified
//! result. Unsupported claims, attribute coverage, ROUGE-L against the human text, degenerate
//! repetition, distinct-2 across variants, and time per item.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use vitrine_content::{
    AdOptions, Borrowed, Channel, DESCRIPTION_PROMPT_VERSION, DescriptionOptions, EXAMPLE_CHARS,
    Example, ExampleIndex, Extractor, Facts, Grounding, Names, Source, Verifier, coverage,
    distinct_n, fact_sheet, repeated_ngram, rouge_l,
};
use vitrine_core::{
    ChatMessage, ChatRole, GenerationRequest, Product, Sampling, TextGenerator, generate,
};

pub use vitrine_content::Length;

use crate::ads::advertise;
use crate::copy::{CopySettings, describe, whole_sentences};
use crate::import::read_products;
use crate::{Error, Result};

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct CopyEvalConfig {
    /// The catalog (Myntra CSV, or any format the importer reads).
    pub catalog: PathBuf,
    /// Products sampled.
    pub sample: usize,
    /// Seed of the sample and of the generations.
    pub seed: u64,
    /// Description length.
    pub length: Length,
    /// Grounded variants per product (2 or more gives distinct-2).
    pub variants: u32,
    /// Products generated at once (the model batches their requests).
    pub workers: usize,
    /// Few-shot examples per prompt.
    pub examples: usize,
    /// How many of the sampled products also get ad copy on every channel (two creatives
    /// each), measured for channel-limit compliance.
    pub ads: usize,
}

/// Attributes the evaluation keeps: the title, brand, gender, colour and price.
const EVAL_ATTRIBUTES: &[&str] = &["gender", "primary_color"];

/// Per-product measurements of one method.
#[derive(Debug, Default, Clone)]
struct Scores {
    texts: usize,
    with_unsupported: usize,
    unsupported_claims: usize,
    claims: usize,
    repetitive: usize,
    rouge_l: f64,
    coverage: f64,
    /// Per attribute: (texts that mention it, texts whose product has it).
    mentions: std::collections::BTreeMap<String, (usize, usize)>,
    words: f64,
    empty: usize,
    /// Texts with a detail found in an example's description and not in the record.
    borrowing: usize,
    /// Texts that name something (a shop, a place, a web address) the record does not.
    naming: usize,
    /// Unsupported claims by kind.
    unsupported_kinds: std::collections::BTreeMap<&'static str, usize>,
    /// Unsupported claims by kind and words, lower-cased.
    unsupported_words: std::collections::BTreeMap<String, usize>,
}

impl Scores {
    fn add(
        &mut self,
        text: &str,
        verifier: &Verifier<'_>,
        borrowed: &Borrowed,
        names: &Names,
        human: &str,
        attrs: &[(String, String)],
    ) {
        let report = verifier.check(text);
        self.texts += 1;
        self.claims += report.found();
        let unsupported = report.found() - report.supported();
        for claim in report.unsupported() {
            *self
                .unsupported_kinds
                .entry(claim.claim.kind.as_str())
                .or_default() += 1;
            let words = format!(
                "{}: {}",
                claim.claim.kind.as_str(),
                claim.claim.text.to_lowercase()
            );
            *self.unsupported_words.entry(words).or_default() += 1;
        }
        self.unsupported_claims += unsupported;
        self.with_unsupported += usize::from(unsupported > 0);
        self.repetitive += usize::from(repeated_ngram(text, 4, 3).is_some());
        self.rouge_l += rouge_l(text, human);
        let covered = coverage(text, attrs);
        self.coverage += covered.ratio();
        for (name, _) in attrs {
            let entry = self.mentions.entry(name.clone()).or_default();
            entry.0 += usize::from(!covered.missing.contains(name));
            entry.1 += 1;
        }
        self.words += text.split_whitespace().count() as f64;
        self.empty += usize::from(text.trim().is_empty());
        self.borrowing += usize::from(!borrowed.remove(text).removed.is_empty());
        self.naming += usize::from(!names.remove(text).removed.is_empty());
    }

    fn merge(&mut self, o: &Scores) {
        self.texts += o.texts;
        self.with_unsupported += o.with_unsupported;
        self.unsupported_claims += o.unsupported_claims;
        self.claims += o.claims;
        self.repetitive += o.repetitive;
        self.rouge_l += o.rouge_l;
        self.coverage += o.coverage;
        for (name, (said, had)) in &o.mentions {
            let entry = self.mentions.entry(name.clone()).or_default();
            entry.0 += said;
            entry.1 += had;
        }
        self.words += o.words;
        self.empty += o.empty;
        self.borrowing += o.borrowing;
        self.naming += o.naming;
        for (kind, n) in &o.unsupported_kinds {
            *self.unsupported_kinds.entry(kind).or_default() += n;
        }
        for (words, n) in &o.unsupported_words {
            *self.unsupported_words.entry(words.clone()).or_default() += n;
        }
    }

    /// The `k` most frequent unsupported claims, as ["kind: words", count].
    fn most_frequent_unsupported(&self, k: usize) -> Vec<Value> {
        let mut top: Vec<(&String, &usize)> = self.unsupported_words.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        top.into_iter()
            .take(k)
            .map(|(w, n)| json!([w, n]))
            .collect()
    }

    fn json(&self) -> Value {
        let n = self.texts.max(1) as f64;
        json!({
            "texts": self.texts,
            "unsupported_claim_rate": self.with_unsupported as f64 / n,
            "texts_with_unsupported_claims": self.with_unsupported,
            "unsupported_claims": self.unsupported_claims,
            "claims_found": self.claims,
            "degenerate_repetition_rate": self.repetitive as f64 / n,
            "rouge_l": self.rouge_l / n,
            "attribute_coverage": self.coverage / n,
            "attribute_mentioned_share": self
                .mentions
                .iter()
                .map(|(name, (said, had))| (name.clone(), json!(*said as f64 / (*had).max(1) as f64)))
                .collect::<serde_json::Map<_, _>>(),
            "mean_words": self.words / n,
            "empty_texts": self.empty,
            "texts_with_borrowed_details": self.borrowing,
            "texts_with_invented_names": self.naming,
            "unsupported_by_kind": self.unsupported_kinds,
            "most_frequent_unsupported": self.most_frequent_unsupported(20),
        })
    }
}

/// Ad creatives of one channel.
#[derive(Debug, Default, Clone)]
struct AdScores {
    /// Products asked for creatives.
    products: usize,
    creatives: usize,
    /// Creatives with every text within its limit and every field's count of texts.
    within_limits: usize,
    /// Creatives with a text holding a claim the record does not support.
    unsupported: usize,
    /// Texts in all, and texts a model wrote (the rest are the record's own phrases).
    texts: usize,
    model_texts: usize,
    /// Requests that failed.
    failed: usize,
}

impl AdScores {
    fn merge(&mut self, o: &AdScores) {
        self.products += o.products;
        self.creatives += o.creatives;
        self.within_limits += o.within_limits;
        self.unsupported += o.unsupported;
        self.texts += o.texts;
        self.model_texts += o.model_texts;
        self.failed += o.failed;
    }

    fn json(&self) -> Value {
        json!({
            "products": self.products,
            "creatives": self.creatives,
            "within_limits": self.within_limits,
            "compliance": self.within_limits as f64 / self.creatives.max(1) as f64,
            "with_unsupported_claims": self.unsupported,
            "texts": self.texts,
            "model_written_texts": self.model_texts,
            "failed_requests": self.failed,
        })
    }
}

/// Creatives asked per channel in the evaluation.
const AD_VARIANTS: u32 = 2;

/// What one product gave.
#[derive(Debug, Default)]
struct ItemResult {
    plain: Scores,
    grounded_raw: Scores,
    verified: Scores,
    distinct_2: Option<f64>,
    plain_time: Duration,
    grounded_time: Duration,
    attempts: u32,
    /// Ad creatives per channel.
    ads: std::collections::BTreeMap<&'static str, AdScores>,
    /// Variants closed with a sentence of key facts, and which facts.
    completed: usize,
    completed_facts: std::collections::BTreeMap<String, usize>,
    failed: Option<String>,
    sample: Option<Value>,
}

/// Runs the evaluation; `progress(done, total)` after each product.
pub fn eval_copy(
    generator: &dyn TextGenerator,
    config: &CopyEvalConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Value> {
    let (drafts, rejected) = read_products(&config.catalog, None, "USD")?;
    let catalog: Vec<Product> = drafts
        .into_iter()
        .map(|mut d| {
            d.attributes
                .retain(|k, _| EVAL_ATTRIBUTES.contains(&k.as_str()));
            Product::from_draft(d, 0, 0)
        })
        .collect();
    if catalog.is_empty() {
        return Err(Error::Format(format!(
            "{}: no products to evaluate on",
            config.catalog.display()
        )));
    }
    let extractor = Extractor::new(
        catalog
            .iter()
            .filter_map(|p| p.brand.clone())
            .collect::<std::collections::BTreeSet<_>>(),
        Vec::<String>::new(),
    );
    let mut order: Vec<usize> = (0..catalog.len())
        .filter(|&i| {
            catalog[i]
                .description
                .as_deref()
                .is_some_and(|d| !d.trim().is_empty())
        })
        .collect();
    order.shuffle(&mut StdRng::seed_from_u64(config.seed));
    order.truncate(config.sample.max(1));
    let total = order.len();

    let index = ExampleIndex::new(&catalog);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(total));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..config.workers.max(1) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let result =
                        evaluate_one(generator, &extractor, &catalog, &index, i, k, config);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(result);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                }
            });
        }
    });
    let wall = started.elapsed();
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());

    let (mut plain, mut raw, mut verified) =
        (Scores::default(), Scores::default(), Scores::default());
    let mut distinct = Vec::new();
    let (mut plain_s, mut grounded_s, mut attempts) = (0.0, 0.0, 0);
    let mut completed = 0;
    let mut completed_facts = std::collections::BTreeMap::<String, usize>::new();
    let mut ads = std::collections::BTreeMap::<&'static str, AdScores>::new();
    let mut failures = Vec::new();
    let mut samples = Vec::new();
    for r in &results {
        if let Some(f) = &r.failed {
            failures.push(f.clone());
            continue;
        }
        plain.merge(&r.plain);
        raw.merge(&r.grounded_raw);
        verified.merge(&r.verified);
        distinct.extend(r.distinct_2);
        plain_s += r.plain_time.as_secs_f64();
        grounded_s += r.grounded_time.as_secs_f64();
        attempts += r.attempts;
        completed += r.completed;
        for (channel, scores) in &r.ads {
            ads.entry(channel).or_default().merge(scores);
        }
        for (name, n) in &r.completed_facts {
            *completed_facts.entry(name.clone()).or_default() += n;
        }
        if let Some(s) = &r.sample
            && samples.len() < 5
        {
            samples.push(s.clone());
        }
    }
    let mut all_ads = AdScores::default();
    for scores in ads.values() {
        all_ads.merge(scores);
    }
    let ok = (results.len() - failures.len()).max(1) as f64;
    let variants = f64::from(config.variants.max(1));
    Ok(json!({
        "evaluation": "copy",
        "catalog": config.catalog.display().to_string(),
        "catalog_products": catalog.len(),
        "catalog_rows_rejected": rejected,
        "sample": total,
        "seed": config.seed,
        "length": format!("{:?}", config.length).to_lowercase(),
        "variants_per_product": config.variants,
        "prompt_version": DESCRIPTION_PROMPT_VERSION,
        "model": generator.info().model,
        "attributes_shown": ["title", "brand", "gender", "colour", "price"],
        "plain_prompt": plain.json(),
        "grounded_before_verification": raw.json(),
        "grounded_verified": verified.json(),
        "ads": {
            "creatives_per_channel": AD_VARIANTS,
            "all_channels": all_ads.json(),
            "per_channel": ads
                .iter()
                .map(|(channel, scores)| ((*channel).to_owned(), scores.json()))
                .collect::<serde_json::Map<_, _>>(),
        },
        "closing_sentence": {
            "texts": completed,
            "facts_stated": completed_facts,
            "note": "verified texts that left out a key fact close with one sentence stating it from the record",
        },
        "distinct_2_across_variants": (!distinct.is_empty())
            .then(|| distinct.iter().sum::<f64>() / distinct.len() as f64),
        "seconds_per_item": {
            "plain": plain_s / ok,
            "grounded_all_variants": grounded_s / ok,
            "note": "latency of one product's requests while `workers` products run at once",
        },
        "generation_attempts_per_variant": f64::from(attempts) / (ok * variants),
        "throughput_descriptions_per_minute": (ok * variants) / wall.as_secs_f64() * 60.0,
        "wall_seconds": wall.as_secs_f64(),
        "workers": config.workers,
        "failed_items": failures.len(),
        "failures": failures.iter().take(5).collect::<Vec<_>>(),
        "samples": samples,
    }))
}

fn evaluate_one(
    generator: &dyn TextGenerator,
    extractor: &Extractor,
    catalog: &[Product],
    index: &ExampleIndex<'_>,
    i: usize,
    k: usize,
    config: &CopyEvalConfig,
) -> ItemResult {
    let product = &catalog[i];
    let mut out = ItemResult::default();
    let facts = match Facts::from_product(product, Grounding::AttributesOnly) {
        Ok(f) => f,
        Err(e) => {
            out.failed = Some(format!("{}: {e}", product.id));
            return out;
        }
    };
    let human = product.description.clone().unwrap_or_default();
    let verifier = Verifier::new(&facts, extractor);
    let attrs: Vec<(String, String)> = [
        ("brand", product.brand.clone()),
        ("gender", text_attr(product, "gender")),
        ("colour", text_attr(product, "primary_color")),
        (
            "price",
            Some(product.price.trim_end_matches(".00").to_owned()),
        ),
    ]
    .into_iter()
    .filter_map(|(n, v)| {
        v.filter(|v| !v.trim().is_empty())
            .map(|v| (n.to_owned(), v))
    })
    .collect();
    let seed = config
        .seed
        .wrapping_mul(1_000_003)
        .wrapping_add(k as u64 * 101);

    // The examples the grounded prompt shows, chosen first: every method is checked for details
    // borrowed from them.
    let examples: Vec<Example> = index
        .similar(product, config.examples)
        .into_iter()
        .filter_map(|p| Example::from_product(p, EXAMPLE_CHARS))
        .collect();
    let borrowed = Borrowed::new(&facts, examples.iter().map(|e| e.description.as_str()));
    let names = Names::new(&facts);

    // 1. The plain prompt, as a merchant would write it.
    let started = Instant::now();
    let mut plain = GenerationRequest::chat(vec![ChatMessage::new(
        ChatRole::User,
        format!(
            "Write a product description. Use only these facts.\n{}",
            fact_sheet(&facts)
        ),
    )]);
    plain.max_tokens = Some(config.length.max_tokens());
    plain.sampling = Sampling {
        temperature: 0.7,
        seed: Some(seed),
        ..Sampling::default()
    };
    let plain_text = match generate(generator, plain) {
        Ok(a) => whole_sentences(&a.text, a.finish_reason),
        Err(e) => {
            out.failed = Some(format!("{}: plain prompt: {e}", product.id));
            return out;
        }
    };
    out.plain_time = started.elapsed();
    out.plain
        .add(&plain_text, &verifier, &borrowed, &names, &human, &attrs);

    // 2. Grounded: steered, verified, with examples from similar products.
    let options = DescriptionOptions {
        length: config.length,
        variants: config.variants,
        ..DescriptionOptions::default()
    };
    let started = Instant::now();
    let mut finals = Vec::new();
    let variants = describe(
        generator,
        extractor,
        &facts,
        &examples,
        &options,
        seed.wrapping_add(1),
        &CopySettings::default(),
    );
    for variant in variants {
        match variant {
            Ok(d) => {
                // Before verification: the first generation, from the title, untouched by
                // any check (later attempts continue text that passed them).
                out.grounded_raw
                    .add(&d.raw, &verifier, &borrowed, &names, &human, &attrs);
                out.verified
                    .add(&d.text, &verifier, &borrowed, &names, &human, &attrs);
                out.attempts += d.attempts;
                out.completed += usize::from(!d.completed.is_empty());
                for name in &d.completed {
                    *out.completed_facts.entry(name.clone()).or_default() += 1;
                }
                if out.sample.is_none() && k < 5 {
                    out.sample = Some(json!({
                        "product": product.id,
                        "title": product.title,
                        "human": human,
                        "plain": plain_text,
                        "grounded_raw": d.raw,
                        "verified": d.text,
                        "removed": d.removed,
                    }));
                }
                finals.push(d.text);
            }
            Err(e) => {
                out.failed = Some(format!("{}: grounded: {e}", product.id));
                return out;
            }
        }
    }
    out.grounded_time = started.elapsed();
    if finals.len() >= 2 {
        out.distinct_2 = Some(distinct_n(&finals, 2));
    }

    // 3. Ad copy on every channel, for the first `ads` products.
    if k < config.ads {
        for channel in Channel::ALL {
            let scores = out.ads.entry(channel.as_str()).or_default();
            scores.products += 1;
            let options = AdOptions {
                variants: AD_VARIANTS,
                ..AdOptions::new(channel)
            };
            match advertise(
                generator,
                extractor,
                &facts,
                product,
                &options,
                seed.wrapping_add(2),
                &CopySettings::default(),
            ) {
                Ok(outcome) => {
                    for ad in &outcome.creatives {
                        scores.creatives += 1;
                        scores.within_limits += usize::from(ad.creative.within_limits());
                        let clean = ad
                            .creative
                            .texts()
                            .all(|text| verifier.check(text).is_clean());
                        scores.unsupported += usize::from(!clean);
                        for (_, items) in &ad.creative.fields {
                            scores.texts += items.len();
                            scores.model_texts +=
                                items.iter().filter(|c| c.source == Source::Model).count();
                        }
                    }
                }
                Err(_) => scores.failed += 1,
            }
        }
    }
    out
}

/// The share of `product`'s key facts (brand, audience, colour, price) that `text` mentions;
/// `None` for a record that cannot ground copy.
pub fn key_fact_coverage(product: &Product, text: &str) -> Option<f64> {
    let facts = Facts::from_product(product, Grounding::AttributesOnly).ok()?;
    Some(vitrine_content::key_fact_coverage(text, &facts).ratio())
}

fn text_attr(product: &Product, key: &str) -> Option<String> {
    product
        .attributes
        .get(key)?
        .as_str()
        .map(|s| s.trim().to_owned())
}
