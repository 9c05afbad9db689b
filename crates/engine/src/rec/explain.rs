//! Why each recommendation was made, in one sentence that names only what the data holds: a
//! product from the shopper's own history (and what they did with it), the recommended
//! product's title, brand and category, and the fact that links them (same brand, same
//! category, shoppers who had both, or popularity). The sentence is a template filled with those
//! facts; with a language model the engine asks it to phrase the same facts, and keeps its
//! sentence only when every name, number and checkable claim in it is among the facts.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;
use vitrine_content::{ClaimKind, Extractor, sentences};
use vitrine_core::{
    ChatMessage, ChatRole, EventKind, GenerationRequest, Sampling, TextGenerator, generate,
};

/// The most recent distinct history products an explanation may draw on.
pub(super) const ANCHOR_CANDIDATES: usize = 20;
/// How long one generated sentence may take before the template is used.
const LLM_TIMEOUT: Duration = Duration::from_secs(30);
/// A sentence longer than this is not "short".
const MAX_CHARS: usize = 200;

/// The fact an explanation rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The shopper had this very product (viewed or carted it; purchases are never
    /// recommended).
    Revisit,
    /// The shopper had a product of the same brand.
    SameBrand,
    /// The shopper had a product of the same category.
    SameCategory,
    /// Shoppers who had a product of this shopper's history also had this one.
    AlsoViewed,
    /// The sequence model chose it from the shopper's recent history; no simpler link is known.
    RecentActivity,
    /// Among the most popular products of a category the shopper looked at lately.
    PopularInCategory,
    /// Among the most popular products of the shop.
    Popular,
}

/// Who wrote an explanation's sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationSource {
    /// The language model, and every name and claim in it passed the check.
    Llm,
    /// The template, filled with the same facts.
    Template,
}

/// One sentence on why a product is recommended.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Explanation {
    /// The sentence.
    pub text: String,
    /// Who wrote it.
    pub source: ExplanationSource,
    /// The fact it rests on.
    pub reason: Reason,
    /// The product of the shopper's history it names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// Why the language model's sentence was not used, when one was asked for and failed the
    /// check (or the model failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_rejected: Option<String>,
}

/// A product of the shopper's history that the catalog knows.
#[derive(Debug, Clone)]
pub(super) struct Anchor {
    pub product: String,
    pub item: Option<u32>,
    pub title: String,
    pub brand: Option<String>,
    pub category: Option<String>,
    /// The strongest thing the shopper did with it: purchase, then cart, then view.
    pub did: EventKind,
}

/// The recommended product as the catalog has it.
#[derive(Debug, Clone)]
pub(super) struct Target<'a> {
    pub product: &'a str,
    pub item: Option<u32>,
    pub title: Option<&'a str>,
    pub brand: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// The facts of one explanation, and its template sentence.
#[derive(Debug, Clone)]
pub(super) struct Basis {
    pub reason: Reason,
    pub anchor: Option<Anchor>,
    pub title: Option<String>,
    pub brand: Option<String>,
    pub category: Option<String>,
}

/// What the shopper did with a product, as a phrase around its title.
fn did(kind: EventKind, title: &str) -> String {
    match kind {
        EventKind::Purchase => format!("bought the {title}"),
        EventKind::Cart => format!("put the {title} in your cart"),
        _ => format!("viewed the {title}"),
    }
}

/// The strength of an event for choosing what to name.
pub(super) fn strength(kind: EventKind) -> u8 {
    match kind {
        EventKind::Purchase => 3,
        EventKind::Cart => 2,
        _ => 1,
    }
}

/// The facts for one recommended product. `anchors` are the shopper's history products, newest
/// first; `together` counts shoppers who had both items; `popular_category` is set for the
/// popularity strategies (`Some(None)` for overall popularity).
pub(super) fn basis(
    target: &Target<'_>,
    anchors: &[Anchor],
    together: &dyn Fn(u32, u32) -> usize,
    popular: Option<&[String]>,
) -> Basis {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let make = |reason, anchor: Option<&Anchor>| Basis {
        reason,
        anchor: anchor.cloned(),
        title: owned(target.title),
        brand: owned(target.brand),
        category: owned(target.category),
    };
    let same = |a: Option<&String>, b: Option<&str>| matches!((a, b), (Some(a), Some(b)) if a.trim().eq_ignore_ascii_case(b.trim()));
    if let Some(a) = anchors.iter().find(|a| a.product == target.product) {
        return make(Reason::Revisit, Some(a));
    }
    let anchors: Vec<&Anchor> = anchors.iter().collect();
    if let Some(categories) = popular {
        let category = target
            .category
            .filter(|c| categories.iter().any(|x| x.eq_ignore_ascii_case(c)));
        return match category {
            Some(c) => make(
                Reason::PopularInCategory,
                anchors
                    .iter()
                    .copied()
                    .find(|a| same(a.category.as_ref(), Some(c))),
            ),
            None => make(Reason::Popular, None),
        };
    }
    if let Some(a) = anchors
        .iter()
        .find(|a| same(a.brand.as_ref(), target.brand))
    {
        return make(Reason::SameBrand, Some(a));
    }
    if let Some(a) = anchors
        .iter()
        .find(|a| same(a.category.as_ref(), target.category))
    {
        return make(Reason::SameCategory, Some(a));
    }
    if let Some(item) = target.item
        && let Some(a) = anchors
            .iter()
            .find(|a| a.item.is_some_and(|i| together(i, item) > 0))
    {
        return make(Reason::AlsoViewed, Some(a));
    }
    make(Reason::RecentActivity, anchors.first().copied())
}

