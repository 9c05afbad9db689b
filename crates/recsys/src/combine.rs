//! Scoring concurrent requests together. A neural scorer pays a fixed cost per call (every
//! layer's kernels launched, the item matrix read once) that one history hardly uses, so
//! `Combined` lets the threads that ask at the same time share one call: the first to find
//! the scorer idle scores every waiting history in one batch (flat combining) and hands each
//! thread its rows; the others wait for theirs. A lone request is scored at once, alone.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::scorer::Scorer;

/// Most histories scored in one call.
const MAX_BATCH: usize = 64;

/// A scorer whose concurrent callers are scored in shared batches.
#[derive(Debug)]
pub struct Combined<S> {
    inner: S,
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Histories waiting, with their caller's ticket, oldest first.
    waiting: Vec<(u64, Vec<u32>)>,
    /// Scores of finished histories not yet collected, by ticket (`None`: the scorer
    /// panicked).
    done: HashMap<u64, Option<Vec<f32>>>,
    /// Whether a thread is scoring a batch now.
    busy: bool,
    next_ticket: u64,
}

impl<S: Scorer> Combined<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            state: Mutex::new(State::default()),
            finished: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The scores of one history (`n_items() + 1` long). A panic of the inner scorer reaches
    /// every caller of its batch as a panic of their own, as it would without combining.
    fn score_one(&self, history: &[u32]) -> Vec<f32> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push((ticket, history.to_vec()));
        loop {
            if let Some(scores) = state.done.remove(&ticket) {
                drop(state);
                return scores.unwrap_or_else(|| panic!("the recommender's scorer failed"));
            }
            if state.busy {
                state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Idle: this thread scores what is waiting, its own history among it (or, when
            // more than a batch waits, the oldest batch, and then goes round again).
            state.busy = true;
            let take = state.waiting.len().min(MAX_BATCH);
            let batch: Vec<(u64, Vec<u32>)> = state.waiting.drain(..take).collect();
            drop(state);
            let scored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let width = self.inner.n_items() + 1;
                let mut out = vec![0f32; batch.len() * width];
                let histories: Vec<&[u32]> = batch.iter().map(|(_, h)| h.as_slice()).collect();
                self.inner.score(&histories, &mut out);
                (width, out)
            }));
            state = self.lock();
            state.busy = false;
            match scored {
                Ok((width, out)) => {
                    for ((t, _), row) in batch.iter().zip(out.chunks(width)) {
                        state.done.insert(*t, Some(row.to_vec()));
                    }
                }
                Err(_) => {
                    for (t, _) in &batch {
                        state.done.insert(*t, None);
                    }
                }
            }
            self.finished.notify_all();
        }
    }
}

impl<S: Scorer> Scorer for Combined<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn n_items(&self) -> usize {
        self.inner.n_items()
    }

    fn score(&self, histories: &[&[u32]], out: &mut [f32]) {
        if histories.len() != 1 {
            // A caller with many histories batches them itself.
            return self.inner.score(histories, out);
        }
        let scores = self.score_one(histories[0]);
        out[..scores.len()].copy_from_slice(&scores);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Scores item `j` as the history's length times `j`, and counts its calls.
    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicUsize,
        rows: AtomicUsize,
    }

    impl Scorer for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn n_items(&self) -> usize {
            3
        }
        fn score(&self, histories: &[&[u32]], out: &mut [f32]) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.rows.fetch_add(histories.len(), Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            for (h, row) in histories.iter().zip(out.chunks_mut(4)) {
                for (j, s) in row.iter_mut().enumerate() {
                    *s = (h.len() * j) as f32;
                }
            }
        }
    }

    #[test]
    fn every_caller_gets_its_own_rows_and_callers_share_calls() {
        let combined = Arc::new(Combined::new(Counting::default()));
        let start = Arc::new(std::sync::Barrier::new(32));
        let threads: Vec<_> = (1..=32usize)
            .map(|n| {
                let combined = combined.clone();
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    let history: Vec<u32> = vec![1; n];
                    let mut out = vec![0f32; 4];
                    combined.score(&[&history], &mut out);
                    assert_eq!(out, vec![0.0, n as f32, 2.0 * n as f32, 3.0 * n as f32]);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        let inner = &combined.inner;
        assert_eq!(inner.rows.load(Ordering::SeqCst), 32);
        // 32 threads let go together, each call lasting 20 ms: they cannot each have had a call
        // of their own.
        assert!(inner.calls.load(Ordering::SeqCst) < 32);
        let state = combined.lock();
        assert!(state.waiting.is_empty() && state.done.is_empty() && !state.busy);
    }

    /// Fails every call.
    #[derive(Debug)]
    struct Failing;

    impl Scorer for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn n_items(&self) -> usize {
            3
        }
        fn score(&self, _: &[&[u32]], _: &mut [f32]) {
            panic!("broken model");
        }
    }

    #[test]
    fn a_failing_scorer_fails_its_callers_and_leaves_the_combiner_usable() {
        let combined = Combined::new(Failing);
        for _ in 0..2 {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut out = vec![0f32; 4];
                combined.score(&[&[1]], &mut out);
            }));
            assert!(result.is_err());
            let state = combined.lock();
            assert!(!state.busy && state.waiting.is_empty() && state.done.is_empty());
        }
    }

    #[test]
    fn many_histories_at_once_go_straight_through() {
        let combined = Combined::new(Counting::default());
        let mut out = vec![0f32; 8];
        combined.score(&[&[1], &[1, 2]], &mut out);
        assert_eq!(out, vec![0.0, 1.0, 2.0, 3.0, 0.0, 2.0, 4.0, 6.0]);
        assert_eq!(combined.inner.calls.load(Ordering::SeqCst), 1);
    }
}
