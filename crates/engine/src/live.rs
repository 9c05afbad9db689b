//! The trainings this process runs, of either kind, by run name: each one's status behind a lock
//! with a cancel flag beside it, and the registry that finds them. The run folders are the
//! record; this is only the live view of the work in progress.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use vitrine_core::Error as CoreError;

use crate::Result;
use crate::rec::TrainingState;

/// A training's status as the API shows it.
pub(crate) trait Status: Clone {
    /// Where it stands.
    fn state(&self) -> TrainingState;
    /// Counts one more change (the status's `updates`, which event streams watch).
    fn count_update(&mut self);
}

/// One training this process runs.
#[derive(Debug)]
pub(crate) struct Live<T> {
    status: Mutex<T>,
    cancel: AtomicBool,
}

impl<T: Status> Live<T> {
    /// Changes the status and counts the change.
    pub(crate) fn update(&self, change: impl FnOnce(&mut T)) {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut status);
        status.count_update();
    }

    /// The status now.
    pub(crate) fn snapshot(&self) -> T {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether it was asked to stop.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

/// The trainings of one kind this process runs or has run, by run name.
#[derive(Debug)]
pub(crate) struct Registry<T> {
    live: Mutex<HashMap<String, Arc<Live<T>>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self {
            live: Mutex::default(),
        }
    }
}

impl<T: Status> Registry<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Live<T>>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The name of the training running now, if any.
    pub(crate) fn running(&self) -> Option<String> {
        self.lock()
            .iter()
            .find(|(_, l)| l.snapshot().state() == TrainingState::Running)
            .map(|(name, _)| name.clone())
    }

    /// `Conflict` naming the training that runs, this registry's or `other` (another kind's).
    /// The caller holds the engine's training gate from this check to [`Registry::insert`].
    pub(crate) fn idle(&self, other: Option<String>) -> Result<()> {
        match self.running().or(other) {
            Some(name) => Err(CoreError::Conflict(format!(
                "the training '{name}' is running; cancel it or wait for it to end"
            ))
            .into()),
            None => Ok(()),
        }
    }

    /// Registers the training of `run` with its first status, replacing an ended one.
    pub(crate) fn insert(&self, run: &str, first: T) -> Arc<Live<T>> {
        let entry = Arc::new(Live {
            status: Mutex::new(first),
            cancel: AtomicBool::new(false),
        });
        self.lock().insert(run.to_owned(), entry.clone());
        entry
    }

    /// Forgets `run` (its thread could not start).
    pub(crate) fn remove(&self, run: &str) {
        self.lock().remove(run);
    }

    /// The status of `run` if this process runs or ran it.
    pub(crate) fn get(&self, run: &str) -> Option<T> {
        self.lock().get(run).map(|l| l.snapshot())
    }

    /// Asks `run` to stop after its current batch when it is running; its status, if this
    /// process runs or ran it.
    pub(crate) fn cancel(&self, run: &str) -> Option<T> {
        let entry = self.lock().get(run).cloned()?;
        if entry.snapshot().state() == TrainingState::Running {
            entry.cancel.store(true, Ordering::SeqCst);
        }
        Some(entry.snapshot())
    }

    /// The names of the runs this process runs or ran.
    pub(crate) fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct Fake {
        state: TrainingState,
        updates: u64,
    }

    impl Status for Fake {
        fn state(&self) -> TrainingState {
            self.state
        }
        fn count_update(&mut self) {
            self.updates += 1;
        }
    }

    fn running() -> Fake {
        Fake {
            state: TrainingState::Running,
            updates: 0,
        }
    }

    #[test]
    fn one_running_training_makes_the_registry_busy_until_it_ends() {
        let registry = Registry::<Fake>::default();
        assert!(registry.idle(None).is_ok());
        assert!(registry.idle(Some("other-kind".into())).is_err());
        let live = registry.insert("a", running());
        let err = registry.idle(None).expect_err("a runs").to_string();
        assert!(err.contains("'a' is running"), "{err}");
        live.update(|s| s.state = TrainingState::Done);
        assert_eq!(registry.get("a").map(|s| s.updates), Some(1));
        assert!(registry.idle(None).is_ok());
        assert_eq!(registry.names(), vec!["a".to_owned()]);
        assert!(registry.get("b").is_none());
    }

    #[test]
    fn cancel_flags_only_a_running_training() {
        let registry = Registry::<Fake>::default();
        let a = registry.insert("a", running());
        let b = registry.insert("b", running());
        b.update(|s| s.state = TrainingState::Done);
        assert!(registry.cancel("a").is_some());
        assert!(a.cancelled());
        assert!(registry.cancel("b").is_some());
        assert!(!b.cancelled());
        assert!(registry.cancel("c").is_none());
        registry.remove("a");
        assert!(registry.get("a").is_none());
    }
}
