//! Checking each claim of a text against a product's facts, and removing the unsupported ones.
//!
//! The rule is simple: a claim stands only if the record states it. Puffery ("stylish",
//! "comfortable") is not a claim and passes; an invented colour, material, number, price,
//! certification or guarantee never does. Removal works on whole sentences, so no sentence is
//! left half-cut; when too little is left, the caller regenerates.

use serde::Serialize;

use crate::claim::{Claim, ClaimKind, Detail, Extractor};
use crate::facts::Facts;
use crate::lexicon::{implied_by, unit};
use crate::token::tokenize;

/// Whether a claim stands, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The record states it.
    Supported {
        /// The field that supports it ("title", "attributes.material", "price").
        evidence: String,
    },
    /// The record does not state it.
    Unsupported {
        /// Why, in words a merchant reads.
        reason: String,
    },
}

/// A claim and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedClaim {
    /// The claim.
    #[serde(flatten)]
    pub claim: Claim,
    /// Its verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl CheckedClaim {
    /// Whether the record supports it.
    pub fn is_supported(&self) -> bool {
        matches!(self.verdict, Verdict::Supported { .. })
    }
}

/// Every claim of a text, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Claims in text order.
    pub claims: Vec<CheckedClaim>,
}

impl Report {
    /// How many claims were found.
    pub fn found(&self) -> usize {
        self.claims.len()
    }

    /// How many the record supports.
    pub fn supported(&self) -> usize {
        self.claims.iter().filter(|c| c.is_supported()).count()
    }

    /// The unsupported ones.
    pub fn unsupported(&self) -> impl Iterator<Item = &CheckedClaim> {
        self.claims.iter().filter(|c| !c.is_supported())
    }

    /// Whether every claim is supported.
    pub fn is_clean(&self) -> bool {
        self.claims.iter().all(CheckedClaim::is_supported)
    }
}

/// Checks texts about one product.
#[derive(Debug, Clone)]
pub struct Verifier<'a> {
    facts: &'a Facts,
    extractor: &'a Extractor,
}

impl<'a> Verifier<'a> {
    /// A checker for `facts`, finding claims with `extractor`.
    pub fn new(facts: &'a Facts, extractor: &'a Extractor) -> Self {
        Self { facts, extractor }
    }

    /// Finds and checks every claim in `text`.
    pub fn check(&self, text: &str) -> Report {
        let claims = self
            .extractor
            .extract(text)
            .into_iter()
            .map(|claim| {
                let verdict = self.verdict(&claim);
                CheckedClaim { claim, verdict }
            })
            .collect();
        Report { claims }
    }

