//! Words, numbers and symbols of a text with their byte spans: the unit in which claims are found
//! in generated copy and facts are found in a product record, so both sides are normalised the
//! same way ("Grey" and "gray", "pockets" and "pocket", "5-pocket" and "5 pockets").

use std::collections::HashSet;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// Letters (with inner apostrophes).
    Word,
    /// Digits, with thousands separators and a decimal part: its value.
    Number(f64),
    /// Any other visible character.
    Symbol(char),
}

/// One token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    /// Lower case, spelling variants unified, plural and possessive endings removed (words);
    /// the character itself (symbols); the canonical decimal (numbers).
    pub(crate) norm: String,
    /// Byte span in the text.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Starts with an upper-case letter.
    pub(crate) capitalised: bool,
    /// Two or more letters, all upper case ("XL", "DKNY").
    pub(crate) all_caps: bool,
    /// The first token of a sentence.
    pub(crate) sentence_start: bool,
    /// Follows the previous token with no space between ("13kg", "2XL").
    pub(crate) glued: bool,
}

impl Token {
    pub(crate) fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    pub(crate) fn number(&self) -> Option<f64> {
        match self.kind {
            Kind::Number(v) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn is_symbol(&self, c: char) -> bool {
        self.kind == Kind::Symbol(c)
    }
}

/// Splits `text` into tokens.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let mut tokens: Vec<Token> = Vec::new();
    let mut sentence_start = true;
    let mut last_end = usize::MAX;
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_whitespace() {
            if c == '\n' {
                sentence_start = true;
            }
            i += 1;
            continue;
        }
        let begin = i;
        let kind = if c.is_alphabetic() {
            i += 1;
            while i < chars.len() {
                let c = chars[i].1;
                let inner_apostrophe = (c == '\'' || c == '’')
                    && chars.get(i + 1).is_some_and(|&(_, n)| n.is_alphabetic());
                if run_on_at(&chars, begin, i) {
                    break;
                }
                if c.is_alphabetic() || inner_apostrophe {
                    i += 1;
                } else {
                    break;
                }
            }
            Kind::Word
        } else if c.is_ascii_digit() {
            let (value, next) = number_at(&chars, i);
            i = next;
            Kind::Number(value)
        } else {
            i += 1;
            Kind::Symbol(c)
        };
        let end = byte_at(i);
        let surface = &text[start..end];
        let letters: Vec<char> = surface.chars().filter(|c| c.is_alphabetic()).collect();
        let norm = match &kind {
            Kind::Word => normalize_word(surface),
            Kind::Number(v) => format_number(*v),
            Kind::Symbol(c) => c.to_string(),
        };
        tokens.push(Token {
            capitalised: letters.first().is_some_and(|c| c.is_uppercase()),
            all_caps: letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase()),
            sentence_start,
            glued: last_end == start,
            kind,
            norm,
            start,
            end,
        });
        last_end = end;
        // A full stop ends a sentence only when a space or the end follows ("No. 1" is
        // rare in copy; "4.5" never reaches here).
        sentence_start =
            matches!(c, '.' | '!' | '?') && chars.get(i).is_none_or(|&(_, n)| n.is_whitespace());
    }
    tokens
}

/// Whether a new word starts at `chars[i]` inside the word that began at `begin` (in the same
/// sentence: "VisionAiry" may be a name; [`split_run_ons`] decides about sentences): a capital
/// after two or more lower-case letters and before a lower-case one, as where a scraped list
/// lost its separators ("high back detailSynthetic upperCushioned footbed"). One lower-case
/// letter before ("iPhone", "McQueen") is not enough.
fn run_on_at(chars: &[(usize, char)], begin: usize, i: usize) -> bool {
    let c = chars[i].1;
    if !c.is_uppercase() || i < begin + 2 {
        return false;
    }
    chars[i - 1].1.is_lowercase()
        && chars[i - 2].1.is_lowercase()
        && chars.get(i + 1).is_some_and(|&(_, n)| n.is_lowercase())
}

/// `text` with a full stop and a space put where two sentences ran together with neither
/// ("high back detailSynthetic upper" → "high back detail. Synthetic upper"), as in scraped
/// catalog text and in copy that imitates it. Words in `keep` (lower case: the product's own
/// names, such as "visionairy") stay whole.
pub fn split_run_ons(text: &str, keep: &HashSet<String>) -> String {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut word_start = 0;
    for (i, &(_, c)) in chars.iter().enumerate() {
        if !c.is_alphabetic() {
            word_start = i + 1;
        } else if i > word_start && run_on_at(&chars, word_start, i) {
            let end = chars[word_start..]
                .iter()
                .position(|&(_, c)| !c.is_alphabetic())
                .map_or(text.len(), |k| chars[word_start + k].0);
            let whole = text[chars[word_start].0..end].to_lowercase();
            if !keep.contains(&whole) {
                out.push_str(". ");
                word_start = i;
            }
        }
        out.push(c);
    }
    out
}

/// Reads a number starting at `i`: digits, thousands separators in groups of three, one
/// decimal part. Returns its value and the index after it.
fn number_at(chars: &[(usize, char)], mut i: usize) -> (f64, usize) {
    let digit = |i: usize| chars.get(i).is_some_and(|&(_, c)| c.is_ascii_digit());
    let mut text = String::new();
    while digit(i) {
        text.push(chars[i].1);
        i += 1;
    }
    // "1,299" is one number; "1,2" is a list.
    while chars.get(i).is_some_and(|&(_, c)| c == ',')
        && (1..=3).all(|k| digit(i + k))
        && !digit(i + 4)
    {
        for k in 1..=3 {
            text.push(chars[i + k].1);
        }
        i += 4;
    }
    if chars.get(i).is_some_and(|&(_, c)| c == '.') && digit(i + 1) {
        text.push('.');
        i += 1;
        while digit(i) {
            text.push(chars[i].1);
            i += 1;
        }
    }
    (text.parse().unwrap_or(0.0), i)
}

