//! Grounded decoding: what a model may not write about a product, handed to the generator as
//! [`Steering`] so the local model never completes an unsupported colour, material, size,
//! certification, superlative, guarantee, health or performance claim, audience, distinctive
//! brand name or number, and takes its next most likely token instead.
//!
//! What it cannot do: steer phrasing (a model may still write "five pockets" in words; numbers
//! are steered by digits), catch a claim it has no word list for, or steer a remote server
//! (OpenAI's API has no such option). Verification after generation remains the last line.

use std::collections::BTreeSet;

use vitrine_core::Steering;

use crate::claim::Extractor;
use crate::facts::Facts;
use crate::lexicon::{LEXICON, SIZE_LETTERS};
use crate::token::format_number;
use crate::verify::Verifier;

/// The steering for copy about the product of `facts`: every lexicon spelling the record does
/// not support, the catalog's other brands when their names cannot be ordinary words, and the
/// record's numbers as the only numbers allowed.
pub fn steering(facts: &Facts, extractor: &Extractor) -> Steering {
    let verifier = Verifier::new(facts, extractor);
    let mut avoid = BTreeSet::new();
    for entry in LEXICON.entries() {
        let report = verifier.check(entry.spelling);
        if report.found() > 0 && !report.is_clean() {
            avoid.insert(entry.spelling.to_lowercase());
        }
    }
    for letters in SIZE_LETTERS {
        if !verifier
            .check(&format!("Size {}.", letters.to_uppercase()))
            .is_clean()
        {
            avoid.insert((*letters).to_owned());
        }
    }
    for brand in extractor.brands() {
        // A one-word brand in title case may be an ordinary word ("Roadster", "People"):
        // steering ignores case, so only names that cannot be words are steered; the checker
        // still catches the rest.
        let distinctive = brand.split_whitespace().count() > 1
            || brand.chars().any(|c| !c.is_alphabetic())
            || (brand.chars().count() > 1 && brand.chars().all(|c| c.is_uppercase()));
        if distinctive && !verifier.check(&format!("By {brand}.")).is_clean() {
            avoid.insert(brand.to_lowercase());
        }
    }
    let mut numbers: BTreeSet<String> = facts
        .quantities
        .iter()
        .map(|q| format_number(q.value))
        .collect();
    if let Some(price) = facts.price {
        numbers.insert(format_number(price));
        // "₹899.00" is the same price.
        numbers.insert(format!("{price:.2}"));
    }
    Steering {
        avoid: avoid.into_iter().collect(),
        numbers: Some(numbers.into_iter().collect()),
    }
}