    fn verdict(&self, claim: &Claim) -> Verdict {
        let f = self.facts;
        let supported = |evidence: &str| Verdict::Supported {
            evidence: evidence.to_owned(),
        };
        let unsupported = |reason: String| Verdict::Unsupported { reason };
        let kind = claim.kind.as_str().replace('_', " ");
        match (&claim.kind, &claim.detail) {
            (ClaimKind::Banned, _) => {
                unsupported("the merchant's banned phrases include it".into())
            }
            (ClaimKind::Brand, Detail::Name { name }) => {
                let key = crate::token::phrase_key(name);
                if f.brand.as_ref() == Some(&key) {
                    supported("brand")
                } else if let Some(source) = f.phrase(name) {
                    supported(source)
                } else {
                    unsupported(format!("{name} is not this product's brand or name"))
                }
            }
            (ClaimKind::Price | ClaimKind::Discount, Detail::Money { amount, currency }) => {
                if *currency != f.currency {
                    return unsupported(format!("the price is in {}, not {currency}", f.currency));
                }
                if claim.kind == ClaimKind::Discount {
                    return match (f.compare_at, f.price) {
                        (Some(was), Some(now)) if ((was - now) - amount).abs() < 0.01 => {
                            supported("attributes.compare_at_price")
                        }
                        _ => unsupported(format!("no discount of {amount} {currency} is recorded")),
                    };
                }
                if f.price.is_some_and(|p| (p - amount).abs() < 0.005) {
                    supported("price")
                } else if f.compare_at.is_some_and(|p| (p - amount).abs() < 0.005) {
                    supported("attributes.compare_at_price")
                } else {
                    unsupported(format!(
                        "the price is {} {}, not {amount}",
                        f.price.map_or("unknown".into(), |p| p.to_string()),
                        f.currency
                    ))
                }
            }
            (ClaimKind::Discount, Detail::PercentOff { percent }) => {
                match (f.compare_at, f.price) {
                    (Some(was), Some(now)) if was > now => {
                        let actual = (was - now) / was * 100.0;
                        if (actual - percent).abs() <= 1.0 {
                            supported("attributes.compare_at_price")
                        } else {
                            unsupported(format!(
                                "the recorded discount is {actual:.0}%, not {percent}%"
                            ))
                        }
                    }
                    _ => unsupported("no discount is recorded".into()),
                }
            }
            (ClaimKind::Number, Detail::Quantity { value, unit: u }) => {
                match self.quantity(*value, u.as_deref()) {
                    Some(source) => supported(source),
                    None => unsupported(format!(
                        "no {} of {}{} is recorded",
                        u.as_deref().map_or("number", |_| "quantity"),
                        crate::token::format_number(*value),
                        u.as_deref().map_or(String::new(), |u| format!(" {u}"))
                    )),
                }
            }
            (kind_, Detail::Term { name }) => {
                if let Some(source) = f.term(*kind_, name) {
                    return supported(source);
                }
                for stronger in implied_by(name) {
                    if let Some(source) = f.term(*kind_, stronger) {
                        return supported(source);
                    }
                }
                // A colour may be written in the record in a way the lexicon reads as
                // something else ("gold" in "gold-plated", "cream" in a product name).
                if *kind_ == ClaimKind::Colour
                    && let Some(source) = f.phrase(&claim.text)
                {
                    return supported(source);
                }
                if *kind_ == ClaimKind::Colour && f.term(ClaimKind::Colour, "multicolour").is_some()
                {
                    return unsupported(format!(
                        "the record says multicoloured without naming the colours; {name} is not stated"
                    ));
                }
                unsupported(format!("the record states no {kind} \"{name}\""))
            }
            (_, detail) => unsupported(format!("{kind} claim {detail:?} cannot be checked")),
        }
    }

    /// Where the record states `value` in `unit` (converted when both are measures).
    fn quantity(&self, value: f64, claim_unit: Option<&str>) -> Option<&str> {
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
        let measure = |u: &str| unit(&u.to_lowercase());
        self.facts
            .quantities
            .iter()
            .find(|q| match (claim_unit, q.unit.as_deref()) {
                (None, _) => same(q.value, value),
                (Some(_), None) => false,
                (Some(cu), Some(fu)) => match (measure(cu), measure(fu)) {
                    (Some((_, d1, k1)), Some((_, d2, k2))) => {
                        d1 == d2 && same(value * k1, q.value * k2)
                    }
                    _ => cu == fu && same(value, q.value),
                },
            })
            .map(|q| q.source.as_str())
    }
}

/// A text with its unsupported claims taken out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repair {
    /// What is left.
    pub text: String,
    /// The sentences removed, each for the unsupported claims it held.
    pub removed: Vec<RemovedSentence>,
}

/// A sentence taken out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovedSentence {
    /// The sentence.
    pub sentence: String,
    /// The unsupported claims in it.
    pub claims: Vec<String>,
}

/// Removes every sentence of `text` holding an unsupported claim of `report` (which must be
/// `text`'s report). Sentences are kept whole and in order.
pub fn remove_unsupported(text: &str, report: &Report) -> Repair {
    let spans = sentences(text);
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for (start, end) in spans {
        let bad: Vec<String> = report
            .unsupported()
            .filter(|c| c.claim.start < end && c.claim.end > start)
            .map(|c| c.claim.text.clone())
            .collect();
        let sentence = text[start..end].trim();
        if bad.is_empty() {
            kept.push(sentence);
        } else {
            removed.push(RemovedSentence {
                sentence: sentence.to_owned(),
                claims: bad,
            });
        }
    }
    Repair {
        text: kept.join(" "),
        removed,
    }
}

/// Byte spans of the sentences of `text`, covering it all.
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let starts: Vec<usize> = tokenize(text)
        .iter()
        .filter(|t| t.sentence_start)
        .map(|t| t.start)
        .collect();
    let mut spans = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        if !text[start..end].trim().is_empty() {
            spans.push((start, end));
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_cover_the_text() {
        let text = "Soft cotton. Navy blue!\nGreat for work";
        let s: Vec<&str> = sentences(text)
            .into_iter()
            .map(|(a, b)| text[a..b].trim())
            .collect();
        assert_eq!(s, ["Soft cotton.", "Navy blue!", "Great for work"]);
    }
}
