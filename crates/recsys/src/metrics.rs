//! Ranking metrics with one target per shopper, as in the published tables: HR@K (= recall@K)
//! is 1 when the target ranks in the top K, NDCG@K is 1/log2(rank + 1) then, MRR is 1/rank.
//!
//! Ties are not broken in anyone's favour: a target tied with `t` other candidates is equally
//! likely to be at any of the `t + 1` places, and each metric is its exact expectation over them.
//! Counting only strictly higher scores would rank a popularity baseline's target first among
//! thousands of items seen once; counting ties against it would be as wrong the other way.

use std::collections::BTreeMap;

/// Where a target landed among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    /// `above` candidates scored higher than the target and `tied` scored the same.
    At {
        /// Candidates scored strictly higher.
        above: usize,
        /// Other candidates with exactly the target's score.
        tied: usize,
    },
    /// The target was not a candidate (masked as already seen), a miss at every cutoff.
    Excluded,
}

impl Rank {
    /// The rank of `target` among the candidates `scores[c]` for which `candidate(c)` holds.
    pub fn of(scores: &[f32], target: u32, candidate: impl Fn(u32) -> bool) -> Rank {
        if !candidate(target) {
            return Rank::Excluded;
        }
        let t = scores[target as usize];
        let (mut above, mut tied) = (0, 0);
        for (c, &s) in scores.iter().enumerate() {
            let c = c as u32;
            if c == target || !candidate(c) {
                continue;
            }
            // A NaN score is never above the target; a NaN target is below everything.
            if s > t || (t.is_nan() && !s.is_nan()) {
                above += 1;
            } else if s == t {
                tied += 1;
            }
        }
        Rank::At { above, tied }
    }

    /// Expected HR@k: the chance the target is in the top `k`.
    pub fn hit(self, k: usize) -> f64 {
        match self {
            Rank::At { above, tied } if above < k => {
                ((k - above) as f64 / (tied + 1) as f64).min(1.0)
            }
            _ => 0.0,
        }
    }

    /// Expected NDCG@k with one relevant item (the ideal DCG is 1).
    pub fn ndcg(self, k: usize) -> f64 {
        match self {
            Rank::At { above, tied } => {
                let last = (above + tied + 1).min(k);
                let sum: f64 = (above + 1..=last)
                    .map(|r| 1.0 / ((r + 1) as f64).log2())
                    .sum();
                sum / (tied + 1) as f64
            }
            Rank::Excluded => 0.0,
        }
    }

    /// Expected reciprocal rank.
    pub fn reciprocal(self) -> f64 {
        match self {
            Rank::At { above, tied } => {
                let sum: f64 = (above + 1..=above + tied + 1).map(|r| 1.0 / r as f64).sum();
                sum / (tied + 1) as f64
            }
            Rank::Excluded => 0.0,
        }
    }
}

/// Means of HR@K and NDCG@K at several cutoffs, and of the reciprocal rank, over shoppers.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    cutoffs: Vec<usize>,
    users: usize,
    hits: Vec<f64>,
    ndcg: Vec<f64>,
    reciprocal: f64,
}

impl Metrics {
    /// An empty tally at these cutoffs.
    pub fn new(cutoffs: &[usize]) -> Self {
        Self {
            cutoffs: cutoffs.to_vec(),
            users: 0,
            hits: vec![0.0; cutoffs.len()],
            ndcg: vec![0.0; cutoffs.len()],
            reciprocal: 0.0,
        }
    }

    /// Counts one shopper's target.
    pub fn add(&mut self, rank: Rank) {
        self.users += 1;
        for (i, &k) in self.cutoffs.iter().enumerate() {
            self.hits[i] += rank.hit(k);
            self.ndcg[i] += rank.ndcg(k);
        }
        self.reciprocal += rank.reciprocal();
    }

    /// Adds another tally at the same cutoffs.
    pub fn merge(&mut self, other: &Metrics) {
        debug_assert_eq!(self.cutoffs, other.cutoffs);
        self.users += other.users;
        for i in 0..self.cutoffs.len() {
            self.hits[i] += other.hits[i];
            self.ndcg[i] += other.ndcg[i];
        }
        self.reciprocal += other.reciprocal;
    }

