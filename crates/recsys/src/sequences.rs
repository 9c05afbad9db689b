//! Shoppers' item sequences, the recommender's training data: one time-ordered list of item
//! indices per shopper, read from an S3-Rec file or built from the store's events. Items are
//! numbered from 1; 0 is the padding index, as in every SASRec implementation.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::attributes::ItemAttributes;
use crate::{Error, Result};

/// Item index 0: padding, never an item.
pub const PAD: u32 = 0;

/// Time-ordered item sequences, one per shopper, over an item vocabulary.
#[derive(Debug, Clone, Default)]
pub struct Sequences {
    /// External item ids by index; `items[0]` is the padding slot.
    items: Vec<String>,
    /// Index of each external item id.
    index: HashMap<String, u32>,
    /// External shopper ids, one per sequence.
    users: Vec<String>,
    /// Item indices per shopper, oldest first.
    seqs: Vec<Vec<u32>>,
    /// The items' attributes, when the model is to use them.
    attributes: Option<ItemAttributes>,
}

impl Sequences {
    /// Reads the S3-Rec format (`user item item ...` per line, items numbered from 1 in time
    /// order; gzip when the name ends in `.gz`). Item ids keep their numbers as indices, so the
    /// dataset's `*_item2attributes.json` lines up with them.
    pub fn read_s3rec(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Self::parse_s3rec(BufReader::new(reader), path)
    }

