//! Item attributes, the recommender's side information: each item's brand and categories, read
//! from an S3-Rec `*_item2attributes.json` file or taken from the store's products. SASRec adds
//! the mean of an item's attribute embeddings to the item's own embedding, so an item seen a
//! few times borrows what its brand and categories learned from many.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::sequences::Sequences;
use crate::{Error, Result};

/// The attributes of every item index of a `Sequences`, numbered from 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemAttributes {
    /// Attribute names by index (`brand:Acme`, `category:Toys`, or an S3-Rec attribute number).
    names: Vec<String>,
    /// Attribute indices per item index; `items[0]`, the padding slot, has none.
    items: Vec<Vec<u32>>,
}

impl ItemAttributes {
    /// No attributes for `n_items` items.
    pub fn none(n_items: usize) -> Self {
        Self {
            names: Vec::new(),
            items: vec![Vec::new(); n_items + 1],
        }
    }

    /// Reads an S3-Rec `*_item2attributes.json` (gzip when the name ends in `.gz`): one object
    /// mapping an item number to its attribute numbers. Items of `data` missing from the file
    /// have no attributes; items of the file missing from `data` are ignored.
    pub fn read_s3rec(path: &Path, data: &Sequences) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut text = String::new();
        reader.read_to_string(&mut text).map_err(|e| Error::Data {
            path: path.to_owned(),
            line: 0,
            reason: format!("unreadable ({e})"),
        })?;
        let map: HashMap<String, Vec<u64>> =
            serde_json::from_str(&text).map_err(|e| Error::Data {
                path: path.to_owned(),
                line: e.line(),
                reason: format!("not an item-to-attributes object like {{\"1\": [1, 2]}} ({e})"),
            })?;
        // Attributes numbered in the order of their numbers, so the same file always gives
        // the same indices.
        let numbers: BTreeSet<u64> = map
            .iter()
            .filter(|(item, _)| data.item_index(item).is_some())
            .flat_map(|(_, attrs)| attrs.iter().copied())
            .collect();
        let pairs = map
            .iter()
            .flat_map(|(item, attrs)| attrs.iter().map(move |a| (item.as_str(), a.to_string())));
        let mut out = Self::from_pairs(data, pairs);
        // `from_pairs` numbers in order of appearance, which follows the hash map: renumber.
        let order: Vec<String> = numbers.iter().map(u64::to_string).collect();
        out.renumber(&order);
        Ok(out)
    }

    /// Attributes from `(item id, attribute name)` pairs; items unknown to `data` are ignored,
    /// a repeated pair counts once. Attributes are numbered in order of first appearance.
    pub fn from_pairs<I, A>(data: &Sequences, pairs: impl IntoIterator<Item = (I, A)>) -> Self
    where
        I: AsRef<str>,
        A: AsRef<str>,
    {
        let mut out = Self::none(data.n_items());
        let mut index: HashMap<String, u32> = HashMap::new();
        for (item, attr) in pairs {
            let Some(i) = data.item_index(item.as_ref()) else {
                continue;
            };
            let a = match index.get(attr.as_ref()) {
                Some(&a) => a,
                None => {
                    let a = out.names.len() as u32;
                    out.names.push(attr.as_ref().to_owned());
                    index.insert(attr.as_ref().to_owned(), a);
                    a
                }
            };
            let list = &mut out.items[i as usize];
            if !list.contains(&a) {
                list.push(a);
            }
        }
        out
    }

    /// Renumbers the attributes in the order of `names` (every name must be present).
    fn renumber(&mut self, names: &[String]) {
        let new: HashMap<&str, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect();
        let map: Vec<u32> = self.names.iter().map(|n| new[n.as_str()]).collect();
        for list in &mut self.items {
            for a in list.iter_mut() {
                *a = map[*a as usize];
            }
            list.sort_unstable();
        }
        self.names = names.to_vec();
    }

    /// Number of distinct attributes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Number of items (the padding index not counted).
    pub fn n_items(&self) -> usize {
        self.items.len().saturating_sub(1)
    }

    /// The attribute indices of item index `item`.
    pub fn of(&self, item: u32) -> &[u32] {
        self.items.get(item as usize).map_or(&[], Vec::as_slice)
    }

    /// The name of attribute index `a`.
    pub fn name(&self, a: u32) -> &str {
        &self.names[a as usize]
    }

    /// Items with at least one attribute.
    pub fn items_with_attributes(&self) -> usize {
        self.items.iter().filter(|l| !l.is_empty()).count()
    }

    /// Whether every attribute index is in range and listed once per item, and item 0 has none
    /// (a file read back from a run directory is checked with this).
    pub fn is_consistent(&self) -> bool {
        !self.items.is_empty()
            && self.items[0].is_empty()
            && self.items.iter().all(|list| {
                let mut seen = std::collections::HashSet::new();
                list.iter()
                    .all(|&a| (a as usize) < self.names.len() && seen.insert(a))
            })
    }

    /// The flat `(item index, attribute index, weight)` triples of the model's mean: one per
    /// item-attribute pair, weighted by one over the item's attribute count.
    pub fn weighted_pairs(&self) -> (Vec<i64>, Vec<i64>, Vec<f32>) {
        let mut items = Vec::new();
        let mut attrs = Vec::new();
        let mut weights = Vec::new();
        for (i, list) in self.items.iter().enumerate() {
            for &a in list {
                items.push(i as i64);
                attrs.push(i64::from(a));
                weights.push(1.0 / list.len() as f32);
            }
        }
        (items, attrs, weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Sequences {
        Sequences::from_pairs([("u", "x"), ("u", "y"), ("v", "z")])
    }

    #[test]
    fn pairs_number_attributes_and_skip_unknown_items() {
        let a = ItemAttributes::from_pairs(
            &data(),
            [
                ("x", "brand:A"),
                ("y", "brand:A"),
                ("y", "category:C"),
                ("y", "category:C"),
                ("w", "brand:B"),
            ],
        );
        assert_eq!(a.len(), 2);
        assert_eq!(a.n_items(), 3);
        assert_eq!(a.of(1), &[0]);
        assert_eq!(a.of(2), &[0, 1]);
        assert_eq!(a.of(3), &[] as &[u32]);
        assert_eq!(a.of(0), &[] as &[u32]);
        assert_eq!(a.name(1), "category:C");
        assert_eq!(a.items_with_attributes(), 2);
        assert!(a.is_consistent());
        let (items, attrs, weights) = a.weighted_pairs();
        assert_eq!(items, vec![1, 2, 2]);
        assert_eq!(attrs, vec![0, 0, 1]);
        assert_eq!(weights, vec![1.0, 0.5, 0.5]);
    }

    #[test]
    fn reads_the_s3rec_file_in_attribute_order() {
        let seqs = Sequences::from_pairs([("u", "1"), ("u", "2"), ("v", "3")]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_item2attributes.json");
        std::fs::write(&path, r#"{"2": [9, 4], "1": [4], "7": [1]}"#).unwrap();
        let a = ItemAttributes::read_s3rec(&path, &seqs).expect("valid");
        // Attribute 1 belongs only to item 7, which the data does not have.
        assert_eq!(a.len(), 2);
        assert_eq!(a.name(0), "4");
        assert_eq!(a.name(1), "9");
        assert_eq!(a.of(seqs.item_index("2").unwrap()), &[0, 1]);
        assert_eq!(a.of(seqs.item_index("1").unwrap()), &[0]);
        assert_eq!(a.of(seqs.item_index("3").unwrap()), &[] as &[u32]);

        std::fs::write(&path, r#"{"1": ["brand"]}"#).unwrap();
        let e = ItemAttributes::read_s3rec(&path, &seqs).expect_err("not numbers");
        assert!(e.to_string().contains("item-to-attributes"), "{e}");
        let e = ItemAttributes::read_s3rec(&dir.path().join("missing.json"), &seqs)
            .expect_err("missing");
        assert!(e.to_string().contains("missing.json"), "{e}");
    }
}