impl Basis {
    /// The template sentence: the facts and nothing else.
    pub fn template(&self) -> String {
        let item = match &self.title {
            Some(t) => format!("the {t}"),
            None => "this product".to_owned(),
        };
        let anchor = self.anchor.as_ref();
        match (self.reason, anchor) {
            (Reason::Revisit, Some(a)) => format!("You {} lately.", did(a.did, &a.title)),
            (Reason::SameBrand, Some(a)) => format!(
                "Because you {}: another {} product, {item}.",
                did(a.did, &a.title),
                self.brand.as_deref().unwrap_or_default()
            ),
            (Reason::SameCategory, Some(a)) => format!(
                "Because you {}: {item}, also in {}.",
                did(a.did, &a.title),
                self.category.as_deref().unwrap_or_default()
            ),
            (Reason::AlsoViewed, Some(a)) => format!(
                "Shoppers who looked at the {} also looked at {item}.",
                a.title
            ),
            (Reason::RecentActivity, Some(a)) => format!(
                "Picked from your recent activity, which includes the {}: {item}.",
                a.title
            ),
            (Reason::PopularInCategory, Some(a)) => format!(
                "You {}; {item} is one of the most popular products in {}.",
                did(a.did, &a.title),
                self.category.as_deref().unwrap_or_default()
            ),
            (Reason::PopularInCategory, None) => format!(
                "{} is one of the most popular products in {}.",
                capitalise(&item),
                self.category.as_deref().unwrap_or_default()
            ),
            (Reason::Popular, _) => format!(
                "{} is one of the most popular products in the shop.",
                capitalise(&item)
            ),
            (_, None) => format!(
                "{} was picked from your recent activity.",
                capitalise(&item)
            ),
        }
    }

    /// Every word the facts hold, lower-cased: the only names and numbers a sentence may use.
    fn words(&self) -> HashSet<String> {
        let mut text = String::new();
        for s in [&self.title, &self.brand, &self.category]
            .into_iter()
            .flatten()
        {
            text.push_str(s);
            text.push(' ');
        }
        if let Some(a) = &self.anchor {
            for s in [Some(&a.title), a.brand.as_ref(), a.category.as_ref()]
                .into_iter()
                .flatten()
            {
                text.push_str(s);
                text.push(' ');
            }
        }
        words(&text).map(str::to_lowercase).collect()
    }

    /// All the facts' text, lower-cased, for finding a claim's words in it.
    fn text(&self) -> String {
        let mut text = self.template();
        if let Some(a) = &self.anchor {
            for s in [a.brand.as_ref(), a.category.as_ref()]
                .into_iter()
                .flatten()
            {
                text.push(' ');
                text.push_str(s);
            }
        }
        text.to_lowercase()
    }

    /// The messages asking a model to phrase the facts.
    fn prompt(&self) -> Vec<ChatMessage> {
        let mut facts = Vec::new();
        if let Some(a) = &self.anchor {
            facts.push(format!("- The shopper {}.", did(a.did, &a.title)));
        }
        if let Some(t) = &self.title
            && self.reason != Reason::Revisit
        {
            facts.push(format!("- Recommended product: the {t}."));
        }
        let why = match self.reason {
            Reason::Revisit => "the shopper looked at this very product lately",
            Reason::SameBrand => "it is from the same brand",
            Reason::SameCategory => "it is in the same category",
            Reason::AlsoViewed => "shoppers who looked at the first product also looked at it",
            Reason::RecentActivity => "it was picked from the shopper's recent activity",
            Reason::PopularInCategory => "it is one of the most popular products of its category",
            Reason::Popular => "it is one of the most popular products in the shop",
        };
        facts.push(format!("- Why: {why}."));
        let system = "You tell a shopper in one short, friendly sentence (at most 25 words) \
                      why a product is recommended to them. Use only the facts given. Do not \
                      name any other product, brand, number, colour, material or feature.";
        let user = format!(
            "Facts:\n{}\nA plain version: \"{}\"\nWrite the sentence, addressing the shopper \
             as \"you\".",
            facts.join("\n"),
            self.template()
        );
        vec![
            ChatMessage::new(ChatRole::System, system),
            ChatMessage::new(ChatRole::User, user),
        ]
    }