    fn parse_s3rec(reader: impl BufRead, path: &Path) -> Result<Self> {
        let bad = |line: usize, reason: String| Error::Data {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut seqs = Vec::new();
        let mut users = Vec::new();
        let mut seen_users = HashMap::new();
        let mut max_item = 0u32;
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| bad(n + 1, format!("unreadable ({e})")))?;
            let mut fields = line.split_ascii_whitespace();
            let Some(user) = fields.next() else { continue };
            if let Some(first) = seen_users.insert(user.to_owned(), n + 1) {
                return Err(bad(
                    n + 1,
                    format!("shopper {user} already has a sequence on line {first}"),
                ));
            }
            let mut seq = Vec::new();
            for field in fields {
                let item: u32 = field
                    .parse()
                    .map_err(|_| bad(n + 1, format!("'{field}' is not an item number")))?;
                if item == PAD {
                    return Err(bad(n + 1, "item 0 is reserved for padding".into()));
                }
                max_item = max_item.max(item);
                seq.push(item);
            }
            if seq.is_empty() {
                return Err(bad(n + 1, format!("shopper {user} has no items")));
            }
            users.push(user.to_owned());
            seqs.push(seq);
        }
        if seqs.is_empty() {
            return Err(bad(
                0,
                "no sequences (expected `user item item ...` lines)".into(),
            ));
        }
        let items: Vec<String> = (0..=max_item)
            .map(|i| {
                if i == PAD {
                    String::new()
                } else {
                    i.to_string()
                }
            })
            .collect();
        let index = items
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        Ok(Self {
            items,
            index,
            users,
            seqs,
            attributes: None,
        })
    }

    /// Builds sequences from `(shopper, item)` pairs given in time order per shopper (shoppers
    /// may interleave). Items are numbered in order of first appearance.
    pub fn from_pairs<U, I>(pairs: impl IntoIterator<Item = (U, I)>) -> Self
    where
        U: AsRef<str>,
        I: AsRef<str>,
    {
        let empty = Self {
            items: vec![String::new()],
            ..Self::default()
        };
        Self::from_pairs_into(empty, pairs)
    }

    /// Like `from_pairs`, but item indices start as `items` gives them (`items[0]` is the
    /// padding slot, as a run's `items.json` holds them); new items are numbered after.
    pub fn from_items_and_pairs<U, I>(
        items: Vec<String>,
        pairs: impl IntoIterator<Item = (U, I)>,
    ) -> Self
    where
        U: AsRef<str>,
        I: AsRef<str>,
    {
        let mut vocabulary = Self {
            items: vec![String::new()],
            ..Self::default()
        };
        for id in items.iter().skip(1) {
            vocabulary.intern(id);
        }
        let mut out = Self::from_pairs_into(vocabulary, pairs);
        out.items.shrink_to_fit();
        out
    }

    fn from_pairs_into<U, I>(mut out: Self, pairs: impl IntoIterator<Item = (U, I)>) -> Self
    where
        U: AsRef<str>,
        I: AsRef<str>,
    {
        let mut user_index: HashMap<String, usize> = HashMap::new();
        for (user, item) in pairs {
            let item = out.intern(item.as_ref());
            let u = match user_index.get(user.as_ref()) {
                Some(&u) => u,
                None => {
                    user_index.insert(user.as_ref().to_owned(), out.users.len());
                    out.users.push(user.as_ref().to_owned());
                    out.seqs.push(Vec::new());
                    out.users.len() - 1
                }
            };
            out.seqs[u].push(item);
        }
        out
    }

    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.items.len() as u32;
        self.items.push(id.to_owned());
        self.index.insert(id.to_owned(), i);
        i
    }

    /// Number of items (the padding index not counted); indices run from 1 to this.
    pub fn n_items(&self) -> usize {
        self.items.len() - 1
    }

    /// Number of shoppers.
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    /// Whether there are no shoppers.
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Total number of interactions.
    pub fn interactions(&self) -> usize {
        self.seqs.iter().map(Vec::len).sum()
    }

    /// The sequence of shopper `u`, oldest first.
    pub fn seq(&self, u: usize) -> &[u32] {
        &self.seqs[u]
    }

    /// Every sequence, in shopper order.
    pub fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.seqs.iter().map(Vec::as_slice)
    }

    /// The external id of shopper `u`.
    pub fn user(&self, u: usize) -> &str {
        &self.users[u]
    }

    /// The external id of item index `i` (empty for the padding index 0).
    pub fn item_id(&self, i: u32) -> &str {
        &self.items[i as usize]
    }

    /// The index of an external item id.
    pub fn item_index(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The items' attributes, if given (see `set_attributes`).
    pub fn attributes(&self) -> Option<&ItemAttributes> {
        self.attributes.as_ref()
    }

    /// Gives the items' attributes to the model trained on these sequences; they must have been
    /// built for them (`ItemAttributes::read_s3rec` or `from_pairs` with these sequences).
    pub fn set_attributes(&mut self, attributes: ItemAttributes) -> Result<()> {
        if attributes.n_items() != self.n_items() || !attributes.is_consistent() {
            return Err(Error::Unusable(format!(
                "the attributes cover {} items, the sequences have {}",
                attributes.n_items(),
                self.n_items()
            )));
        }
        self.attributes = Some(attributes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Sequences> {
        Sequences::parse_s3rec(text.as_bytes(), Path::new("t.txt"))
    }

    #[test]
    fn reads_s3rec_lines() {
        let s = parse("1 1 2 3 4 5\n2 4 5 6 7 8\n\n").expect("valid");
        assert_eq!(s.len(), 2);
        assert_eq!(s.n_items(), 8);
        assert_eq!(s.seq(1), &[4, 5, 6, 7, 8]);
        assert_eq!(s.user(1), "2");
        assert_eq!(s.item_index("7"), Some(7));
        assert_eq!(s.item_id(7), "7");
        assert_eq!(s.interactions(), 10);
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse("1 1 2\n2 3 x\n").expect_err("x is not a number");
        assert_eq!(e.to_string(), "t.txt: line 2: 'x' is not an item number");
        let e = parse("1 1 0\n").expect_err("0 is padding");
        assert!(e.to_string().contains("line 1: item 0 is reserved"), "{e}");
        let e = parse("1 1 2\n1 3 4\n").expect_err("duplicate shopper");
        assert!(e.to_string().contains("line 2: shopper 1 already"), "{e}");
        let e = parse("7\n").expect_err("no items");
        assert!(e.to_string().contains("shopper 7 has no items"), "{e}");
        assert!(parse("\n\n").is_err());
    }

    #[test]
    fn pairs_keep_time_order_per_shopper() {
        let s = Sequences::from_pairs([("a", "x"), ("b", "y"), ("a", "y"), ("a", "z")]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.n_items(), 3);
        assert_eq!(s.seq(0), &[1, 2, 3]);
        assert_eq!(s.seq(1), &[2]);
        assert_eq!(s.item_id(3), "z");
        // A trained run's numbering is kept; new items come after it.
        let items = vec![String::new(), "z".into(), "x".into()];
        let s = Sequences::from_items_and_pairs(items, [("a", "x"), ("a", "w")]);
        assert_eq!(s.seq(0), &[2, 3]);
        assert_eq!(s.item_id(1), "z");
        assert_eq!(s.n_items(), 3);
    }
}
