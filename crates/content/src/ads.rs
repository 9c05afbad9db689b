//! Ad copy and SEO tags: for each field of a channel, candidates from the model (asked for a
//! JSON list under a schema, so the answer always parses), from the product's own title and
//! price, and from the merchant's description; each candidate tidied to the field's limit at a
//! boundary (never mid-word) or dropped; then creatives assembled from them, every one within
//! every limit, different from the others.
//!
//! The checking of claims is the caller's: it runs the verifier on every candidate before
//! `assemble` sees it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vitrine_core::{ChatMessage, ChatRole, Product, currency_exponent, format_minor};

use crate::channel::{Channel, Counting, Field, dedupe, has_opt_out, sms_with_opt_out};
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::prompt::{MAX_VARIANTS, Tone, fact_sheet};

/// Recorded with every creative, so a text can be traced to the prompt that made it.
pub const AD_PROMPT_VERSION: &str = "ads-v1";
/// The opt-out text an SMS carries unless the merchant gives their own.
pub const DEFAULT_OPT_OUT: &str = "Reply STOP to opt out";
/// The longest opt-out text: the body needs the rest of the message.
pub const MAX_OPT_OUT_CHARS: usize = 40;

/// What the merchant asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdOptions {
    /// Where the copy runs.
    pub channel: Channel,
    /// Voice.
    #[serde(default)]
    pub tone: Tone,
    /// How many creatives, 1 to 8.
    #[serde(default = "one")]
    pub variants: u32,
    /// Seed of the model's candidates.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The SMS opt-out text, counted in the 160 characters.
    #[serde(default)]
    pub opt_out: Option<String>,
}

fn one() -> u32 {
    1
}