    /// Why `sentence` may not be shown, or `None` when every name, number and claim in it is
    /// among the facts and it names the recommended product.
    pub fn reject(&self, sentence: &str, extractor: &Extractor) -> Option<String> {
        let sentence = sentence.trim();
        if sentence.is_empty() {
            return Some("empty".into());
        }
        if sentence.chars().count() > MAX_CHARS {
            return Some(format!("longer than {MAX_CHARS} characters"));
        }
        if sentences(sentence)
            .iter()
            .filter(|(s, e)| !sentence[*s..*e].trim().is_empty())
            .count()
            > 1
        {
            return Some("more than one sentence".into());
        }
        let lower = sentence.to_lowercase();
        if let Some(t) = &self.title
            && !lower.contains(&t.to_lowercase())
        {
            return Some(format!("does not name the {t}"));
        }
        let lowered: Vec<String> = words(sentence).map(str::to_lowercase).collect();
        let has = |w: &str| lowered.iter().any(|x| x == w);
        // A small model may echo its instructions ("A plain version: \"You viewed ...").
        if sentence.contains(['"', '\u{201c}', '\u{201d}'])
            || ["sentence", "version", "facts", "shopper"]
                .iter()
                .any(|w| has(w))
        {
            return Some("repeats the instructions".into());
        }
        if ["i", "i'm", "me", "my", "we", "our"].iter().any(|w| has(w)) {
            return Some("speaks as itself, not about the shopper".into());
        }
        if self.reason != Reason::Popular && !has("you") && !has("your") {
            return Some("does not speak to the shopper (\"you\")".into());
        }
        if let Some(missing) = self.missing_reason(&lower) {
            return Some(missing);
        }
        // Capitalised words and numbers must come from the facts; the template's own words
        // ("Because", "You", "Shoppers") may start a clause anywhere.
        let mut known = self.words();
        known.extend(words(&self.template()).map(str::to_lowercase));
        for (n, word) in words(sentence).enumerate() {
            let name_like = word.chars().any(|c| c.is_ascii_digit())
                || (n > 0 && word.chars().next().is_some_and(char::is_uppercase));
            if name_like && !known.contains(&word.to_lowercase()) {
                return Some(format!("names \"{word}\", which is not in the facts"));
            }
        }
        let facts = self.text();
        for claim in extractor.extract(sentence) {
            let popularity = matches!(self.reason, Reason::Popular | Reason::PopularInCategory)
                && claim.kind == ClaimKind::Superlative
                && claim.text.to_lowercase().contains("popular");
            if claim.kind == ClaimKind::Banned
                || (!popularity && !facts.contains(&claim.text.to_lowercase()))
            {
                return Some(format!(
                    "claims \"{}\" ({}), which is not in the facts",
                    claim.text,
                    claim.kind.as_str()
                ));
            }
        }
        let did_kind = self.anchor.as_ref().map(|a| a.did);
        for (words, kind) in [
            (&["bought", "purchased", "ordered"][..], EventKind::Purchase),
            (&["cart", "basket"][..], EventKind::Cart),
        ] {
            if did_kind != Some(kind) && words.iter().any(|w| lower.contains(w)) {
                return Some(format!(
                    "says the shopper did what they did not ({})",
                    words[0]
                ));
            }
        }
        None
    }
}

