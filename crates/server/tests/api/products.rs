//! The catalog over HTTP: CRUD, PUT versus PATCH, filters, paging and full-text ranking.

use crate::common;

use axum::http::{Method, StatusCode, header};
use common::{TestApp, request};
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn crud_round_trip() {
    let app = TestApp::new();
    let created = app
        .json(
            Method::POST,
            "/v1/products",
            &app.merchant,
            json!({"id": "tee 01/blue", "title": "Tee", "price": "19.90", "brand": "Acme",
                "attributes": {"colour": "blue"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let location = created.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(location, "/v1/products/tee%2001%2Fblue");
    let product = created.json();
    assert_eq!(product["price"], "19.90");
    assert_eq!(product["price_minor"], 1990);
    assert_eq!(product["currency"], "USD");

    // The Location header leads back to the product, whatever characters its id holds.
    let fetched = app.get(&location, &app.reader).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json(), product);

    let deleted = app
        .send(request(
            Method::DELETE,
            &location,
            Some(&app.merchant),
            None,
        ))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    app.get(&location, &app.reader)
        .await
        .assert_error(404, "not_found");
    app.send(request(
        Method::DELETE,
        &location,
        Some(&app.merchant),
        None,
    ))
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn put_replaces_and_patch_merges() {
    let app = TestApp::new();
    app.product(
        json!({"id": "p1", "title": "Tee", "price": "10", "brand": "Acme",
        "description": "Soft cotton", "category": "tops"}),
    )
    .await;

    let patched = app
        .json(
            Method::PATCH,
            "/v1/products/p1",
            &app.merchant,
            json!({"price": "12.50"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let patched = patched.json();
    assert_eq!(patched["price_minor"], 1250);
    assert_eq!(
        patched["brand"], "Acme",
        "PATCH keeps fields it does not name"
    );
    assert_eq!(patched["description"], "Soft cotton");

    let replaced = app
        .json(
            Method::PUT,
            "/v1/products/p1",
            &app.merchant,
            json!({"title": "Plain tee", "price": "8"}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text());
    let replaced = replaced.json();
    assert_eq!(replaced["title"], "Plain tee");
    assert_eq!(
        replaced["brand"],
        Value::Null,
        "PUT clears fields it does not name"
    );
    assert_eq!(replaced["description"], Value::Null);
    assert_eq!(replaced["created_at"], patched["created_at"]);

    // PUT needs a whole product; PATCH cannot change the id; neither creates.
    app.json(
        Method::PUT,
        "/v1/products/p1",
        &app.merchant,
        json!({"brand": "Acme"}),
    )
    .await
    .assert_error(422, "invalid");
    let message = app
        .json(
            Method::PATCH,
            "/v1/products/p1",
            &app.merchant,
            json!({"id": "p2"}),
        )
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("id:"), "{message}");
    app.json(
        Method::PUT,
        "/v1/products/nope",
        &app.merchant,
        json!({"title": "T", "price": "1"}),
    )
    .await
    .assert_error(404, "not_found");
    app.json(
        Method::PATCH,
        "/v1/products/nope",
        &app.merchant,
        json!({"price": "1"}),
    )
    .await
    .assert_error(404, "not_found");
}

async fn catalog() -> TestApp {
    let app = TestApp::new();
    for (id, title, brand, category, price) in [
        ("a1", "Trail runner", "Acme", "shoes", "89.00"),
        ("a2", "Road runner", "Acme", "shoes", "120.00"),
        ("a3", "Wool socks", "Acme", "socks", "12.50"),
        ("b1", "Court sneaker", "Bolt", "shoes", "65.00"),
        ("b2", "Rain jacket", "Bolt", "jackets", "150.00"),
    ] {
        app.product(
            json!({"id": id, "title": title, "brand": brand, "category": category,
            "price": price}),
        )
        .await;
    }
    app.product(
        json!({"id": "e1", "title": "Euro boot", "brand": "Acme", "category": "shoes",
        "price": "70", "currency": "EUR"}),
    )
    .await;
    app
}

#[tokio::test]
async fn filters_and_paging() {
    let app = catalog().await;
    let list = |query: &'static str| {
        let app = &app;
        async move {
            let reply = app.get(&format!("/v1/products{query}"), &app.reader).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
            reply.json()
        }
    };

    let all = list("").await;
    assert_eq!(all["total"], 6);
    assert_eq!(
        (all["limit"].clone(), all["offset"].clone()),
        (json!(50), json!(0))
    );

    assert_eq!(ids(&list("?brand=Bolt").await), ["b1", "b2"]);
    assert_eq!(
        ids(&list("?category=shoes&brand=Acme").await),
        ["a1", "a2", "e1"]
    );
    assert_eq!(ids(&list("?currency=eur").await), ["e1"]);
    // Bounds are inclusive, in the default currency (USD) unless one is given.
    assert_eq!(
        ids(&list("?min_price=65&max_price=89.00&currency=USD").await),
        ["a1", "b1"]
    );
    assert_eq!(ids(&list("?max_price=12.5").await), ["a3"]);
    assert_eq!(ids(&list("?min_price=70&currency=EUR").await), ["e1"]);

    let page = list("?limit=2&offset=2").await;
    assert_eq!(ids(&page), ["a3", "b1"]);
    assert_eq!(page["total"], 6, "total counts every page");
    let last = list("?brand=Acme&limit=3&offset=3").await;
    assert_eq!((ids(&last), last["total"].clone()), (vec!["e1"], json!(4)));
    assert!(ids(&list("?offset=100").await).is_empty());

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?min_price=ten", "min_price"),
        ("?max_price=1.999", "max_price"),
        ("?min_price=100&max_price=10", "min_price"),
        ("?currency=XYZ", "currency"),
    ] {
        let message = app
            .get(&format!("/v1/products{query}"), &app.reader)
            .await
            .assert_error(422, "invalid");
        assert!(
            message.starts_with(&format!("{field}:")),
            "{query}: {message}"
        );
    }
}

#[tokio::test]
async fn search_ranks_a_title_match_first() {
    let app = TestApp::new();
    // Ids chosen so that id order would put the description-only match first.
    app.product(json!({"id": "a-chair", "title": "Reading chair", "price": "200",
        "description": "A deep armchair for long evenings by the fire, with room for a book, a \
            blanket and a cup of tea; pairs well with a lamp and a side table in any living room."}))
        .await;
    app.product(
        json!({"id": "z-lamp", "title": "Walnut desk lamp", "price": "80",
        "description": "Warm light."}),
    )
    .await;
    app.product(json!({"id": "m-rug", "title": "Wool rug", "price": "120"}))
        .await;

    let found = app.get("/v1/products?q=lamp", &app.reader).await.json();
    assert_eq!(ids(&found), ["z-lamp", "a-chair"]);
    assert_eq!(found["total"], 2);
    // Search as you type: the last word matches as a prefix; filters still apply.
    let prefix = app
        .get("/v1/products?q=walnut%20la&max_price=100", &app.reader)
        .await
        .json();
    assert_eq!(ids(&prefix), ["z-lamp"]);
    // Query syntax characters are words, not FTS5 operators: no 500.
    let odd = app
        .get("/v1/products?q=%22AND%20(NOT%20*", &app.reader)
        .await;
    assert_eq!(odd.status, StatusCode::OK, "{}", odd.text());
}

#[tokio::test]
async fn creating_an_existing_id_conflicts() {
    let app = TestApp::new();
    let body = json!({"id": "p1", "title": "Tee", "price": "1"});
    app.product(body.clone()).await;
    app.json(Method::POST, "/v1/products", &app.merchant, body)
        .await
        .assert_error(409, "conflict");
}
