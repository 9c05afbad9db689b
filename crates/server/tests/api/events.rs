//! Shopper events over HTTP: single and batch writes, idempotency, all-or-nothing batches and the
//! read endpoints.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{Value, json};

fn event(shopper: &str, product: &str, kind: &str, ts: &str) -> Value {
    json!({"shopper": shopper, "product": product, "kind": kind, "ts": ts})
}

async fn post(app: &TestApp, uri: &str, body: Value) -> common::Reply {
    app.json(Method::POST, uri, &app.merchant, body).await
}

async fn total(app: &TestApp, query: &str) -> u64 {
    let reply = app.get(&format!("/v1/events{query}"), &app.reader).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["total"].as_u64().unwrap()
}

#[tokio::test]
async fn one_event_is_stored_once() {
    let app = TestApp::new();
    let body = event("s1", "p1", "view", "2026-10-01T12:00:00Z");
    let first = post(&app, "/v1/events", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let first = first.json();
    assert_eq!(first["shopper"], "s1");
    assert_eq!(first["kind"], "view");
    assert_eq!(first["ts"], "2026-10-01T12:00:00Z");
    assert!(first["id"].is_i64());

    let again = post(&app, "/v1/events", body).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(
        again.json()["id"],
        first["id"],
        "re-sent event keeps its id"
    );
    assert_eq!(total(&app, "").await, 1);

    // Without a timestamp the server's receipt time is used.
    let now = post(
        &app,
        "/v1/events",
        json!({"shopper": "s1", "product": "p1", "kind": "cart"}),
    )
    .await;
    assert_eq!(now.status, StatusCode::CREATED, "{}", now.text());
    assert_eq!(total(&app, "").await, 2);

    let message = post(
        &app,
        "/v1/events",
        json!({"shopper": "s1", "product": "p1"}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.starts_with("kind:"), "{message}");
}

#[tokio::test]
async fn batches_are_all_or_nothing() {
    let app = TestApp::new();
    let batch = json!({"events": [
        event("s1", "p1", "view", "2026-10-01T12:00:00Z"),
        event("s1", "p1", "cart", "2026-10-01T12:01:00Z"),
        event("s2", "p2", "purchase", "2026-10-01T12:02:00Z"),
    ]});
    let reply = post(&app, "/v1/events/batch", batch.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let accepted = reply.json();
    assert_eq!(accepted["accepted"], 3);
    assert_eq!(accepted["events"].as_array().unwrap().len(), 3);
    assert_eq!(accepted["events"][2]["kind"], "purchase");

    // Re-sending the batch stores nothing new and returns the same ids.
    let again = post(&app, "/v1/events/batch", batch).await.json();
    assert_eq!(again["events"], accepted["events"]);
    assert_eq!(total(&app, "").await, 3);

    // One bad event rejects the whole batch and is named by index.
    let bad = json!({"events": [
        event("s3", "p1", "view", "2026-10-02T00:00:00Z"),
        event("s3", "p1", "like", "2026-10-02T00:01:00Z"),
    ]});
    let message = post(&app, "/v1/events/batch", bad)
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("events[1].kind:"), "{message}");
    assert_eq!(
        total(&app, "").await,
        3,
        "nothing of a rejected batch is stored"
    );

    let wrong_type = json!({"events": [event("s3", "p1", "view", "2026-10-02T00:00:00Z"),
        {"shopper": "s3", "product": "p1", "kind": 7}]});
    let message = post(&app, "/v1/events/batch", wrong_type)
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("events[1].kind:"), "{message}");

    let lone = json!({"events": [{"shopper": "s3", "product": "p1", "kind": "like"}]});
    let message = post(&app, "/v1/events/batch", lone)
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("events[0].kind:"), "{message}");

    let message = post(&app, "/v1/events/batch", json!({"events": []}))
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("events:"), "{message}");
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"shopper": "s", "product": "p", "kind": "view", "ts": format!("2026-10-01T00:00:{:02}.{:03}Z", i / 1000, i % 1000)}))
        .collect();
    let message = post(&app, "/v1/events/batch", json!({"events": too_many}))
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("events:"), "{message}");
}

#[tokio::test]
async fn events_are_listed_and_filtered() {
    let app = TestApp::new();
    let batch = json!({"events": [
        event("s1", "p1", "view", "2026-10-01T12:00:00Z"),
        event("s1", "p2", "view", "2026-10-01T12:01:00Z"),
        event("s1", "p2", "cart", "2026-10-01T12:02:00Z"),
        event("s2", "p2", "view", "2026-10-01T12:03:00Z"),
    ]});
    assert_eq!(
        post(&app, "/v1/events/batch", batch).await.status,
        StatusCode::CREATED
    );

    assert_eq!(total(&app, "?shopper=s1").await, 3);
    assert_eq!(total(&app, "?product=p2&kind=view").await, 2);
    let page = app.get("/v1/events?limit=1", &app.reader).await.json();
    assert_eq!(
        page["items"][0]["ts"], "2026-10-01T12:03:00Z",
        "newest first"
    );
    assert_eq!(page["total"], 4);
    let message = app
        .get("/v1/events?kind=like", &app.reader)
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("kind:"), "{message}");

    let shopper = app
        .get("/v1/shoppers/s1/events?kind=view", &app.reader)
        .await;
    assert_eq!(shopper.status, StatusCode::OK, "{}", shopper.text());
    let shopper = shopper.json();
    assert_eq!(shopper["total"], 2);
    assert!(
        shopper["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["shopper"] == "s1")
    );
    app.get("/v1/shoppers/nobody/events", &app.reader)
        .await
        .assert_error(404, "not_found");
}
