//! The `Store` contract for generated content and batch jobs: drafts and their review, what is
//! published, product selection, and jobs with their items and runners. Written against
//! `&dyn Store` so every backend runs the same suite; a few SQLite-only checks at the end look
//! at the schema itself.

use serde_json::json;
use vitrine_core::{
    ContentKind, Decision, DraftNew, DraftQuery, DraftStatus, Error, ItemOutcome, ItemStatus,
    JobNew, JobStatus, Origin, ProductDraft, ProductInput, ProductSelection, Provenance, Review,
    Store,
};
use vitrine_store::{SqliteConfig, SqliteStore};

fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&SqliteConfig {
        path: dir.path().join("v.db"),
    })
    .unwrap();
    (dir, store)
}

fn product(id: &str, category: &str, description: Option<&str>) -> ProductDraft {
    let mut draft = serde_json::from_value::<ProductInput>(json!({
        "id": id, "title": format!("Product {id}"), "brand": "Northfold",
        "category": category, "price_minor": 1000,
    }))
    .unwrap()
    .into_draft("USD")
    .unwrap();
    // Set directly: the input path would normalise a blank description away.
    draft.description = description.map(str::to_string);
    draft
}

fn draft(id: &str, product: &str, kind: ContentKind, at: i64) -> DraftNew {
    DraftNew {
        id: id.into(),
        product_id: product.into(),
        kind,
        origin: Origin::Model,
        parent: None,
        content: json!({ "text": format!("text of {id}") }),
        verification: json!({ "claims": [] }),
        provenance: Provenance {
            model: Some("tiny".into()),
            prompt_version: Some("v1".into()),
            seed: Some(7),
            settings: json!({ "temperature": 0.7 }),
            attempts: Some(1),
            actor: Some("cli".into()),
            job: None,
        },
        created_at: at,
    }
}

fn decide(status: DraftStatus, by: &str, at: i64) -> Decision {
    Decision {
        status,
        review: Review {
            by: by.into(),
            note: Some(format!("{by} decided")),
            at,
        },
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|x| id(x).to_string()).collect()
}

fn seed_catalog(store: &dyn Store) {
    store
        .create_product(&product("p1", "apparel", None))
        .unwrap();
    store
        .create_product(&product("p2", "apparel", Some("Soft cotton.")))
        .unwrap();
    store
        .create_product(&product("p3", "shoes", Some(" \t\n ")))
        .unwrap();
}

