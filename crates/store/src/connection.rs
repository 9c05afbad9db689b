//! Opening SQLite connections with Vitrine's settings, and a small pool of read connections.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
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

/// Read connections, opened on demand and kept for reuse. WAL lets them read while one writer
/// writes.
#[derive(Debug)]
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// The most idle read connections kept open.
const MAX_IDLE: usize = 8;

impl ReadPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a pooled read connection.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> vitrine_core::Result<T>,
    ) -> vitrine_core::Result<T> {
        let pooled = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let conn = match pooled {
            Some(c) => c,
            None => open(&self.path, Mode::Read)?,
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
