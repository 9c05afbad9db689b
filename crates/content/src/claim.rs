//! Finding the checkable claims in a text: numbers with their units, prices and discounts,
//! colours, materials, sizes and fits, audiences, brand names, certifications, superlatives,
//! guarantees, health and safety, performance and care, and a merchant's banned phrases.
//!
//! The same extractor reads the product's facts (see `facts.rs`), so a claim and the fact that
//! supports it are normalised alike.

use serde::Serialize;

use crate::lexicon::{self, LEXICON, SHORT_SIZE_LETTERS, SIZE_LETTERS};
use crate::token::{self, Kind, Token, phrase_key, tokenize, word_view};

/// What a claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// A number, with its unit if it has one ("13 kg", "5 pockets", "2023").
    Number,
    /// An amount of money ("$5.79", "Rs. 899").
    Price,
    /// A sale, discount or offer ("50% off", "on sale", "free gift").
    Discount,
    /// A colour.
    Colour,
    /// A material or fabric.
    Material,
    /// A size or fit ("XL", "size 32", "slim fit", "high-rise").
    Size,
    /// Who it is for ("for men", "kids").
    Audience,
    /// A brand or product name.
    Brand,
    /// A certification, origin or ethical claim ("organic", "handmade", "made in Italy").
    Certification,
    /// A ranking or superlative ("best-selling", "#1").
    Superlative,
    /// A warranty, guarantee, return or shipping promise.
    Guarantee,
    /// A health or safety claim ("hypoallergenic", "non-toxic").
    HealthSafety,
    /// A performance or care property ("waterproof", "machine washable").
    Performance,
    /// A phrase the merchant banned.
    Banned,
}

impl ClaimKind {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Price => "price",
            Self::Discount => "discount",
            Self::Colour => "colour",
            Self::Material => "material",
            Self::Size => "size",
            Self::Audience => "audience",
            Self::Brand => "brand",
            Self::Certification => "certification",
            Self::Superlative => "superlative",
            Self::Guarantee => "guarantee",
            Self::HealthSafety => "health_safety",
            Self::Performance => "performance",
            Self::Banned => "banned",
        }
    }
}

/// What exactly a claim states, normalised for checking.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Detail {
    /// A lexicon term by its canonical name ("navy", "faux leather", "water resistant").
    Term {
        /// Canonical name.
        name: String,
    },
    /// A number and its unit: a measure ("kg"), or the counted noun ("pocket").
    Quantity {
        /// The number.
        value: f64,
        /// Unit or counted noun, if any.
        unit: Option<String>,
    },
    /// Money.
    Money {
        /// Amount in major units.
        amount: f64,
        /// ISO 4217 code.
        currency: String,
    },
    /// A percentage off.
    PercentOff {
        /// The percentage.
        percent: f64,
    },
    /// A name (brand, product line, banned phrase) as written.
    Name {
        /// The name.
        name: String,
    },
}

/// One checkable statement in a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// What it is about.
    pub kind: ClaimKind,
    /// The words as written.
    pub text: String,
    /// Byte span in the text.
    pub start: usize,
    /// End of the byte span.
    pub end: usize,
    /// What it states.
    pub detail: Detail,
}

/// Finds claims; knows the catalog's brand names and the merchant's banned phrases.
#[derive(Debug, Clone, Default)]
pub struct Extractor {
    /// Brand names of the catalog, as phrase keys, with their spelling.
    brands: Vec<(Vec<String>, String)>,
    /// Banned phrases, as phrase keys, with their spelling.
    banned: Vec<(Vec<String>, String)>,
}

/// Words after a number that are not what it counts.
const NOT_COUNTED: &[&str] = &[
    "and", "or", "of", "in", "to", "the", "for", "with", "a", "an", "on", "at", "by", "from", "is",
    "are", "it", "this", "that", "as", "x", "but",
];