fn drafts_contract(store: &dyn Store) {
    seed_catalog(store);
    let stored = store
        .insert_drafts(&[
            draft("d1", "p1", ContentKind::Description, 100),
            draft("d2", "p1", ContentKind::Seo, 200),
            draft("d3", "p2", ContentKind::Description, 300),
            draft("d4", "p1", ContentKind::Description, 300),
        ])
        .unwrap();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|d| d.status == DraftStatus::Draft));
    let d1 = store.get_draft("d1").unwrap();
    assert_eq!(d1, stored[0], "what is read back is what insert returned");
    assert_eq!(d1.provenance.seed, Some(7));
    assert_eq!(d1.review, None);
    assert!(matches!(
        store.get_draft("nope"),
        Err(Error::NotFound { kind: "draft", .. })
    ));

    let list = |q: DraftQuery| store.list_drafts(&DraftQuery { limit: 50, ..q }).unwrap();
    let all = list(DraftQuery::default());
    assert_eq!(all.total, 4);
    assert_eq!(
        ids(&all.items, |d| &d.id),
        ["d4", "d3", "d2", "d1"],
        "newest first; the same millisecond goes by insertion, latest first"
    );
    let p1_descriptions = list(DraftQuery {
        product: Some("p1".into()),
        kind: Some(ContentKind::Description),
        ..Default::default()
    });
    assert_eq!(ids(&p1_descriptions.items, |d| &d.id), ["d4", "d1"]);
    let page = store
        .list_drafts(&DraftQuery {
            limit: 2,
            offset: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (ids(&page.items, |d| &d.id), page.total),
        (vec!["d3".to_string(), "d2".into()], 4)
    );
    assert_eq!(
        list(DraftQuery {
            status: Some(DraftStatus::Approved),
            ..Default::default()
        })
        .total,
        0
    );

    // All or none.
    assert!(matches!(
        store.insert_drafts(&[
            draft("d5", "p1", ContentKind::Sms, 400),
            draft("d6", "ghost", ContentKind::Sms, 400),
        ]),
        Err(Error::NotFound { kind: "product", ref id }) if id == "ghost"
    ));
    assert!(matches!(
        store.insert_drafts(&[
            draft("d5", "p1", ContentKind::Sms, 400),
            draft("d1", "p1", ContentKind::Sms, 400),
        ]),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.insert_drafts(&[
            draft("d5", "p1", ContentKind::Sms, 400),
            draft("d5", "p1", ContentKind::Sms, 400),
        ]),
        Err(Error::Conflict(_))
    ));
    assert!(
        store.get_draft("d5").is_err(),
        "a failed batch stores nothing"
    );
    assert_eq!(list(DraftQuery::default()).total, 4);

    // A person's edit points at the draft it changed.
    let mut edit = draft("e1", "p1", ContentKind::Description, 500);
    edit.origin = Origin::Human;
    edit.parent = Some("d1".into());
    let edit = store.insert_drafts(&[edit]).unwrap().remove(0);
    assert_eq!(
        (edit.origin, edit.parent.as_deref()),
        (Origin::Human, Some("d1"))
    );
    let mut orphan = draft("e2", "p1", ContentKind::Description, 500);
    orphan.parent = Some("missing".into());
    assert!(matches!(
        store.insert_drafts(&[orphan]),
        Err(Error::NotFound { kind: "draft", .. })
    ));
    let mut crossed = draft("e3", "p1", ContentKind::Seo, 500);
    crossed.parent = Some("d1".into());
    assert!(matches!(
        store.insert_drafts(&[crossed]),
        Err(Error::Invalid { .. })
    ));
}