impl Basis {
    /// What the sentence must say for its reason to be there, if it does not: the product of
    /// the shopper's history it rests on, and the link (the brand, the category, other
    /// shoppers, popularity).
    fn missing_reason(&self, lower: &str) -> Option<String> {
        let anchor = self.anchor.as_ref().map(|a| a.title.to_lowercase());
        let names_anchor = anchor.as_deref().is_none_or(|a| lower.contains(a));
        let says = |cues: &[&str]| cues.iter().any(|c| lower.contains(c));
        let (needs_anchor, link) = match self.reason {
            Reason::Revisit => (false, true),
            // Titles usually hold the brand and the category, so naming both products does not
            // say the link: the sentence must.
            Reason::SameBrand => (true, says(&["brand", "another", "same"])),
            Reason::SameCategory => (
                true,
                says(&["same category", "also", "similar", "another", "same"]),
            ),
            Reason::AlsoViewed => (true, says(&["also", "other shoppers", "shoppers who"])),
            Reason::RecentActivity => (true, true),
            Reason::PopularInCategory | Reason::Popular => (false, says(&["popular"])),
        };
        if needs_anchor && !names_anchor {
            return Some(format!(
                "does not name the {} it rests on",
                self.anchor.as_ref().map_or("", |a| a.title.as_str())
            ));
        }
        if !link {
            return Some("does not say why (the link between the products)".into());
        }
        None
    }
}

