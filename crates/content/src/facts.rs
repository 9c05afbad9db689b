//! What a product record states, as the claims checker needs it: every field and attribute as
//! text, and the same claims the extractor finds in copy (colours, materials, numbers, …) read
//! out of those texts, so that a claim in generated copy is supported only by a fact written
//! in the record.

use std::collections::HashMap;

use serde_json::Value;
use vitrine_core::Product;

use crate::claim::{ClaimKind, Detail, Extractor};
use crate::error::{Error, Result};
use crate::lexicon::{audience_covers, colour_families, number_word};
use crate::token::{Token, contains, phrase_key, tokenize, word_view};

/// Attribute names that hold a price before a discount.
const COMPARE_AT_KEYS: &[&str] = &[
    "compare_at_price",
    "compare_at",
    "mrp",
    "list_price",
    "original_price",
    "regular_price",
];

/// One field of the record as text.
#[derive(Debug, Clone)]
struct Source {
    name: String,
    text: String,
    tokens: Vec<Token>,
    view: Vec<usize>,
}

/// A number the record states.
#[derive(Debug, Clone)]
pub(crate) struct FactQuantity {
    pub(crate) value: f64,
    pub(crate) unit: Option<String>,
    pub(crate) source: String,
}

/// A product's facts.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The product id, for messages.
    pub product_id: String,
    sources: Vec<Source>,
    /// Lexicon terms stated, by kind and canonical name, with where.
    terms: HashMap<(ClaimKind, String), String>,
    pub(crate) quantities: Vec<FactQuantity>,
    /// Price in major units.
    pub(crate) price: Option<f64>,
    pub(crate) compare_at: Option<f64>,
    pub(crate) currency: String,
    /// The product's brand as a phrase key.
    pub(crate) brand: Option<Vec<String>>,
}

/// Which fields of a record may ground copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grounding {
    /// Title, brand, category, price, attributes and the merchant's own description.
    WithDescription,
    /// The same without the description: when generating a description from attributes alone
    /// (evaluation against the human-written one).
    AttributesOnly,
}

impl Facts {
    /// Reads `product`'s facts. A record with nothing beyond a title cannot ground copy:
    /// `Error::NothingToGround` names what to add.
    pub fn from_product(product: &Product, grounding: Grounding) -> Result<Self> {
        let mut texts: Vec<(String, String)> = Vec::new();
        let mut push = |name: &str, text: &str| {
            let text = text.trim();
            if !text.is_empty() {
                texts.push((name.to_owned(), text.to_owned()));
            }
        };
        push("title", &product.title);
        if let Some(brand) = &product.brand {
            push("brand", brand);
        }
        if let Some(category) = &product.category {
            push("category", category);
        }
        let mut compare_at = None;
        for (key, value) in &product.attributes {
            flatten(&format!("attributes.{key}"), key, value, &mut push);
            if COMPARE_AT_KEYS.contains(&key.to_lowercase().as_str()) {
                compare_at = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
            }
        }
        if grounding == Grounding::WithDescription
            && let Some(description) = &product.description
        {
            push("description", description);
        }
        if texts.len() < 2 || product.title.trim().is_empty() {
            return Err(Error::NothingToGround {
                product: product.id.clone(),
                missing: if product.title.trim().is_empty() {
                    "a title".into()
                } else {
                    "attributes: it has only a title; add a brand, category or attributes such \
                     as colour, material and size"
                        .into()
                },
            });
        }
        let price = product.price.parse::<f64>().ok().filter(|p| *p > 0.0);
        let mut facts = Self {
            product_id: product.id.clone(),
            sources: Vec::new(),
            terms: HashMap::new(),
            quantities: Vec::new(),
            price,
            compare_at,
            currency: product.currency.to_uppercase(),
            brand: product
                .brand
                .as_deref()
                .map(phrase_key)
                .filter(|k| !k.is_empty()),
        };
        let reader = Extractor::default();
        for (name, text) in texts {
            for claim in reader.extract(&text) {
                facts.learn(claim.kind, claim.detail, &name);
            }
            let tokens = tokenize(&text);
            let view = word_view(&tokens);
            facts.count_nouns(&tokens, &view, &name);
            facts.sources.push(Source {
                name,
                text,
                tokens,
                view,
            });
        }
        if let Some(p) = price {
            facts.quantities.push(FactQuantity {
                value: p,
                unit: None,
                source: "price".into(),
            });
        }
        Ok(facts)
    }

