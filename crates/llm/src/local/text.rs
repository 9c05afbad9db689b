//! Turning token bytes into streamed text: whole UTF-8 characters only, and never a byte of a
//! stop string. A token may end in the middle of a character (byte-level BPE) and a stop string
//! may span several tokens, so text is held back until it is known to be safe to show.

/// What one pushed token produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text that can be shown now (possibly empty).
    Text(String),
    /// A stop string was reached: show this text (what preceded the stop string), then end.
    Stop(String),
}

/// Assembles a generation's text.
#[derive(Debug)]
pub(crate) struct TextAssembler {
    /// Bytes of a character not yet complete.
    partial: Vec<u8>,
    /// Decoded text not yet shown because it could be the start of a stop string.
    held: String,
    stops: Vec<String>,
}

impl TextAssembler {
    pub(crate) fn new(stops: Vec<String>) -> Self {
        Self {
            partial: Vec::new(),
            held: String::new(),
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
        }
    }

    /// Adds one token's bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Piece {
        self.partial.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.partial) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // An invalid sequence (not merely an unfinished one): show it as U+FFFD, as every
            // tokenizer-based server does, rather than stalling forever.
            Err(_) => {
                let text = String::from_utf8_lossy(&self.partial).into_owned();
                self.partial.clear();
                return self.release(text);
            }
        };
        let rest = self.partial.split_off(valid);
        let complete = std::mem::replace(&mut self.partial, rest);
        // `complete` is valid UTF-8 by construction.
        let text = String::from_utf8(complete).unwrap_or_default();
        self.release(text)
    }

    fn release(&mut self, text: String) -> Piece {
        self.held.push_str(&text);
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|stop| self.held.find(stop.as_str()))
            .min()
        {
            self.held.truncate(at);
            return Piece::Stop(std::mem::take(&mut self.held));
        }
        let keep = self.longest_stop_prefix_suffix();
        let cut = self.held.len() - keep;
        let shown: String = self.held[..cut].to_owned();
        self.held.drain(..cut);
        Piece::Text(shown)
    }

    /// The length of the longest suffix of `held` that is a proper prefix of some stop string,
    /// on a character boundary.
    fn longest_stop_prefix_suffix(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            let max = (stop.len() - 1).min(self.held.len());
            for len in (best + 1..=max).rev() {
                let start = self.held.len() - len;
                if self.held.is_char_boundary(start) && stop.starts_with(&self.held[start..]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }

    /// The end of the generation: everything still held back, including an unfinished
    /// character (shown as U+FFFD).
    pub(crate) fn finish(&mut self) -> String {
        let mut out = std::mem::take(&mut self.held);
        if !self.partial.is_empty() {
            out.push_str(&String::from_utf8_lossy(&self.partial));
            self.partial.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&[u8]]) -> (String, bool) {
        let mut a = TextAssembler::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for p in pieces {
            match a.push(p) {
                Piece::Text(t) => out.push_str(&t),
                Piece::Stop(t) => {
                    out.push_str(&t);
                    return (out, true);
                }
            }
        }
        out.push_str(&a.finish());
        (out, false)
    }

    #[test]
    fn split_characters_are_joined() {
        let euro = "€".as_bytes();
        let mut a = TextAssembler::new(vec![]);
        assert_eq!(a.push(&euro[..1]), Piece::Text(String::new()));
        assert_eq!(a.push(&euro[1..]), Piece::Text("€".into()));
    }

    #[test]
    fn stop_string_across_tokens_is_cut() {
        assert_eq!(
            run(&["END"], &[b"Hello E", b"N", b"D more"]),
            ("Hello ".into(), true)
        );
    }

    #[test]
    fn held_text_that_is_not_a_stop_is_released() {
        let mut a = TextAssembler::new(vec!["\n\n".into()]);
        assert_eq!(a.push(b"one\n"), Piece::Text("one".into()));
        assert_eq!(a.push(b"two"), Piece::Text("\ntwo".into()));
        assert_eq!(a.finish(), "");
    }

    #[test]
    fn earliest_stop_wins() {
        assert_eq!(
            run(&["c", "ab"], &[b"xxabc"]),
            ("xx".into(), true),
            "'ab' starts before 'c'"
        );
    }

    #[test]
    fn unfinished_character_at_the_end_is_replaced() {
        assert_eq!(
            run(&[], &[b"ok", &"€".as_bytes()[..2]]),
            ("ok\u{fffd}".into(), false)
        );
    }

    #[test]
    fn invalid_bytes_do_not_stall() {
        assert_eq!(run(&[], &[b"a\xffb"]), ("a\u{fffd}b".into(), false));
    }
}