impl Extractor {
    /// An extractor that knows `brands` (every brand of the catalog) and `banned` phrases.
    pub fn new<B, P>(brands: B, banned: P) -> Self
    where
        B: IntoIterator,
        B::Item: AsRef<str>,
        P: IntoIterator,
        P::Item: AsRef<str>,
    {
        let keyed = |items: Vec<String>| {
            let mut v: Vec<(Vec<String>, String)> = items
                .into_iter()
                .map(|s| (phrase_key(&s), s))
                .filter(|(k, _)| !k.is_empty())
                .collect();
            v.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
            v
        };
        Self {
            brands: keyed(
                brands
                    .into_iter()
                    .map(|b| b.as_ref().trim().to_owned())
                    .collect(),
            ),
            banned: keyed(
                banned
                    .into_iter()
                    .map(|b| b.as_ref().trim().to_owned())
                    .collect(),
            ),
        }
    }

    /// The catalog's brand names it knows.
    pub fn brands(&self) -> impl Iterator<Item = &str> {
        self.brands.iter().map(|(_, name)| name.as_str())
    }

    /// The claims in `text`, in order, not overlapping.
    pub fn extract(&self, text: &str) -> Vec<Claim> {
        let tokens = tokenize(text);
        let view = word_view(&tokens);
        let mut claims = Vec::new();
        let mut at = 0;
        while at < view.len() {
            let found = self
                .banned_at(&tokens, &view, at)
                .or_else(|| self.brand_at(&tokens, &view, at))
                .or_else(|| money_at(&tokens, &view, at))
                .or_else(|| size_at(&tokens, &view, at))
                .or_else(|| term_at(&tokens, &view, at))
                .or_else(|| quantity_at(&tokens, &view, at))
                .or_else(|| trademark_at(&tokens, &view, at));
            match found {
                Some((kind, detail, n)) => {
                    let (start, end) = (tokens[view[at]].start, tokens[view[at + n - 1]].end);
                    claims.push(Claim {
                        kind,
                        text: text[start..end].to_owned(),
                        start,
                        end,
                        detail,
                    });
                    at += n;
                }
                None => at += 1,
            }
        }
        claims
    }

    fn banned_at(&self, tokens: &[Token], view: &[usize], at: usize) -> Option<Found> {
        let (key, phrase) = self
            .banned
            .iter()
            .find(|(k, _)| matches(tokens, view, at, k))?;
        Some((
            ClaimKind::Banned,
            Detail::Name {
                name: phrase.clone(),
            },
            key.len(),
        ))
    }

    /// A catalog brand, written as a name: capitalised and not merely the first word of a
    /// sentence, unless it is several words or all capitals ("People" starting a sentence is a
    /// word; "Mast & Harbour" and "DKNY" are names anywhere).
    fn brand_at(&self, tokens: &[Token], view: &[usize], at: usize) -> Option<Found> {
        let first = &tokens[view[at]];
        if !first.capitalised && !first.all_caps {
            return None;
        }
        let (key, name) = self
            .brands
            .iter()
            .find(|(k, _)| matches(tokens, view, at, k))?;
        let as_name = key.len() > 1 || first.all_caps || !first.sentence_start;
        as_name.then(|| {
            (
                ClaimKind::Brand,
                Detail::Name { name: name.clone() },
                key.len(),
            )
        })
    }
}

/// A claim found at a view position: kind, detail, and how many view positions it covers.
type Found = (ClaimKind, Detail, usize);

fn matches(tokens: &[Token], view: &[usize], at: usize, key: &[String]) -> bool {
    at + key.len() <= view.len()
        && view[at..at + key.len()]
            .iter()
            .zip(key)
            .all(|(&t, k)| tokens[t].norm == *k)
}

fn norm_at<'t>(tokens: &'t [Token], view: &[usize], at: usize) -> Option<&'t str> {
    view.get(at).map(|&i| tokens[i].norm.as_str())
}

/// "$5.79", "Rs. 899", "₹ 1,299", "899 rupees", "INR 899", and "… off" after any of them.
fn money_at(tokens: &[Token], view: &[usize], at: usize) -> Option<Found> {
    let here = norm_at(tokens, view, at)?;
    let (currency, amount, mut n) = if let Some(code) = lexicon::currency(here) {
        let value = tokens[*view.get(at + 1)?].number()?;
        (code, value, 2)
    } else {
        let value = tokens[view[at]].number()?;
        let code = lexicon::currency(norm_at(tokens, view, at + 1)?)?;
        (code, value, 2)
    };
    if norm_at(tokens, view, at + n) == Some("off") {
        n += 1;
        return Some((
            ClaimKind::Discount,
            Detail::Money {
                amount,
                currency: currency.to_owned(),
            },
            n,
        ));
    }
    Some((
        ClaimKind::Price,
        Detail::Money {
            amount,
            currency: currency.to_owned(),
        },
        n,
    ))
}

