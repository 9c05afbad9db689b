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
use crate::lexicon::{CURRENCY_SPELLINGS, LEXICON, NUMBER_WORDS, SIZE_LETTERS};
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
    // Spelled numbers the record does not state ("four pockets", "two rows"). "One" is left
    // to the checker: it is too often a pronoun ("one of a kind").
    for &(word, value) in NUMBER_WORDS {
        if word != "one" && !facts.quantities.iter().any(|q| q.value == value) {
            avoid.insert(word.to_owned());
        }
    }
    // Currencies other than the record's ("$1079" for a price in rupees).
    for &(spelling, code) in CURRENCY_SPELLINGS {
        if code != facts.currency {
            avoid.insert(spelling.to_owned());
        }
    }
    // The prompt's own words, which a small model echoes ("Write the product description.
    // Title: …"), and web addresses.
    avoid.extend(ECHO.iter().map(|w| (*w).to_owned()));
    // Plurals: steering matches whole words, and "warranties" is not "warranty".
    let plurals: Vec<String> = avoid.iter().filter_map(|p| plural(p)).collect();
    avoid.extend(plurals);
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
    // What may follow a number: the words that follow one in the record ("205 Pixel", "2
    // pockets"), its units, the record's currency, and the small words of a sentence.
    let mut after: BTreeSet<String> = FOLLOWERS.iter().map(|w| (*w).to_owned()).collect();
    for (_, text) in facts.texts() {
        after.extend(words_after_numbers(text));
    }
    after.extend(facts.quantities.iter().filter_map(|q| q.unit.clone()));
    after.extend(
        CURRENCY_SPELLINGS
            .iter()
            .filter(|(_, code)| *code == facts.currency)
            .map(|(spelling, _)| (*spelling).to_owned()),
    );
    after.insert(facts.currency.to_lowercase());
    let plurals: Vec<String> = after.iter().filter_map(|w| plural(w)).collect();
    after.extend(plurals);
    after.retain(|w| w.chars().all(char::is_alphabetic));
    Steering {
        avoid: avoid.into_iter().collect(),
        numbers: Some(numbers.into_iter().collect()),
        after_numbers: Some(after.into_iter().collect()),
        repeats: None,
    }
}

/// Phrases of the prompt a model should not repeat, and the starts of web addresses.
const ECHO: &[&str] = &[
    "write the product description",
    "product description",
    "facts:",
    "www",
    "http",
    "https",
];

/// Words that may follow any number in a sentence: "in 2 and 3", "899 for the pair".
const FOLLOWERS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "by", "each", "for", "from", "in", "is", "it", "of", "on",
    "only", "or", "per", "the", "this", "to", "was", "with",
];

/// The words right after numbers in `text`, lower case ("SHISEIDO 205 Pixel" gives "pixel").
fn words_after_numbers(text: &str) -> Vec<String> {
    vitrine_core::words_after_numbers(text)
        .into_iter()
        .map(|span| text[span].to_lowercase())
        .collect()
}

/// The plural of a phrase's last word, when it has letters to inflect: "warranty" →
/// "warranties", "offer" → "offers", "box" → "boxes".
fn plural(phrase: &str) -> Option<String> {
    let last = phrase.rsplit(' ').next()?;
    if last.chars().count() < 3 || !last.chars().all(char::is_alphabetic) || last.ends_with('s') {
        return None;
    }
    let stem = &phrase[..phrase.len() - last.len()];
    let vowel = |c: char| "aeiou".contains(c);
    let mut chars = last.chars().rev();
    let (end, before) = (chars.next()?, chars.next()?);
    Some(if end == 'y' && !vowel(before) {
        format!("{stem}{}ies", &last[..last.len() - 1])
    } else if end == 'x' || end == 'z' || last.ends_with("ch") || last.ends_with("sh") {
        format!("{stem}{last}es")
    } else {
        format!("{stem}{last}s")
    })
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn words_after_numbers_in_the_record() {
        assert_eq!(
            super::words_after_numbers("SHISEIDO 205 Pixel Pink Gel Lipstick 1.6 g, Pack of 2"),
            ["pixel", "g"]
        );
        assert_eq!(super::words_after_numbers("5pcs and 1,299"), ["pcs"]);
    }

    #[test]
    fn plurals_of_avoided_words() {
        assert_eq!(plural("warranty").as_deref(), Some("warranties"));
        assert_eq!(plural("offer").as_deref(), Some("offers"));
        assert_eq!(
            plural("money back guarantee").as_deref(),
            Some("money back guarantees")
        );
        assert_eq!(plural("box").as_deref(), Some("boxes"));
        assert_eq!(plural("day").as_deref(), Some("days"));
        assert_eq!(plural("xl"), None);
        assert_eq!(plural("#1"), None);
        assert_eq!(plural("jeans"), None);
    }
}
