//! Checking a candidate piece of text against a request's [`Steering`] as it is generated: the
//! part of steering that does not depend on any model, so every generator that can filter
//! candidate tokens applies the same rule.

use std::collections::HashMap;

use crate::text::Steering;

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
        self.avoided(&text, new_from) || self.bad_number(&text, new_from)
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
            let Some(phrases) = self.avoid.get(first_word(rest)) else {
                continue;
            };
            for p in phrases {
                let end = i + p.len();
                if end > new_from
                    && rest.starts_with(p.as_str())
                    && !text[end..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric)
                {
                    return true;
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
}
