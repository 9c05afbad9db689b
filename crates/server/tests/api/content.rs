//! Generated content over HTTP: descriptions, ad creatives and SEO tags stored as drafts, their
//! review and edits, what shoppers see (`?content=published`), and batch jobs with their event
//! stream. The model is the deterministic fake, which echoes the prompt's last user message
//! (the product's fact sheet), so every claim in its copy comes from the record.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vitrine_core::{GeneratorHealth, TextGenerator};

use common::fake::{FAKE_MODEL, FakeGenerator, Mode};
use common::{Events, Reply, TestApp, request};

/// How long a test waits for a background job before it gives up: a net against a hung test,
/// never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// An app whose model is a fake with room for description prompts, and the fake (clones share
/// their state, so the test can switch its mode).
fn app_with_fake() -> (TestApp, FakeGenerator) {
    let fake = FakeGenerator::with_context(100_000);
    let app = TestApp::with_generator(Arc::new(fake.clone()));
    (app, fake)
}

async fn post(app: &TestApp, uri: &str, body: Value) -> Reply {
    app.json(Method::POST, uri, &app.merchant, body).await
}

/// GETs `uri` as the merchant, asserting 200, and returns the JSON.
async fn get_ok(app: &TestApp, uri: &str) -> Value {
    let reply = app.get(uri, &app.merchant).await;
    assert_eq!(reply.status, StatusCode::OK, "GET {uri}: {}", reply.text());
    reply.json()
}

/// The catalog's tee: brand, category, price, attributes and a description of its own.
fn tee_body(id: &str, category: &str) -> Value {
    json!({
        "id": id,
        "title": "Northfold Organic Tee",
        "brand": "Northfold",
        "category": category,
        "price": "24.00",
        "attributes": {"color": "black", "material": "cotton", "size": "M"},
    })
}

async fn tee(app: &TestApp, id: &str) -> Value {
    app.product(tee_body(id, "tees")).await
}

/// Generates `variants` descriptions of `product`, asserting 201, and returns the drafts.
async fn describe(app: &TestApp, product: &str, options: Value) -> Vec<Value> {
    let reply = post(
        app,
        &format!("/v1/products/{product}/descriptions"),
        options,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["failures"], json!([]), "{body}");
    body["drafts"].as_array().unwrap().clone()
}