impl AdOptions {
    /// Options for `channel` with defaults.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            tone: Tone::default(),
            variants: 1,
            seed: None,
            opt_out: None,
        }
    }

    /// Checks the ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_VARIANTS).contains(&self.variants) {
            return Err(Error::InvalidOption {
                field: "variants",
                reason: format!("{} is out of range 1..={MAX_VARIANTS}", self.variants),
            });
        }
        if let Some(opt_out) = &self.opt_out {
            if self.channel != Channel::Sms {
                return Err(Error::InvalidOption {
                    field: "opt_out",
                    reason: "applies to the sms channel only".into(),
                });
            }
            if opt_out.trim().is_empty()
                || opt_out.chars().count() > MAX_OPT_OUT_CHARS
                || opt_out.chars().any(char::is_control)
            {
                return Err(Error::InvalidOption {
                    field: "opt_out",
                    reason: format!("must be one line of 1 to {MAX_OPT_OUT_CHARS} characters"),
                });
            }
            if !has_opt_out(opt_out) {
                return Err(Error::InvalidOption {
                    field: "opt_out",
                    reason: format!(
                        "must tell how to opt out (STOP, unsubscribe or opt out), as \"{DEFAULT_OPT_OUT}\" does"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The opt-out text an SMS ends with.
    pub fn opt_out(&self) -> &str {
        self.opt_out.as_deref().unwrap_or(DEFAULT_OPT_OUT).trim()
    }
}

/// Texts one creative shows of `field`.
pub fn items_per_creative(field: &Field) -> usize {
    match field.name {
        // Google shows up to 3 headlines and 2 descriptions at a time; 5 headlines give it
        // room to combine.
        "headlines" => 5,
        _ => field.min_items,
    }
    .clamp(field.min_items, field.max_items)
}

/// How many candidates to ask the model for, for `variants` creatives.
pub fn candidate_count(field: &Field, variants: u32) -> usize {
    let wanted = items_per_creative(field) * variants as usize + 2;
    let cap = if field.max <= 60 { 12 } else { 6 };
    wanted.min(cap)
}

/// A field's length as the model is told it: the SMS body leaves room for the opt-out.
fn field_max(field: &Field, opt_out: &str) -> usize {
    match field.counting {
        Counting::Chars => field.max,
        Counting::Sms => field.max.saturating_sub(opt_out.chars().count() + 1),
    }
}

/// What a field is, in words the model understands, and an example of it written for the
/// example product in `EXAMPLE_FACTS`.
fn field_brief(channel: Channel, field: &Field) -> (&'static str, &'static [&'static str]) {
    match (channel, field.name) {
        (Channel::Search, "headlines") => (
            "search ad headlines: short catchy phrases of 2 to 5 words",
            &[
                "Puma Running Shoes",
                "Black Shoes for Women",
                "Run in Style with Puma",
                "Now at INR 2,999",
            ],
        ),
        (Channel::Search, "descriptions") => (
            "search ad descriptions: one complete sentence each",
            &[
                "Black Puma running shoes for women, ready for your daily run.",
                "Shop Puma women's running shoes in black for INR 2,999.",
            ],
        ),
        (Channel::Social, "primary_text") => (
            "social media ad texts: one or two lively sentences each",
            &[
                "Lace up and go. These black Puma running shoes for women keep up with every run.",
                "Your next run starts here: Puma women's running shoes in black, INR 2,999.",
            ],
        ),
        (Channel::Social, "headline") => (
            "social media ad headlines: short phrases of 2 to 6 words",
            &["Run Your Way with Puma", "Black Running Shoes for Women"],
        ),
        (Channel::Sms, _) => (
            "text messages to shoppers: one or two short sentences each",
            &[
                "New from Puma: black running shoes for women, now INR 2,999. Shop today!",
                "Ready to run? Puma women's running shoes in black are waiting for you.",
            ],
        ),
        (Channel::Push, "title") => (
            "push notification titles: short phrases of 2 to 6 words",
            &["Your New Running Shoes", "Puma Running Shoes Are Here"],
        ),
        (Channel::Push, _) => (
            "push notification texts: one short sentence each",
            &[
                "Black Puma running shoes for women, now INR 2,999. Tap to see them.",
                "Run in style: the Puma women's running shoes are here.",
            ],
        ),
        (Channel::Email, _) => (
            "email subject lines: short and inviting, 3 to 8 words",
            &[
                "Meet your new Puma running shoes",
                "Black running shoes for women, INR 2,999",
            ],
        ),
        (Channel::Seo, "title") => (
            "page titles for search engines: the product name and one short phrase",
            &[
                "Puma Women Black Running Shoes | Shop Online",
                "Puma Running Shoes for Women in Black",
            ],
        ),
        (Channel::Seo, _) => (
            "meta descriptions for search engines: one or two sentences each",
            &[
                "Buy Puma women's running shoes in black for INR 2,999. Light, ready for your daily run.",
                "Shop black Puma running shoes for women online at INR 2,999.",
            ],
        ),
        _ => (
            "short ad texts",
            &["Puma Running Shoes", "Black Shoes for Women"],
        ),
    }
}

/// The example product every ad prompt shows first.
const EXAMPLE_FACTS: &str = "Title: Puma Women Black Running Shoes\nBrand: Puma\nGender: Women\n\
                             Colour: Black\nPrice: 2,999 INR";

/// The chat asking for `count` candidates of one field: rules, one worked example, then the
/// product.
pub fn field_messages(
    facts: &Facts,
    channel: Channel,
    field: &Field,
    count: usize,
    tone: Tone,
    opt_out: &str,
) -> Vec<ChatMessage> {
    let (what, example) = field_brief(channel, field);
    let max = field_max(field, opt_out);
    let system = format!(
        "You write {what}, each at most {max} characters, for an online store. Use only the \
         facts you are given. Never mention a colour, material, size, number, price, discount, \
         certification, guarantee, brand or feature that is not in the facts. {} Answer with \
         JSON: {{\"{}\": [texts]}}.",
        tone.guidance(),
        field.name,
    );
    let ask = |sheet: &str, n: usize| format!("Facts:\n{sheet}\n\nWrite {n} different texts.");
    let example_answer = json!({ field.name: example }).to_string();
    vec![
        ChatMessage::new(ChatRole::System, system),
        ChatMessage::new(ChatRole::User, ask(EXAMPLE_FACTS, example.len())),
        ChatMessage::new(ChatRole::Assistant, example_answer),
        ChatMessage::new(ChatRole::User, ask(&fact_sheet(facts), count)),
    ]
}

/// The JSON Schema of the model's answer for one field: a list of `count` strings, each
/// allowed a quarter over the limit so that a text the grammar cuts off is always too long
/// and gets shortened at a boundary (or dropped), never kept cut mid-word.
pub fn field_schema(field: &Field, count: usize, opt_out: &str) -> Value {
    let max = field_max(field, opt_out);
    json!({
        "type": "object",
        "properties": {
            field.name: {
                "type": "array",
                "items": {
                    "type": "string",
                    "minLength": (max / 6).max(8),
                    "maxLength": max + max / 4,
                },
                "minItems": count,
                "maxItems": count,
            }
        },
        "required": [field.name],
    })
}

/// The strings of the model's answer for `field`; an answer that does not parse gives none.
pub fn parse_candidates(answer: &str, field: &Field) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(answer.trim()) else {
        return Vec::new();
    };
    match value.get(field.name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Words a phrase does not end on: a text ending on one was cut off or trails away.
const DANGLING: &[&str] = &[
    "a", "an", "and", "at", "by", "for", "from", "in", "is", "of", "on", "or", "the", "to", "with",
    "your", "our", "its", "are", "be", "that", "this", "you", "will", "can", "as",
];

/// `text` made fit for `field`: one line, straight quotes, no wrapping quotes; shortened at a
/// sentence or clause boundary if too long; `None` when it cannot fit or is not a whole phrase
/// (fewer than two words, no letters, ends on "the" or "with", a sentence field without an
/// ending stop).
pub fn tidy(field: &Field, text: &str, opt_out: &str) -> Option<String> {
    let text: String = text
        .replace(['\u{2018}', '\u{2019}'], "'")
        .replace(['\u{201c}', '\u{201d}'], "\"");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '*' || c == '-' || c.is_whitespace());
    let limited = Field {
        max: field_max(field, opt_out),
        ..*field
    };
    let text = limited.shorten(text).or_else(|| {
        // A phrase field may also lose trailing words, as long as what is left is a phrase.
        if field.max > 60 {
            return None;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        (2..words.len())
            .rev()
            .map(|n| words[..n].join(" "))
            .find(|t| limited.fits(t) && !dangles(t))
    })?;
    let text = text
        .trim_end_matches([',', ';', ':', '-', '|'])
        .trim()
        .to_owned();
    let words = text.split_whitespace().count();
    if words < 2 || !text.chars().any(char::is_alphabetic) || dangles(&text) {
        return None;
    }
    if is_sentence_field(field) && !text.ends_with(['.', '!', '?']) {
        return None;
    }
    limited.fits(&text).then_some(text)
}

fn dangles(text: &str) -> bool {
    let last = text
        .split_whitespace()
        .last()
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    DANGLING.contains(&last.as_str())
}

/// Fields written as sentences (they end with a stop); the rest are phrases.
fn is_sentence_field(field: &Field) -> bool {
    field.max > 60
}

/// Words that say nothing about a product on their own.
const FILLER: &[&str] = &[
    "the", "and", "for", "with", "your", "you", "our", "this", "that", "are", "now", "new", "shop",
    "buy", "get", "all", "one", "from", "its", "has", "have", "more", "out", "day",
];

/// Whether `text` is about the product and only the product: enough of its words (three
/// letters or more, not filler) are words of the record (more than half of a phrase's, 30% of
/// a sentence's), and none is a word of the prompt's worked example that the record lacks
/// (the small model copies "Puma" from it). A headline like "Nice to see you here today!" can
/// pass every claim check and still sell nothing.
pub fn is_relevant(field: &Field, text: &str, facts: &Facts) -> bool {
    let record = record_words(facts);
    let example = example_words();
    let words: Vec<String> = words(text).collect();
    if words.is_empty()
        || words
            .iter()
            .any(|w| example.contains(w) && !record.contains(w))
    {
        return false;
    }
    let known = words.iter().filter(|w| record.contains(*w)).count() as f64;
    let share = known / words.len() as f64;
    if is_sentence_field(field) {
        share >= 0.3
    } else {
        share > 0.5
    }
}

/// The words of the worked example the record does not have: sampling avoids them.
pub fn example_leaks(facts: &Facts) -> Vec<String> {
    let record = record_words(facts);
    let mut leaks: Vec<String> = example_words()
        .into_iter()
        .filter(|w| !record.contains(w))
        .collect();
    leaks.sort();
    leaks
}

fn record_words(facts: &Facts) -> HashSet<String> {
    let mut record: HashSet<String> = facts.texts().flat_map(|(_, t)| words(t)).collect();
    record.insert("price".into());
    record
}

/// The distinctive words of the worked example's facts.
fn example_words() -> HashSet<String> {
    ["puma", "running", "run", "shoes", "shoe"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !FILLER.contains(&w.as_str()))
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The model wrote it.
    Model,
    /// Built from the product's title, brand and price.
    Record,
    /// A sentence of the merchant's own description.
    Description,
}

/// One candidate text for a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The text, within the field's limit.
    pub text: String,
    /// Where it came from.
    pub source: Source,
}

/// Candidates built from the record alone, so a creative can be completed when the model's
/// candidates fall short: the title and its tail phrases ("Slim Fit Denim Jacket"), the brand
/// with the price, and the sentences of the merchant's description.
pub fn record_candidates(product: &Product, field: &Field, opt_out: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let title = product.title.split_whitespace().collect::<Vec<_>>();
    let price = price_text(product);
    let brand = product
        .brand
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());
    let full_title = title.join(" ");
    let mut phrases: Vec<String> = vec![full_title.clone()];
    phrases.extend((1..title.len().saturating_sub(1)).map(|i| title[i..].join(" ")));
    if is_sentence_field(field) {
        let mut sentences = vec![format!("{full_title}, now {price}.")];
        if let Some(brand) = brand {
            sentences.push(format!("Shop the {full_title} from {brand} for {price}."));
        }
        sentences.push(format!("{full_title}. Available now for {price}."));
        if let Some(description) = &product.description {
            for (start, end) in crate::verify::sentences(description) {
                out.push(Candidate {
                    text: description[start..end].trim().to_owned(),
                    source: Source::Description,
                });
            }
        }
        out.extend(sentences.into_iter().map(|text| Candidate {
            text,
            source: Source::Record,
        }));
    } else {
        let tail = phrases.last().cloned().unwrap_or_default();
        out.extend(phrases.into_iter().map(|text| Candidate {
            text,
            source: Source::Record,
        }));
        if let Some(brand) = brand {
            out.push(Candidate {
                text: format!("{brand} at {price}"),
                source: Source::Record,
            });
        }
        out.push(Candidate {
            text: format!("{tail} for {price}"),
            source: Source::Record,
        });
        out.push(Candidate {
            text: format!("Now {price}"),
            source: Source::Record,
        });
    }
    out.into_iter()
        .filter_map(|c| {
            tidy(field, &c.text, opt_out).map(|text| Candidate {
                text,
                source: c.source,
            })
        })
        .collect()
}

/// "INR 1,599" or "USD 24.90": whole amounts without decimals, thousands grouped.
fn price_text(product: &Product) -> String {
    let exponent = currency_exponent(&product.currency).unwrap_or(2);
    let scale = 10_i64.pow(exponent);
    let amount = if product.price_minor % scale == 0 {
        group_thousands(&(product.price_minor / scale).to_string())
    } else {
        let text = format_minor(product.price_minor, exponent);
        match text.split_once('.') {
            Some((whole, fraction)) => format!("{}.{fraction}", group_thousands(whole)),
            None => group_thousands(&text),
        }
    };
    format!("{} {amount}", product.currency)
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One creative: each field's texts, in the channel's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Creative {
    /// The channel.
    pub channel: Channel,
    /// Field name and its texts (one for single-text fields).
    pub fields: Vec<(String, Vec<Candidate>)>,
}

impl Creative {
    /// The creative's JSON: single-text fields as strings, lists as arrays.
    pub fn to_json(&self) -> Value {
        let mut object = serde_json::Map::new();
        for (name, items) in &self.fields {
            let field = self.field(name);
            let texts: Vec<&str> = items.iter().map(|c| c.text.as_str()).collect();
            let value = if field.is_some_and(|f| f.max_items == 1) {
                json!(texts.first().copied().unwrap_or_default())
            } else {
                json!(texts)
            };
            object.insert(name.clone(), value);
        }
        Value::Object(object)
    }

    /// Every text of the creative.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .flat_map(|(_, items)| items.iter().map(|c| c.text.as_str()))
    }

    fn field(&self, name: &str) -> Option<Field> {
        self.channel.field(name)
    }

    /// Whether every text fits its field and each field has its number of texts.
    pub fn within_limits(&self) -> bool {
        self.fields.iter().all(|(name, items)| {
            self.field(name).is_some_and(|f| {
                (f.min_items..=f.max_items).contains(&items.len())
                    && items.iter().all(|c| f.fits(&c.text))
            })
        })
    }
}

/// Builds up to `variants` creatives from each field's candidates (model ones first, then the
/// record's), each text used once where there are enough, identical creatives dropped. An SMS
/// body gets the opt-out text. Fewer creatives come back when the candidates run out.
pub fn assemble(
    channel: Channel,
    candidates: &[(Field, Vec<Candidate>)],
    variants: u32,
    opt_out: &str,
) -> Vec<Creative> {
    // Near-duplicates out, model candidates first.
    let pools: Vec<(Field, Vec<Candidate>)> = candidates
        .iter()
        .map(|(field, items)| {
            let mut ordered: Vec<&Candidate> =
                items.iter().filter(|c| c.source == Source::Model).collect();
            ordered.extend(items.iter().filter(|c| c.source != Source::Model));
            let texts = dedupe(ordered.iter().map(|c| c.text.clone()));
            let kept = texts
                .into_iter()
                .filter_map(|t| ordered.iter().find(|c| c.text == t).map(|c| (*c).clone()))
                .collect();
            (*field, kept)
        })
        .collect();
    let mut creatives = Vec::new();
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    let longest = pools.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
    for attempt in 0..(variants as usize * longest.max(1)) {
        if creatives.len() == variants as usize {
            break;
        }
        let mut fields = Vec::new();
        for (field, pool) in &pools {
            let n = items_per_creative(field);
            if pool.len() < field.min_items {
                return creatives;
            }
            let take = n.min(pool.len());
            // Each creative starts further along the pool, so creatives differ; once round,
            // one step further, so a pool of twice the texts a creative takes gives more than
            // two creatives.
            let rounds = pool.len().div_ceil(take);
            let start = (attempt * take + attempt / rounds) % pool.len();
            let mut items: Vec<Candidate> = (0..take)
                .map(|k| pool[(start + k) % pool.len()].clone())
                .collect();
            if field.counting == Counting::Sms {
                items = items
                    .into_iter()
                    .filter_map(|c| {
                        sms_with_opt_out(&c.text, opt_out).map(|text| Candidate { text, ..c })
                    })
                    .collect();
            }
            fields.push((field.name.to_owned(), items));
        }
        let creative = Creative { channel, fields };
        let key: Vec<String> = creative.texts().map(str::to_owned).collect();
        if creative.within_limits() && seen.insert(key) {
            creatives.push(creative);
        }
    }
    creatives
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(channel: Channel, name: &str) -> Field {
        channel.field(name).expect("field")
    }

    #[test]
    fn tidy_keeps_whole_words_within_the_limit() {
        let headline = field(Channel::Search, "headlines");
        assert_eq!(
            tidy(&headline, " \"Roadster Denim Jacket\" ", ""),
            Some("Roadster Denim Jacket".into())
        );
        // Too long: trailing words go, never part of one.
        let cut = tidy(&headline, "Roadster Men Blue Slim Fit Denim Jacket", "").unwrap();
        assert!(cut.chars().count() <= 30, "{cut}");
        assert!("Roadster Men Blue Slim Fit Denim Jacket".starts_with(&cut));
        assert!(!dangles(&cut));
        // Fragments are refused.
        assert_eq!(tidy(&headline, "Shopped at", ""), None);
        assert_eq!(tidy(&headline, "Jacket", ""), None);
        let description = field(Channel::Search, "descriptions");
        assert_eq!(tidy(&description, "Blue denim jacket for men", ""), None);
        assert_eq!(
            tidy(&description, "Blue denim jacket for men.", ""),
            Some("Blue denim jacket for men.".into())
        );
    }

    #[test]
    fn sms_bodies_leave_room_for_the_opt_out() {
        let sms = field(Channel::Sms, "text");
        let body = "New in: the Roadster slim fit denim jacket for men in blue. Soft, easy to \
                    wear and ready for every day. Now at INR 1,599, order yours today!";
        let tidy = tidy(&sms, body, DEFAULT_OPT_OUT).unwrap();
        assert!(tidy.chars().count() + DEFAULT_OPT_OUT.len() < 160);
        let candidates = vec![(
            sms,
            vec![Candidate {
                text: tidy,
                source: Source::Model,
            }],
        )];
        let creatives = assemble(Channel::Sms, &candidates, 1, DEFAULT_OPT_OUT);
        assert_eq!(creatives.len(), 1);
        let text = creatives[0].to_json()["text"].as_str().unwrap().to_owned();
        assert!(text.ends_with(DEFAULT_OPT_OUT), "{text}");
        assert!(crate::channel::sms_length(&text).0 <= 160);
    }

    #[test]
    fn options_are_checked() {
        let mut options = AdOptions::new(Channel::Email);
        assert!(options.validate().is_ok());
        options.variants = 9;
        assert!(options.validate().is_err());
        options.variants = 2;
        options.opt_out = Some("STOP".into());
        assert!(options.validate().is_err(), "opt-out on email");
    }
}
