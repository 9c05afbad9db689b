//! Details borrowed from the examples. A few-shot prompt shows the model other products'
//! descriptions, and a small model copies their details ("has a spread collar, long sleeves,
//! button placket") into a product whose record says nothing of them. No lexicon lists every
//! feature, but the examples are known: two adjacent words that an example's description has,
//! neither of which the product's record has, came from the example and not from the record.

use std::collections::HashSet;

use crate::facts::Facts;
use crate::token::{Kind, Token, tokenize};
use crate::verify::{RemovedSentence, Repair, sentences};

/// Words too common to mark a detail.
const COMMON: &[&str] = &[
    "the", "and", "for", "with", "your", "you", "our", "this", "that", "are", "now", "new", "has",
    "have", "its", "from", "all", "one", "more", "can", "will", "was", "been", "also", "any",
    "not", "but", "into", "made", "make", "look", "wear", "use", "day",
];

/// The word pairs of `tokens`: adjacent words (across a hyphen or slash, not across other
/// symbols), as (index of the first token, first word, second word).
fn pairs(tokens: &[Token]) -> Vec<(usize, &str, &str)> {
    let view: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].kind, Kind::Symbol('-' | '/')))
        .collect();
    view.windows(2)
        .filter(|w| tokens[w[0]].is_word() && tokens[w[1]].is_word())
        .map(|w| (w[0], tokens[w[0]].norm.as_str(), tokens[w[1]].norm.as_str()))
        .collect()
}

fn telling(word: &str) -> bool {
    word.chars().count() >= 3 && !COMMON.contains(&word)
}

/// The examples' pairs of telling words, for checking many texts.
#[derive(Debug, Default)]
pub struct Borrowed {
    pairs: HashSet<(String, String)>,
    record: HashSet<String>,
}

impl Borrowed {
    /// The pairs of `examples` (other products' descriptions) that `facts` has neither word of.
    pub fn new<'a>(facts: &Facts, examples: impl IntoIterator<Item = &'a str>) -> Self {
        let record: HashSet<String> = facts
            .texts()
            .flat_map(|(_, text)| tokenize(text))
            .filter(Token::is_word)
            .map(|t| t.norm)
            .collect();
        let mut found = HashSet::new();
        for example in examples {
            let tokens = tokenize(example);
            for (_, a, b) in pairs(&tokens) {
                if telling(a) && telling(b) && !record.contains(a) && !record.contains(b) {
                    found.insert((a.to_owned(), b.to_owned()));
                }
            }
        }
        Self {
            pairs: found,
            record,
        }
    }

    /// `text` without the details it borrowed. A sentence whose borrowed detail comes after a
    /// comma keeps what comes before it, when that is three words or more ("Blue Formal
    /// Shirt, has a spread collar" keeps "Blue Formal Shirt."); otherwise the sentence goes.
    pub fn remove(&self, text: &str) -> Repair {
        let mut kept: Vec<String> = Vec::new();
        let mut removed = Vec::new();
        for (start, end) in sentences(text) {
            let sentence = text[start..end].trim();
            let tokens = tokenize(sentence);
            let hit = pairs(&tokens).into_iter().find(|(_, a, b)| {
                self.pairs.contains(&((*a).to_owned(), (*b).to_owned()))
                    && !self.record.contains(*a)
                    && !self.record.contains(*b)
            });
            let Some((at, a, b)) = hit else {
                kept.push(sentence.to_owned());
                continue;
            };
            let claim =
                format!("\"{a} {b}\" is in another product's description, not in this record");
            // The last comma before the borrowed words, if enough comes before it.
            let cut = tokens[..at]
                .iter()
                .rposition(|t| t.is_symbol(','))
                .filter(|&c| tokens[..c].iter().filter(|t| t.is_word()).count() >= 3);
            match cut {
                Some(c) => {
                    let head = sentence[..tokens[c].start].trim_end();
                    kept.push(format!("{head}."));
                    removed.push(RemovedSentence {
                        sentence: sentence[tokens[c].end..].trim().to_owned(),
                        claims: vec![claim],
                    });
                }
                None => removed.push(RemovedSentence {
                    sentence: sentence.to_owned(),
                    claims: vec![claim],
                }),
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
    use super::*;
    use crate::Grounding;
    use vitrine_core::{Product, ProductDraft};

    fn shirt() -> Facts {
        let draft = ProductDraft {
            id: "s1".into(),
            sku: None,
            title: "Park Avenue Men Blue Regular Fit Self Design Formal Shirt".into(),
            brand: Some("Park Avenue".into()),
            category: None,
            price_minor: 99_900,
            currency: "INR".into(),
            attributes: serde_json::Map::new(),
            description: None,
            image_urls: Vec::new(),
        };
        Facts::from_product(&Product::from_draft(draft, 0, 0), Grounding::AttributesOnly).unwrap()
    }

    #[test]
    fn details_of_an_example_are_cut_and_the_record_kept() {
        let example = "Blue solid formal shirt, has a spread collar, long sleeves, button \
                       placket, curved hem. Stylish and comfortable all day.";
        let borrowed = Borrowed::new(&shirt(), [example]);
        let repair = borrowed.remove(
            "Park Avenue Men Blue Regular Fit Self Design Formal Shirt, has a spread collar, \
             long sleeves. Made for the office, it is stylish and comfortable. It has long \
             sleeves.",
        );
        assert_eq!(
            repair.text,
            "Park Avenue Men Blue Regular Fit Self Design Formal Shirt. Made for the office, it \
             is stylish and comfortable."
        );
        assert_eq!(repair.removed.len(), 2);
        assert!(repair.removed[0].claims[0].contains("spread collar"));
        assert_eq!(repair.removed[1].sentence, "It has long sleeves.");
    }

    #[test]
    fn the_record_s_own_words_and_puffery_pairs_are_not_borrowed() {
        // "regular fit" is in the title; "stylish and comfortable" has no adjacent pair of
        // telling words the record lacks that the example has.
        let example = "A regular fit formal shirt. Stylish, comfortable and smart.";
        let borrowed = Borrowed::new(&shirt(), [example]);
        let text = "A regular fit shirt in blue. Stylish, comfortable and smart.";
        assert_eq!(borrowed.remove(text).text, text);
        assert!(Borrowed::new(&shirt(), []).remove(text).removed.is_empty());
    }
}