/// Reviews a draft, asserting 200, and returns it.
async fn review(app: &TestApp, draft: &str, decision: &str) -> Value {
    let reply = post(
        app,
        &format!("/v1/drafts/{draft}/review"),
        json!({"decision": decision}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

async fn published(app: &TestApp, product: &str) -> Value {
    get_ok(app, &format!("/v1/products/{product}?content=published")).await
}

fn text_of(draft: &Value) -> String {
    draft["content"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a description draft has content.text: {draft}"))
        .to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls a job until `until` holds (at most `PATIENCE`), and returns it.
async fn wait_for_job(app: &TestApp, id: &str, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let job = get_ok(app, &format!("/v1/jobs/{id}")).await;
        if until(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} did not get there within the test's patience: {job}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn wait_until_finished(app: &TestApp, id: &str) -> Value {
    wait_for_job(app, id, |j| j["status"] != "running").await
}

/// Starts a job, asserting 202, and returns it.
async fn start_job(app: &TestApp, body: Value) -> Value {
    let reply = post(app, "/v1/jobs", body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    reply.json()
}

// ---- descriptions ---------------------------------------------------------------------------

#[tokio::test]
async fn descriptions_are_stored_as_checked_drafts_with_their_provenance() {
    let (app, _) = app_with_fake();
    tee(&app, "tee").await;

    let drafts = describe(&app, "tee", json!({"variants": 2, "seed": 7})).await;
    assert_eq!(drafts.len(), 2);
    let actor = drafts[0]["provenance"]["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!actor.is_empty() && actor != "job" && actor != "cli");
    for (i, draft) in drafts.iter().enumerate() {
        assert_eq!(draft["status"], "draft", "{draft}");
        assert_eq!(draft["origin"], "model");
        assert_eq!(draft["kind"], "description");
        assert_eq!(draft["product_id"], "tee");
        assert!(draft.get("parent").is_none() && draft.get("review").is_none());
        assert!(
            text_of(draft).starts_with("Northfold Organic Tee"),
            "a description begins with the product's title: {draft}"
        );

        let provenance = &draft["provenance"];
        assert_eq!(provenance["model"], FAKE_MODEL);
        assert_eq!(provenance["prompt_version"], "description-v2");
        assert_eq!(provenance["actor"], actor.as_str());
        assert!(provenance.get("job").is_none());
        assert_eq!(provenance["settings"]["options"]["variants"], 2);
        // Variant i starts from seed + i (each further attempt steps on from it).
        assert!(provenance["attempts"].as_u64().unwrap() >= 1);
        assert_eq!(
            provenance["seed"].as_u64().unwrap(),
            7 + i as u64,
            "{provenance}"
        );

        // Every claim left in the stored text is supported by the record.
        let verification = &draft["verification"];
        let found = verification["found"].as_u64().unwrap();
        assert!(found > 0, "the fact sheet's colour and material are claims");
        assert_eq!(verification["supported"].as_u64().unwrap(), found);
        assert!(
            verification["claims"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["verdict"] == "supported"),
            "{verification}"
        );

        // The draft as stored is the draft as returned.
        let id = draft["id"].as_str().unwrap();
        assert_eq!(&get_ok(&app, &format!("/v1/drafts/{id}")).await, draft);
    }
    // The fake does not sample, so only the seed tells the two variants apart here. It echoes
    // the fact sheet, whose labels ("Brand:") are names the record does not have, so the text
    // is short and attempts continue it.
    assert!((1..=3).contains(&drafts[0]["provenance"]["attempts"].as_u64().unwrap()));
    assert_eq!(
        [
            &drafts[0]["provenance"]["seed"],
            &drafts[1]["provenance"]["seed"]
        ],
        [7, 8]
    );

    let listed = get_ok(&app, "/v1/drafts?product=tee").await;
    assert_eq!(listed["total"], 2);
    // Drafts never reach shoppers.
    let shown = published(&app, "tee").await;
    assert_eq!(shown["content"], json!({}));
    assert!(shown["description"].is_null(), "{shown}");
}

#[tokio::test]
async fn description_requests_are_checked() {
    let (app, fake) = app_with_fake();
    tee(&app, "tee").await;
    let uri = "/v1/products/tee/descriptions";

    post(&app, "/v1/products/nope/descriptions", json!({}))
        .await
        .assert_error(404, "not_found");
    for variants in [0, 9] {
        let message = post(&app, uri, json!({"variants": variants}))
            .await
            .assert_error(422, "invalid");
        assert!(message.contains("variants"), "{message}");
    }
    // The options deny unknown fields: a typo is a 422, not silently the default.
    let message = post(&app, uri, json!({"variantz": 2}))
        .await
        .assert_error(422, "invalid");
    assert!(message.contains("variantz"), "{message}");
    let message = post(&app, uri, json!({"tone": "loud"}))
        .await
        .assert_error(422, "invalid");
    assert!(message.contains("loud"), "{message}");
    post(&app, uri, json!({"length": "epic"}))
        .await
        .assert_error(422, "invalid");
    let message = post(&app, uri, json!({"audience": ""}))
        .await
        .assert_error(422, "invalid");
    assert!(message.contains("audience"), "{message}");
    post(&app, uri, json!({"audience": "a".repeat(81)}))
        .await
        .assert_error(422, "invalid");
    // Not JSON at all.
    let mut broken = request(Method::POST, uri, Some(&app.merchant), None);
    *broken.body_mut() = Body::from("{\"variants\": ");
    broken.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("header value"),
    );
    app.send(broken).await.assert_error(400, "invalid_json");

    // A title and a price ground nothing: the message says what to add.
    app.product(json!({"id": "bare", "title": "Mystery Thing", "price": "5"}))
        .await;
    let message = post(&app, "/v1/products/bare/descriptions", json!({}))
        .await
        .assert_error(422, "invalid");
    assert!(
        message.contains("only a title") && message.contains("brand"),
        "{message}"
    );
    // Nothing was stored by the refused requests.
    assert_eq!(get_ok(&app, "/v1/drafts").await["total"], 0);

    // The model's state comes through as its status.
    fake.set_mode(Mode::Busy(Duration::from_secs(2)));
    post(&app, uri, json!({})).await.assert_error(429, "busy");
    fake.set_mode(Mode::Timeout);
    post(&app, uri, json!({}))
        .await
        .assert_error(504, "timeout");
    fake.set_mode(Mode::Failed("down".into()));
    let message = post(&app, uri, json!({}))
        .await
        .assert_error(503, "unavailable");
    // The model's own reason goes to the log, not to the client.
    assert!(message.contains("unavailable"), "{message}");
    assert_eq!(get_ok(&app, "/v1/drafts").await["total"], 0);

    // Without a model, every generating route is unavailable (after the product is found).
    let bare = TestApp::new();
    bare.product(tee_body("tee", "tees")).await;
    for (uri, body) in [
        ("/v1/products/tee/descriptions", json!({})),
        ("/v1/products/tee/ads", json!({"channel": "email"})),
        ("/v1/products/tee/seo", json!({})),
        ("/v1/jobs", json!({"kind": "descriptions"})),
    ] {
        bare.json(Method::POST, uri, &bare.merchant, body)
            .await
            .assert_error(503, "unavailable");
    }
    bare.json(
        Method::POST,
        "/v1/products/nope/descriptions",
        &bare.merchant,
        json!({}),
    )
    .await
    .assert_error(404, "not_found");
}

// ---- ads and SEO ----------------------------------------------------------------------------

/// The texts of `field` in a creative: one string, or an array of them.
fn texts<'a>(content: &'a Value, field: &str) -> Vec<&'a str> {
    match &content[field] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().map(|v| v.as_str().unwrap()).collect(),
        other => panic!("{field} is missing or not text: {other} in {content}"),
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Asserts every text of `field` is within `max` characters and there are `items` of them.
fn assert_field(content: &Value, field: &str, max: usize, items: std::ops::RangeInclusive<usize>) {
    let texts = texts(content, field);
    assert!(
        items.contains(&texts.len()),
        "{field}: {} texts, not {items:?}: {content}",
        texts.len()
    );
    for text in texts {
        assert!(!text.trim().is_empty(), "{field} is empty: {content}");
        assert!(
            chars(text) <= max,
            "{field} '{text}' is {} characters, over {max}",
            chars(text)
        );
    }
}

#[tokio::test]
async fn ads_and_seo_stay_within_every_channel_limit() {
    let (app, _) = app_with_fake();
    tee(&app, "tee").await;

    let channels = ["search", "social", "sms", "push", "email", "seo"];
    for channel in channels {
        let reply = if channel == "seo" {
            post(&app, "/v1/products/tee/seo", json!({"variants": 2})).await
        } else {
            post(
                &app,
                "/v1/products/tee/ads",
                json!({"channel": channel, "variants": 2}),
            )
            .await
        };
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{channel}: {}",
            reply.text()
        );
        let body = reply.json();
        assert_eq!(body["requested"], 2);
        let drafts = body["drafts"].as_array().unwrap();
        assert_eq!(drafts.len(), 2, "{channel}: {body}");
        assert_eq!(body["failures"], json!([]));
        for draft in drafts {
            assert_eq!(draft["kind"], channel);
            assert_eq!(draft["status"], "draft");
            assert_eq!(draft["origin"], "model");
            assert_eq!(draft["provenance"]["model"], FAKE_MODEL);
            assert_eq!(draft["provenance"]["prompt_version"], "ads-v1");
            let verification = &draft["verification"];
            assert_eq!(verification["within_limits"], true, "{verification}");
            assert_eq!(verification["found"], verification["supported"]);
            let content = &draft["content"];
            match channel {
                "search" => {
                    assert_field(content, "headlines", 30, 3..=15);
                    assert_field(content, "descriptions", 90, 2..=4);
                }
                "social" => {
                    assert_field(content, "primary_text", 125, 1..=1);
                    assert_field(content, "headline", 40, 1..=1);
                }
                "sms" => {
                    assert_field(content, "text", 160, 1..=1);
                    let text = content["text"].as_str().unwrap();
                    assert!(text.ends_with("Reply STOP to opt out"), "{text}");
                    assert!(text.is_ascii(), "GSM-7 text counts one per character");
                }
                "push" => {
                    assert_field(content, "title", 50, 1..=1);
                    assert_field(content, "body", 120, 1..=1);
                }
                "email" => assert_field(content, "subject", 60, 1..=1),
                "seo" => {
                    assert_field(content, "title", 60, 1..=1);
                    assert_field(content, "meta_description", 155, 1..=1);
                }
                _ => unreachable!(),
            }
            // Only the channel's fields.
            let fields = content.as_object().unwrap().len();
            assert_eq!(
                fields,
                match channel {
                    "sms" | "email" => 1,
                    _ => 2,
                },
                "{content}"
            );
        }
        // The SEO route takes a seed too, and the provenance keeps it.
        if channel == "seo" {
            let reply = post(&app, "/v1/products/tee/seo", json!({"seed": 11})).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
            assert_eq!(reply.json()["drafts"][0]["provenance"]["seed"], 11);
        }
    }
    for channel in ["search", "social", "sms", "push", "email", "seo"] {
        let listed = get_ok(&app, &format!("/v1/drafts?product=tee&kind={channel}")).await;
        assert!(
            listed["total"].as_u64().unwrap() >= 2,
            "{channel}: {listed}"
        );
    }

    // A merchant's own opt-out text ends the SMS instead of the default.
    let reply = post(
        &app,
        "/v1/products/tee/ads",
        json!({"channel": "sms", "opt_out": "Text END to stop"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    let text = body["drafts"][0]["content"]["text"].as_str().unwrap();
    assert!(text.ends_with("Text END to stop"), "{text}");
    assert!(!text.contains("Reply STOP"), "{text}");
    assert!(chars(text) <= 160);

    // Bad options.
    let message = post(
        &app,
        "/v1/products/tee/ads",
        json!({"channel": "email", "opt_out": "Reply STOP"}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.contains("opt_out"), "{message}");
    let message = post(
        &app,
        "/v1/products/tee/ads",
        json!({"channel": "sms", "opt_out": "x".repeat(41)}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.contains("opt_out"), "{message}");
    for body in [
        json!({}),
        json!({"channel": "fax"}),
        json!({"channel": "email", "variants": 9}),
        json!({"channel": "email", "variants": 0}),
        json!({"channel": "email", "colour": "red"}),
    ] {
        post(&app, "/v1/products/tee/ads", body.clone())
            .await
            .assert_error(422, "invalid");
    }
    for body in [
        json!({"variants": 9}),
        json!({"channel": "seo"}),
        json!({"tone": "loud"}),
    ] {
        post(&app, "/v1/products/tee/seo", body)
            .await
            .assert_error(422, "invalid");
    }
    post(&app, "/v1/products/nope/ads", json!({"channel": "email"}))
        .await
        .assert_error(404, "not_found");
    post(&app, "/v1/products/nope/seo", json!({}))
        .await
        .assert_error(404, "not_found");
}

// ---- review ---------------------------------------------------------------------------------

#[tokio::test]
async fn review_publishes_one_description_at_a_time() {
    let (app, _) = app_with_fake();
    let catalog = "A soft everyday tee.";
    let mut body = tee_body("tee", "tees");
    body["description"] = json!(catalog);
    app.product(body).await;

    // Two drafts; the record changes between them so their texts differ.
    let first = describe(&app, "tee", json!({"variants": 2})).await;
    assert_eq!(first.len(), 2);
    let a = first[0].clone();
    let a_id = a["id"].as_str().unwrap().to_owned();
    let patched = app
        .json(
            Method::PATCH,
            "/v1/products/tee",
            &app.merchant,
            json!({"attributes": {"color": "navy", "material": "cotton", "size": "M",
                "fit": "relaxed"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let b = describe(&app, "tee", json!({})).await.remove(0);
    let b_id = b["id"].as_str().unwrap().to_owned();
    assert_ne!(text_of(&a), text_of(&b));

    // Nothing is approved: shoppers see the catalog's description and no content.
    let shown = published(&app, "tee").await;
    assert_eq!(shown["content"], json!({}));
    assert_eq!(shown["description"], catalog);

    // Approve A.
    let reply = post(
        &app,
        &format!("/v1/drafts/{a_id}/review"),
        json!({"decision": "approve", "note": "reads well"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let approved = reply.json();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["id"], a_id.as_str());
    assert_eq!(approved["review"]["by"], a["provenance"]["actor"]);
    assert!(!approved["review"]["by"].as_str().unwrap().is_empty());
    assert_eq!(approved["review"]["note"], "reads well");
    assert!(approved["review"]["at"].is_string());
    let shown = published(&app, "tee").await;
    assert_eq!(shown["content"]["description"]["text"], text_of(&a));
    assert_eq!(shown["description"], text_of(&a));
    // The catalog record itself is untouched.
    assert_eq!(
        get_ok(&app, "/v1/products/tee").await["description"],
        catalog
    );
    assert!(
        get_ok(&app, "/v1/products/tee")
            .await
            .get("content")
            .is_none()
    );

    // Approving it again is a no-op that keeps the first review.
    let again = review(&app, &a_id, "approve").await;
    assert_eq!(again["review"], approved["review"]);

    // Approve B: A is superseded and B is served.
    let approved_b = review(&app, &b_id, "approve").await;
    assert_eq!(approved_b["status"], "approved");
    assert_eq!(
        get_ok(&app, &format!("/v1/drafts/{a_id}")).await["status"],
        "superseded"
    );
    let shown = published(&app, "tee").await;
    assert_eq!(shown["description"], text_of(&b));
    assert_eq!(shown["content"]["description"]["text"], text_of(&b));

    // Filters.
    let page = get_ok(&app, "/v1/drafts?product=tee&status=approved").await;
    assert_eq!(ids(&page), [b_id.as_str()]);
    let page = get_ok(&app, "/v1/drafts?product=tee&status=superseded").await;
    assert_eq!(ids(&page), [a_id.as_str()]);
    let page = get_ok(&app, "/v1/drafts?product=tee&kind=description&status=draft").await;
    assert_eq!(ids(&page), [first[1]["id"].as_str().unwrap().to_owned()]);
    let page = get_ok(&app, "/v1/drafts?product=tee&kind=email").await;
    assert_eq!(page["total"], 0);
    let page = get_ok(&app, "/v1/drafts?product=tee&limit=1").await;
    assert_eq!((page["total"].as_u64(), ids(&page).len()), (Some(3), 1));
    // Newest first.
    assert_eq!(ids(&page), [b_id.as_str()]);
    let page = get_ok(&app, "/v1/drafts?product=other").await;
    assert_eq!(page["total"], 0);
    for uri in [
        "/v1/drafts?kind=bogus",
        "/v1/drafts?status=bogus",
        "/v1/drafts?limit=0",
    ] {
        app.get(uri, &app.merchant)
            .await
            .assert_error(422, "invalid");
    }
    app.get("/v1/drafts?colour=red", &app.merchant)
        .await
        .assert_error(400, "bad_request");
    let message = app
        .get("/v1/products/tee?content=bogus", &app.merchant)
        .await
        .assert_error(422, "invalid");
    assert!(message.contains("content"), "{message}");
    app.get("/v1/products/nope?content=published", &app.merchant)
        .await
        .assert_error(404, "not_found");

    // A superseded draft cannot be rejected.
    post(
        &app,
        &format!("/v1/drafts/{a_id}/review"),
        json!({"decision": "reject"}),
    )
    .await
    .assert_error(409, "conflict");
    assert_eq!(
        get_ok(&app, &format!("/v1/drafts/{a_id}")).await["status"],
        "superseded"
    );

    // Rejecting the approved one unpublishes it, without bringing A back.
    let rejected = review(&app, &b_id, "reject").await;
    assert_eq!(rejected["status"], "rejected");
    let shown = published(&app, "tee").await;
    assert!(shown["content"].get("description").is_none(), "{shown}");
    assert_eq!(shown["description"], catalog);
    // Rejecting twice is a no-op.
    assert_eq!(
        review(&app, &b_id, "reject").await["review"],
        rejected["review"]
    );

    // A superseded draft may be approved again (a roll-back).
    assert_eq!(review(&app, &a_id, "approve").await["status"], "approved");
    assert_eq!(published(&app, "tee").await["description"], text_of(&a));

    // Bad reviews.
    let message = post(
        &app,
        &format!("/v1/drafts/{b_id}/review"),
        json!({"decision": "maybe"}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.contains("decision"), "{message}");
    post(&app, &format!("/v1/drafts/{b_id}/review"), json!({}))
        .await
        .assert_error(422, "invalid");
    let message = post(
        &app,
        &format!("/v1/drafts/{b_id}/review"),
        json!({"decision": "approve", "note": "n".repeat(501)}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.contains("note"), "{message}");
    assert_eq!(
        get_ok(&app, &format!("/v1/drafts/{b_id}")).await["status"],
        "rejected",
        "a refused review changes nothing"
    );
    post(
        &app,
        "/v1/drafts/drf_nope/review",
        json!({"decision": "approve"}),
    )
    .await
    .assert_error(404, "not_found");
    app.get("/v1/drafts/drf_nope", &app.merchant)
        .await
        .assert_error(404, "not_found");
}

// ---- edits ----------------------------------------------------------------------------------

#[tokio::test]
async fn edits_are_new_drafts_checked_but_kept_as_written() {
    let (app, _) = app_with_fake();
    tee(&app, "tee").await;
    let parent = describe(&app, "tee", json!({})).await.remove(0);
    let parent_id = parent["id"].as_str().unwrap().to_owned();
    let edits = format!("/v1/drafts/{parent_id}/edits");

    let written = "A black cotton tee from Northfold.";
    let reply = post(
        &app,
        &edits,
        json!({"content": {"text": written}, "note": "tightened"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let edit = reply.json();
    assert_ne!(edit["id"], parent_id.as_str());
    assert_eq!(edit["origin"], "human");
    assert_eq!(edit["parent"], parent_id.as_str());
    assert_eq!(edit["status"], "draft");
    assert_eq!(edit["kind"], "description");
    assert_eq!(edit["product_id"], "tee");
    assert_eq!(edit["content"], json!({"text": written}));
    assert_eq!(edit["provenance"]["actor"], parent["provenance"]["actor"]);
    assert_eq!(edit["provenance"]["settings"]["note"], "tightened");
    assert!(edit["provenance"].get("model").is_none(), "{edit}");
    let verification = &edit["verification"];
    assert!(
        verification["found"].as_u64().unwrap() >= 3,
        "{verification}"
    );
    assert_eq!(verification["found"], verification["supported"]);
    assert_eq!(verification["unsupported"], json!([]));
    // The edited draft is untouched, and the edit is not published.
    assert_eq!(
        get_ok(&app, &format!("/v1/drafts/{parent_id}")).await,
        parent
    );
    assert!(published(&app, "tee").await["description"].is_null());

    // Approved at once, it is what shoppers see.
    let approved_text = "A relaxed black tee in cotton.";
    let reply = post(
        &app,
        &edits,
        json!({"content": {"text": approved_text}, "approve": true}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let approved = reply.json();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["origin"], "human");
    assert!(approved["review"]["by"].is_string());
    let shown = published(&app, "tee").await;
    assert_eq!(shown["description"], approved_text);
    assert_eq!(shown["content"]["description"]["text"], approved_text);

    // A person's unsupported claim is kept as written, and reported.
    let reply = post(
        &app,
        &edits,
        json!({"content": {"text": "A black tee. Made of silk."}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let silk = reply.json();
    assert_eq!(silk["content"]["text"], "A black tee. Made of silk.");
    let verification = &silk["verification"];
    assert!(
        verification["supported"].as_u64() < verification["found"].as_u64(),
        "{verification}"
    );
    let unsupported = verification["unsupported"].as_array().unwrap();
    assert!(
        unsupported
            .iter()
            .any(|u| u.as_str().unwrap().contains("silk")),
        "{verification}"
    );
    assert!(
        verification["claims"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["text"] == "silk" && c["verdict"] == "unsupported"),
        "{verification}"
    );
    // Not published: the approved edit still is.
    assert_eq!(published(&app, "tee").await["description"], approved_text);

    // An edit of an edit points at the edit.
    let silk_id = silk["id"].as_str().unwrap();
    let reply = post(
        &app,
        &format!("/v1/drafts/{silk_id}/edits"),
        json!({"content": {"text": "A black cotton tee."}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["parent"], silk_id);

    // Content that does not fit the kind.
    let before = get_ok(&app, "/v1/drafts?product=tee").await["total"].clone();
    for (content, names) in [
        (json!({"subject": "Hello"}), "content.subject"),
        (json!({}), "content.text"),
        (json!({"text": ""}), "content.text"),
        (json!({"text": 5}), "content.text"),
        (json!({"text": "x".repeat(5_001)}), "content.text"),
        (json!("just text"), "content"),
    ] {
        let message = post(&app, &edits, json!({"content": content}))
            .await
            .assert_error(422, "invalid");
        assert!(message.contains(names), "{content}: {message}");
    }
    post(
        &app,
        &edits,
        json!({"content": {"text": "Fine."}, "colour": "red"}),
    )
    .await
    .assert_error(422, "invalid");
    post(&app, &edits, json!({"note": "no content"}))
        .await
        .assert_error(422, "invalid");
    post(
        &app,
        &edits,
        json!({"content": {"text": "Fine."}, "note": "n".repeat(501)}),
    )
    .await
    .assert_error(422, "invalid");
    post(
        &app,
        "/v1/drafts/drf_nope/edits",
        json!({"content": {"text": "Fine."}}),
    )
    .await
    .assert_error(404, "not_found");
    assert_eq!(
        get_ok(&app, "/v1/drafts?product=tee").await["total"],
        before,
        "refused edits store nothing"
    );

    // An ad edit is held to its channel's limits.
    let reply = post(&app, "/v1/products/tee/ads", json!({"channel": "email"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let email_id = reply.json()["drafts"][0]["id"].as_str().unwrap().to_owned();
    let email_edits = format!("/v1/drafts/{email_id}/edits");
    let message = post(
        &app,
        &email_edits,
        json!({"content": {"subject": "S".repeat(61)}}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.contains("content.subject"), "{message}");
    post(&app, &email_edits, json!({"content": {"text": "Hello"}}))
        .await
        .assert_error(422, "invalid");
    let reply = post(
        &app,
        &email_edits,
        json!({"content": {"subject": "S".repeat(60)}, "approve": true}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let shown = published(&app, "tee").await;
    assert_eq!(shown["content"]["email"]["subject"], "S".repeat(60));
    // The description is still the approved one: kinds are published side by side.
    assert_eq!(shown["content"]["description"]["text"], approved_text);

    // An SMS edit is counted as the channel counts: one character outside GSM-7 makes it a
    // 70-unit UCS-2 message.
    let reply = post(&app, "/v1/products/tee/ads", json!({"channel": "sms"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let sms_id = reply.json()["drafts"][0]["id"].as_str().unwrap().to_owned();
    let sms_edits = format!("/v1/drafts/{sms_id}/edits");
    let gsm = format!("{} Reply STOP to opt out", "é".repeat(100));
    let reply = post(&app, &sms_edits, json!({"content": {"text": gsm}})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let ucs2 = format!("{} Reply STOP", "\u{1F600}".repeat(30));
    post(&app, &sms_edits, json!({"content": {"text": ucs2}}))
        .await
        .assert_error(422, "invalid");

    // Search ads: the item counts are part of the shape.
    let reply = post(&app, "/v1/products/tee/ads", json!({"channel": "search"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let search_id = reply.json()["drafts"][0]["id"].as_str().unwrap().to_owned();
    let search_edits = format!("/v1/drafts/{search_id}/edits");
    let headlines = json!(["Northfold Tee", "Black Cotton Tee", "Organic Tee"]);
    let descriptions = json!(["A black cotton tee.", "Organic cotton, size M."]);
    let reply = post(
        &app,
        &search_edits,
        json!({"content": {"headlines": headlines, "descriptions": descriptions}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    for content in [
        json!({"headlines": ["One", "Two"], "descriptions": descriptions}),
        json!({"headlines": headlines, "descriptions": ["Only one."]}),
        json!({"headlines": ["H".repeat(31), "Two", "Three"], "descriptions": descriptions}),
        json!({"headlines": "Not a list", "descriptions": descriptions}),
    ] {
        post(&app, &search_edits, json!({"content": content}))
            .await
            .assert_error(422, "invalid");
    }
}

// ---- jobs -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_job_describes_a_category_in_the_background() {
    let (app, _) = app_with_fake();
    for id in ["tee-1", "tee-2"] {
        app.product(tee_body(id, "tees")).await;
    }
    for id in ["mug-1", "mug-2", "mug-3"] {
        app.product(json!({"id": id, "title": "Stoneware Mug", "brand": "Kiln",
            "category": "mugs", "price": "12", "attributes": {"color": "white"}}))
            .await;
    }

    let job = start_job(
        &app,
        json!({"kind": "descriptions", "category": "tees", "workers": 2}),
    )
    .await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    assert!(job_id.starts_with("job_"), "{job}");
    assert_eq!(job["kind"], "descriptions");
    assert_eq!(job["status"], "running", "the reply is the job as created");
    assert_eq!(
        (job["total"].as_u64(), job["done"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(job["params"]["category"], "tees");
    assert!(!job["actor"].as_str().unwrap().is_empty());

    let job = wait_until_finished(&app, &job_id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        (job["done"].as_u64(), job["failed"].as_u64()),
        (Some(2), Some(0))
    );

    let items = get_ok(&app, &format!("/v1/jobs/{job_id}/items")).await;
    assert_eq!(items["total"], 2);
    let items = items["items"].as_array().unwrap();
    let products: Vec<&str> = items
        .iter()
        .map(|i| i["product_id"].as_str().unwrap())
        .collect();
    assert_eq!(products, ["tee-1", "tee-2"]);
    for item in items {
        assert_eq!(item["status"], "done", "{item}");
        assert!(item.get("error").is_none());
        let drafts = item["drafts"].as_array().unwrap();
        assert_eq!(drafts.len(), 1, "one variant by default: {item}");
        let draft = get_ok(&app, &format!("/v1/drafts/{}", drafts[0].as_str().unwrap())).await;
        assert_eq!(draft["product_id"], item["product_id"]);
        assert_eq!(draft["kind"], "description");
        assert_eq!(draft["status"], "draft");
        assert_eq!(draft["origin"], "model");
        assert_eq!(draft["provenance"]["job"], job_id.as_str());
        assert_eq!(
            draft["verification"]["found"],
            draft["verification"]["supported"]
        );
        assert!(!text_of(&draft).is_empty());
    }
    // Paging of items.
    let page = get_ok(&app, &format!("/v1/jobs/{job_id}/items?limit=1&offset=1")).await;
    assert_eq!(page["items"][0]["product_id"], "tee-2");
    assert_eq!(page["total"], 2);
    // The mugs were not touched.
    assert_eq!(get_ok(&app, "/v1/drafts?product=mug-1").await["total"], 0);

    // Only an unfinished job is resumed: the same request after it is done is a new job.
    let rerun = start_job(
        &app,
        json!({"kind": "descriptions", "category": "tees", "workers": 2}),
    )
    .await;
    assert_ne!(rerun["id"], job_id.as_str());
    assert_eq!(rerun["total"], 2);
    let rerun_id = rerun["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_until_finished(&app, &rerun_id).await["done"], 2);
    assert_eq!(get_ok(&app, "/v1/drafts?product=tee-1").await["total"], 2);

    // Options reach every item.
    let mugs = start_job(
        &app,
        json!({"kind": "descriptions", "category": "mugs",
            "options": {"variants": 2, "seed": 40, "length": "short"}}),
    )
    .await;
    assert_eq!(mugs["total"], 3);
    let mugs_id = mugs["id"].as_str().unwrap().to_owned();
    let done = wait_until_finished(&app, &mugs_id).await;
    assert_eq!(
        (done["done"].as_u64(), done["failed"].as_u64()),
        (Some(3), Some(0))
    );
    let items = get_ok(&app, &format!("/v1/jobs/{mugs_id}/items")).await;
    for item in items["items"].as_array().unwrap() {
        let drafts = item["drafts"].as_array().unwrap();
        assert_eq!(drafts.len(), 2, "{item}");
        let first = get_ok(&app, &format!("/v1/drafts/{}", drafts[0].as_str().unwrap())).await;
        assert_eq!(
            first["provenance"]["settings"]["options"]["length"],
            "short"
        );
        assert_eq!(first["provenance"]["settings"]["options"]["seed"], 40);
    }

    // The job list, newest first, and its filter.
    let page = get_ok(&app, "/v1/jobs").await;
    assert_eq!(
        ids(&page),
        [mugs_id.as_str(), rerun_id.as_str(), job_id.as_str()]
    );
    let page = get_ok(&app, "/v1/jobs?status=done&limit=2").await;
    assert_eq!((page["total"].as_u64(), ids(&page).len()), (Some(3), 2));
    assert_eq!(get_ok(&app, "/v1/jobs?status=running").await["total"], 0);
    app.get("/v1/jobs?status=bogus", &app.merchant)
        .await
        .assert_error(422, "invalid");

    // A finished job's event stream is its end at once.
    let (status, content_type, mut events) =
        Events::open(&app, &format!("/v1/jobs/{job_id}/events"), &app.merchant).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/event-stream")),
        "{content_type:?}"
    );
    let (name, data) = events.next().await.expect("an end event");
    assert_eq!(name, "end");
    assert_eq!(data["id"], job_id.as_str());
    assert_eq!(data["status"], "done");
    assert_eq!(data["done"], 2);
    assert!(data["items_per_minute"].is_number(), "{data}");
    assert!(
        events.next().await.is_none(),
        "the stream ends with the end event"
    );
    // The same, read whole.
    let whole = app
        .get(&format!("/v1/jobs/{job_id}/events"), &app.merchant)
        .await;
    assert_eq!(whole.status, StatusCode::OK);
    assert!(whole.text().contains("event: end"), "{}", whole.text());
    assert!(!whole.text().contains("event: progress"));

    // A cancel of a finished job returns it as it is.
    let reply = post(&app, &format!("/v1/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["status"], "done");

    // Unknown jobs.
    for uri in [
        "/v1/jobs/job_nope",
        "/v1/jobs/job_nope/items",
        "/v1/jobs/job_nope/events",
    ] {
        app.get(uri, &app.merchant)
            .await
            .assert_error(404, "not_found");
    }
    post(&app, "/v1/jobs/job_nope/cancel", json!({}))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn job_requests_are_checked() {
    let (app, _) = app_with_fake();
    tee(&app, "tee").await;

    // Nothing to do: done at once.
    let job = start_job(&app, json!({"kind": "descriptions", "category": "nothing"})).await;
    assert_eq!(job["status"], "done");
    assert_eq!(
        (
            job["total"].as_u64(),
            job["done"].as_u64(),
            job["failed"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        get_ok(&app, &format!("/v1/jobs/{id}/items")).await["total"],
        0
    );

    let message = post(&app, "/v1/jobs", json!({"kind": "ads"}))
        .await
        .assert_error(422, "invalid");
    assert!(message.contains("kind"), "{message}");
    for workers in [0, 33] {
        let message = post(
            &app,
            "/v1/jobs",
            json!({"kind": "descriptions", "workers": workers}),
        )
        .await
        .assert_error(422, "invalid");
        assert!(message.contains("workers"), "{message}");
    }
    let message = post(
        &app,
        "/v1/jobs",
        json!({"kind": "descriptions", "options": {"variants": 9}}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.contains("variants"), "{message}");
    for body in [
        json!({}),
        json!({"kind": "descriptions", "workers": -1}),
        json!({"kind": "descriptions", "missing_only": "yes"}),
        json!({"kind": "descriptions", "options": {"tone": "loud"}}),
        // Unknown fields, at the top and in the options.
        json!({"kind": "descriptions", "categories": ["tees"]}),
        json!({"kind": "descriptions", "options": {"variantz": 2}}),
    ] {
        post(&app, "/v1/jobs", body.clone())
            .await
            .assert_error(422, "invalid");
    }
    // None of the refused requests made a job.
    assert_eq!(get_ok(&app, "/v1/jobs").await["total"], 1);
    assert_eq!(get_ok(&app, "/v1/drafts").await["total"], 0);
}

#[tokio::test]
async fn missing_only_skips_products_with_a_description_or_one_in_review() {
    let (app, _) = app_with_fake();
    let mut with_catalog = tee_body("a-catalog", "mix");
    with_catalog["description"] = json!("The merchant's own words.");
    app.product(with_catalog).await;
    for id in [
        "b-pending",
        "c-approved",
        "d-rejected",
        "e-superseded",
        "f-nothing",
    ] {
        app.product(tee_body(id, "mix")).await;
    }
    // Another category, without a description: outside the job.
    app.product(tee_body("z-elsewhere", "other")).await;

    describe(&app, "b-pending", json!({})).await;
    let c = describe(&app, "c-approved", json!({})).await.remove(0);
    review(&app, c["id"].as_str().unwrap(), "approve").await;
    let d = describe(&app, "d-rejected", json!({})).await.remove(0);
    review(&app, d["id"].as_str().unwrap(), "reject").await;
    // e: approved, then superseded by a rejected-after-approval draft: nothing published.
    let e = describe(&app, "e-superseded", json!({"variants": 2})).await;
    review(&app, e[0]["id"].as_str().unwrap(), "approve").await;
    review(&app, e[1]["id"].as_str().unwrap(), "approve").await;
    review(&app, e[1]["id"].as_str().unwrap(), "reject").await;
    assert!(
        published(&app, "e-superseded").await["content"]
            .get("description")
            .is_none()
    );

    let job = start_job(
        &app,
        json!({"kind": "descriptions", "category": "mix", "missing_only": true}),
    )
    .await;
    assert_eq!(job["total"], 3, "d, e and f need a description: {job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let done = wait_until_finished(&app, &id).await;
    assert_eq!(
        (done["done"].as_u64(), done["failed"].as_u64()),
        (Some(3), Some(0))
    );
    let items = get_ok(&app, &format!("/v1/jobs/{id}/items")).await;
    let products: Vec<&str> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["product_id"].as_str().unwrap())
        .collect();
    assert_eq!(products, ["d-rejected", "e-superseded", "f-nothing"]);

    // Now every product has a description waiting for review: nothing is missing.
    let again = start_job(
        &app,
        json!({"kind": "descriptions", "category": "mix", "missing_only": true}),
    )
    .await;
    assert_eq!(
        (again["status"].as_str(), again["total"].as_u64()),
        (Some("done"), Some(0))
    );
    // Without the category, only the other category's product is left.
    let everywhere = start_job(&app, json!({"kind": "descriptions", "missing_only": true})).await;
    assert_eq!(everywhere["total"], 1);
    let everywhere_id = everywhere["id"].as_str().unwrap().to_owned();
    wait_until_finished(&app, &everywhere_id).await;
}

#[tokio::test]
async fn a_cancelled_job_stops_and_stays_cancelled() {
    let (app, fake) = app_with_fake();
    for id in ["tee-1", "tee-2", "tee-3"] {
        app.product(tee_body(id, "tees")).await;
    }
    // Each item takes a while: every word of the echo comes after a pause.
    fake.set_mode(Mode::Slow(Duration::from_millis(10)));
    let body = json!({"kind": "descriptions", "category": "tees", "workers": 1,
        "options": {"length": "short"}});
    let job = start_job(&app, body.clone()).await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["total"], 3);

    // While it runs, the same request resumes it rather than starting another.
    let same = start_job(&app, body.clone()).await;
    assert_eq!(same["id"], id.as_str());
    assert_eq!(same["status"], "running");

    // Wait until the first item is in the model's hands, then cancel.
    let deadline = Instant::now() + PATIENCE;
    while fake.last_request().is_none() {
        assert!(Instant::now() < deadline, "the job never reached the model");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reply = post(&app, &format!("/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let cancelled = reply.json();
    assert_eq!(cancelled["status"], "cancelled");

    // The item in flight is finished (it keeps its work); then the runner stops.
    let job = wait_for_job(&app, &id, |j| {
        j["done"].as_u64().unwrap() + j["failed"].as_u64().unwrap() >= 1
    })
    .await;
    let deadline = Instant::now() + PATIENCE;
    while matches!(fake.health(), GeneratorHealth::Ok { active, .. } if active > 0) {
        assert!(Instant::now() < deadline, "the fake never went idle");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(job["status"], "cancelled", "{job}");
    let later = get_ok(&app, &format!("/v1/jobs/{id}")).await;
    assert_eq!(later["status"], "cancelled", "{later}");
    let finished = later["done"].as_u64().unwrap() + later["failed"].as_u64().unwrap();
    let total = later["total"].as_u64().unwrap();
    assert!(finished <= total);
    assert!(
        finished < total,
        "the job stopped before its last item: {later}"
    );
    let items = get_ok(&app, &format!("/v1/jobs/{id}/items")).await;
    let pending = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "pending")
        .count() as u64;
    assert_eq!(pending, total - finished);
    // Drafts exist only for finished items.
    assert_eq!(get_ok(&app, "/v1/drafts").await["total"], later["done"]);

    // Cancelling again changes nothing; its events end at once.
    let reply = post(&app, &format!("/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(reply.json()["status"], "cancelled");
    let (_, _, mut events) =
        Events::open(&app, &format!("/v1/jobs/{id}/events"), &app.merchant).await;
    let (name, data) = events.next().await.expect("an end event");
    assert_eq!(
        (name.as_str(), &data["status"]),
        ("end", &json!("cancelled"))
    );
    assert!(events.next().await.is_none());
    let page = get_ok(&app, "/v1/jobs?status=cancelled").await;
    assert_eq!(ids(&page), [id.as_str()]);
}

#[tokio::test]
async fn a_running_job_streams_progress_then_its_end() {
    let (app, fake) = app_with_fake();
    for id in ["tee-1", "tee-2"] {
        app.product(tee_body(id, "tees")).await;
    }
    // A busy model holds every item back (the runner retries), so the job is surely running
    // when the stream opens.
    fake.set_mode(Mode::Busy(Duration::from_secs(1)));
    let job = start_job(
        &app,
        json!({"kind": "descriptions", "category": "tees", "workers": 2}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();

    let (status, content_type, mut events) =
        Events::open(&app, &format!("/v1/jobs/{id}/events"), &app.merchant).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/event-stream"))
    );
    let (name, data) = events.next().await.expect("a first event");
    assert_eq!(name, "progress", "{data}");
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["status"], "running");
    assert_eq!(data["total"], 2);
    assert_eq!(data["done"], 0);
    assert!(data["items_per_minute"].is_number(), "{data}");

    // The model frees up; the job finishes and the stream ends with it.
    fake.set_mode(Mode::Normal);
    let mut seen = vec![name];
    let last = loop {
        let (name, data) = events
            .next()
            .await
            .expect("the stream ends with an end event");
        seen.push(name.clone());
        if name == "end" {
            break data;
        }
        assert_eq!(name, "progress", "{data}");
        assert_eq!(data["status"], "running");
    };
    assert_eq!(last["status"], "done");
    assert_eq!(
        (last["done"].as_u64(), last["failed"].as_u64()),
        (Some(2), Some(0))
    );
    assert!(last["items_per_minute"].as_f64().unwrap() >= 0.0);
    assert!(
        events.next().await.is_none(),
        "nothing after the end: {seen:?}"
    );
    assert_eq!(seen.iter().filter(|n| *n == "end").count(), 1);
}

#[tokio::test]
async fn a_failing_model_fails_items_without_writing_anything() {
    let (app, fake) = app_with_fake();
    for id in ["mug-1", "mug-2", "mug-3"] {
        app.product(json!({"id": id, "title": "Stoneware Mug", "brand": "Kiln",
            "category": "mugs", "price": "12", "attributes": {"color": "white"}}))
            .await;
    }
    fake.set_mode(Mode::Failed("down".into()));
    let body = json!({"kind": "descriptions", "category": "mugs"});
    let job = start_job(&app, body.clone()).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let job = wait_until_finished(&app, &id).await;
    // Failed items are recorded and the job goes on to its end.
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        (
            job["done"].as_u64(),
            job["failed"].as_u64(),
            job["total"].as_u64()
        ),
        (Some(0), Some(3), Some(3))
    );
    let items = get_ok(&app, &format!("/v1/jobs/{id}/items")).await;
    for item in items["items"].as_array().unwrap() {
        assert_eq!(item["status"], "failed", "{item}");
        let error = item["error"].as_str().unwrap();
        assert!(error.contains("text generation failed"), "{error}");
        assert_eq!(item["drafts"], json!([]));
    }
    for product in ["mug-1", "mug-2", "mug-3"] {
        let drafts = get_ok(&app, &format!("/v1/drafts?product={product}")).await;
        assert_eq!(drafts["total"], 0, "{product}: {drafts}");
    }

    // Once the model is back, the same request is a new job that does the work.
    fake.set_mode(Mode::Normal);
    let retry = start_job(&app, body).await;
    assert_ne!(retry["id"], id.as_str());
    let retry_id = retry["id"].as_str().unwrap().to_owned();
    let retry = wait_until_finished(&app, &retry_id).await;
    assert_eq!(
        (retry["done"].as_u64(), retry["failed"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(
        get_ok(&app, "/v1/drafts?kind=description").await["total"],
        3
    );
}

/// Two identical job requests at the same moment give one job with work in it (the second
/// resumes the first, in the store's transaction), so with `missing_only` no product gets two
/// descriptions. A request that comes after the job finished makes a new, empty job.
#[tokio::test]
async fn identical_concurrent_job_requests_make_one_job() {
    let (app, _) = app_with_fake();
    for i in 0..4 {
        app.product(tee_body(&format!("tee-{i}"), "tees")).await;
    }
    let body = json!({"kind": "descriptions", "category": "tees", "missing_only": true});
    for _ in 0..10 {
        let send = || {
            app.router.clone().oneshot(request(
                Method::POST,
                "/v1/jobs",
                Some(&app.merchant),
                Some(body.clone()),
            ))
        };
        let (a, b) = tokio::join!(send(), send());
        let mut jobs = Vec::new();
        for response in [a, b] {
            let response = response.expect("the router is infallible");
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let job: Value = serde_json::from_slice(&bytes).unwrap();
            jobs.push(job);
        }
        for job in &jobs {
            wait_until_finished(&app, job["id"].as_str().unwrap()).await;
        }
        let with_work: Vec<&Value> = jobs.iter().filter(|j| j["total"] != 0).collect();
        if with_work.len() == 2 {
            assert_eq!(
                with_work[0]["id"], with_work[1]["id"],
                "two jobs with work for one request made twice at once"
            );
        }
    }
    // Each product got one description, not one per job.
    let drafts = get_ok(&app, "/v1/drafts?product=tee-0").await;
    assert_eq!(drafts["total"], 1, "{drafts}");
}
