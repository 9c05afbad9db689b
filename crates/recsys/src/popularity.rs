//! Most-popular: every shopper gets the items seen most often in training (PopRec in the
//! published tables), the check that the evaluator is right and the floor every model must beat.

use crate::scorer::Scorer;
use crate::sequences::Sequences;
use crate::split::train_part;

/// Interaction counts over the training part of every sequence.
#[derive(Debug, Clone)]
pub struct Popularity {
    counts: Vec<f32>,
    name: &'static str,
}

impl Popularity {
    /// Counts the training part of every sequence (the held-out items are not counted).
    pub fn fit(data: &Sequences) -> Self {
        let mut counts = vec![0f32; data.n_items() + 1];
        for seq in data.iter() {
            for &i in train_part(seq) {
                counts[i as usize] += 1.0;
            }
        }
        Self {
            counts,
            name: "popularity",
        }
    }

    /// Counts every interaction, held-out targets included. This sees the test answers and is
    /// no model; it is how the published PopRec row was counted (it reproduces that row on
    /// Beauty exactly), which makes it a check on the evaluator.
    pub fn fit_all(data: &Sequences) -> Self {
        let mut counts = vec![0f32; data.n_items() + 1];
        for &i in data.iter().flatten() {
            counts[i as usize] += 1.0;
        }
        Self {
            counts,
            name: "popularity-all",
        }
    }

    /// The training count of item `i` (0 for an unknown index).
    pub fn count(&self, i: u32) -> f32 {
        self.counts.get(i as usize).copied().unwrap_or(0.0)
    }

    /// Item indices by falling count, ties by index.
    pub fn ranked(&self) -> Vec<u32> {
        let mut items: Vec<u32> = (1..self.counts.len() as u32).collect();
        items.sort_by(|&a, &b| self.count(b).total_cmp(&self.count(a)).then(a.cmp(&b)));
        items
    }
}

impl Scorer for Popularity {
    fn name(&self) -> &str {
        self.name
    }

    fn n_items(&self) -> usize {
        self.counts.len() - 1
    }

    fn score(&self, histories: &[&[u32]], out: &mut [f32]) {
        for row in out
            .chunks_exact_mut(self.counts.len())
            .take(histories.len())
        {
            row.copy_from_slice(&self.counts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_training_items() {
        // Shopper a trains on [1, 2]; b on [2]; c is too short to hold anything out.
        let data = Sequences::from_pairs([
            ("a", "1"),
            ("a", "2"),
            ("a", "3"),
            ("a", "4"),
            ("b", "2"),
            ("b", "4"),
            ("b", "4"),
            ("c", "3"),
        ]);
        let pop = Popularity::fit(&data);
        let [one, two, three, four] = ["1", "2", "3", "4"].map(|i| data.item_index(i).unwrap());
        assert_eq!(pop.count(one), 1.0);
        assert_eq!(pop.count(two), 2.0);
        assert_eq!(pop.count(three), 1.0);
        assert_eq!(pop.count(four), 0.0);
        assert_eq!(pop.ranked()[0], two);
        let mut out = vec![0.0; 2 * 5];
        pop.score(&[&[one], &[]], &mut out);
        assert_eq!(&out[5..], &[0.0, 1.0, 2.0, 1.0, 0.0]);
        let all = Popularity::fit_all(&data);
        assert_eq!(all.count(four), 3.0);
        assert_eq!(all.name(), "popularity-all");
    }
}
