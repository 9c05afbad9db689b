//! Training the recommender over the admin API: a run starts in the background, streams its
//! epochs as server-sent events, is cancelled and keeps its epochs; another is trained to the
//! end and served; the runs are listed; bad settings and a second concurrent training are
//! refused.

use std::time::{Duration, Instant};

use crate::common;

use axum::http::{Method, StatusCode};
use common::{EVENT_PATIENCE, Events, TestApp};
use serde_json::{Value, json};

/// 40 shoppers each view five of eight products in a ring: enough to learn from.
async fn ring_events(app: &TestApp) {
    let names: Vec<(String, String)> = (0..40)
        .flat_map(|u| (0..5).map(move |step| (format!("s{u}"), format!("p{}", (u + step) % 8))))
        .collect();
    let list: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|(s, p)| (s.as_str(), p.as_str(), "view"))
        .collect();
    app.events(&list).await;
}

async fn start(app: &TestApp, body: Value) -> common::Reply {
    app.json(Method::POST, "/v1/trainings", &app.admin, body)
        .await
}

async fn status(app: &TestApp, run: &str) -> Value {
    let reply = app.get(&format!("/v1/trainings/{run}"), &app.admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

/// Polls a run until it is no longer running (a safety net against a hung test, not a timing
/// assertion).
async fn wait_end(app: &TestApp, run: &str) -> Value {
    let deadline = Instant::now() + EVENT_PATIENCE;
    loop {
        let s = status(app, run).await;
        if s["state"] != "running" || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tiny(run: &str) -> Value {
    json!({"run": run, "hidden": 8, "blocks": 1, "heads": 1, "max_len": 6, "batch": 8})
}

#[tokio::test]
async fn a_run_streams_its_epochs_is_cancelled_resumes_and_a_finished_one_is_served() {
    let app = TestApp::new();
    // Too little data is refused before anything starts.
    start(&app, tiny("early"))
        .await
        .assert_error(422, "invalid");
    ring_events(&app).await;

    // A long run: watch it stream epochs, then cancel it.
    let mut long = tiny("long");
    long["epochs"] = json!(1000);
    long["patience"] = json!(100);
    let reply = start(&app, long.clone()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(reply.json()["state"], "running");
    let busy = start(&app, tiny("other"))
        .await
        .assert_error(409, "conflict");
    assert!(busy.contains("'long' is running"), "{busy}");

    let (code, content_type, mut events) =
        Events::open(&app, "/v1/trainings/long/events", &app.admin).await;
    assert_eq!(code, StatusCode::OK);
    assert!(content_type.is_some_and(|t| t.starts_with("text/event-stream")));
    let mut epochs = 0;
    let mut progress = 0;
    while epochs < 2 {
        let (name, data) = events
            .next()
            .await
            .expect("the stream goes on while training");
        match name.as_str() {
            "progress" => {
                progress += 1;
                assert_eq!(data["run"], "long");
                assert_eq!(data["state"], "running");
            }
            "epoch" => {
                epochs += 1;
                assert_eq!(data["epoch"], epochs, "{data}");
                assert!(data["loss"].as_f64().unwrap().is_finite());
                assert!(data["valid_ndcg10"].is_number());
            }
            other => panic!("unexpected {other} event: {data}"),
        }
    }
    assert!(progress >= 1);
    let reply = app
        .json(
            Method::POST,
            "/v1/trainings/long/cancel",
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let end = loop {
        let (name, data) = events.next().await.expect("an end event");
        if name == "end" {
            break data;
        }
    };
    assert_eq!(end["state"], "cancelled", "{end}");
    assert!(
        events.next().await.is_none(),
        "the stream ends with the end event"
    );
    let kept = status(&app, "long").await;
    assert_eq!(kept["state"], "cancelled");
    let kept_epochs = kept["history"].as_array().unwrap().len();
    assert!(kept_epochs >= 2, "{kept}");

    // Other settings in the same folder are refused; the same settings resume after the kept
    // epochs, which stay as they were.
    let mut changed = long.clone();
    changed["hidden"] = json!(16);
    changed["heads"] = json!(2);
    start(&app, changed).await.assert_error(409, "conflict");
    assert_eq!(start(&app, long.clone()).await.status, StatusCode::ACCEPTED);
    let deadline = Instant::now() + EVENT_PATIENCE;
    let resumed = loop {
        let s = status(&app, "long").await;
        if s["history"].as_array().unwrap().len() > kept_epochs || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        resumed["history"].as_array().unwrap()[..kept_epochs],
        kept["history"].as_array().unwrap()[..],
        "{resumed}"
    );
    app.json(
        Method::POST,
        "/v1/trainings/long/cancel",
        &app.admin,
        json!({}),
    )
    .await;
    assert_eq!(wait_end(&app, "long").await["state"], "cancelled");

    // A run trained to the end is measured and served.
    let mut short = tiny("short");
    short["epochs"] = json!(2);
    short["serve"] = json!(true);
    assert_eq!(start(&app, short).await.status, StatusCode::ACCEPTED);
    let done = wait_end(&app, "short").await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["history"].as_array().unwrap().len(), 2);
    assert_eq!(done["stopped"], "2 epochs");
    assert!(done["test"]["NDCG@10"].is_number(), "{done}");
    assert_eq!(done["serving"], true);
    let recs = app
        .get("/v1/shoppers/s1/recommendations?k=3", &app.reader)
        .await
        .json();
    assert_eq!(recs["model"], "sasrec", "{recs}");

    // The runs, from their folders.
    let list = app.get("/v1/trainings", &app.admin).await.json();
    let runs: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(runs, vec![("long", "cancelled"), ("short", "done")]);
}

#[tokio::test]
async fn a_run_learns_from_the_products_brands_and_categories() {
    let app = TestApp::new();
    ring_events(&app).await;
    let mut run = tiny("attributes");
    run["epochs"] = json!(2);
    run["attributes"] = json!(true);
    run["serve"] = json!(true);
    // The events name products the catalog does not have yet: nothing to learn from.
    let message = start(&app, run.clone()).await.assert_error(422, "invalid");
    assert!(message.starts_with("attributes"), "{message}");
    for p in 0..8 {
        app.product(json!({
            "id": format!("p{p}"),
            "title": format!("Product {p}"),
            "brand": format!("Brand {}", p / 2),
            "category": if p % 2 == 0 { "Shoes" } else { "Bags" },
            "price": "10.00",
            "currency": "EUR",
        }))
        .await;
    }
    assert_eq!(start(&app, run).await.status, StatusCode::ACCEPTED);
    let done = wait_end(&app, "attributes").await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(done["test"]["NDCG@10"].is_number(), "{done}");
    let recs = app
        .get("/v1/shoppers/s1/recommendations?k=3", &app.reader)
        .await
        .json();
    assert_eq!(recs["model"], "sasrec", "{recs}");
    assert_eq!(recs["items"].as_array().unwrap().len(), 3, "{recs}");
}

#[tokio::test]
async fn bad_settings_and_unknown_runs_are_refused() {
    let app = TestApp::new();
    for (body, field) in [
        (json!({"run": "../escape"}), "run"),
        (json!({"run": ""}), "run"),
        (json!({"run": "r", "heads": 3}), "heads"),
        (json!({"run": "r", "epochs": 0}), "epochs"),
        (json!({"run": "r", "dropout": 1.5}), "dropout"),
        (json!({"run": "r", "max_minutes": 0}), "max_minutes"),
    ] {
        let message = start(&app, body.clone()).await.assert_error(422, "invalid");
        assert!(message.starts_with(field), "{body}: {message}");
    }
    assert_eq!(
        start(&app, json!({"run": "r", "learning_rate": 0.1}))
            .await
            .status
            .as_u16()
            / 100,
        4
    );
    for uri in [
        "/v1/trainings/none",
        "/v1/trainings/none/events",
        "/v1/trainings/..",
    ] {
        app.get(uri, &app.admin)
            .await
            .assert_error(404, "not_found");
    }
    app.json(
        Method::POST,
        "/v1/trainings/none/cancel",
        &app.admin,
        json!({}),
    )
    .await
    .assert_error(404, "not_found");
    assert_eq!(app.get("/v1/trainings", &app.admin).await.json(), json!([]));
}
