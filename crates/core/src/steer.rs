//! Checking a candidate piece of text against a request's [`Steering`] as it is generated: the
//! part of steering that does not depend on any model, so every generator that can filter
//! candidate tokens applies the same rule.

use std::collections::{HashMap, VecDeque};

use crate::text::{RepeatLimit, Steering};

/// A [`Steering`] prepared for checking many candidates.
#[derive(Debug, Clone)]
pub struct SteeringCheck {
    /// Lower-cased phrases by their first word: a candidate is checked only against the
    /// phrases that start with a word found at one of the word starts near it.
    avoid: HashMap<String, Vec<String>>,
    /// The longest phrase, in bytes: how far back a phrase ending in the new piece can start.
    longest: usize,
    /// Allowed numbers without separators.
    numbers: Option<Vec<String>>,
    /// Words allowed right after a number, lower case.
    after_numbers: Option<Vec<String>>,
}

impl SteeringCheck {
    /// Prepares `steering`.
    pub fn new(steering: &Steering) -> Self {
        let mut avoid: HashMap<String, Vec<String>> = HashMap::new();
        let mut longest = 0;
        for phrase in &steering.avoid {
            let phrase = phrase.trim().to_lowercase();
            if !phrase.is_empty() {
                longest = longest.max(phrase.len());
                avoid
                    .entry(first_word(&phrase).to_owned())
                    .or_default()
                    .push(phrase);
            }
        }
        Self {
            avoid,
            longest,
            numbers: steering.numbers.as_ref().map(|n| {
                n.iter()
                    .map(|s| s.trim().replace(',', ""))
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            after_numbers: steering.after_numbers.as_ref().map(|words| {
                words
                    .iter()
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty())
                    .collect()
            }),
        }
    }

    /// Whether appending `piece` to the text so far (of which `before` is the end; a few dozen
    /// characters are enough) would write something steering forbids: an avoided phrase
    /// completed at word boundaries, or a number that is not, and cannot become, an allowed one.
    pub fn forbids(&self, before: &str, piece: &str) -> bool {
        self.forbids_after_lower(&before.to_lowercase(), piece)
    }

    /// [`forbids`](Self::forbids) with the text so far already lower-cased: a sampler checking
    /// many candidates after the same text lower-cases it once.
    pub fn forbids_after_lower(&self, before_lower: &str, piece: &str) -> bool {
        if piece.is_empty() {
            return false;
        }
        let mut text = String::with_capacity(before_lower.len() + piece.len());
        text.push_str(before_lower);
        // Where the new piece starts in the lower-cased text.
        let new_from = text.len();
        text.extend(piece.chars().flat_map(char::to_lowercase));
        self.avoided(&text, new_from)
            || self.bad_number(&text, new_from)
            || self.bad_follower(&text, new_from)
    }

    /// Whether a word right after a number, touched by the new part, is not (and cannot
    /// become) one of the allowed followers.
    fn bad_follower(&self, text: &str, new_from: usize) -> bool {
        let Some(allowed) = &self.after_numbers else {
            return false;
        };
        if !text.bytes().any(|b| b.is_ascii_digit()) {
            return false;
        }
        for span in words_after_numbers(text) {
            if span.end < new_from {
                continue;
            }
            let word = &text[span.clone()];
            let fits = if span.end == text.len() {
                allowed.iter().any(|a| a.starts_with(word))
            } else {
                allowed.iter().any(|a| a == word)
            };
            if !fits {
                return true;
            }
        }
        false
    }

    /// Whether an avoided phrase starts at a word start and ends, at a possible word end,
    /// inside the new part.
    fn avoided(&self, text: &str, new_from: usize) -> bool {
        if self.avoid.is_empty() {
            return false;
        }
        let earliest = new_from.saturating_sub(self.longest);
        let mut prev_alnum = false;
        for (i, c) in text.char_indices() {
            // "#1" starts with a symbol; a phrase never starts inside a word.
            let word_start = !prev_alnum && !c.is_whitespace();
            prev_alnum = c.is_alphanumeric();
            if i < earliest || !word_start {
                continue;
            }
            let rest = &text[i..];
            let word = first_word(rest);
            // A symbol avoided on its own ("$") is found before digits too ("$1079").
            let symbol = rest
                .chars()
                .next()
                .filter(|c| !c.is_alphanumeric())
                .map(|c| &rest[..c.len_utf8()])
                .filter(|s| *s != word);
            for phrases in [Some(word), symbol]
                .into_iter()
                .flatten()
                .filter_map(|key| self.avoid.get(key))
            {
                for p in phrases {
                    let end = i + p.len();
                    let symbols_only = !p.chars().any(char::is_alphanumeric);
                    if end > new_from
                        && rest.starts_with(p.as_str())
                        && (symbols_only
                            || !text[end..]
                                .chars()
                                .next()
                                .is_some_and(char::is_alphanumeric))
                    {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn bad_number(&self, text: &str, new_from: usize) -> bool {
        let Some(allowed) = &self.numbers else {
            return false;
        };
        let open_before = {
            let b = text[..new_from].trim_end_matches('.');
            b.len() + 1 >= new_from && b.ends_with(|c: char| c.is_ascii_digit())
        };
        if !open_before && !text[new_from..].chars().any(|c| c.is_ascii_digit()) {
            return false;
        }
        // Every run of digits (with inner separators) that the new piece touches.
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || (matches!(bytes[i], b',' | b'.')
                        && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            // A trailing "." may start decimals in the next piece.
            let open = i == bytes.len() || (bytes[i] == b'.' && i + 1 == bytes.len());
            // Where the run is known to have ended: at the character after it, or after a
            // "." that turned out not to start decimals.
            let decided_at = if i < bytes.len() && bytes[i] == b'.' {
                i + 1
            } else {
                i
            };
            if i > new_from || decided_at >= new_from {
                let run = text[start..i].replace(',', "");
                let dot_last = i + 1 == bytes.len() && bytes[i] == b'.';
                let fits = if dot_last {
                    // "3." may become "3.2", and "899." ends a sentence; "8." is neither.
                    let decimals = format!("{run}.");
                    allowed.contains(&run) || allowed.iter().any(|a| a.starts_with(&decimals))
                } else if open {
                    allowed.iter().any(|a| a.starts_with(&run))
                } else {
                    allowed.contains(&run)
                };
                if !fits {
                    return true;
                }
            }
        }
        false
    }
}

/// The word n-grams of a text being written, for [`RepeatLimit`]: whether the next piece would
/// write a word that makes an n-gram occur a forbidden time. The word is refused as soon as it
/// starts: after the n-gram's first n - 1 words, no word may begin that could become its last
/// one. (Refusing only the word's end, measured with the bundled 135M model, made it glue words
/// together, "wherea world", to get past.) Words are runs of letters and digits, lower-cased,
/// as the repetition measure counts them; a word is ended by any other character, or by the
/// end of the text.
#[derive(Debug, Clone)]
pub struct RepeatGuard {
    limit: RepeatLimit,
    /// The last `n - 1` ended words.
    recent: VecDeque<String>,
    /// The word being written.
    partial: String,
    /// Occurrences of each n-gram so far, its words joined by a space.
    counts: HashMap<String, usize>,
    /// The last words seen after each run of `n - 1` words, with their counts.
    next: HashMap<String, Vec<(String, usize)>>,
}

impl RepeatGuard {
    /// A guard for `limit` over a text that begins with `written` (a prefill counts).
    pub fn new(limit: RepeatLimit, written: &str) -> Self {
        let mut guard = Self {
            limit: RepeatLimit {
                n: limit.n.max(1),
                times: limit.times.max(2),
            },
            recent: VecDeque::new(),
            partial: String::new(),
            counts: HashMap::new(),
            next: HashMap::new(),
        };
        guard.push(written, false);
        guard
    }

    /// Whether writing `piece` next (and then ending the text, if `end`) would start or end a
    /// word that makes an n-gram occur `times` times.
    pub fn forbids(&self, piece: &str, end: bool) -> bool {
        let n = self.limit.n;
        let mut recent = self.recent.clone();
        let mut partial = self.partial.clone();
        // N-grams ended within this piece.
        let mut ended: Vec<String> = Vec::new();
        let count = |gram: &str, ended: &[String]| {
            self.counts.get(gram).copied().unwrap_or(0)
                + ended.iter().filter(|g| g.as_str() == gram).count()
        };
        for c in piece.chars() {
            if c.is_alphanumeric() {
                partial.extend(c.to_lowercase());
            } else if let Some(Some(gram)) = end_word(&mut recent, &mut partial, n) {
                if count(&gram, &ended) + 1 >= self.limit.times {
                    return true;
                }
                ended.push(gram);
            }
        }
        if end {
            if let Some(Some(gram)) = end_word(&mut recent, &mut partial, n) {
                return count(&gram, &ended) + 1 >= self.limit.times;
            }
            return false;
        }
        // A word left unfinished may not be on its way to a barred one.
        !partial.is_empty()
            && self
                .barred(&recent)
                .iter()
                .any(|w| w.starts_with(partial.as_str()))
    }

    /// The words that would complete an n-gram's last allowed occurrence after `recent`.
    fn barred(&self, recent: &VecDeque<String>) -> Vec<&str> {
        if recent.len() + 1 < self.limit.n {
            return Vec::new();
        }
        let key = join(recent);
        self.next.get(&key).map_or_else(Vec::new, |words| {
            words
                .iter()
                .filter(|(_, c)| c + 1 >= self.limit.times)
                .map(|(w, _)| w.as_str())
                .collect()
        })
    }

    /// Records `piece` as written (and the end of the text, if `end`).
    pub fn push(&mut self, piece: &str, end: bool) {
        let n = self.limit.n;
        let mut record = |recent: &VecDeque<String>, word: &str| {
            if recent.len() + 1 < n {
                return;
            }
            let key = join(recent);
            let gram = if key.is_empty() {
                word.to_owned()
            } else {
                format!("{key} {word}")
            };
            *self.counts.entry(gram).or_default() += 1;
            let words = self.next.entry(key).or_default();
            match words.iter_mut().find(|(w, _)| w == word) {
                Some((_, c)) => *c += 1,
                None => words.push((word.to_owned(), 1)),
            }
        };
        for c in piece.chars().chain(end.then_some(' ')) {
            if c.is_alphanumeric() {
                self.partial.extend(c.to_lowercase());
            } else if !self.partial.is_empty() {
                record(&self.recent, &self.partial);
                let word = std::mem::take(&mut self.partial);
                self.recent.push_back(word);
                while self.recent.len() > n - 1 {
                    self.recent.pop_front();
                }
            }
        }
    }
}

/// Words joined by a space.
fn join(words: &VecDeque<String>) -> String {
    let mut key = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            key.push(' ');
        }
        key.push_str(w);
    }
    key
}

/// Ends the word being written, if there is one: `Some(the n-gram it completes, if n words
/// are there)`, and moves it into `recent`.
fn end_word(
    recent: &mut VecDeque<String>,
    partial: &mut String,
    n: usize,
) -> Option<Option<String>> {
    if partial.is_empty() {
        return None;
    }
    let word = std::mem::take(partial);
    let gram = (recent.len() + 1 >= n).then(|| {
        let key = join(recent);
        if key.is_empty() {
            word.clone()
        } else {
            format!("{key} {word}")
        }
    });
    recent.push_back(word);
    while recent.len() > n - 1 {
        recent.pop_front();
    }
    Some(gram)
}

/// The byte spans of the words written right after a number in `text`: a number (with inner
/// separators, "1,299", "4.5"), then spaces, tabs or hyphens, then letters ("205 Pixel",
/// "159s", "2-inch").
pub fn words_after_numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(text.len(), |c| c.0);
    let mut spans = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if !chars[k].1.is_ascii_digit() {
            k += 1;
            continue;
        }
        while k < chars.len()
            && (chars[k].1.is_ascii_digit()
                || (matches!(chars[k].1, ',' | '.')
                    && chars.get(k + 1).is_some_and(|c| c.1.is_ascii_digit())))
        {
            k += 1;
        }
        while k < chars.len() && matches!(chars[k].1, ' ' | '\t' | '-') {
            k += 1;
        }
        let start = k;
        while k < chars.len() && chars[k].1.is_alphabetic() {
            k += 1;
        }
        if k > start {
            spans.push(byte(start)..byte(k));
        }
    }
    spans
}

/// The first word of `text`: its letters and digits up to the first other character, or that
/// character and the letters and digits after it when `text` starts with one ("#1").
fn first_word(text: &str) -> &str {
    let from = match text.chars().next() {
        Some(c) if !c.is_alphanumeric() => c.len_utf8(),
        _ => 0,
    };
    let end = text[from..]
        .find(|c: char| !c.is_alphanumeric())
        .map_or(text.len(), |k| from + k);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(avoid: &[&str], numbers: Option<&[&str]>) -> SteeringCheck {
        SteeringCheck::new(&Steering {
            avoid: avoid.iter().map(|s| s.to_string()).collect(),
            numbers: numbers.map(|n| n.iter().map(|s| s.to_string()).collect()),
            after_numbers: None,
            repeats: None,
        })
    }

    #[test]
    fn avoided_words_are_caught_as_they_complete() {
        let c = check(&["silk", "men", "navy blue"], None);
        assert!(c.forbids("Made of ", "silk"));
        assert!(c.forbids("Made of si", "lk"));
        assert!(c.forbids("made of ", "Silk,"));
        assert!(!c.forbids("Made of ", "sil"));
        assert!(
            !c.forbids("Made of silk", "y"),
            "the word ended before this piece"
        );
        assert!(!c.forbids("For wo", "men"), "men inside women is not men");
        assert!(!c.forbids("A ", "silky"));
        assert!(c.forbids("In navy ", "blue"));
        assert!(!c.forbids("In navy ", "green"));
        let hash = check(&["#1"], None);
        assert!(hash.forbids("Our ", "#1"));
        assert!(!hash.forbids("Our ", "#12"));
        let dollar = check(&["$"], None);
        assert!(dollar.forbids("Only ", "$"));
        assert!(dollar.forbids("Only ", "$1079"));
        assert!(dollar.forbids("Only", " $1"));
        assert!(!dollar.forbids("Only ", "1079"));
    }

    #[test]
    fn numbers_must_be_or_become_allowed_ones() {
        let c = check(&[], Some(&["899", "3.2", "1,499"]));
        assert!(!c.forbids("Only Rs. ", "8"));
        assert!(!c.forbids("Only Rs. 8", "99"));
        assert!(c.forbids("Only Rs. 8", "98"));
        assert!(c.forbids("Only Rs. 899", "9"));
        assert!(!c.forbids("Weighs ", "3."));
        assert!(!c.forbids("Weighs 3.", "2 kg"));
        assert!(c.forbids("Weighs 3.", "5 kg"));
        assert!(!c.forbids("Was ", "1,499"));
        assert!(c.forbids("It has ", "5 pockets"));
        assert!(
            !c.forbids("It has ", "five pockets"),
            "spelled numbers are the checker's job"
        );
        assert!(!c.forbids("Was 1,499", ". Now"));
        assert!(!check(&[], None).forbids("", "12345"));
        // A prefix of an allowed number must not be left as it is.
        assert!(c.forbids("Only 89", " rupees"));
        assert!(c.forbids("Only 89.", "\n"));
        assert!(!c.forbids("Only 899.", "\n"));
        assert!(!c.forbids("Only 3", "."), "3. may become 3.2");
        assert!(c.forbids("Only 3.", " kg"));
        assert!(
            c.forbids("Only 8", "."),
            "8. can only end an unfinished 899"
        );
        assert!(!c.forbids("Only 899", "."));
        assert!(!c.forbids("Only 3.", "2"));
    }

    #[test]
    fn the_word_that_would_complete_a_third_occurrence_may_not_start() {
        let limit = RepeatLimit { n: 4, times: 3 };
        let mut g = RepeatGuard::new(limit, "It is a luxury item.");
        g.push(" It is a luxury item", false);
        // "It is a" twice before: "luxury" may not start a third time.
        assert!(!g.forbids(". It is a", false));
        g.push(". It is a", false);
        assert!(g.forbids(" l", false));
        assert!(g.forbids(" Lux", false));
        assert!(!g.forbids(" lovely", false), "another word");
        assert!(!g.forbids(" bag", false));
        g.push(" lovely", false);
        assert!(!g.forbids(" item", false), "it is a lovely item");
        // A word ended at the end of the text counts.
        let mut h = RepeatGuard::new(RepeatLimit { n: 2, times: 2 }, "red shoe");
        h.push(" and red", false);
        assert!(h.forbids(" sh", false));
        assert!(!h.forbids("", true), "\"and red\" is new");
    }

    #[test]
    fn only_allowed_words_follow_a_number() {
        let c = SteeringCheck::new(&Steering {
            after_numbers: Some(vec!["inr".into(), "pockets".into(), "and".into()]),
            ..Steering::default()
        });
        assert!(!c.forbids("Only 1,299", " INR"));
        assert!(!c.forbids("Only 1,299", " I"), "may become INR");
        assert!(c.forbids("Only 1,299", " kg"));
        assert!(c.forbids("Only 1349", "kg"), "glued letters count");
        assert!(c.forbids("It comes in 159", "s"));
        assert!(c.forbids("A 2", "-inch"));
        assert!(c.forbids("It has 2 pock", "et "));
        assert!(!c.forbids("It has 2 pock", "ets "));
        assert!(
            !c.forbids("It has 2", ", and"),
            "punctuation ends the number"
        );
        assert!(!c.forbids("Price: 94", "\nBrand"), "a new line ends it too");
        assert!(
            !c.forbids("Price 1299 INR", " in navy"),
            "only the word right after"
        );
        assert!(
            !check(&[], None).forbids("Only 1349", " kg"),
            "no list, no check"
        );
    }

    #[test]
    fn repeats_within_one_piece_count_and_case_is_ignored() {
        let g = RepeatGuard::new(RepeatLimit { n: 2, times: 2 }, "Blue denim");
        assert!(g.forbids(" and BLUE DENIM ", false));
        assert!(!g.forbids(" and blue jeans ", false));
        let one = RepeatGuard::new(RepeatLimit { n: 2, times: 3 }, "");
        assert!(one.forbids("red hat red hat red hat ", false));
        assert!(!one.forbids("red hat red hat ", false));
    }
}
