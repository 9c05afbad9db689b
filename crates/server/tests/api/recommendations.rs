//! Recommendations over HTTP: the sequence model on a shopper's latest events, purchases left
//! out, the cold-start strategies, and the errors.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{Value, json};

async fn recommend(app: &TestApp, shopper: &str, k: u32) -> Value {
    let reply = app
        .get(
            &format!("/v1/shoppers/{shopper}/recommendations?k={k}"),
            &app.reader,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

fn products(recs: &Value) -> Vec<&str> {
    recs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["product"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn sequence_model_cold_start_and_errors() {
    let app = TestApp::new();
    for (id, category) in [
        ("shoe-1", "shoes"),
        ("shoe-2", "shoes"),
        ("shoe-3", "shoes"),
        ("bag-1", "bags"),
        ("bag-2", "bags"),
        ("bag-3", "bags"),
        ("hat-1", "hats"),
    ] {
        app.product(
            json!({"id": id, "title": format!("Item {id}"), "brand": "Acme",
                           "category": category, "price": "10"}),
        )
        .await;
    }
    // Shoe shoppers go shoe-1 -> shoe-2 -> shoe-3; bag shoppers bag-1 -> bag-2; bag-2 is the
    // most popular product overall.
    let mut list = Vec::new();
    for s in ["a", "b", "c"] {
        list.extend([
            (s, "shoe-1", "view"),
            (s, "shoe-2", "view"),
            (s, "shoe-3", "purchase"),
        ]);
    }
    for s in ["d", "e", "f", "g"] {
        list.extend([(s, "bag-1", "view"), (s, "bag-2", "purchase")]);
    }
    list.push(("h", "bag-2", "view"));
    list.push(("h", "bag-3", "view"));
    app.events(&list).await;

    let a = recommend(&app, "h", 3).await;
    assert_eq!(a["strategy"], "sequence");
    assert_eq!(a["model"], "item-knn");
    assert_eq!(a["fitted_events"], 19);
    assert_eq!(products(&a)[0], "bag-1", "{a}");
    assert_eq!(a["items"][0]["title"], "Item bag-1");
    assert_eq!(a["items"][0]["category"], "bags");

    // Events after fitting count: this shopper's shoe-1 view arrives now, and the purchased
    // shoe-2 is never recommended.
    app.events(&[("buyer", "shoe-2", "purchase"), ("buyer", "shoe-1", "view")])
        .await;
    let buyer = recommend(&app, "buyer", 10).await;
    assert_eq!(buyer["strategy"], "sequence");
    assert_eq!(buyer["history_items_used"], 2);
    assert!(!products(&buyer).contains(&"shoe-2"), "{buyer}");
    assert_eq!(products(&buyer)[0], "shoe-3", "{buyer}");

    // A shopper whose only product is new to the model: popular in that product's category.
    app.product(json!({"id": "bag-new", "title": "New Bag", "category": "bags", "price": "10"}))
        .await;
    app.events(&[("newbie", "bag-new", "view")]).await;
    let newbie = recommend(&app, "newbie", 2).await;
    assert_eq!(newbie["strategy"], "popular_in_categories");
    assert_eq!(newbie["categories"], json!(["bags"]));
    assert_eq!(products(&newbie), vec!["bag-2", "bag-1"]);

    // Nothing known at all (a product the catalog never had): the most popular overall.
    app.events(&[("stranger", "mystery", "view")]).await;
    let stranger = recommend(&app, "stranger", 1).await;
    assert_eq!(stranger["strategy"], "popular");
    assert_eq!(products(&stranger), vec!["bag-2"]);

    let get = |uri: String| {
        let app = &app;
        async move { app.get(&uri, &app.reader).await }
    };
    get("/v1/shoppers/ghost/recommendations".into())
        .await
        .assert_error(404, "not_found");
    for k in ["0", "101"] {
        let message = get(format!("/v1/shoppers/h/recommendations?k={k}"))
            .await
            .assert_error(422, "invalid");
        assert!(message.starts_with("k:"), "{message}");
    }
    assert_eq!(
        get("/v1/shoppers/h/recommendations?k=ten".into())
            .await
            .status
            .as_u16(),
        400
    );
    assert_eq!(
        get("/v1/shoppers/h/recommendations?n=3".into())
            .await
            .status
            .as_u16(),
        400
    );
    assert_eq!(
        app.send(common::request(
            Method::GET,
            "/v1/shoppers/h/recommendations",
            None,
            None
        ))
        .await
        .status
        .as_u16(),
        401
    );
}

/// A SASRec run trained on the store's events serves the same endpoint; products that arrive
/// after training are left to the popularity lists.
#[tokio::test]
async fn a_trained_sasrec_run_answers() {
    use vitrine_engine::rec::{
        Loss, RecSource, RecTrainConfig, SasRecConfig, TrainConfig, train_rec,
    };

    let app = TestApp::new();
    let mut list = Vec::new();
    let names: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    let shoppers: Vec<String> = (0..40).map(|u| format!("s{u}")).collect();
    for (u, s) in shoppers.iter().enumerate() {
        for step in 0..5 {
            list.push((s.as_str(), names[(u + step) % 8].as_str(), "view"));
        }
    }
    app.events(&list).await;
    let dir = tempfile::tempdir().unwrap();
    let engine = app.engine.clone();
    let data = engine.interaction_sequences().unwrap();
    let config = RecTrainConfig {
        source: RecSource::Store,
        run: dir.path().join("run"),
        model: SasRecConfig {
            max_len: 6,
            hidden: 8,
            blocks: 1,
            ..SasRecConfig::new(data.n_items())
        },
        train: TrainConfig {
            epochs: 2,
            batch: 8,
            loss: Loss::Softmax,
            max_minutes: None,
            ..TrainConfig::default()
        },
        sampled_seed: 1,
    };
    tokio::task::spawn_blocking(move || train_rec(&data, "store", &config, &mut |_| {}, &|| false))
        .await
        .unwrap()
        .expect("trains");
    app.events(&[("late", "p-new", "view"), ("late", "p1", "view")])
        .await;

    let served = app
        .engine
        .clone()
        .with_recommender_run(dir.path().join("run"));
    let router = vitrine_server::router(vitrine_server::AppState::new(
        served,
        vitrine_server::DEFAULT_BODY_LIMIT,
    ));
    let reply = tower::ServiceExt::oneshot(
        router,
        common::request(
            Method::GET,
            "/v1/shoppers/late/recommendations?k=3",
            Some(&app.reader),
            None,
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(reply.into_body())
        .await
        .unwrap()
        .to_bytes();
    let recs: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(recs["strategy"], "sequence", "{recs}");
    assert_eq!(recs["model"], "sasrec");
    assert_eq!(
        recs["history_items_used"], 1,
        "p-new is not in the trained run"
    );
    assert_eq!(recs["items"].as_array().unwrap().len(), 3);
    assert!(!products(&recs).contains(&"p-new"));
}

/// The catalog and behaviour the explanation tests share: shopper `me` viewed the earbuds and
/// bought the running shoes.
async fn explained_shop(app: &TestApp) {
    for (id, title, brand, category) in [
        ("x2", "Soundly X2 earbuds", "Soundly", "audio"),
        ("h30", "Soundly H30 headphones", "Soundly", "audio"),
        ("runner", "Trail Runner shoes", "Stride", "shoes"),
        ("socks", "Trail socks", "Knit", "shoes"),
        ("lamp", "Desk lamp", "Lumo", "home"),
    ] {
        app.product(
            json!({"id": id, "title": title, "brand": brand, "category": category,
                           "price": "10"}),
        )
        .await;
    }
    let mut list = Vec::new();
    for s in ["a", "b", "c"] {
        list.extend([(s, "x2", "view"), (s, "h30", "view")]);
    }
    for s in ["d", "e"] {
        list.extend([(s, "runner", "purchase"), (s, "socks", "view")]);
    }
    list.extend([("f", "runner", "view"), ("f", "lamp", "view")]);
    list.extend([("me", "x2", "view"), ("me", "runner", "purchase")]);
    app.events(&list).await;
}

fn explanations(recs: &Value) -> Vec<(&str, &Value)> {
    recs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["product"].as_str().unwrap(), &i["explanation"]))
        .collect()
}

#[tokio::test]
async fn explanations_name_only_the_shoppers_history_and_the_products_attributes() {
    let app = TestApp::new();
    explained_shop(&app).await;
    let plain = recommend(&app, "me", 3).await;
    assert!(plain["items"][0].get("explanation").is_none(), "{plain}");

    let reply = app
        .get(
            "/v1/shoppers/me/recommendations?k=3&explain=true",
            &app.reader,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let recs = reply.json();
    let explained = explanations(&recs);
    let products: Vec<&str> = explained.iter().map(|(p, _)| *p).collect();
    assert!(!products.contains(&"runner"), "bought: {recs}");
    let expected = [
        (
            "h30",
            "same_brand",
            "x2",
            "Because you viewed the Soundly X2 earbuds: another Soundly product, the Soundly \
             H30 headphones.",
        ),
        (
            "socks",
            "same_category",
            "runner",
            "Because you bought the Trail Runner shoes: the Trail socks, also in shoes.",
        ),
        (
            "lamp",
            "also_viewed",
            "runner",
            "Shoppers who looked at the Trail Runner shoes also looked at the Desk lamp.",
        ),
    ];
    for (product, reason, because, text) in expected {
        let (_, e) = explained
            .iter()
            .find(|(p, _)| *p == product)
            .unwrap_or_else(|| panic!("{product} not recommended: {recs}"));
        assert_eq!(e["reason"], reason, "{e}");
        assert_eq!(e["because"], because, "{e}");
        assert_eq!(e["text"], text, "{e}");
        assert_eq!(e["source"], "template", "no model: {e}");
    }
    assert_eq!(
        app.get("/v1/shoppers/me/recommendations?explain=maybe", &app.reader)
            .await
            .status
            .as_u16(),
        400
    );

    // A cold-start shopper: the popularity strategies say so.
    app.events(&[("newbie", "unknown-product", "view")]).await;
    let reply = app
        .get(
            "/v1/shoppers/newbie/recommendations?k=1&explain=true",
            &app.reader,
        )
        .await;
    let recs = reply.json();
    assert_eq!(recs["strategy"], "popular", "{recs}");
    let e = &recs["items"][0]["explanation"];
    assert_eq!(e["reason"], "popular", "{e}");
    assert!(
        e["text"]
            .as_str()
            .unwrap()
            .ends_with("is one of the most popular products in the shop."),
        "{e}"
    );
}

#[tokio::test]
async fn a_model_sentence_is_kept_only_when_it_passes_the_check() {
    use common::fake::{FakeGenerator, Mode};
    // The fake counts words as tokens; the explanation prompt is about 90.
    let fake = FakeGenerator::with_context(1024);
    let app = TestApp::with_generator(std::sync::Arc::new(fake.clone()));
    explained_shop(&app).await;
    let explain = || async {
        let reply = app
            .get(
                "/v1/shoppers/me/recommendations?k=3&explain=true",
                &app.reader,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    };

    let good = "Since you liked the Soundly X2 earbuds, try another Soundly product, the Soundly H30 headphones.";
    fake.set_mode(Mode::Reply(good.into()));
    let recs = explain().await;
    for (product, e) in explanations(&recs) {
        if product == "h30" {
            assert_eq!(e["source"], "llm", "{e}");
            assert_eq!(e["text"], good);
            assert_eq!(e["reason"], "same_brand");
        } else {
            // The same sentence does not name this product: the template answers.
            assert_eq!(e["source"], "template", "{e}");
            assert!(
                e["llm_rejected"]
                    .as_str()
                    .unwrap()
                    .starts_with("does not name"),
                "{e}"
            );
        }
    }

    for (invented, why) in [
        (
            "Since you liked the Soundly X2 earbuds, try another Soundly product, the Soundly H30 headphones: 40 hours of play.",
            "names \"40\"",
        ),
        (
            "Since you liked the Soundly X2 earbuds, try another Soundly product, the Soundly H30 headphones in leather.",
            "claims \"leather\"",
        ),
        (
            "Like the Acme Pro and the Soundly X2 earbuds you liked, try another Soundly product, the Soundly H30 headphones.",
            "names \"Acme\"",
        ),
    ] {
        fake.set_mode(Mode::Reply(invented.into()));
        let recs = explain().await;
        let (_, e) = explanations(&recs)
            .into_iter()
            .find(|(p, _)| *p == "h30")
            .unwrap();
        assert_eq!(e["source"], "template", "{invented}: {e}");
        assert!(
            e["llm_rejected"].as_str().unwrap().contains(why),
            "{invented}: {e}"
        );
        assert!(
            e["text"]
                .as_str()
                .unwrap()
                .starts_with("Because you viewed")
        );
    }

    // A failing model: the template, and why.
    fake.set_mode(Mode::Timeout);
    let recs = explain().await;
    for (_, e) in explanations(&recs) {
        assert_eq!(e["source"], "template", "{e}");
        assert!(
            e["llm_rejected"]
                .as_str()
                .unwrap()
                .starts_with("the model failed"),
            "{e}"
        );
    }
}
