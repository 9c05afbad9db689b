//! Opening SQLite connections with Vitrine's settings, and a small pool of read connections.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Error, Result};

/// How a connection will be used; decides its durability settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// API writes: every commit is fsynced before the call returns ("accepted once durable").
    Durable,
    /// Bulk imports: WAL with synchronous=NORMAL survives a process kill (a power cut may lose
    /// the last batches, which a rerun restores) and writes several times faster.
    Bulk,
    /// Reads only.
    Read,
}

/// Opens a connection with WAL, foreign keys and a busy timeout.
pub(crate) fn open(path: &Path, mode: Mode) -> Result<Connection> {
    let flags = match mode {
        Mode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        _ => {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        }
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| Error::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // Takes effect only when the file is created: larger pages mean fewer B-tree splits on bulk
    // writes and shallower trees for catalog-sized tables.
    conn.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )?;
    match mode {
        Mode::Durable => {
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?
        }
        Mode::Bulk => conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; \
             PRAGMA wal_autocheckpoint = 16384;",
        )?,
        Mode::Read => conn.execute_batch("PRAGMA cache_size = -16384;")?,
    }
    Ok(conn)
}

/// Read connections, opened on demand up to a bound and kept for reuse. WAL lets them read while
/// one writer writes. When every connection is busy a caller waits for one: opening a connection
/// parses the schema, and under a burst of concurrent requests opening (and closing) one per
/// query cost more than the queries (`vitrine bench rec`: 64 connections of recommendation
/// requests spent most of their time there).
#[derive(Debug)]
pub(crate) struct ReadPool {
    path: PathBuf,
    state: Mutex<PoolState>,
    returned: Condvar,
}

#[derive(Debug, Default)]
struct PoolState {
    idle: Vec<Connection>,
    /// Connections open, idle or lent out.
    open: usize,
}

/// The most read connections open at once.
const MAX_READERS: usize = 16;

impl ReadPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            state: Mutex::default(),
            returned: Condvar::new(),
        }
    }

    /// Runs `f` on a pooled read connection, waiting for one when all are busy.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> vitrine_core::Result<T>,
    ) -> vitrine_core::Result<T> {
        let conn = self.take()?;
        let out = f(&conn);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle.push(conn);
        drop(state);
        self.returned.notify_one();
        out
    }

    fn take(&self) -> vitrine_core::Result<Connection> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(conn);
            }
            if state.open < MAX_READERS {
                state.open += 1;
                drop(state);
                let opened = open(&self.path, Mode::Read);
                if opened.is_err() {
                    self.state.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
                    self.returned.notify_one();
                }
                return Ok(opened?);
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_pool_is_bounded_and_reuses_its_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut writer = open(&path, Mode::Durable).unwrap();
        crate::migrations::migrate(&mut writer).unwrap();
        let pool = ReadPool::new(path);
        let busy = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..40 {
                scope.spawn(|| {
                    for _ in 0..5 {
                        pool.with(|c| {
                            use std::sync::atomic::Ordering::SeqCst;
                            let now = busy.fetch_add(1, SeqCst) + 1;
                            most.fetch_max(now, SeqCst);
                            let one: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
                            std::thread::sleep(Duration::from_millis(2));
                            busy.fetch_sub(1, SeqCst);
                            Ok(one)
                        })
                        .unwrap();
                    }
                });
            }
        });
        let state = pool.state.lock().unwrap();
        assert!(state.open <= MAX_READERS, "{} open", state.open);
        assert_eq!(state.idle.len(), state.open, "every connection came back");
        assert!(most.into_inner() <= MAX_READERS);
    }

    #[test]
    fn every_mode_enforces_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut writer = open(&path, Mode::Durable).unwrap();
        crate::migrations::migrate(&mut writer).unwrap();
        for mode in [Mode::Durable, Mode::Bulk, Mode::Read] {
            let conn = open(&path, mode).unwrap();
            let on: i64 = conn
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
                .unwrap();
            assert_eq!(on, 1, "{mode:?}");
        }
        let err = writer.execute(
            "INSERT INTO events (shopper, product_id, kind, ts) VALUES (999, 'p', 0, 1)",
            [],
        );
        assert!(
            err.is_err(),
            "an event for an unknown shopper row is refused"
        );
    }
}