/// `text`'s words: letters, digits and inner apostrophes or hyphens.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Explanations for every basis: the model's sentence where it passes the check, else the
/// template. Requests run concurrently, so a batching model serves them together.
pub(super) fn explain(
    bases: &[Basis],
    generator: Option<&dyn TextGenerator>,
    extractor: &Extractor,
    seed: u64,
) -> Vec<Explanation> {
    let template = |b: &Basis, rejected: Option<String>| Explanation {
        text: b.template(),
        source: ExplanationSource::Template,
        reason: b.reason,
        because: b.anchor.as_ref().map(|a| a.product.clone()),
        llm_rejected: rejected,
    };
    let Some(generator) = generator else {
        return bases.iter().map(|b| template(b, None)).collect();
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = bases
            .iter()
            .enumerate()
            .map(|(n, b)| {
                scope.spawn(move || {
                    let mut request = GenerationRequest::chat(b.prompt());
                    request.max_tokens = Some(48);
                    request.stop = vec!["\n".into()];
                    request.timeout = Some(LLM_TIMEOUT);
                    request.sampling = Sampling {
                        temperature: 0.3,
                        repeat_penalty: 1.1,
                        seed: Some(seed.wrapping_add(n as u64)),
                        ..Sampling::default()
                    };
                    generate(generator, request)
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(bases)
            .map(|(h, b)| {
                let answer = match h.join() {
                    Ok(Ok(answer)) => answer.text,
                    Ok(Err(e)) => return template(b, Some(format!("the model failed: {e}"))),
                    Err(_) => return template(b, Some("the model's thread panicked".into())),
                };
                let text = answer.trim().trim_matches('"').trim().to_owned();
                match b.reject(&text, extractor) {
                    None => Explanation {
                        text,
                        source: ExplanationSource::Llm,
                        reason: b.reason,
                        because: b.anchor.as_ref().map(|a| a.product.clone()),
                        llm_rejected: None,
                    },
                    Some(why) => template(b, Some(why)),
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(product: &str, title: &str, brand: &str, category: &str, did: EventKind) -> Anchor {
        Anchor {
            product: product.into(),
            item: None,
            title: title.into(),
            brand: Some(brand.into()),
            category: Some(category.into()),
            did,
        }
    }

    fn earbuds() -> Vec<Anchor> {
        vec![
            anchor(
                "x2",
                "Soundly X2 earbuds",
                "Soundly",
                "audio",
                EventKind::View,
            ),
            anchor(
                "runner",
                "Trail Runner shoes",
                "Stride",
                "shoes",
                EventKind::Purchase,
            ),
        ]
    }

    fn headphones() -> Target<'static> {
        Target {
            product: "h30",
            item: None,
            title: Some("Soundly H30 headphones"),
            brand: Some("Soundly"),
            category: Some("audio"),
        }
    }

    #[test]
    fn the_link_is_the_first_that_holds() {
        let none = |_: u32, _: u32| 0;
        let b = basis(&headphones(), &earbuds(), &none, None);
        assert_eq!(b.reason, Reason::SameBrand);
        assert_eq!(
            b.template(),
            "Because you viewed the Soundly X2 earbuds: another Soundly product, the Soundly \
             H30 headphones."
        );
        let socks = Target {
            product: "socks",
            item: None,
            title: Some("Trail socks"),
            brand: Some("Other"),
            category: Some("shoes"),
        };
        let b = basis(&socks, &earbuds(), &none, None);
        assert_eq!(b.reason, Reason::SameCategory);
        assert_eq!(
            b.template(),
            "Because you bought the Trail Runner shoes: the Trail socks, also in shoes."
        );
        let popular = basis(&socks, &earbuds(), &none, Some(&["shoes".into()]));
        assert_eq!(popular.reason, Reason::PopularInCategory);
        assert_eq!(
            popular.template(),
            "You bought the Trail Runner shoes; the Trail socks is one of the most popular \
             products in shoes."
        );
        let overall = basis(&socks, &[], &none, Some(&[]));
        assert_eq!(
            overall.template(),
            "The Trail socks is one of the most popular products in the shop."
        );
    }

    #[test]
    fn a_product_of_the_history_is_a_revisit_and_never_its_own_reason() {
        let target = Target {
            product: "x2",
            item: None,
            title: Some("Soundly X2 earbuds"),
            brand: Some("Soundly"),
            category: Some("audio"),
        };
        let b = basis(&target, &earbuds(), &|_, _| 0, None);
        assert_eq!(b.reason, Reason::Revisit);
        assert_eq!(b.template(), "You viewed the Soundly X2 earbuds lately.");
    }

    #[test]
    fn also_viewed_needs_a_shopper_who_had_both() {
        let mut history = earbuds();
        history[1].item = Some(7);
        let lamp = Target {
            product: "lamp",
            item: Some(9),
            title: Some("Desk lamp"),
            brand: Some("Lumo"),
            category: Some("home"),
        };
        let together = |a: u32, b: u32| usize::from((a, b) == (7, 9));
        let b = basis(&lamp, &history, &together, None);
        assert_eq!(b.reason, Reason::AlsoViewed);
        assert_eq!(b.anchor.as_ref().unwrap().product, "runner");
        let b = basis(&lamp, &history, &|_, _| 0, None);
        assert_eq!(b.reason, Reason::RecentActivity);
        assert_eq!(b.anchor.as_ref().unwrap().product, "x2");
    }

    #[test]
    fn the_check_keeps_the_facts_and_rejects_inventions() {
        let b = basis(&headphones(), &earbuds(), &|_, _| 0, None);
        let extractor = Extractor::new(["Soundly", "Stride", "Acme"], ["cheapest"]);
        assert_eq!(b.reject(&b.template(), &extractor), None);
        let ok = "Since you liked the Soundly X2 earbuds, you may enjoy another Soundly product, the Soundly H30 headphones.";
        assert_eq!(b.reject(ok, &extractor), None);
        for (bad, why) in [
            ("", "empty"),
            ("You will love these headphones.", "does not name"),
            (
                "You viewed the Soundly X2 earbuds. Try the Soundly H30 headphones.",
                "more than one sentence",
            ),
            (
                "Like the Soundly X2 earbuds you viewed, another Soundly product: the Soundly \
                 H30 headphones last 30 hours.",
                "names \"30\"",
            ),
            (
                "Like the Acme Pro and the Soundly X2 earbuds you viewed: another Soundly product, \
                 the Soundly H30 headphones.",
                "names \"Acme\"",
            ),
            (
                "Like the Soundly X2 earbuds you viewed, another Soundly product: the Soundly H30 \
                 headphones in black leather.",
                "claims \"black\"",
            ),
            (
                "You bought the Soundly X2 earbuds, so try another Soundly product, the Soundly H30 headphones.",
                "did not (bought)",
            ),
            (
                "Like the Soundly X2 earbuds you viewed, another soundly product: the soundly h30 \
                 headphones are the cheapest.",
                "claims \"cheapest\"",
            ),
            (
                "Someone viewed the Soundly X2 earbuds: another Soundly product, the Soundly \
                 H30 headphones.",
                "does not speak to the shopper",
            ),
            (
                "I'm glad you like the Soundly H30 headphones.",
                "speaks as itself",
            ),
            (
                "A plain version: \"Because you viewed the Soundly X2 earbuds: another Soundly \
                 product, the Soundly H30 headphones.",
                "repeats the instructions",
            ),
            (
                "You may like the Soundly H30 headphones.",
                "does not name the Soundly X2 earbuds it rests on",
            ),
            (
                "You viewed the Soundly X2 earbuds, and the Soundly H30 headphones are in them.",
                "does not say why",
            ),
        ] {
            let got = b.reject(bad, &extractor).unwrap_or_default();
            assert!(got.contains(why), "{bad:?}: {got:?}");
        }
    }

    #[test]
    fn popularity_may_be_claimed_only_when_it_is_the_reason() {
        let extractor = Extractor::new(["Soundly"], Vec::<String>::new());
        let popular = basis(&headphones(), &[], &|_, _| 0, Some(&[]));
        let text = "The Soundly H30 headphones are among the most popular in the shop.";
        assert_eq!(popular.reject(text, &extractor), None);
        let brand = basis(&headphones(), &earbuds(), &|_, _| 0, None);
        let text = "The Soundly H30 headphones are best-selling.";
        assert!(brand.reject(text, &extractor).is_some());
    }
}
