//! Checking a candidate piece of text against a request's [`Steering`] as it is generated: the
//! part of steering that does not depend on any model, so every generator that can filter
//! candidate tokens applies the same rule.

use crate::text::Steering;

/// A [`Steering`] prepared for checking many candidates.
#[derive(Debug, Clone)]
pub struct SteeringCheck {
    /// Lower-cased phrases.
    avoid: Vec<String>,
    /// Allowed numbers without separators.
    numbers: Option<Vec<String>>,
}

impl SteeringCheck {
    /// Prepares `steering`.
    pub fn new(steering: &Steering) -> Self {
        Self {
            avoid: steering
                .avoid
                .iter()
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty())
                .collect(),
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
        if piece.is_empty() {
            return false;
        }
        let text = format!("{before}{piece}").to_lowercase();
        // Where the new piece starts in the lower-cased text (lower-casing may change lengths).
        let new_from = before.to_lowercase().len();
        self.avoid.iter().any(|p| completes(&text, new_from, p)) || self.bad_number(&text, new_from)
    }

    fn bad_number(&self, text: &str, new_from: usize) -> bool {
        let Some(allowed) = &self.numbers else {
            return false;
        };
        if !text[new_from..].chars().any(|c| c.is_ascii_digit()) {
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
            if i > new_from || (open && i >= new_from) {
                let run = text[start..i].replace(',', "");
                let fits = if open {
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

/// Whether `phrase` occurs in `text` starting at a word start and ending at what may be a word
/// end, with its end inside the new part (from `new_from`).
fn completes(text: &str, new_from: usize, phrase: &str) -> bool {
    let alnum_before = |i: usize| {
        text[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
    };
    let alnum_at = |i: usize| text[i..].chars().next().is_some_and(char::is_alphanumeric);
    text.match_indices(phrase).any(|(start, m)| {
        let end = start + m.len();
        end > new_from && !alnum_before(start) && !alnum_at(end)
    })
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
    }
}
