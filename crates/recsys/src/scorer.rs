//! What every recommender gives the evaluator and the server: a score for every item given a
//! shopper's history.

/// Scores items for histories. Higher is more likely next.
pub trait Scorer: Sync {
    /// A short name for reports (`popularity`, `item-knn`, `sasrec`).
    fn name(&self) -> &str;

    /// Number of items scored (indices 1 to this; 0 is padding).
    fn n_items(&self) -> usize;

    /// Scores every item index for each history, oldest item first: one row of `n_items() + 1`
    /// scores per history, written to `out` (`histories.len() * (n_items() + 1)` long). The
    /// padding column is ignored. Items never seen in training may appear in a history and are
    /// ignored there.
    fn score(&self, histories: &[&[u32]], out: &mut [f32]);
}
