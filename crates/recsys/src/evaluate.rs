//! The evaluator of the published tables, for any `Scorer`.
//!
//! - **Full ranking** (the S3-Rec repo's `all_rank` table): the target is ranked against every
//!   item; the items of the shopper's own history are masked out, as that repo does (a target
//!   that already occurs in the history is therefore a miss; the report counts them). HR and
//!   NDCG at 5, 10 and 20.
//! - **Sampled** (the S3-Rec paper's main table, after SASRec's): the target against 99 items
//!   drawn uniformly from those the shopper never had, with a fixed seed. HR at 1, 5 and 10,
//!   NDCG at 5 and 10, MRR. The paper's own negatives were not published with the data, so
//!   numbers differ slightly from its table.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::metrics::{Metrics, Rank};
use crate::scorer::Scorer;
use crate::sequences::{PAD, Sequences};
use crate::split::{Stage, held_out};

/// How a target is ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Against every item the shopper has not had.
    Full,
    /// Against `negatives` items drawn for each shopper from those never had.
    Sampled {
        /// Negatives per shopper (99 in the published tables).
        negatives: usize,
        /// Seed of the draw; shopper `u`'s negatives depend only on it and `u`.
        seed: u64,
    },
}

impl Protocol {
    /// The sampled protocol of the published tables: 99 negatives.
    pub fn sampled(seed: u64) -> Self {
        Protocol::Sampled {
            negatives: 99,
            seed,
        }
    }

    /// The protocol's name in reports.
    pub fn name(&self) -> String {
        match self {
            Protocol::Full => "full".into(),
            Protocol::Sampled { negatives, .. } => format!("sampled-{negatives}"),
        }
    }

    fn cutoffs(&self) -> &'static [usize] {
        match self {
            Protocol::Full => &[5, 10, 20],
            Protocol::Sampled { .. } => &[1, 5, 10],
        }
    }
}

/// One model's metrics on one stage under one protocol.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The scorer's name.
    pub model: String,
    /// Validation or test targets.
    pub stage: Stage,
    /// `full` or `sampled-99`.
    pub protocol: String,
    /// Shoppers evaluated (those with at least three items).
    pub users: usize,
    /// Targets that were already in the shopper's history, masked and so counted as misses.
    pub masked_targets: usize,
    /// `HR@k`, `NDCG@k` and `MRR`.
    pub metrics: BTreeMap<String, f64>,
}

/// Histories scored at once.
const CHUNK: usize = 256;

