//! Product images and banners over the API: before any model is trained both say what to run
//! (503); an admin trains a tiny GAN on a PNG folder as a background job streaming its epochs;
//! then images come as a PNG grid or JSON, the same seed gives the same images, banners come in
//! both sizes, and bad input (unknown category, counts, text that does not fit, a damaged
//! checkpoint) gets a clear error.

use std::path::Path;

use axum::http::{Method, StatusCode, header};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{self, Events, TestApp};

/// 16 images of two categories: "left" is bright on its left half, "right" on its right.
fn halves(dir: &Path) {
    for (class, left) in [("left", true), ("right", false)] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for n in 0..8u32 {
            let img = image::GrayImage::from_fn(28, 28, |x, y| {
                let lit = (x < 14) == left;
                image::Luma([if lit {
                    200 + ((x + y + n) % 40) as u8
                } else {
                    10
                }])
            });
            img.save(dir.join(class).join(format!("{n}.png"))).unwrap();
        }
    }
}

async fn post(app: &TestApp, uri: &str, key: &str, body: Value) -> common::Reply {
    app.json(Method::POST, uri, key, body).await
}

/// `POST /v1/images` as a merchant with `Accept: accept`.
async fn images_accepting(app: &TestApp, body: Value, accept: &str) -> common::Reply {
    let mut request = common::request(Method::POST, "/v1/images", Some(&app.merchant), Some(body));
    request
        .headers_mut()
        .insert(header::ACCEPT, accept.parse().unwrap());
    app.send(request).await
}

fn png(reply: &common::Reply) -> image::DynamicImage {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.headers.get(header::CONTENT_TYPE).unwrap(),
        "image/png"
    );
    image::load_from_memory(&reply.body).expect("a PNG")
}

