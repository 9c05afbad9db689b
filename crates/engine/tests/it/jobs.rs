//! Description jobs: a job left by a dead runner is taken up and finished without writing an
//! item twice; a live runner's job is refused to a second runner; a failing model fails items,
//! not the job; cancelling stops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;
use vitrine_core::{
    ContentKind, DraftNew, DraftQuery, FinishReason, GenerateError, GenerationEvent,
    GenerationRequest, GeneratorHealth, GeneratorInfo, ItemOutcome, JobStatus, Origin,
    ProductInput, Prompt, Provenance, TextGenerator, TokenSink, Usage, now_millis,
};
use vitrine_engine::{DescriptionJob, Engine, EngineConfig, Error, JobEvent};

/// Answers every request at once with a fixed description that makes no checkable claim, or
/// fails when told to.
#[derive(Debug, Default)]
struct Scripted {
    fail: AtomicBool,
    calls: AtomicUsize,
    /// A database in which the first request deletes product `tee-2`.
    delete_in: std::sync::Mutex<Option<std::path::PathBuf>>,
}

const TEXT: &str = "A soft and easy piece for every day. It feels good from the first wear \
                    and keeps its shape after many washes. Pair it with anything in your \
                    wardrobe and enjoy a relaxed look wherever the day takes you.";

impl TextGenerator for Scripted {
    fn info(&self) -> GeneratorInfo {
        GeneratorInfo {
            model: "scripted".into(),
            backend: "test".into(),
            context_length: 100_000,
        }
    }

    fn health(&self) -> GeneratorHealth {
        GeneratorHealth::Ok {
            active: 0,
            queued: 0,
        }
    }

    fn submit(
        &self,
        _request: GenerationRequest,
        mut sink: Box<dyn TokenSink>,
    ) -> Result<(), GenerateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(db) = self.delete_in.lock().unwrap().take() {
            use vitrine_core::Store;
            let store = vitrine_store::SqliteStore::open(&vitrine_store::SqliteConfig { path: db })
                .unwrap();
            store.delete_product("tee-2").unwrap();
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(GenerateError::Unavailable("the model is down".into()));
        }
        std::thread::spawn(move || {
            sink.send(GenerationEvent::Text(TEXT.into()));
            sink.send(GenerationEvent::Done {
                finish_reason: FinishReason::Stop,
                usage: Usage {
                    prompt_tokens: 10,
                    completion_tokens: 40,
                    cached_tokens: 0,
                },
            });
        });
        Ok(())
    }

    fn count_tokens(&self, prompt: &Prompt) -> Result<u32, GenerateError> {
        Ok(match prompt {
            Prompt::Text(t) => t.split_whitespace().count() as u32,
            Prompt::Chat(m) => m
                .iter()
                .map(|m| m.content.split_whitespace().count() as u32)
                .sum(),
        })
    }
}

fn engine(dir: &tempfile::TempDir, generator: Arc<Scripted>) -> Engine {
    let engine = Engine::open(&EngineConfig {
        db_path: dir.path().join("vitrine.db"),
        default_currency: "USD".into(),
    })
    .unwrap()
    .with_generator(generator);
    for i in 0..5 {
        let input: ProductInput = serde_json::from_value(json!({
            "id": format!("tee-{i}"),
            "title": format!("Northfold Cotton Tee {i}"),
            "brand": "Northfold",
            "category": "tees",
            "price": "24.00",
            "attributes": {"color": "black", "material": "cotton"},
        }))
        .unwrap();
        engine.create_product(input).unwrap();
    }
    engine
}

fn spec() -> DescriptionJob {
    DescriptionJob {
        category: Some("tees".into()),
        missing_only: false,
        options: Default::default(),
    }
}

fn descriptions_of(engine: &Engine, product: &str) -> usize {
    engine
        .drafts(&DraftQuery {
            product: Some(product.into()),
            kind: Some(ContentKind::Description),
            limit: 100,
            ..DraftQuery::default()
        })
        .unwrap()
        .items
        .len()
}