    /// Shoppers counted.
    pub fn users(&self) -> usize {
        self.users
    }

    /// Mean HR@k (0 for a cutoff not tallied or no shoppers).
    pub fn hr(&self, k: usize) -> f64 {
        self.mean(&self.hits, k)
    }

    /// Mean NDCG@k.
    pub fn ndcg(&self, k: usize) -> f64 {
        self.mean(&self.ndcg, k)
    }

    /// Mean reciprocal rank.
    pub fn mrr(&self) -> f64 {
        if self.users == 0 {
            0.0
        } else {
            self.reciprocal / self.users as f64
        }
    }

    fn mean(&self, sums: &[f64], k: usize) -> f64 {
        match self.cutoffs.iter().position(|&c| c == k) {
            Some(i) if self.users > 0 => sums[i] / self.users as f64,
            _ => 0.0,
        }
    }

    /// `HR@k`, `NDCG@k` for every cutoff, and `MRR`, by name.
    pub fn named(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for &k in &self.cutoffs {
            out.insert(format!("HR@{k}"), self.hr(k));
            out.insert(format!("NDCG@{k}"), self.ndcg(k));
        }
        out.insert("MRR".into(), self.mrr());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn rank_counts_only_candidates() {
        // Item 0 is padding; item 2 is the target; item 3 is masked history.
        let scores = [9.0, 0.5, 0.4, 0.9, 0.1, 0.4];
        let rank = Rank::of(&scores, 2, |c| c != 0 && c != 3);
        assert_eq!(rank, Rank::At { above: 1, tied: 1 });
        assert_eq!(Rank::of(&scores, 3, |c| c != 3), Rank::Excluded);
    }

    #[test]
    fn hand_computed_values_without_ties() {
        // Rank 3: HR@1 = 0, HR@5 = 1, NDCG@5 = 1/log2(4) = 0.5, MRR = 1/3.
        let r = Rank::At { above: 2, tied: 0 };
        close(r.hit(1), 0.0);
        close(r.hit(3), 1.0);
        close(r.ndcg(5), 0.5);
        close(r.ndcg(2), 0.0);
        close(r.reciprocal(), 1.0 / 3.0);
        // Rank 1: everything 1.
        let first = Rank::At { above: 0, tied: 0 };
        close(first.ndcg(10), 1.0);
        close(first.reciprocal(), 1.0);
    }

    #[test]
    fn ties_are_expected_values() {
        // Tied with 3 others after 1 above: rank 2, 3, 4 or 5 with chance 1/4 each.
        let r = Rank::At { above: 1, tied: 3 };
        close(r.hit(3), 0.5);
        close(r.hit(10), 1.0);
        let ndcg3 = (1.0 / 3f64.log2() + 1.0 / 4f64.log2()) / 4.0;
        close(r.ndcg(3), ndcg3);
        close(
            r.reciprocal(),
            (1.0 / 2.0 + 1.0 / 3.0 + 1.0 / 4.0 + 1.0 / 5.0) / 4.0,
        );
    }

    #[test]
    fn means_over_shoppers() {
        let mut m = Metrics::new(&[1, 5]);
        m.add(Rank::At { above: 0, tied: 0 });
        m.add(Rank::At { above: 2, tied: 0 });
        let mut other = Metrics::new(&[1, 5]);
        other.add(Rank::Excluded);
        other.add(Rank::At { above: 9, tied: 0 });
        m.merge(&other);
        assert_eq!(m.users(), 4);
        close(m.hr(1), 0.25);
        close(m.hr(5), 0.5);
        close(m.ndcg(5), (1.0 + 0.5) / 4.0);
        close(m.mrr(), (1.0 + 1.0 / 3.0 + 0.1) / 4.0);
        close(m.hr(10), 0.0);
        assert_eq!(m.named().len(), 5);
    }
}
