//! The `Store` contract, written once against `&dyn Store` so every backend (SQLite today,
//! PostgreSQL later) runs the same suite.

use vitrine_core::{
    ApiKey, Error, EventDraft, EventKind, EventQuery, ProductDraft, ProductInput, ProductQuery,
    Role, Store,
};
use vitrine_store::{SqliteConfig, SqliteStore};

fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&SqliteConfig {
        path: dir.path().join("nested/dir/v.db"),
    })
    .unwrap();
    (dir, store)
}

fn draft(id: &str, title: &str, brand: &str, category: &str, price: i64) -> ProductDraft {
    let json = serde_json::json!({
        "id": id, "title": title, "brand": brand, "category": category, "price_minor": price,
        "description": format!("{title} by {brand}"), "attributes": {"color": "black"}
    });
    serde_json::from_value::<ProductInput>(json)
        .unwrap()
        .into_draft("USD")
        .unwrap()
}

fn event(shopper: &str, product: &str, kind: EventKind, ts: i64) -> EventDraft {
    EventDraft {
        shopper: shopper.into(),
        product: product.into(),
        kind,
        ts,
        variant: None,
    }
}

fn catalog_contract(store: &dyn Store) {
    store
        .create_product(&draft(
            "e1",
            "Soundly X2 Earbuds",
            "Soundly",
            "electronics",
            7900,
        ))
        .unwrap();
    store
        .create_product(&draft(
            "e2",
            "Soundly Studio Headphones",
            "Soundly",
            "electronics",
            14900,
        ))
        .unwrap();
    store
        .create_product(&draft(
            "a1",
            "Organic Cotton Tee",
            "Northfold",
            "apparel",
            2500,
        ))
        .unwrap();
    assert!(matches!(
        store.create_product(&draft("a1", "Dup", "X", "y", 1)),
        Err(Error::Conflict(_))
    ));

    let page = |q: ProductQuery| {
        store
            .list_products(&ProductQuery { limit: 50, ..q })
            .unwrap()
    };
    assert_eq!(page(ProductQuery::default()).total, 3);
    assert_eq!(
        page(ProductQuery {
            brand: Some("Soundly".into()),
            ..Default::default()
        })
        .total,
        2
    );
    assert_eq!(
        page(ProductQuery {
            category: Some("apparel".into()),
            ..Default::default()
        })
        .total,
        1
    );
    let mid = page(ProductQuery {
        min_price_minor: Some(5000),
        max_price_minor: Some(10000),
        ..Default::default()
    });
    assert_eq!(
        mid.items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["e1"]
    );
    let paged = store
        .list_products(&ProductQuery {
            limit: 2,
            offset: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((paged.items.len(), paged.total), (1, 3));
    let found = page(ProductQuery {
        text: Some("earbud".into()),
        ..Default::default()
    });
    assert_eq!(
        found.items[0].id, "e1",
        "prefix search finds the earbuds first"
    );
    let none = page(ProductQuery {
        text: Some("\"(*".into()),
        ..Default::default()
    });
    assert_eq!(
        none.total, 0,
        "punctuation-only search is empty, not an error"
    );

    let mut changed = draft("a1", "Organic Cotton Tee", "Northfold", "apparel", 2200);
    changed.description = Some("Now cheaper".into());
    let updated = store.replace_product(&changed).unwrap();
    assert_eq!(updated.price_minor, 2200);
    assert!(updated.updated_at >= updated.created_at);
    let found = page(ProductQuery {
        text: Some("cheaper".into()),
        ..Default::default()
    });
    assert_eq!(found.total, 1, "the search index follows updates");
    assert!(matches!(
        store.replace_product(&draft("zz", "Nope", "X", "y", 1)),
        Err(Error::NotFound { .. })
    ));
    store.delete_product("e2").unwrap();
    assert!(matches!(
        store.get_product("e2"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_product("e2"),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        page(ProductQuery {
            text: Some("studio".into()),
            ..Default::default()
        })
        .total,
        0
    );
}

fn events_contract(store: &dyn Store) {
    let batch = vec![
        event("s1", "e1", EventKind::View, 1_000),
        event("s1", "e1", EventKind::Cart, 2_000),
        event("s2", "a1", EventKind::Purchase, 3_000),
    ];
    let stored = store.insert_events(&batch).unwrap();
    assert_eq!(stored.len(), 3);
    let again = store.insert_events(&batch[..1]).unwrap();
    assert_eq!(again[0].id, stored[0].id, "the same event keeps its id");
    assert_eq!(store.stats().unwrap().events, 3);
    assert!(store.shopper_exists("s1").unwrap());
    assert!(!store.shopper_exists("s9").unwrap());
    let s1 = store
        .list_events(&EventQuery {
            shopper: Some("s1".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        s1.items.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Cart, EventKind::View]
    );
    let purchases = store
        .list_events(&EventQuery {
            kind: Some(EventKind::Purchase),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(purchases.total, 1);
}

fn import_contract(store: &dyn Store) {
    let mut tx = store.begin_import().unwrap();
    let out = tx
        .upsert_products(&[
            (1, draft("i1", "One", "B", "c", 100)),
            (2, draft("i2", "Two", "B", "c", 200)),
        ])
        .unwrap();
    assert_eq!((out.inserted, out.updated, out.unchanged), (2, 0, 0));
    tx.commit_batch().unwrap();
    let out = tx
        .upsert_products(&[
            (3, draft("i3", "Three", "B", "c", 300)),
            (4, draft("i1", "One again", "B", "c", 100)),
        ])
        .unwrap();
    assert_eq!(
        out.duplicates,
        [(4, 1, "i1".to_string())],
        "an id is written once per import"
    );
    assert_eq!(store.get_product("i1").unwrap().title, "One");
    drop(tx); // abandoned: the uncommitted batch must vanish
    assert!(store.get_product("i2").is_ok());
    assert!(store.get_product("i3").is_err());

    let mut tx = store.begin_import().unwrap();
    let out = tx
        .upsert_products(&[
            (1, draft("i1", "One", "B", "c", 100)),
            (2, draft("i2", "Two!", "B", "c", 200)),
        ])
        .unwrap();
    assert_eq!((out.inserted, out.updated, out.unchanged), (0, 1, 1));
    let ev = tx
        .insert_events(&[
            event("s5", "i1", EventKind::View, 5),
            event("s5", "i1", EventKind::View, 5),
        ])
        .unwrap();
    assert_eq!((ev.inserted, ev.duplicates), (1, 1));
    tx.finish().unwrap();
    assert_eq!(store.get_product("i2").unwrap().title, "Two!");
}

fn keys_contract(store: &dyn Store) {
    let key = ApiKey {
        id: "key_1".into(),
        name: "ci".into(),
        role: Role::Merchant,
        created_at: 1,
        revoked: false,
    };
    let hash = [7u8; 32];
    store.create_api_key(&key, &hash).unwrap();
    assert!(matches!(
        store.create_api_key(&key, &hash),
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.find_api_key(&hash).unwrap(), Some(key.clone()));
    assert_eq!(store.find_api_key(&[8u8; 32]).unwrap(), None);
    store.revoke_api_key("key_1").unwrap();
    assert_eq!(
        store.find_api_key(&hash).unwrap(),
        None,
        "revoked keys no longer authenticate"
    );
    assert!(store.list_api_keys().unwrap()[0].revoked);
    assert!(matches!(
        store.revoke_api_key("key_x"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn sqlite_catalog() {
    let (_d, s) = sqlite();
    catalog_contract(&s);
}

#[test]
fn sqlite_events() {
    let (_d, s) = sqlite();
    events_contract(&s);
}

#[test]
fn sqlite_import() {
    let (_d, s) = sqlite();
    import_contract(&s);
}

#[test]
fn sqlite_keys() {
    let (_d, s) = sqlite();
    keys_contract(&s);
}

#[test]
fn sqlite_uses_wal_and_foreign_keys() {
    let (dir, s) = sqlite();
    s.ping().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("nested/dir/v.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let parent: String = conn
        .query_row(
            "SELECT \"table\" FROM pragma_foreign_key_list('events')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(parent, "shoppers");
}
