//! Prompts for product descriptions: the options a merchant chooses, the fact sheet a model is
//! shown, and few-shot examples taken from the merchant's own descriptions of similar products
//! (never the product's own), so the style comes from the catalog and the facts from the record.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use vitrine_core::{ChatMessage, ChatRole, Product};

use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::token::phrase_key;

/// Recorded with every generated variant, so a text can be traced to the prompt that made it.
pub const DESCRIPTION_PROMPT_VERSION: &str = "description-v2";

/// The voice of the copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Plain and informative.
    #[default]
    Neutral,
    /// Light and upbeat.
    Playful,
    /// Refined and understated.
    Premium,
    /// Precise, specification first.
    Technical,
}

impl Tone {
    pub(crate) fn guidance(self) -> &'static str {
        match self {
            Self::Neutral => "Write in a clear, friendly, informative voice.",
            Self::Playful => "Write in a light, upbeat, playful voice.",
            Self::Premium => "Write in a refined, understated, premium voice.",
            Self::Technical => {
                "Write in a precise, technical voice that leads with the specifications."
            }
        }
    }
}

/// How long the copy is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Length {
    /// About 40 words.
    Short,
    /// About 90 words.
    #[default]
    Medium,
    /// About 160 words.
    Long,
}

impl Length {
    /// The target word count.
    pub fn words(self) -> usize {
        match self {
            Self::Short => 40,
            Self::Medium => 90,
            Self::Long => 160,
        }
    }

    /// A token budget with room to finish the last sentence (English runs about 1.3 tokens
    /// a word with SmolLM2's tokenizer).
    pub fn max_tokens(self) -> u32 {
        (self.words() as u32 * 2) + 32
    }

    /// The fewest tokens before the text may end: a third of the target in tokens. The
    /// bundled model follows its examples (the catalog's own descriptions, 18 words at the
    /// median on Myntra) and often stopped after a sentence, which cost a regeneration. Held to
    /// half the target or more, it drifted off the product into invented shops, prices per
    /// month and its own prompt, and ROUGE-L against the catalog's descriptions fell from 0.21
    /// to 0.14 (`vitrine eval copy`, 30 products).
    pub fn min_tokens(self) -> u32 {
        self.words() as u32 / 3
    }
}

/// What the merchant asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DescriptionOptions {
    /// Voice.
    #[serde(default)]
    pub tone: Tone,
    /// Length.
    #[serde(default)]
    pub length: Length,
    /// Who the copy speaks to ("students", "new parents"); a hint, not a fact.
    #[serde(default)]
    pub audience: Option<String>,
    /// How many variants, 1 to 8.
    #[serde(default = "one")]
    pub variants: u32,
    /// Seed of the first variant; variant `i` uses `seed + i`.
    #[serde(default)]
    pub seed: Option<u64>,
}

fn one() -> u32 {
    1
}

impl Default for DescriptionOptions {
    fn default() -> Self {
        Self {
            tone: Tone::default(),
            length: Length::default(),
            audience: None,
            variants: 1,
            seed: None,
        }
    }
}

/// The most variants one request may ask for.
pub const MAX_VARIANTS: u32 = 8;
/// The longest audience hint.
pub const MAX_AUDIENCE_CHARS: usize = 80;

impl DescriptionOptions {
    /// Checks the ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_VARIANTS).contains(&self.variants) {
            return Err(Error::InvalidOption {
                field: "variants",
                reason: format!("{} is out of range 1..={MAX_VARIANTS}", self.variants),
            });
        }
        if let Some(audience) = &self.audience {
            if audience.trim().is_empty() || audience.chars().count() > MAX_AUDIENCE_CHARS {
                return Err(Error::InvalidOption {
                    field: "audience",
                    reason: format!("must be 1 to {MAX_AUDIENCE_CHARS} characters"),
                });
            }
            if audience.chars().any(char::is_control) {
                return Err(Error::InvalidOption {
                    field: "audience",
                    reason: "must be one line of text".into(),
                });
            }
        }
        Ok(())
    }
}

/// The facts as a model reads them, one per line: "Brand: SPYKAR".
pub fn fact_sheet(facts: &Facts) -> String {
    let mut lines = Vec::new();
    for (name, text) in facts.texts() {
        lines.push(format!("{}: {}", label(name), text));
    }
    if let Some(price) = facts.price {
        lines.push(format!(
            "Price: {} {}",
            crate::token::format_number(price),
            facts.currency
        ));
    }
    lines.join("\n")
}

/// "attributes.primary_color" → "Primary color".
fn label(name: &str) -> String {
    let last = name
        .rsplit('.')
        .next()
        .unwrap_or(name)
        .replace(['_', '-'], " ");
    let mut chars = last.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => last,
    }
}

/// A description of another product, shown to the model as an example of the catalog's style.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// That product's fact sheet.
    pub facts: String,
    /// Its approved or human-written description.
    pub description: String,
}