/// Evaluates `scorer` on every shopper with at least three items, `threads` chunks at a time
/// (1 for a scorer that parallelises itself), calling `progress(done, total)` after each chunk.
pub fn evaluate(
    scorer: &dyn Scorer,
    data: &Sequences,
    stage: Stage,
    protocol: Protocol,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Evaluation {
    let mut users: Vec<usize> = (0..data.len())
        .filter(|&u| held_out(data.seq(u), stage).is_some())
        .collect();
    // Shoppers of similar length share a chunk, so a sequence model pads each chunk only to
    // lengths its shoppers have (the sums do not depend on the order).
    users.sort_by_key(|&u| data.seq(u).len());
    let total = users.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let threads = threads.clamp(1, 64);
    let per_thread = total.div_ceil(threads).max(1);
    let tallies: Vec<(Metrics, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = users
            .chunks(per_thread)
            .map(|mine| {
                let done = &done;
                scope.spawn(move || {
                    let mut tally = (Metrics::new(protocol.cutoffs()), 0);
                    for chunk in mine.chunks(CHUNK) {
                        evaluate_chunk(scorer, data, stage, protocol, chunk, &mut tally);
                        let now = done.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
                        progress(now + chunk.len(), total);
                    }
                    tally
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut metrics = Metrics::new(protocol.cutoffs());
    let mut masked_targets = 0;
    for (m, masked) in &tallies {
        metrics.merge(m);
        masked_targets += masked;
    }
    Evaluation {
        model: scorer.name().to_owned(),
        stage,
        protocol: protocol.name(),
        users: metrics.users(),
        masked_targets,
        metrics: metrics.named(),
    }
}

fn evaluate_chunk(
    scorer: &dyn Scorer,
    data: &Sequences,
    stage: Stage,
    protocol: Protocol,
    users: &[usize],
    tally: &mut (Metrics, usize),
) {
    let width = scorer.n_items() + 1;
    let cases: Vec<(&[u32], u32)> = users
        .iter()
        .filter_map(|&u| held_out(data.seq(u), stage))
        .collect();
    let histories: Vec<&[u32]> = cases.iter().map(|c| c.0).collect();
    let mut scores = vec![0f32; histories.len() * width];
    scorer.score(&histories, &mut scores);
    let mut seen = vec![false; width];
    for ((&u, &(history, target)), row) in users.iter().zip(&cases).zip(scores.chunks(width)) {
        let rank = match protocol {
            Protocol::Full => {
                for &i in history {
                    if let Some(s) = seen.get_mut(i as usize) {
                        *s = true;
                    }
                }
                let rank = if (target as usize) < width {
                    Rank::of(row, target, |c| c != PAD && !seen[c as usize])
                } else {
                    // An item the model never saw in training cannot be ranked.
                    Rank::At {
                        above: width - 1,
                        tied: 0,
                    }
                };
                for &i in history {
                    if let Some(s) = seen.get_mut(i as usize) {
                        *s = false;
                    }
                }
                rank
            }
            Protocol::Sampled { negatives, seed } => {
                let drawn = negatives_for(data.seq(u), width, negatives, seed, u);
                let score = |i: u32| row.get(i as usize).copied().unwrap_or(f32::NEG_INFINITY);
                let mut small = Vec::with_capacity(drawn.len() + 1);
                small.push(score(target));
                small.extend(drawn.iter().map(|&i| score(i)));
                Rank::of(&small, 0, |_| true)
            }
        };
        if rank == Rank::Excluded {
            tally.1 += 1;
        }
        tally.0.add(rank);
    }
}

/// `count` distinct items in `1..width` that the shopper never had, drawn uniformly with a
/// generator seeded by `seed` and the shopper's position alone (fewer when too few remain).
pub fn negatives_for(seq: &[u32], width: usize, count: usize, seed: u64, user: usize) -> Vec<u32> {
    let had: std::collections::HashSet<u32> = seq.iter().copied().collect();
    let available = (1..width as u32).filter(|i| !had.contains(i)).count();
    let count = count.min(available);
    let mut rng = StdRng::seed_from_u64(seed ^ (user as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut drawn = Vec::with_capacity(count);
    let mut picked = std::collections::HashSet::new();
    while drawn.len() < count {
        let i = rng.random_range(1..width as u32);
        if !had.contains(&i) && picked.insert(i) {
            drawn.push(i);
        }
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores item `i` as `i`: higher indices rank first, whatever the history.
    struct ByIndex(usize);

    impl Scorer for ByIndex {
        fn name(&self) -> &str {
            "by-index"
        }
        fn n_items(&self) -> usize {
            self.0
        }
        fn score(&self, histories: &[&[u32]], out: &mut [f32]) {
            for row in out.chunks_exact_mut(self.0 + 1).take(histories.len()) {
                for (i, s) in row.iter_mut().enumerate() {
                    *s = i as f32;
                }
            }
        }
    }

    fn data() -> Sequences {
        // Items 1..=30 (numbered by first appearance, so "k" is index k).
        let mut pairs: Vec<(&str, String)> = (1..=30).map(|i| ("warmup", i.to_string())).collect();
        // Shopper a: history [30, 29], validation 1, test 28 (masked history: 30, 29, 1).
        for i in ["30", "29", "1", "28"] {
            pairs.push(("a", i.into()));
        }
        // Shopper b: test target 30 is already in the history: masked, a miss.
        for i in ["30", "2", "3", "30"] {
            pairs.push(("b", i.into()));
        }
        Sequences::from_pairs(pairs)
    }

    #[test]
    fn full_ranking_masks_the_history() {
        let data = data();
        let scorer = ByIndex(data.n_items());
        let test = evaluate(&scorer, &data, Stage::Test, Protocol::Full, 2, &|_, _| {});
        // warmup's test target 30 ranks first among 1..=30 minus its history 1..=28: rank 1.
        // a's target 28 ranks first once 30 and 29 are masked: rank 1.
        // b's target 30 is masked: a miss.
        assert_eq!(test.users, 3);
        assert_eq!(test.masked_targets, 1);
        assert!((test.metrics["HR@5"] - 2.0 / 3.0).abs() < 1e-9);
        assert!((test.metrics["NDCG@5"] - 2.0 / 3.0).abs() < 1e-9);
        let valid = evaluate(&scorer, &data, Stage::Valid, Protocol::Full, 1, &|_, _| {});
        // warmup's target 29 ranks second, after its unmasked test item 30.
        // a's target 1 is last among 1..=28 (30 and 29 masked): a miss.
        // b's target 3 ranks after 4..=29 (30 and 2 masked): rank 27, a miss.
        assert!((valid.metrics["HR@5"] - 1.0 / 3.0).abs() < 1e-9);
        assert!((valid.metrics["NDCG@5"] - 1.0 / 3.0 / 3f64.log2()).abs() < 1e-9);
    }

    #[test]
    fn sampled_negatives_are_unseen_and_fixed_by_the_seed() {
        let seq = [1, 2, 3];
        let a = negatives_for(&seq, 101, 99, 7, 4);
        assert_eq!(a.len(), 97, "only 97 items remain unseen");
        assert!(a.iter().all(|i| !seq.contains(i) && (1..=100).contains(i)));
        assert_eq!(a, negatives_for(&seq, 101, 99, 7, 4));
        let b = negatives_for(&seq, 1001, 99, 7, 4);
        assert_eq!(b, negatives_for(&seq, 1001, 99, 7, 4));
        assert_ne!(b, negatives_for(&seq, 1001, 99, 8, 4));
        assert_ne!(b, negatives_for(&seq, 1001, 99, 7, 5));
    }

    #[test]
    fn sampled_ranks_against_the_negatives_only() {
        let data = data();
        let scorer = ByIndex(data.n_items());
        let e = evaluate(
            &scorer,
            &data,
            Stage::Test,
            Protocol::sampled(1),
            1,
            &|_, _| {},
        );
        assert_eq!(e.protocol, "sampled-99");
        // warmup had every item, so it has no negatives and its target ranks first.
        assert_eq!(e.users, 3);
        assert!(e.metrics["HR@10"] > 0.0);
    }
}