/// A number as facts and claims compare it: "5", "4.5".
pub(crate) fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Lower case, one spelling per word, no plural or possessive ending.
pub(crate) fn normalize_word(word: &str) -> String {
    let mut w = word.to_lowercase().replace('’', "'");
    for suffix in ["'s", "s'"] {
        if w.len() > suffix.len() + 1 && w.ends_with(suffix) {
            w.truncate(w.len() - suffix.len());
            if suffix == "s'" {
                w.push('s');
            }
            break;
        }
    }
    spelling(&singular(&spelling(&w)))
}

/// One spelling per word (British, as most of our catalogs write it) and irregular plurals.
fn spelling(w: &str) -> String {
    match w {
        "gray" => "grey",
        "grays" => "greys",
        "color" | "colors" => "colour",
        "colored" => "coloured",
        "aluminum" => "aluminium",
        "microfiber" => "microfibre",
        "fiber" | "fibers" => "fibre",
        "jewelry" => "jewellery",
        "odor" => "odour",
        "meter" | "meters" => "metre",
        "liter" | "liters" => "litre",
        "centimeter" | "centimeters" => "centimetre",
        "millimeter" | "millimeters" => "millimetre",
        "feet" => "foot",
        "men" => "man",
        "women" => "woman",
        "children" => "child",
        other => other,
    }
    .to_owned()
}

/// A light English singular: enough to match "pockets" with "pocket" and "boxes" with "box" on
/// both sides; it need not give real words, only the same form for both.
fn singular(w: &str) -> String {
    let n = w.len();
    if n <= 3 || !w.is_ascii() {
        return w.to_owned();
    }
    if let Some(stem) = w.strip_suffix("ies")
        && n > 4
    {
        return format!("{stem}y");
    }
    for es in ["ches", "shes", "xes", "sses"] {
        if w.ends_with(es) {
            return w[..n - 2].to_owned();
        }
    }
    if w.ends_with('s') && !["ss", "us", "is", "ys"].iter().any(|e| w.ends_with(e)) {
        return w[..n - 1].to_owned();
    }
    w.to_owned()
}

/// The normalised words and numbers of a phrase, hyphens and slashes dropped: "eco-friendly"
/// and "eco friendly" give the same key.
pub(crate) fn phrase_key(phrase: &str) -> Vec<String> {
    tokenize(phrase)
        .into_iter()
        .filter(|t| !matches!(t.kind, Kind::Symbol('-' | '/' | '.')))
        .map(|t| t.norm)
        .collect()
}

/// The indices of `tokens` that take part in phrase matching (hyphens, slashes and full stops
/// skipped, as in `phrase_key`).
pub(crate) fn word_view(tokens: &[Token]) -> Vec<usize> {
    (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].kind, Kind::Symbol('-' | '/' | '.')))
        .collect()
}

/// Whether `key` occurs in `tokens` (as seen through `view`) as consecutive tokens.
pub(crate) fn contains(tokens: &[Token], view: &[usize], key: &[String]) -> bool {
    !key.is_empty()
        && view.len() >= key.len()
        && view
            .windows(key.len())
            .any(|w| w.iter().zip(key).all(|(&i, k)| tokens[i].norm == *k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.norm).collect()
    }

    #[test]
    fn run_on_words_are_split_into_words_of_one_sentence() {
        let tokens = tokenize("high back detailSynthetic upper, iPhone McQueen");
        let words: Vec<(&str, bool)> = tokens
            .iter()
            .map(|t| (t.norm.as_str(), t.sentence_start))
            .collect();
        assert_eq!(
            words,
            [
                ("high", true),
                ("back", false),
                ("detail", false),
                ("synthetic", false),
                ("upper", false),
                (",", false),
                ("iphone", false),
                ("mcqueen", false),
            ]
        );
    }

    #[test]
    fn run_on_sentences_get_a_full_stop_unless_the_word_is_kept() {
        let keep: HashSet<String> = ["visionairy".to_owned()].into();
        assert_eq!(
            split_run_ons("Open toe detailSynthetic upperCushioned footbed", &keep),
            "Open toe detail. Synthetic upper. Cushioned footbed"
        );
        assert_eq!(
            split_run_ons("Pixel Pink VisionAiry gel, on an iPhone", &keep),
            "Pixel Pink VisionAiry gel, on an iPhone"
        );
    }

    #[test]
    fn splits_numbers_from_units_and_keeps_separators() {
        assert_eq!(
            norms("13kg, ₹1,299.50!"),
            ["13", "kg", ",", "₹", "1299.5", "!"]
        );
        assert_eq!(norms("1,2 and 4.5"), ["1", ",", "2", "and", "4.5"]);
        let t = tokenize("13kg 2 XL");
        assert!(t[1].glued && !t[3].glued && t[3].all_caps);
    }

    #[test]
    fn normalises_spelling_plurals_and_possessives() {
        assert_eq!(
            norms("Gray pockets Women's boxes"),
            ["grey", "pocket", "woman", "box"]
        );
        assert_eq!(norms("Levi’s glass dress"), ["levi", "glass", "dress"]);
        assert_eq!(phrase_key("eco-friendly"), phrase_key("Eco friendly"));
    }

    #[test]
    fn marks_sentence_starts() {
        let t = tokenize("Soft cotton. Navy blue!\nGreat");
        let starts: Vec<&str> = t
            .iter()
            .filter(|t| t.sentence_start)
            .map(|t| t.norm.as_str())
            .collect();
        assert_eq!(starts, ["soft", "navy", "great"]);
    }
}