impl Example {
    /// `product` as an example: its facts without its description (the model sees facts turned
    /// into prose, not prose to copy), then the first whole sentences of its description up to
    /// `max_chars`. Sentences run together in scraped catalog text ("detailSynthetic upper")
    /// are separated first: a model shown run-ons writes them too. `None` without a
    /// description.
    pub fn from_product(product: &Product, max_chars: usize) -> Option<Self> {
        let facts = Facts::from_product(product, crate::Grounding::AttributesOnly).ok()?;
        let text = product.description.as_deref()?.trim();
        if text.is_empty() {
            return None;
        }
        let text = crate::token::split_run_ons(text, &facts.own_words());
        let description = if text.chars().count() <= max_chars {
            text
        } else {
            let clipped: String = text.chars().take(max_chars).collect();
            match clipped.rfind(['.', '!', '?']) {
                Some(end) if end > 40 => clipped[..=end].to_owned(),
                _ => clipped
                    .rsplit_once(' ')
                    .map_or(clipped.as_str(), |(a, _)| a)
                    .to_owned(),
            }
        };
        Some(Self {
            facts: fact_sheet(&facts),
            description,
        })
    }
}

/// The `k` candidates most like `target` that have a description: same category first, then
/// same brand, then shared title words. The target itself is never its own example.
pub fn similar<'a>(target: &Product, candidates: &'a [Product], k: usize) -> Vec<&'a Product> {
    ExampleIndex::new(candidates).similar(target, k)
}

/// A catalog's products with descriptions, their title words computed once, for choosing
/// few-shot examples for many products.
#[derive(Debug)]
pub struct ExampleIndex<'a> {
    products: Vec<(&'a Product, HashSet<String>)>,
}

impl<'a> ExampleIndex<'a> {
    /// Indexes the products of `catalog` that have a description.
    pub fn new(catalog: &'a [Product]) -> Self {
        Self {
            products: catalog
                .iter()
                .filter(|c| {
                    c.description
                        .as_deref()
                        .is_some_and(|d| !d.trim().is_empty())
                })
                .map(|c| (c, title_words(c)))
                .collect(),
        }
    }

    /// The `k` products most like `target` (see [`similar`]).
    pub fn similar(&self, target: &Product, k: usize) -> Vec<&'a Product> {
        let target_words = title_words(target);
        let same = |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
        let mut scored: Vec<(f64, &'a Product)> = self
            .products
            .iter()
            .filter(|(c, _)| c.id != target.id)
            .map(|(c, w)| {
                let union = target_words.union(w).count().max(1);
                let overlap = target_words.intersection(w).count() as f64 / union as f64;
                let score = overlap
                    + if same(&c.category, &target.category) {
                        2.0
                    } else {
                        0.0
                    }
                    + if same(&c.brand, &target.brand) {
                        1.0
                    } else {
                        0.0
                    };
                (score, *c)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        scored.into_iter().take(k).map(|(_, c)| c).collect()
    }
}

fn title_words(p: &Product) -> HashSet<String> {
    phrase_key(&p.title).into_iter().collect()
}

/// How a description begins: the product's own title, which the model continues (a prefill).
/// The title names the brand, the audience, the colour and the kind of product in the
/// merchant's words, so they come first, where shoppers and search engines read, and are never
/// left out. Measured on 40 Myntra products before this lead, the model's own openings named
/// the brand in 50% of descriptions and the audience in 48%.
pub fn description_lead(facts: &Facts) -> String {
    facts.title().trim().to_owned()
}

/// Few-shot examples shown per description.
pub const DEFAULT_EXAMPLES: usize = 2;
/// The longest example description shown, in characters (whole sentences).
pub const EXAMPLE_CHARS: usize = 600;

/// The chat for one description: rules, the examples as earlier turns, then the product.
pub fn description_messages(
    facts: &Facts,
    options: &DescriptionOptions,
    examples: &[Example],
) -> Vec<ChatMessage> {
    let audience = options
        .audience
        .as_deref()
        .map(|a| format!(" Speak to this audience: {}.", a.trim()))
        .unwrap_or_default();
    let system = format!(
        "You write product descriptions for an online store. Use only the facts you are given. \
         Never mention a colour, material, size, number, price, discount, certification, \
         guarantee, brand or feature that is not in the facts. {} Write about {} words in \
         plain prose, no lists, no headings.{audience}",
        options.tone.guidance(),
        options.length.words(),
    );
    let ask = |sheet: &str| format!("Facts:\n{sheet}\n\nWrite the product description.");
    let mut messages = vec![ChatMessage::new(ChatRole::System, system)];
    for example in examples {
        messages.push(ChatMessage::new(ChatRole::User, ask(&example.facts)));
        messages.push(ChatMessage::new(
            ChatRole::Assistant,
            example.description.trim().to_owned(),
        ));
    }
    messages.push(ChatMessage::new(ChatRole::User, ask(&fact_sheet(facts))));
    messages
}
