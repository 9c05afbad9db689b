//! kill -9 during an import, then a rerun: committed batches are whole, nothing is duplicated,
//! nothing is lost.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vitrine_engine::import::synthetic;
use vitrine_engine::{Engine, EngineConfig};

const BATCH: u64 = 2_000;

fn spawn_import(db: &Path, kind: &str, file: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .arg("--db")
        .arg(db)
        .args(["import", kind])
        .arg(file)
        .args(["--batch-size", &BATCH.to_string()])
        .env("VITRINE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn open(db: &Path) -> Engine {
    Engine::open(&EngineConfig {
        db_path: db.to_path_buf(),
        default_currency: "USD".into(),
    })
    .unwrap()
}

/// Waits until `count` reports at least `at_least` rows, then kills the child with SIGKILL.
/// Returns false if the child finished first (the machine was too fast to interrupt it).
fn kill_midway(child: &mut Child, at_least: u64, count: impl Fn() -> u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if count() >= at_least {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("import made no progress");
}

fn finish(db: &Path, kind: &str, file: &Path) -> String {
    let out = spawn_import(db, kind, file).wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn product_import_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let file = dir.path().join("catalog.jsonl");
    let total = 120_000;
    let mut w = BufWriter::new(std::fs::File::create(&file).unwrap());
    synthetic::write_products(&mut w, total, 1).unwrap();
    w.flush().unwrap();
    drop(w);

    let engine = open(&db);
    let mut child = spawn_import(&db, "products", &file);
    let interrupted = kill_midway(&mut child, 4 * BATCH, || engine.stats().unwrap().products);
    let committed = engine.stats().unwrap().products;
    assert!(interrupted, "the import finished before it could be killed");
    assert_eq!(
        committed % BATCH,
        0,
        "only whole batches are committed: {committed}"
    );
    assert!(committed < total);
    let summary = finish(&db, "products", &file);
    let expected = format!(
        "{} imported, 0 updated, {committed} unchanged, 0 rejected",
        total - committed
    );
    assert!(summary.contains(&expected), "{summary} vs {expected}");
    assert_eq!(engine.stats().unwrap().products, total);
}

#[test]
fn event_import_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let file = dir.path().join("events.jsonl");
    let total = 200_000;
    let mut w = BufWriter::new(std::fs::File::create(&file).unwrap());
    synthetic::write_events(&mut w, total, 5_000, 2).unwrap();
    w.flush().unwrap();
    drop(w);

    let engine = open(&db);
    let mut child = spawn_import(&db, "events", &file);
    let interrupted = kill_midway(&mut child, 4 * BATCH, || engine.stats().unwrap().events);
    let committed = engine.stats().unwrap().events;
    assert!(interrupted, "the import finished before it could be killed");
    assert_eq!(
        committed % BATCH,
        0,
        "only whole batches are committed: {committed}"
    );
    assert!(committed < total);
    finish(&db, "events", &file);
    // Every generated event has its own millisecond, so each is distinct: all land, once.
    assert_eq!(engine.stats().unwrap().events, total);
    let summary = finish(&db, "events", &file);
    assert!(summary.contains(": 0 imported"), "{summary}");
    assert_eq!(engine.stats().unwrap().events, total);
}