fn review_contract(store: &dyn Store) {
    seed_catalog(store);
    store
        .insert_drafts(&[
            draft("a", "p1", ContentKind::Description, 1),
            draft("b", "p1", ContentKind::Description, 2),
            draft("c", "p1", ContentKind::Description, 3),
            draft("s", "p1", ContentKind::Seo, 4),
            draft("other", "p2", ContentKind::Description, 5),
        ])
        .unwrap();
    let status = |id: &str| store.get_draft(id).unwrap().status;

    let a = store
        .review_draft("a", &decide(DraftStatus::Approved, "ann", 10))
        .unwrap();
    assert_eq!(a.status, DraftStatus::Approved);
    assert_eq!(
        a.review,
        Some(Review {
            by: "ann".into(),
            note: Some("ann decided".into()),
            at: 10
        })
    );
    store
        .review_draft("other", &decide(DraftStatus::Approved, "ann", 10))
        .unwrap();

    let b = store
        .review_draft("b", &decide(DraftStatus::Approved, "bob", 20))
        .unwrap();
    assert_eq!(b.status, DraftStatus::Approved);
    assert_eq!(
        status("a"),
        DraftStatus::Superseded,
        "the newer approval wins"
    );
    assert_eq!(
        status("other"),
        DraftStatus::Approved,
        "another product's approval is untouched"
    );

    let again = store
        .review_draft("b", &decide(DraftStatus::Approved, "zed", 30))
        .unwrap();
    assert_eq!(again, b, "approving an approved draft is a no-op");

    store
        .review_draft("s", &decide(DraftStatus::Approved, "ann", 40))
        .unwrap();
    let shown = store.published("p1").unwrap();
    assert_eq!(
        shown
            .iter()
            .map(|d| (d.kind, d.id.as_str()))
            .collect::<Vec<_>>(),
        [(ContentKind::Description, "b"), (ContentKind::Seo, "s")],
        "one per kind, by kind name"
    );
    assert!(store.published("p3").unwrap().is_empty());
    assert!(matches!(
        store.published("ghost"),
        Err(Error::NotFound {
            kind: "product",
            ..
        })
    ));

    let c = store
        .review_draft("c", &decide(DraftStatus::Rejected, "ann", 50))
        .unwrap();
    assert_eq!(c.status, DraftStatus::Rejected);
    let c_again = store
        .review_draft("c", &decide(DraftStatus::Rejected, "bob", 60))
        .unwrap();
    assert_eq!(c_again, c, "rejecting a rejected draft is a no-op");
    assert!(matches!(
        store.review_draft("a", &decide(DraftStatus::Rejected, "ann", 70)),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.review_draft("a", &decide(DraftStatus::Draft, "ann", 70)),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        store.review_draft("a", &decide(DraftStatus::Superseded, "ann", 70)),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        store.review_draft("ghost", &decide(DraftStatus::Approved, "ann", 70)),
        Err(Error::NotFound { kind: "draft", .. })
    ));

    // Rolling back to a superseded draft, and changing one's mind on a rejected one.
    store
        .review_draft("a", &decide(DraftStatus::Approved, "ann", 80))
        .unwrap();
    assert_eq!(
        (status("a"), status("b")),
        (DraftStatus::Approved, DraftStatus::Superseded)
    );
    store
        .review_draft("c", &decide(DraftStatus::Approved, "ann", 90))
        .unwrap();
    assert_eq!(
        (status("a"), status("c")),
        (DraftStatus::Superseded, DraftStatus::Approved)
    );

    // Rejecting the approved draft unpublishes it.
    store
        .review_draft("c", &decide(DraftStatus::Rejected, "ann", 100))
        .unwrap();
    assert_eq!(
        ids(&store.published("p1").unwrap(), |d| &d.id),
        ["s"],
        "no description is shown once the approved one is rejected"
    );
    let approved = store
        .list_drafts(&DraftQuery {
            product: Some("p1".into()),
            status: Some(DraftStatus::Approved),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&approved.items, |d| &d.id), ["s"]);
}

