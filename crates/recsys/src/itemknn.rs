//! Item-to-item co-occurrence (item-kNN, Sarwar et al., WWW 2001; Linden et al.'s "customers who
//! bought this also bought"): two items are similar when the same shoppers had both, by cosine
//! over shoppers; a history's score for an item is the similarity summed over the history's
//! recent items, the latest weighing most, since the next item follows the last ones.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::popularity::Popularity;
use crate::scorer::Scorer;
use crate::sequences::Sequences;
use crate::split::train_part;

/// Settings of the item-kNN baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemKnnConfig {
    /// Neighbours kept per item, most similar first.
    pub neighbours: usize,
    /// Latest history items that vote.
    pub window: usize,
    /// Weight of each older vote relative to the next newer one.
    pub decay: f32,
}

impl Default for ItemKnnConfig {
    fn default() -> Self {
        Self {
            neighbours: 200,
            window: 10,
            decay: 0.6,
        }
    }
}

/// Nearest neighbours of every item by co-occurrence.
#[derive(Debug, Clone)]
pub struct ItemKnn {
    config: ItemKnnConfig,
    /// `(neighbour, cosine)` per item index, most similar first.
    neighbours: Vec<Vec<(u32, f32)>>,
    /// Popularity scaled below any similarity: orders the items no history item points to.
    prior: Vec<f32>,
}

impl ItemKnn {
    /// Counts co-occurrences in the training part of every sequence (the held-out items are
    /// not counted), for evaluation.
    pub fn fit(data: &Sequences, config: &ItemKnnConfig) -> Self {
        Self::fit_parts(data, config, false)
    }

    /// Counts co-occurrences in every whole sequence, for serving.
    pub fn fit_all(data: &Sequences, config: &ItemKnnConfig) -> Self {
        Self::fit_parts(data, config, true)
    }

    fn fit_parts(data: &Sequences, config: &ItemKnnConfig, whole: bool) -> Self {
        let part = |seq| if whole { seq } else { train_part(seq) };
        let n = data.n_items() + 1;
        let mut shoppers = vec![0f32; n];
        let mut together: Vec<HashMap<u32, f32>> = vec![HashMap::new(); n];
        let mut distinct = Vec::new();
        for seq in data.iter() {
            distinct.clear();
            distinct.extend_from_slice(part(seq));
            distinct.sort_unstable();
            distinct.dedup();
            for (x, &a) in distinct.iter().enumerate() {
                shoppers[a as usize] += 1.0;
                for &b in &distinct[x + 1..] {
                    *together[a as usize].entry(b).or_default() += 1.0;
                    *together[b as usize].entry(a).or_default() += 1.0;
                }
            }
        }
        let neighbours = together
            .into_iter()
            .enumerate()
            .map(|(a, row)| {
                let mut row: Vec<(u32, f32)> = row
                    .into_iter()
                    .map(|(b, co)| (b, co / (shoppers[a] * shoppers[b as usize]).sqrt()))
                    .collect();
                row.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                row.truncate(config.neighbours);
                row
            })
            .collect();
        let pop = if whole {
            Popularity::fit_all(data)
        } else {
            Popularity::fit(data)
        };
        let top = (1..n as u32).map(|i| pop.count(i)).fold(1.0, f32::max);
        let prior = (0..n as u32).map(|i| 1e-6 * pop.count(i) / top).collect();
        Self {
            config: config.clone(),
            neighbours,
            prior,
        }
    }

    /// The neighbours of item `i`, most similar first.
    pub fn neighbours(&self, i: u32) -> &[(u32, f32)] {
        self.neighbours.get(i as usize).map_or(&[], Vec::as_slice)
    }
}

impl Scorer for ItemKnn {
    fn name(&self) -> &str {
        "item-knn"
    }

    fn n_items(&self) -> usize {
        self.prior.len() - 1
    }

    fn score(&self, histories: &[&[u32]], out: &mut [f32]) {
        for (history, row) in histories.iter().zip(out.chunks_exact_mut(self.prior.len())) {
            row.copy_from_slice(&self.prior);
            let mut weight = 1.0;
            for &h in history.iter().rev().take(self.config.window) {
                for &(b, sim) in self.neighbours(h) {
                    row[b as usize] += weight * sim;
                }
                weight *= self.config.decay;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_over_shoppers_and_recent_votes_weigh_more() {
        // Training parts: a [x, y], b [x, y], c [x, z], d [w, z] (each followed by two held-out
        // items that are not counted).
        let mut pairs = Vec::new();
        for (u, items) in [
            ("a", ["x", "y", "h1", "h2"]),
            ("b", ["x", "y", "h1", "h2"]),
            ("c", ["x", "z", "h1", "h2"]),
            ("d", ["w", "z", "h1", "h2"]),
        ] {
            pairs.extend(items.map(|i| (u, i)));
        }
        let data = Sequences::from_pairs(pairs);
        let id = |s: &str| data.item_index(s).unwrap();
        let knn = ItemKnn::fit(&data, &ItemKnnConfig::default());
        // x: 3 shoppers, y: 2, together 2 -> 2 / sqrt(6).
        let (first, sim) = knn.neighbours(id("x"))[0];
        assert_eq!(first, id("y"));
        assert!((sim - 2.0 / 6f32.sqrt()).abs() < 1e-6);
        // Held-out items are never neighbours.
        assert!(knn.neighbours(id("x")).iter().all(|&(b, _)| b != id("h1")));

        let n = knn.n_items() + 1;
        let mut out = vec![0.0; n];
        // Latest item w points to z (cosine 1/sqrt 2, weight 1); older y to x (weight 0.6).
        knn.score(&[&[id("y"), id("w")]], &mut out);
        assert!(out[id("z") as usize] > out[id("x") as usize]);
        assert!(out[id("x") as usize] > out[id("h1") as usize]);
    }
}