#[tokio::test]
async fn images_and_banners_from_a_gan_trained_over_the_api() {
    let app = TestApp::new();
    let data = tempfile::tempdir().unwrap();
    halves(data.path());

    // Nothing trained yet: both say what to run.
    for (uri, body) in [
        ("/v1/images", json!({"category": "left"})),
        (
            "/v1/banners",
            json!({"category": "left", "headline": "Tee", "cta": "Buy"}),
        ),
    ] {
        let message = post(&app, uri, &app.merchant, body)
            .await
            .assert_error(503, "unavailable");
        assert!(message.contains("vitrine train gan"), "{message}");
        assert!(message.contains("/v1/image-trainings"), "{message}");
    }

    // Training is for admins, and its settings are checked.
    let run = json!({"run": "tiny-gan", "model": "gan", "data": data.path(), "epochs": 2,
        "batch": 8, "latent": 8, "channels": 4, "seed": 3});
    post(&app, "/v1/image-trainings", &app.merchant, run.clone())
        .await
        .assert_error(403, "forbidden");
    for (change, field) in [
        (json!({"run": "../x"}), "run"),
        (json!({"data": "/no/such/folder"}), "data"),
        (json!({"epochs": 0}), "epochs"),
        (json!({"channels": 0}), "channels"),
        (json!({"ema": 1.0}), "ema"),
        (json!({"model": "vae", "ema": 0.99}), "ema"),
    ] {
        let mut bad = run.clone();
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let message = post(&app, "/v1/image-trainings", &app.admin, bad)
            .await
            .assert_error(422, "invalid");
        assert!(message.starts_with(field), "{message}");
    }
    // Too few images for one batch is refused before anything starts.
    let mut big_batch = run.clone();
    big_batch["batch"] = json!(64);
    let message = post(&app, "/v1/image-trainings", &app.admin, big_batch)
        .await
        .assert_error(422, "invalid");
    assert!(
        message.starts_with("data") && message.contains("batch"),
        "{message}"
    );
    let reply = post(&app, "/v1/image-trainings", &app.admin, run.clone()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(reply.json()["model"], "gan");
    let (code, _, mut events) =
        Events::open(&app, "/v1/image-trainings/tiny-gan/events", &app.admin).await;
    assert_eq!(code, StatusCode::OK);
    let mut epochs = Vec::new();
    let end = loop {
        let (name, data) = events.next().await.expect("events until the end");
        match name.as_str() {
            "epoch" => epochs.push(data["epoch"].as_u64().unwrap()),
            "progress" => assert_eq!(data["state"], "running"),
            "end" => break data,
            other => panic!("unexpected {other} event: {data}"),
        }
    };
    assert_eq!(end["state"], "done", "{end}");
    assert_eq!(end["history"].as_array().unwrap().len(), 2);
    // Epochs finished before the stream opened are in the run, not in `epoch` events.
    assert!(epochs.iter().all(|&e| e == 1 || e == 2), "{epochs:?}");
    let list = app.get("/v1/image-trainings", &app.admin).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["run"], "tiny-gan");
    assert_eq!(list[0]["state"], "done");
    app.get("/v1/image-trainings/nope", &app.admin)
        .await
        .assert_error(404, "not_found");
    // The image run shares the runs folder with the recommender's runs, not their listing.
    let recs = app.get("/v1/trainings", &app.admin).await;
    assert_eq!(recs.status, StatusCode::OK, "{}", recs.text());
    assert_eq!(recs.json(), json!([]));
    app.get("/v1/trainings/tiny-gan", &app.admin)
        .await
        .assert_error(404, "not_found");
    let mut other = run.clone();
    other["channels"] = json!(8);
    post(&app, "/v1/image-trainings", &app.admin, other)
        .await
        .assert_error(409, "conflict");
    // More epochs train the finished run further.
    let mut more = run.clone();
    more["epochs"] = json!(3);
    let reply = post(&app, "/v1/image-trainings", &app.admin, more).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let (_, _, mut events) =
        Events::open(&app, "/v1/image-trainings/tiny-gan/events", &app.admin).await;
    let end = loop {
        let (name, data) = events.next().await.expect("events until the end");
        if name == "end" {
            break data;
        }
    };
    assert_eq!(end["state"], "done", "{end}");
    assert_eq!(end["history"].as_array().unwrap().len(), 3, "{end}");

    // A grid of three, deterministic by seed; the category matches without regard to case.
    let ask = json!({"category": "LEFT", "count": 3, "seed": 7});
    let reply = post(&app, "/v1/images", &app.merchant, ask.clone()).await;
    let grid = png(&reply);
    assert_eq!((grid.width(), grid.height()), (3 * 30 + 2, 32));
    assert_eq!(reply.headers.get("x-vitrine-seed").unwrap(), "7");
    assert_eq!(reply.headers.get("x-vitrine-model").unwrap(), "gan");
    assert_eq!(reply.headers.get("x-vitrine-run").unwrap(), "tiny-gan");
    let again = post(&app, "/v1/images", &app.merchant, ask).await;
    assert_eq!(
        again.body, reply.body,
        "the same seed gives the same images"
    );
    let scaled = post(
        &app,
        "/v1/images",
        &app.merchant,
        json!({"category": "right", "count": 10, "seed": 1, "scale": 2}),
    )
    .await;
    let scaled = png(&scaled);
    assert_eq!((scaled.width(), scaled.height()), (8 * 58 + 2, 2 * 58 + 2));

    // JSON: each image a base64 PNG.
    let reply = images_accepting(
        &app,
        json!({"category": "right", "count": 2, "seed": 9}),
        "application/json",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["category"], "right");
    assert_eq!(body["seed"], 9);
    let images = body["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for b64 in images {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (28, 28));
    }

    // JSON refused with q=0 is not JSON.
    let reply = images_accepting(
        &app,
        json!({"category": "right", "seed": 9}),
        "image/png, application/json;q=0",
    )
    .await;
    png(&reply);

    // Bad requests.
    for (body, field) in [
        (json!({"category": "shoes"}), "category"),
        (json!({"category": "left", "count": 0}), "count"),
        (json!({"category": "left", "count": 65}), "count"),
        (json!({"category": "left", "scale": 9}), "scale"),
    ] {
        let message = post(&app, "/v1/images", &app.merchant, body)
            .await
            .assert_error(422, "invalid");
        assert!(message.starts_with(field), "{message}");
    }
    let known = post(
        &app,
        "/v1/images",
        &app.merchant,
        json!({"category": "shoes"}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(known.contains("left, right"), "{known}");
    post(
        &app,
        "/v1/images",
        &app.merchant,
        json!({"category": "left", "model": "vae"}),
    )
    .await
    .assert_error(503, "unavailable");

    // Banners in both sizes; text that does not fit is refused.
    for (size, dims) in [("300x250", (300, 250)), ("728x90", (728, 90))] {
        let reply = post(
            &app,
            "/v1/banners",
            &app.merchant,
            json!({"category": "right", "headline": "Soft cotton tee", "cta": "Shop now",
                "size": size, "seed": 2}),
        )
        .await;
        let banner = png(&reply);
        assert_eq!((banner.width(), banner.height()), dims);
    }
    let message = post(
        &app,
        "/v1/banners",
        &app.merchant,
        json!({"category": "right", "headline": "A very long headline that goes on and on about \
            the fabric, the cut, the seams and the colours of this lovely shirt", "cta": "Buy"}),
    )
    .await
    .assert_error(422, "invalid");
    assert!(message.starts_with("headline"), "{message}");
    assert!(message.contains("two lines"), "{message}");
    let reply = post(
        &app,
        "/v1/banners",
        &app.merchant,
        json!({"category": "right", "headline": "Tee", "cta": "Buy", "size": "100x100"}),
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.text());

    // A damaged checkpoint is a clear 503, not a panic.
    let dir = app.runs_dir().join("tiny-gan");
    std::fs::write(dir.join("generator.bpk"), b"not weights").unwrap();
    let state = std::fs::read(dir.join("state.json")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.join("state.json"), state).unwrap();
    let message = post(
        &app,
        "/v1/images",
        &app.merchant,
        json!({"category": "left"}),
    )
    .await
    .assert_error(503, "unavailable");
    assert!(message.contains("generator.bpk"), "{message}");
}