/// Sizes: "XL", "2XL", "size M", "sizes S, M and L", "size 32", "UK 8".
fn size_at(tokens: &[Token], view: &[usize], at: usize) -> Option<Found> {
    let t = &tokens[view[at]];
    let term = |name: String, n| Some((ClaimKind::Size, Detail::Term { name }, n));
    // "2XL": a number glued to "xl".
    if let Some(v) = t.number()
        && let Some(&next) = view.get(at + 1)
        && tokens[next].glued
        && ["xl", "xs"].contains(&tokens[next].norm.as_str())
    {
        return term(
            format!("{}{}", token::format_number(v), tokens[next].norm),
            2,
        );
    }
    if t.is_word()
        && SIZE_LETTERS.contains(&t.norm.as_str())
        && (t.all_caps || after_size(tokens, view, at))
    {
        return term(t.norm.clone(), 1);
    }
    if t.is_word()
        && SHORT_SIZE_LETTERS.contains(&t.norm.as_str())
        && tokens[view[at]].end - tokens[view[at]].start == 1
        && t.capitalised
        && after_size(tokens, view, at)
    {
        return term(t.norm.clone(), 1);
    }
    if t.is_word()
        && ["size", "uk", "us", "eu"].contains(&t.norm.as_str())
        && let Some(v) = view.get(at + 1).and_then(|&i| tokens[i].number())
    {
        let system = if t.norm == "size" {
            "size"
        } else {
            t.norm.as_str()
        };
        return term(format!("{system} {}", token::format_number(v)), 2);
    }
    None
}

/// Whether a size letter at `at` follows "size"/"sizes" or another size in a list.
fn after_size(tokens: &[Token], view: &[usize], at: usize) -> bool {
    let mut i = at;
    while i > 0 {
        i -= 1;
        let t = &tokens[view[i]];
        match t.norm.as_str() {
            "size" => return true,
            "," | "and" | "or" | "to" => continue,
            n if SIZE_LETTERS.contains(&n) || SHORT_SIZE_LETTERS.contains(&n) => continue,
            _ => return false,
        }
    }
    false
}

/// A lexicon term; "made in" takes the place name after it.
fn term_at(tokens: &[Token], view: &[usize], at: usize) -> Option<Found> {
    let (entry, mut n) = LEXICON.longest(tokens, view, at)?;
    let mut name = entry.canonical.to_owned();
    if entry.canonical == "made in" {
        let mut place = Vec::new();
        while let Some(&i) = view.get(at + n) {
            if tokens[i].is_word() && tokens[i].capitalised && !tokens[i].sentence_start {
                place.push(tokens[i].norm.clone());
                n += 1;
            } else {
                break;
            }
        }
        if place.is_empty() {
            return None;
        }
        name = format!("made in {}", place.join(" "));
    }
    // "cotton" in "100% cotton" is a material; the percentage is found as its own claim, so
    // a term never swallows a number.
    Some((entry.kind, Detail::Term { name }, n))
}

