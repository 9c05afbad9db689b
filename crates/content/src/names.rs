//! Names the record does not have. A small model invents proper names as freely as colours:
//! shops ("Purchase from Amazon"), places ("Shirak Bazaar, Israel"), product lines ("Shine
//! Brightening Light") and web addresses. No lexicon lists them, but a name is written with a
//! capital inside a sentence, and the record's own words are known: a capitalised word in the
//! middle of a sentence that the record does not have, and that is not an ordinary word
//! capitalised for emphasis, names something the record does not. Its sentence is removed, like
//! a sentence with any other unsupported claim.

use std::collections::HashSet;

use crate::facts::Facts;
use crate::token::{Token, tokenize};
use crate::verify::{RemovedSentence, Repair, sentences};

/// Words a sentence may capitalise without naming anything (headings after a colon, "I").
const ORDINARY: &[&str] = &[
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "by", "can", "each", "every",
    "for", "from", "get", "has", "have", "how", "i", "if", "in", "is", "it", "its", "just", "made",
    "make", "more", "new", "no", "not", "now", "of", "on", "one", "or", "our", "shop", "so",
    "that", "the", "their", "these", "they", "this", "to", "up", "use", "was", "we", "what",
    "when", "where", "which", "who", "why", "will", "with", "you", "your",
];

/// Web addresses are never in copy.
const ADDRESS: &[&str] = &["www", "http", "https", "com"];

/// The record's words, for checking many texts.
#[derive(Debug, Default)]
pub struct Names {
    record: HashSet<String>,
}

impl Names {
    /// The words of `facts` (every field, normalised).
    pub fn new(facts: &Facts) -> Self {
        let mut record: HashSet<String> = facts
            .texts()
            .flat_map(|(_, text)| tokenize(text))
            .filter(Token::is_word)
            .map(|t| t.norm)
            .collect();
        record.insert(facts.currency.to_lowercase());
        Self { record }
    }

    /// The first name in `sentence` that the record does not have, if any.
    fn invented<'a>(&self, tokens: &'a [Token]) -> Option<&'a Token> {
        tokens.iter().enumerate().find_map(|(i, t)| {
            if !t.is_word() {
                return None;
            }
            if ADDRESS.contains(&t.norm.as_str()) {
                return Some(t);
            }
            // A word after a colon or at the start of a sentence is capitalised anyway.
            let opens = i == 0
                || t.sentence_start
                || tokens[i - 1].is_symbol(':')
                || tokens[i - 1].is_symbol('"');
            (t.capitalised
                && !opens
                && !self.record.contains(&t.norm)
                && !ORDINARY.contains(&t.norm.as_str()))
            .then_some(t)
        })
    }

    /// `text` without the sentences that name what the record does not, and those sentences.
    pub fn remove(&self, text: &str) -> Repair {
        let mut kept: Vec<&str> = Vec::new();
        let mut removed = Vec::new();
        for (start, end) in sentences(text) {
            let sentence = text[start..end].trim();
            let tokens = tokenize(sentence);
            match self.invented(&tokens) {
                Some(t) => removed.push(RemovedSentence {
                    sentence: sentence.to_owned(),
                    claims: vec![format!(
                        "\"{}\" names something the record does not",
                        &sentence[t.start..t.end]
                    )],
                }),
                None => kept.push(sentence),
            }
        }
        Repair {
            text: kept.join(" "),
            removed,
        }
    }
}

#[cfg(test)]
mod tests {
    use vitrine_core::{Product, ProductDraft};

    use super::*;
    use crate::Grounding;

    fn names() -> Names {
        let mut attributes = serde_json::Map::new();
        attributes.insert("primary_color".into(), "Gold".into());
        let draft = ProductDraft {
            id: "m1".into(),
            sku: None,
            title: "Metro Women Gold-Toned Solid Mules".into(),
            brand: Some("Metro".into()),
            category: None,
            price_minor: 199_000,
            currency: "INR".into(),
            attributes,
            description: None,
            image_urls: Vec::new(),
        };
        Names::new(
            &Facts::from_product(&Product::from_draft(draft, 0, 0), Grounding::AttributesOnly)
                .unwrap(),
        )
    }

    #[test]
    fn sentences_with_invented_names_go() {
        let text = "Metro Women Gold-Toned Solid Mules, made for every day. Purchase them from \
                    Amazon today. Available in Gold for Women at 1990 INR. Made in a bazaar in \
                    Israel. What it is: A mule. See www.example.com for more.";
        let repair = names().remove(text);
        assert_eq!(
            repair.text,
            "Metro Women Gold-Toned Solid Mules, made for every day. Available in Gold for \
             Women at 1990 INR. What it is: A mule."
        );
        let claims: Vec<&str> = repair
            .removed
            .iter()
            .map(|r| r.claims[0].as_str())
            .collect();
        assert_eq!(
            claims,
            [
                "\"Amazon\" names something the record does not",
                "\"Israel\" names something the record does not",
                "\"www\" names something the record does not",
            ]
        );
    }

    #[test]
    fn ordinary_words_and_sentence_starts_pass() {
        let text =
            "Stylish mules. Comfortable and light, They go with everything. I love The look.";
        assert_eq!(names().remove(text).text, text);
    }
}
