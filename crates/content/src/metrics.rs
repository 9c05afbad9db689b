//! Measures of generated copy used by the checks and by `vitrine eval copy`: degenerate
//! repetition, ROUGE-L against a human text, distinct-n across variants, and how many of the
//! given attributes a text mentions.

use std::collections::{HashMap, HashSet};

use crate::claim::{ClaimKind, Detail, Extractor};
use crate::token::{contains, phrase_key, tokenize, word_view};

/// Lower-case alphanumeric words, as `rouge-score` tokenizes (no stemming).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The first word `n`-gram that occurs `times` times or more in `text`, if any: a text that
/// loops. The checks use n = 4, times = 3.
pub fn repeated_ngram(text: &str, n: usize, times: usize) -> Option<String> {
    let w = words(text);
    if n == 0 || w.len() < n {
        return None;
    }
    let mut counts: HashMap<&[String], usize> = HashMap::new();
    for gram in w.windows(n) {
        let c = counts.entry(gram).or_default();
        *c += 1;
        if *c >= times {
            return Some(gram.join(" "));
        }
    }
    None
}

/// ROUGE-L F1 of `candidate` against `reference`: longest common subsequence of words, over
/// both lengths (as Google's `rouge-score` computes it without stemming).
pub fn rouge_l(candidate: &str, reference: &str) -> f64 {
    let (c, r) = (words(candidate), words(reference));
    if c.is_empty() || r.is_empty() {
        return 0.0;
    }
    let mut prev = vec![0usize; r.len() + 1];
    let mut row = vec![0usize; r.len() + 1];
    for cw in &c {
        for (j, rw) in r.iter().enumerate() {
            row[j + 1] = if cw == rw {
                prev[j] + 1
            } else {
                row[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    let lcs = prev[r.len()] as f64;
    let (p, rc) = (lcs / c.len() as f64, lcs / r.len() as f64);
    if p + rc == 0.0 {
        0.0
    } else {
        2.0 * p * rc / (p + rc)
    }
}

/// Distinct-n over several texts: unique word n-grams over all n-grams (1 when no two texts
/// share one; low when variants say the same thing).
pub fn distinct_n(texts: &[String], n: usize) -> f64 {
    let mut all = 0usize;
    let mut unique = HashSet::new();
    for text in texts {
        let w = words(text);
        for gram in w.windows(n.max(1)) {
            all += 1;
            unique.insert(gram.to_vec());
        }
    }
    if all == 0 {
        0.0
    } else {
        unique.len() as f64 / all as f64
    }
}

/// Which of the given attributes a text mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// Attributes mentioned.
    pub mentioned: usize,
    /// Attributes given.
    pub total: usize,
    /// Names of those not mentioned.
    pub missing: Vec<String>,
}

impl Coverage {
    /// Mentioned over given (1 when nothing was given).
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.mentioned as f64 / self.total as f64
        }
    }
}

/// How many of `attributes` (name, value) `text` mentions: a number by value ("899" in
/// "₹899"), a term the lexicon knows by its canonical name ("Women" in "women's"), anything
/// else by its words in order.
pub fn coverage(text: &str, attributes: &[(String, String)]) -> Coverage {
    let tokens = tokenize(text);
    let view = word_view(&tokens);
    let extractor = Extractor::default();
    let said = extractor.extract(text);
    let numbers: Vec<f64> = tokens.iter().filter_map(|t| t.number()).collect();
    let terms: HashSet<(ClaimKind, String)> = said
        .iter()
        .filter_map(|c| match &c.detail {
            Detail::Term { name } => Some((c.kind, name.clone())),
            _ => None,
        })
        .collect();
    let mut missing = Vec::new();
    for (name, value) in attributes {
        let value_claims = extractor.extract(value);
        let found = if let Ok(v) = value.trim().replace(',', "").parse::<f64>() {
            numbers.iter().any(|n| (n - v).abs() < 0.005)
        } else if !value_claims.is_empty()
            && value_claims
                .iter()
                .all(|c| matches!(c.detail, Detail::Term { .. }))
        {
            value_claims.iter().all(|c| match &c.detail {
                Detail::Term { name } => terms.contains(&(c.kind, name.clone())),
                _ => false,
            })
        } else {
            contains(&tokens, &view, &phrase_key(value))
        };
        if !found {
            missing.push(name.clone());
        }
    }
    Coverage {
        mentioned: attributes.len() - missing.len(),
        total: attributes.len(),
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_looping_text() {
        let loop_ = "It is a luxury item, which is often a luxury item, which is often a luxury \
                     item, which is often a luxury item.";
        assert_eq!(
            repeated_ngram(loop_, 4, 3).as_deref(),
            Some("a luxury item which")
        );
        assert_eq!(
            repeated_ngram("Soft pink jeans with five pockets.", 4, 3),
            None
        );
    }

    #[test]
    fn rouge_l_matches_rouge_score() {
        // rouge_score.rouge_scorer.RougeScorer(["rougeL"]).score(
        //   "the cat sat on the mat", "the cat lay on the red mat")["rougeL"].fmeasure
        // = 0.7692307692307692 (LCS "the cat on the mat" = 5; P = 5/6, R = 5/7).
        let f = rouge_l("the cat lay on the red mat", "the cat sat on the mat");
        assert!((f - 0.769_230_769_230_769_2).abs() < 1e-12, "{f}");
        assert_eq!(rouge_l("", "x"), 0.0);
        assert_eq!(rouge_l("Same words", "same, words!"), 1.0);
    }

    #[test]
    fn distinct_two_falls_when_variants_repeat() {
        let same = [
            "pink jeans for summer".to_string(),
            "pink jeans for summer".into(),
        ];
        let varied = [
            "pink jeans for summer".to_string(),
            "stretch denim all day".into(),
        ];
        assert_eq!(distinct_n(&same, 2), 0.5);
        assert_eq!(distinct_n(&varied, 2), 1.0);
    }

    #[test]
    fn coverage_counts_numbers_terms_and_words() {
        let attrs: Vec<(String, String)> = [
            ("brand", "SPYKAR"),
            ("gender", "Women"),
            ("colour", "Navy Blue"),
            ("price", "899"),
            ("material", "Linen"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let c = coverage(
            "SPYKAR's navy jeans for women's wardrobes, at ₹899.",
            &attrs,
        );
        assert_eq!(c.missing, ["material"]);
        assert_eq!((c.mentioned, c.total), (4, 5));
        assert!((c.ratio() - 0.8).abs() < 1e-12);
    }
}