/// A number and what follows it: a unit, "%", "% off", or a counted noun.
fn quantity_at(tokens: &[Token], view: &[usize], at: usize) -> Option<Found> {
    let t = &tokens[view[at]];
    let (value, spelled) = match t.number() {
        Some(v) => (v, false),
        None => (lexicon::number_word(&t.norm)?, true),
    };
    let next = view.get(at + 1).map(|&i| &tokens[i]);
    let quantity =
        |unit: Option<String>, n| Some((ClaimKind::Number, Detail::Quantity { value, unit }, n));
    // A number ends where its sentence or line does: "94" in "… 94\nBrand: …" counts no brand.
    let Some(next) = next.filter(|n| !n.sentence_start) else {
        return if spelled { None } else { quantity(None, 1) };
    };
    if next.is_symbol('%') || next.norm == "percent" {
        if matches!(norm_at(tokens, view, at + 2), Some("off" | "discount")) {
            return Some((
                ClaimKind::Discount,
                Detail::PercentOff { percent: value },
                3,
            ));
        }
        return quantity(Some("%".into()), 2);
    }
    if let Some((unit, _, _)) = lexicon::unit(&next.norm)
        && next.is_word()
    {
        return quantity(Some(unit.to_owned()), 2);
    }
    // The counted noun: the first plural among the next few words ("2 compression straps"
    // counts straps), else the first word.
    let words: Vec<&Token> = view[at + 1..]
        .iter()
        .map(|&i| &tokens[i])
        .take(3)
        .take_while(|t| t.is_word() && !t.sentence_start && !NOT_COUNTED.contains(&t.norm.as_str()))
        .collect();
    let plural = words.iter().position(|t| t.norm.len() < t.end - t.start);
    match (plural, words.first()) {
        (Some(p), _) => return quantity(Some(words[p].norm.clone()), p + 2),
        // A spelled number counts only a plural noun: "one" is too often a pronoun.
        (None, Some(first)) if !spelled => return quantity(Some(first.norm.clone()), 2),
        _ => {}
    }
    if spelled { None } else { quantity(None, 1) }
}

/// A name marked ® or ™: the capitalised words before the mark.
fn trademark_at(tokens: &[Token], view: &[usize], at: usize) -> Option<Found> {
    let t = &tokens[view[at]];
    if !(t.is_word() && t.capitalised) {
        return None;
    }
    let mut n = 1;
    while let Some(&i) = view.get(at + n) {
        match &tokens[i].kind {
            Kind::Symbol('®' | '™') => {
                let name = view[at..at + n]
                    .iter()
                    .map(|&i| tokens[i].norm.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                return Some((ClaimKind::Brand, Detail::Name { name }, n + 1));
            }
            Kind::Word if tokens[i].capitalised && n < 4 => n += 1,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(ClaimKind, String)> {
        Extractor::new(["Roadster", "Mast & Harbour"], ["cheap"])
            .extract(text)
            .into_iter()
            .map(|c| (c.kind, c.text))
            .collect()
    }

    #[test]
    fn finds_each_kind() {
        use ClaimKind::*;
        let found = kinds(
            "Navy blue 100% cotton shirt by Roadster, 13kg, Rs. 899, 20% off. Waterproof and \
             best-selling, made in Italy. Sizes S, M and XL. Cheap!",
        );
        let expected: Vec<(ClaimKind, String)> = [
            (Colour, "Navy blue"),
            (Number, "100%"),
            (Material, "cotton"),
            (Brand, "Roadster"),
            (Number, "13kg"),
            (Price, "Rs. 899"),
            (Discount, "20% off"),
            (Performance, "Waterproof"),
            (Superlative, "best-selling"),
            (Certification, "made in Italy"),
            (Size, "S"),
            (Size, "M"),
            (Size, "XL"),
            (Banned, "Cheap"),
        ]
        .into_iter()
        .map(|(k, t)| (k, t.to_owned()))
        .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn a_number_counts_nothing_past_its_line_or_sentence() {
        assert_eq!(
            kinds("Price: 94\nBrands we love"),
            [(ClaimKind::Number, "94".into())]
        );
        assert_eq!(
            kinds("It comes in 2. Selling fast"),
            [(ClaimKind::Number, "2".into())]
        );
        assert_eq!(
            kinds("It has 2 pockets."),
            [(ClaimKind::Number, "2 pockets".into())]
        );
    }

    #[test]
    fn spelled_numbers_count_only_plural_nouns_and_units() {
        assert_eq!(
            kinds("It has two pockets."),
            [(ClaimKind::Number, "two pockets".into())]
        );
        assert_eq!(kinds("This one is lovely, one of a kind."), []);
        assert_eq!(
            kinds("A one-year warranty"),
            [
                (ClaimKind::Number, "one-year".into()),
                (ClaimKind::Guarantee, "warranty".into()),
            ]
        );
    }

    #[test]
    fn brand_words_starting_a_sentence_are_words() {
        let e = Extractor::new(["People", "DKNY"], Vec::<String>::new());
        assert!(e.extract("People love it.").is_empty());
        assert_eq!(e.extract("Loved by People everywhere").len(), 1);
        assert_eq!(e.extract("DKNY makes it.").len(), 1);
    }
}