    fn learn(&mut self, kind: ClaimKind, detail: Detail, source: &str) {
        let mut add = |kind: ClaimKind, name: &str| {
            self.terms
                .entry((kind, name.to_owned()))
                .or_insert_with(|| source.to_owned());
        };
        match detail {
            Detail::Term { name } => {
                add(kind, &name);
                if kind == ClaimKind::Colour {
                    for family in colour_families(&name) {
                        add(kind, family);
                    }
                }
                if kind == ClaimKind::Audience {
                    for covered in audience_covers(&name) {
                        add(kind, covered);
                    }
                }
            }
            Detail::Quantity { value, unit } => self.quantities.push(FactQuantity {
                value,
                unit,
                source: source.to_owned(),
            }),
            Detail::Money { amount, .. } => self.quantities.push(FactQuantity {
                value: amount,
                unit: None,
                source: source.to_owned(),
            }),
            Detail::PercentOff { percent } => self.quantities.push(FactQuantity {
                value: percent,
                unit: Some("%".into()),
                source: source.to_owned(),
            }),
            Detail::Name { .. } => {}
        }
    }

    /// A number counts every word of the noun phrase after it: "four corner mounted inline
    /// skate wheels" states four wheels as much as four corners, so a claim of "4 wheels"
    /// finds it.
    fn count_nouns(&mut self, tokens: &[Token], view: &[usize], source: &str) {
        for (at, &i) in view.iter().enumerate() {
            let value = match tokens[i].number() {
                Some(v) => v,
                None => match number_word(&tokens[i].norm) {
                    Some(v) => v,
                    None => continue,
                },
            };
            for &j in view[at + 1..].iter().take(5) {
                if !tokens[j].is_word() {
                    break;
                }
                self.quantities.push(FactQuantity {
                    value,
                    unit: Some(tokens[j].norm.clone()),
                    source: source.to_owned(),
                });
            }
        }
    }

    /// Where the record states lexicon term `name` of `kind`.
    pub(crate) fn term(&self, kind: ClaimKind, name: &str) -> Option<&str> {
        self.terms.get(&(kind, name.to_owned())).map(String::as_str)
    }

    /// Where the record contains the words of `phrase`, in order.
    pub(crate) fn phrase(&self, phrase: &str) -> Option<&str> {
        let key = phrase_key(phrase);
        self.sources
            .iter()
            .find(|s| contains(&s.tokens, &s.view, &key))
            .map(|s| s.name.as_str())
    }

    /// The product's title.
    pub fn title(&self) -> &str {
        self.sources
            .iter()
            .find(|s| s.name == "title")
            .map_or("", |s| s.text.as_str())
    }

    /// The record's own words, lower case ("visionairy"): names [`crate::split_run_ons`] keeps
    /// whole.
    pub fn own_words(&self) -> std::collections::HashSet<String> {
        self.sources
            .iter()
            .flat_map(|s| s.text.split(|c: char| !c.is_alphabetic()))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    /// The record's fields as (name, text) pairs, in order: what a prompt may show.
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sources
            .iter()
            .map(|s| (s.name.as_str(), s.text.as_str()))
    }
}

/// Attribute values as texts: strings and numbers as they are (a number whose key names its
/// unit, as `weight_kg`, gets that unit), `true` flags as their key ("waterproof": true is the
/// fact "waterproof"), arrays and objects element by element.
fn flatten(name: &str, key: &str, value: &Value, push: &mut impl FnMut(&str, &str)) {
    match value {
        // "S" alone is a letter; "size S" is a size.
        Value::String(s) if key.to_lowercase().contains("size") => {
            push(name, &format!("size {s}"));
        }
        Value::String(s) => push(name, s),
        Value::Number(n) => {
            let unit = key
                .rsplit(['_', ' ', '-'])
                .next()
                .filter(|u| crate::lexicon::unit(&u.to_lowercase()).is_some());
            match unit {
                Some(u) => push(name, &format!("{n} {u}")),
                None => push(name, &n.to_string()),
            }
        }
        Value::Bool(true) => push(name, &key.replace(['_', '-'], " ")),
        Value::Array(items) => {
            for item in items {
                flatten(name, key, item, push);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{name}.{k}"), k, v, push);
            }
        }
        Value::Bool(false) | Value::Null => {}
    }
}