#[test]
fn a_job_left_by_a_dead_runner_is_finished_without_writing_an_item_twice() {
    let dir = tempfile::tempdir().unwrap();
    let generator = Arc::new(Scripted::default());
    let engine = engine(&dir, generator.clone());
    let (job, resumed) = engine.start_description_job(&spec(), "test").unwrap();
    assert!(!resumed);
    assert_eq!(job.total, 5);

    // A runner finished two items, then died: its hold is stale.
    let long_ago = now_millis() - 10 * 60 * 1000;
    assert!(
        engine
            .store()
            .claim_job(&job.id, "dead", long_ago, 0)
            .unwrap()
    );
    for product in ["tee-0", "tee-1"] {
        let draft = DraftNew {
            id: format!("drf_dead_{product}"),
            product_id: product.into(),
            kind: ContentKind::Description,
            origin: Origin::Model,
            parent: None,
            content: json!({"text": "Written before the crash."}),
            verification: json!({}),
            provenance: Provenance::default(),
            created_at: long_ago,
        };
        engine
            .store()
            .finish_item(
                &job.id,
                product,
                &ItemOutcome::Done {
                    drafts: vec![draft],
                    elapsed_ms: 1,
                },
            )
            .unwrap();
    }

    // The same command again resumes the job rather than starting another.
    let (again, resumed) = engine.start_description_job(&spec(), "test").unwrap();
    assert!(resumed);
    assert_eq!(again.id, job.id);
    assert_eq!(again.done, 2);

    let events = AtomicUsize::new(0);
    let finished = engine
        .run_job(&job.id, 2, &|event| {
            let JobEvent::Item { error, .. } = event;
            assert_eq!(error, &None);
            events.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    assert_eq!(finished.status, JobStatus::Done);
    assert_eq!((finished.done, finished.failed), (5, 0));
    assert_eq!(
        events.load(Ordering::SeqCst),
        3,
        "only the pending items ran"
    );
    for i in 0..5 {
        assert_eq!(descriptions_of(&engine, &format!("tee-{i}")), 1, "tee-{i}");
    }
    // The items finished before the crash keep their drafts.
    let kept = engine.draft("drf_dead_tee-0").unwrap();
    assert_eq!(kept.content["text"], "Written before the crash.");
    // A new draft carries its job.
    let items = engine.job_items(&job.id, 10, 0).unwrap();
    let last = &items.items[4];
    let draft = engine.draft(&last.drafts[0]).unwrap();
    assert_eq!(draft.provenance.job.as_deref(), Some(job.id.as_str()));
    assert_eq!(draft.provenance.model.as_deref(), Some("scripted"));

    // Running a finished job does nothing.
    let calls = generator.calls.load(Ordering::SeqCst);
    engine.run_job(&job.id, 2, &|_| {}).unwrap();
    assert_eq!(generator.calls.load(Ordering::SeqCst), calls);
}

#[test]
fn a_live_runner_keeps_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, Arc::new(Scripted::default()));
    let (job, _) = engine.start_description_job(&spec(), "test").unwrap();
    assert!(
        engine
            .store()
            .claim_job(&job.id, "alive", now_millis(), 0)
            .unwrap()
    );
    let refused = engine.run_job(&job.id, 2, &|_| {}).unwrap_err();
    assert!(
        matches!(refused, Error::Domain(vitrine_core::Error::Conflict(_))),
        "{refused}"
    );
    assert_eq!(engine.job(&job.id).unwrap().done, 0);
}

#[test]
fn a_failing_model_fails_items_and_the_job_ends() {
    let dir = tempfile::tempdir().unwrap();
    let generator = Arc::new(Scripted::default());
    generator.fail.store(true, Ordering::SeqCst);
    let engine = engine(&dir, generator);
    let (job, _) = engine.start_description_job(&spec(), "test").unwrap();
    let finished = engine.run_job(&job.id, 2, &|_| {}).unwrap();
    assert_eq!(finished.status, JobStatus::Done);
    assert_eq!((finished.done, finished.failed), (0, 5));
    let items = engine.job_items(&job.id, 10, 0).unwrap();
    for item in &items.items {
        let error = item.error.as_deref().unwrap_or_default();
        // The backend's own words stay in the log.
        assert!(error.contains("text generation failed"), "{error}");
        assert!(item.drafts.is_empty());
        assert_eq!(descriptions_of(&engine, &item.product_id), 0);
    }
}

#[test]
fn a_cancelled_job_stops_and_keeps_what_it_finished() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, Arc::new(Scripted::default()));
    let (job, _) = engine.start_description_job(&spec(), "test").unwrap();
    let finished = engine
        .run_job(&job.id, 1, &|event| {
            let JobEvent::Item { job, .. } = event;
            if job.done == 2 {
                engine.cancel_job(&job.id).unwrap();
            }
        })
        .unwrap();
    assert_eq!(finished.status, JobStatus::Cancelled);
    assert_eq!(finished.done, 2, "one worker stops before its next item");
    let drafts: usize = (0..5)
        .map(|i| descriptions_of(&engine, &format!("tee-{i}")))
        .sum();
    assert_eq!(drafts, 2);
    // A cancelled job is not resumed: the same command starts a new one.
    let (next, resumed) = engine.start_description_job(&spec(), "test").unwrap();
    assert!(!resumed);
    assert_ne!(next.id, job.id);
}

#[test]
fn missing_only_skips_described_products() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, Arc::new(Scripted::default()));
    engine
        .patch_product(
            "tee-0",
            serde_json::from_value(json!({"description": "Our own words."})).unwrap(),
        )
        .unwrap();
    engine
        .generate_descriptions("tee-1", &Default::default(), "test")
        .unwrap();
    let (job, _) = engine
        .start_description_job(
            &DescriptionJob {
                missing_only: true,
                ..spec()
            },
            "test",
        )
        .unwrap();
    assert_eq!(job.total, 3);
    let (empty, _) = engine
        .start_description_job(
            &DescriptionJob {
                category: Some("nothing here".into()),
                ..spec()
            },
            "test",
        )
        .unwrap();
    assert_eq!((empty.total, empty.status), (0, JobStatus::Done));
}

#[test]
fn a_product_deleted_while_its_copy_is_written_fails_its_item_only() {
    let dir = tempfile::tempdir().unwrap();
    let generator = Arc::new(Scripted::default());
    let engine = engine(&dir, generator.clone());
    let (job, _) = engine
        .start_description_job(
            &DescriptionJob {
                category: None,
                ..spec()
            },
            "test",
        )
        .unwrap();
    // The first item (tee-0) deletes tee-2 while it is written; tee-2's turn then finds no
    // product. Either way the item fails and the others finish.
    *generator.delete_in.lock().unwrap() = Some(dir.path().join("vitrine.db"));
    let finished = engine.run_job(&job.id, 1, &|_| {}).unwrap();
    assert_eq!(finished.status, JobStatus::Done);
    assert_eq!((finished.done, finished.failed), (4, 1));
    let items = engine.job_items(&job.id, 10, 0).unwrap();
    let failed = items
        .items
        .iter()
        .find(|i| i.product_id == "tee-2")
        .unwrap();
    assert!(failed.error.is_some());
}