fn deleting_a_product_deletes_its_drafts(store: &dyn Store) {
    seed_catalog(store);
    store
        .insert_drafts(&[
            draft("x1", "p1", ContentKind::Description, 1),
            draft("x2", "p2", ContentKind::Description, 1),
        ])
        .unwrap();
    let mut edit = draft("x3", "p1", ContentKind::Description, 2);
    edit.parent = Some("x1".into());
    store.insert_drafts(&[edit]).unwrap();
    store
        .review_draft("x1", &decide(DraftStatus::Approved, "ann", 3))
        .unwrap();
    store.delete_product("p1").unwrap();
    for id in ["x1", "x3"] {
        assert!(matches!(store.get_draft(id), Err(Error::NotFound { .. })));
    }
    assert!(store.get_draft("x2").is_ok(), "other products keep theirs");
    assert_eq!(
        store
            .list_drafts(&DraftQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .total,
        1
    );
    // The same id may come back as a new product with no content.
    store
        .create_product(&product("p1", "apparel", None))
        .unwrap();
    assert!(store.published("p1").unwrap().is_empty());
}

fn selection_contract(store: &dyn Store) {
    seed_catalog(store);
    let select = |category: Option<&str>, missing: bool| {
        store
            .select_products(&ProductSelection {
                category: category.map(str::to_string),
                missing_description: missing,
            })
            .unwrap()
    };
    assert_eq!(select(None, false), ["p1", "p2", "p3"]);
    assert_eq!(select(Some("apparel"), false), ["p1", "p2"]);
    assert!(select(Some("Apparel"), false).is_empty(), "exact match");
    assert_eq!(
        select(None, true),
        ["p1", "p3"],
        "no description, or only whitespace"
    );
    assert_eq!(select(Some("apparel"), true), ["p1"]);

    // A description waiting for review covers the product; so does an approved one.
    store
        .insert_drafts(&[
            draft("m1", "p1", ContentKind::Description, 1),
            draft("m3", "p3", ContentKind::Seo, 1),
        ])
        .unwrap();
    assert_eq!(
        select(None, true),
        ["p3"],
        "an SEO draft is not a description"
    );
    store
        .review_draft("m1", &decide(DraftStatus::Approved, "ann", 2))
        .unwrap();
    assert_eq!(select(None, true), ["p3"]);
    // A rejected one does not.
    store
        .review_draft("m1", &decide(DraftStatus::Rejected, "ann", 3))
        .unwrap();
    assert_eq!(select(None, true), ["p1", "p3"]);
}

fn job(id: &str, at: i64) -> JobNew {
    JobNew {
        id: id.into(),
        kind: "descriptions".into(),
        params: json!({ "category": "apparel", "missing_description": true }),
        actor: "cli".into(),
        created_at: at,
    }
}

fn jobs_contract(store: &dyn Store) {
    seed_catalog(store);
    let products: Vec<String> = ["p3", "p1", "p2", "p1"].map(String::from).to_vec();
    let created = store.create_job(&job("j1", 1_000), &products).unwrap();
    assert_eq!(
        (
            created.status,
            created.total,
            created.done,
            created.failed,
            created.pending()
        ),
        (JobStatus::Running, 3, 0, 0, 3),
        "a repeated product is one item"
    );
    assert_eq!(created.updated_at, created.created_at);
    assert_eq!(store.get_job("j1").unwrap(), created);
    assert!(matches!(
        store.create_job(&job("j1", 1_000), &products),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.get_job("j9"),
        Err(Error::NotFound { kind: "job", .. })
    ));
    assert_eq!(store.pending_items("j1").unwrap(), ["p1", "p2", "p3"]);
    let items = store.job_items("j1", 2, 0).unwrap();
    assert_eq!(items.total, 3);
    assert_eq!(ids(&items.items, |i| &i.product_id), ["p1", "p2"]);
    assert!(
        items
            .items
            .iter()
            .all(|i| i.status == ItemStatus::Pending && i.drafts.is_empty() && i.error.is_none())
    );
    assert!(matches!(
        store.job_items("j9", 10, 0),
        Err(Error::NotFound { kind: "job", .. })
    ));
    assert!(matches!(
        store.pending_items("j9"),
        Err(Error::NotFound { kind: "job", .. })
    ));

    // p1 done with two drafts.
    let mut seo = draft("j1-p1-seo", "p1", ContentKind::Seo, 1_100);
    seo.provenance.job = Some("j1".into());
    let done = ItemOutcome::Done {
        drafts: vec![
            draft("j1-p1-desc", "p1", ContentKind::Description, 1_100),
            seo,
        ],
        elapsed_ms: 1_234,
    };
    let after = store.finish_item("j1", "p1", &done).unwrap();
    assert_eq!(
        (after.status, after.done, after.failed, after.pending()),
        (JobStatus::Running, 1, 0, 2)
    );
    assert!(after.updated_at >= after.created_at);
    assert_eq!(
        store
            .get_draft("j1-p1-seo")
            .unwrap()
            .provenance
            .job
            .as_deref(),
        Some("j1")
    );

    // Finishing it again is refused and writes nothing.
    assert!(matches!(
        store.finish_item("j1", "p1", &done),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.finish_item(
            "j1",
            "p1",
            &ItemOutcome::Failed {
                error: "late".into(),
                elapsed_ms: 1
            }
        ),
        Err(Error::Conflict(_))
    ));
    let p1_drafts = store
        .list_drafts(&DraftQuery {
            product: Some("p1".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p1_drafts.total, 2, "no duplicate drafts");
    assert_eq!(store.get_job("j1").unwrap().done, 1);

    // p2 fails.
    let after = store
        .finish_item(
            "j1",
            "p2",
            &ItemOutcome::Failed {
                error: "model timed out".into(),
                elapsed_ms: 30_000,
            },
        )
        .unwrap();
    assert_eq!((after.done, after.failed, after.pending()), (1, 1, 1));

    // A draft that cannot be stored rolls the whole item back.
    let bad = ItemOutcome::Done {
        drafts: vec![
            draft("j1-p3-desc", "p3", ContentKind::Description, 1_200),
            draft("j1-p1-desc", "p3", ContentKind::Seo, 1_200),
        ],
        elapsed_ms: 5,
    };
    assert!(matches!(
        store.finish_item("j1", "p3", &bad),
        Err(Error::Conflict(_))
    ));
    assert!(store.get_draft("j1-p3-desc").is_err());
    assert_eq!(store.pending_items("j1").unwrap(), ["p3"]);
    let stray = ItemOutcome::Done {
        drafts: vec![draft("j1-p3-x", "p2", ContentKind::Description, 1_200)],
        elapsed_ms: 5,
    };
    assert!(matches!(
        store.finish_item("j1", "p3", &stray),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        store.finish_item("j1", "p9", &stray),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.finish_item("j9", "p3", &stray),
        Err(Error::NotFound { kind: "job", .. })
    ));
    assert_eq!(store.get_job("j1").unwrap().pending(), 1);

    // The last item ends the job.
    let last = store
        .finish_item(
            "j1",
            "p3",
            &ItemOutcome::Done {
                drafts: vec![draft("j1-p3-desc", "p3", ContentKind::Description, 1_300)],
                elapsed_ms: 900,
            },
        )
        .unwrap();
    assert_eq!(
        (last.status, last.done, last.failed, last.pending()),
        (JobStatus::Done, 2, 1, 0)
    );
    assert!(store.pending_items("j1").unwrap().is_empty());
    let items = store.job_items("j1", 10, 0).unwrap().items;
    assert_eq!(
        items
            .iter()
            .map(|i| (
                i.product_id.as_str(),
                i.status,
                i.drafts.clone(),
                i.error.as_deref(),
                i.elapsed_ms
            ))
            .collect::<Vec<_>>(),
        [
            (
                "p1",
                ItemStatus::Done,
                vec!["j1-p1-desc".to_string(), "j1-p1-seo".into()],
                None,
                1_234
            ),
            (
                "p2",
                ItemStatus::Failed,
                vec![],
                Some("model timed out"),
                30_000
            ),
            (
                "p3",
                ItemStatus::Done,
                vec!["j1-p3-desc".to_string()],
                None,
                900
            ),
        ]
    );
    let page = store.job_items("j1", 1, 2).unwrap();
    assert_eq!(
        (ids(&page.items, |i| &i.product_id), page.total),
        (vec!["p3".to_string()], 3)
    );

    // Listing: newest first, filtered by status.
    store
        .create_job(&job("j2", 2_000), &["p1".to_string()])
        .unwrap();
    store.create_job(&job("j3", 2_000), &[]).unwrap();
    let all = store.list_jobs(None, 10, 0).unwrap();
    assert_eq!(ids(&all.items, |j| &j.id), ["j3", "j2", "j1"]);
    let running = store.list_jobs(Some(JobStatus::Running), 10, 0).unwrap();
    assert_eq!(
        (ids(&running.items, |j| &j.id), running.total),
        (vec!["j3".to_string(), "j2".into()], 2)
    );
    let page = store.list_jobs(None, 1, 1).unwrap();
    assert_eq!(
        (ids(&page.items, |j| &j.id), page.total),
        (vec!["j2".to_string()], 3)
    );
    assert_eq!(
        store.list_jobs(Some(JobStatus::Done), 10, 0).unwrap().total,
        1
    );
}

fn runners_contract(store: &dyn Store) {
    seed_catalog(store);
    let ps = vec!["p1".to_string(), "p2".to_string()];
    store.create_job(&job("j1", 1), &ps).unwrap();

    assert!(store.claim_job("j1", "r1", 1_000, 0).unwrap(), "a free job");
    assert!(
        !store.claim_job("j1", "r2", 2_000, 500).unwrap(),
        "r1's heartbeat at 1000 is live"
    );
    assert!(
        store.claim_job("j1", "r1", 3_000, 2_500).unwrap(),
        "the holder's heartbeat"
    );
    assert!(!store.claim_job("j1", "r2", 4_000, 3_000).unwrap());
    assert!(
        store.claim_job("j1", "r2", 10_000, 5_000).unwrap(),
        "r1 went silent at 3000: r2 takes over"
    );
    assert!(
        !store.claim_job("j1", "r1", 10_001, 5_001).unwrap(),
        "and r1 has lost it"
    );
    assert!(matches!(
        store.claim_job("j9", "r1", 1, 0),
        Err(Error::NotFound { kind: "job", .. })
    ));

    // Cancelling releases the job; a finished job cannot be claimed or ended again.
    let cancelled = store.end_job("j1", JobStatus::Cancelled).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.pending(), 2, "pending items stay as they were");
    assert!(!store.claim_job("j1", "r3", 20_000, 20_000).unwrap());
    let again = store.end_job("j1", JobStatus::Done).unwrap();
    assert_eq!(again, cancelled, "a finished job is returned unchanged");
    assert!(matches!(
        store.end_job("j2", JobStatus::Cancelled),
        Err(Error::NotFound { kind: "job", .. })
    ));
    store.create_job(&job("j2", 2), &ps).unwrap();
    assert!(matches!(
        store.end_job("j2", JobStatus::Running),
        Err(Error::Invalid { .. })
    ));

    // A runner that was mid-item when the job was cancelled keeps its work.
    let late = store
        .finish_item(
            "j1",
            "p1",
            &ItemOutcome::Done {
                drafts: vec![draft("late", "p1", ContentKind::Description, 5)],
                elapsed_ms: 10,
            },
        )
        .unwrap();
    assert_eq!((late.status, late.done), (JobStatus::Cancelled, 1));
    assert!(store.get_draft("late").is_ok());

    // Ending a job as done by hand works too.
    let ended = store.end_job("j2", JobStatus::Done).unwrap();
    assert_eq!((ended.status, ended.pending()), (JobStatus::Done, 2));
    assert!(!store.claim_job("j2", "r1", 1, 0).unwrap());
}

#[test]
fn sqlite_drafts() {
    let (_d, s) = sqlite();
    drafts_contract(&s);
}

#[test]
fn sqlite_review() {
    let (_d, s) = sqlite();
    review_contract(&s);
}

#[test]
fn sqlite_deleting_a_product_deletes_its_drafts() {
    let (_d, s) = sqlite();
    deleting_a_product_deletes_its_drafts(&s);
}

#[test]
fn sqlite_selection() {
    let (_d, s) = sqlite();
    selection_contract(&s);
}

#[test]
fn sqlite_jobs() {
    let (_d, s) = sqlite();
    jobs_contract(&s);
}

#[test]
fn sqlite_runners() {
    let (_d, s) = sqlite();
    runners_contract(&s);
}

#[test]
fn sqlite_allows_one_approved_draft_per_product_and_kind() {
    let (dir, s) = sqlite();
    seed_catalog(&s);
    s.insert_drafts(&[
        draft("a", "p1", ContentKind::Description, 1),
        draft("b", "p1", ContentKind::Description, 2),
        draft("c", "p1", ContentKind::Seo, 3),
    ])
    .unwrap();
    s.review_draft("a", &decide(DraftStatus::Approved, "ann", 4))
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("v.db")).unwrap();
    let second = conn.execute("UPDATE drafts SET status = 'approved' WHERE id = 'b'", []);
    assert!(
        second.is_err(),
        "the schema itself refuses a second approved description"
    );
    conn.execute("UPDATE drafts SET status = 'approved' WHERE id = 'c'", [])
        .unwrap();
    let bad_kind = conn.execute("UPDATE drafts SET kind = 'banner' WHERE id = 'c'", []);
    assert!(bad_kind.is_err(), "kinds are checked");
    let bad_json = conn.execute("UPDATE drafts SET content = '{' WHERE id = 'c'", []);
    assert!(bad_json.is_err(), "content must be JSON");
}
