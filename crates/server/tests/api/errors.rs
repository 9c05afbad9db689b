//! Every error status has the one JSON shape, `{"error":{"code","message"}}`, and nothing a
//! client sends makes the server panic or answer in plain text.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{TestApp, request};
use serde_json::json;

fn raw(
    method: Method,
    uri: &str,
    key: &str,
    content_type: Option<&str>,
    body: &str,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    if let Some(ct) = content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn malformed_input_is_400() {
    let app = TestApp::new();
    for body in ["{\"id\": ", "not json", ""] {
        let reply = app
            .send(raw(
                Method::POST,
                "/v1/products",
                &app.merchant,
                Some("application/json"),
                body,
            ))
            .await;
        reply.assert_error(400, "invalid_json");
    }
    for query in [
        "?limit=abc",
        "?offset=-1",
        "?colour=red",
        "?limit=1&limit=2",
    ] {
        app.get(&format!("/v1/products{query}"), &app.reader)
            .await
            .assert_error(400, "bad_request");
    }
    app.get("/v1/events?limit=x", &app.reader)
        .await
        .assert_error(400, "bad_request");
    // Percent-escapes that are not UTF-8 cannot be a product id.
    app.get("/v1/products/%FF", &app.reader)
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn json_bodies_need_the_json_content_type() {
    let app = TestApp::new();
    let body = r#"{"id":"p1","title":"T","price":"1"}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let reply = app
            .send(raw(
                Method::POST,
                "/v1/products",
                &app.merchant,
                content_type,
                body,
            ))
            .await;
        reply.assert_error(415, "unsupported_media_type");
    }
    let ok = app
        .send(raw(
            Method::POST,
            "/v1/products",
            &app.merchant,
            Some("application/json; charset=utf-8"),
            body,
        ))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = TestApp::with_body_limit(1024);
    let description = "x".repeat(2048);
    let reply = app
        .json(
            Method::POST,
            "/v1/products",
            &app.merchant,
            json!({"id": "p1", "title": "T", "price": "1", "description": description}),
        )
        .await;
    reply.assert_error(413, "payload_too_large");
    let events: Vec<_> = (0..50)
        .map(|_| json!({"shopper": "s", "product": "p", "kind": "view"}))
        .collect();
    app.json(
        Method::POST,
        "/v1/events/batch",
        &app.merchant,
        json!({"events": events}),
    )
    .await
    .assert_error(413, "payload_too_large");
    // Just under the limit is fine.
    let ok = app
        .json(
            Method::POST,
            "/v1/products",
            &app.merchant,
            json!({"id": "p1", "title": "T", "price": "1", "description": "x".repeat(900)}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
}

#[tokio::test]
async fn domain_errors_keep_their_status() {
    let app = TestApp::new();
    // 422 names the field first.
    for (body, field) in [
        (json!({"id": "p1", "title": "T", "price": "ten"}), "price"),
        (json!({"id": "p1", "price": "1"}), "title"),
        (
            json!({"id": "p1", "title": "T", "price": "1", "currency": "XYZ"}),
            "currency",
        ),
        (
            json!({"id": "p1", "title": "T", "price": "1", "colour": "red"}),
            "colour",
        ),
        (json!({"id": "p1", "title": 5, "price": "1"}), "title"),
    ] {
        let message = app
            .json(Method::POST, "/v1/products", &app.merchant, body.clone())
            .await
            .assert_error(422, "invalid");
        assert!(message.contains(field), "{body}: {message}");
    }
    app.json(
        Method::POST,
        "/v1/keys",
        &app.admin,
        json!({"name": "x", "role": "root"}),
    )
    .await
    .assert_error(422, "invalid");
    let message = app
        .json(
            Method::POST,
            "/v1/keys",
            &app.admin,
            json!({"name": " ", "role": "reader"}),
        )
        .await
        .assert_error(422, "invalid");
    assert!(message.starts_with("name:"), "{message}");

    app.get("/v1/products/missing", &app.reader)
        .await
        .assert_error(404, "not_found");
    app.send(request(
        Method::DELETE,
        "/v1/keys/key_nope",
        Some(&app.admin),
        None,
    ))
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let app = TestApp::new();
    for uri in [
        "/",
        "/v1",
        "/v1/nothing",
        "/v2/products",
        "/v1/products/p1/extra",
    ] {
        app.get(uri, &app.reader)
            .await
            .assert_error(404, "not_found");
        // Unknown paths need no key: there is nothing behind them to protect.
        app.send(request(Method::GET, uri, None, None))
            .await
            .assert_error(404, "not_found");
    }
    let reply = app
        .send(request(
            Method::DELETE,
            "/v1/products",
            Some(&app.merchant),
            None,
        ))
        .await;
    reply.assert_error(405, "method_not_allowed");
    let allow = reply.headers[header::ALLOW].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    app.send(request(Method::POST, "/healthz", None, None))
        .await
        .assert_error(405, "method_not_allowed");
    // A known path with a wrong method still needs a key.
    app.send(request(Method::PUT, "/v1/events", None, None))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn health_is_public() {
    let app = TestApp::new();
    let reply = app.send(request(Method::GET, "/healthz", None, None)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ok", "database": "ok"}));
}

#[tokio::test]
async fn hostile_input_never_panics() {
    let app = TestApp::new();
    let long = "a".repeat(10_000);
    let cases = [
        (Method::GET, format!("/v1/products/{long}"), None),
        (Method::GET, "/v1/products?q=%00%01%02".to_string(), None),
        (Method::GET, format!("/v1/products?brand={long}"), None),
        (
            Method::GET,
            "/v1/products?min_price=99999999999999999999".to_string(),
            None,
        ),
        (
            Method::GET,
            "/v1/shoppers/%E2%80%AE/events".to_string(),
            None,
        ),
        (
            Method::POST,
            "/v1/products".to_string(),
            Some(json!({"id": "\u{0}", "title": "T", "price": "1"})),
        ),
        (
            Method::POST,
            "/v1/products".to_string(),
            Some(json!({"id": "big", "title": "T", "price_minor": i64::MAX})),
        ),
        (
            Method::POST,
            "/v1/products".to_string(),
            Some(json!({"id": "nested", "title": "T", "price": 1e300})),
        ),
        (
            Method::POST,
            "/v1/events".to_string(),
            Some(json!([1, 2, 3])),
        ),
        (
            Method::POST,
            "/v1/events".to_string(),
            Some(json!({"shopper": long, "product": "p", "kind": "view"})),
        ),
        (
            Method::POST,
            "/v1/events".to_string(),
            Some(json!({"shopper": "s", "product": "p", "kind": "view", "ts": "9999-99-99"})),
        ),
    ];
    for (method, uri, body) in cases {
        let reply = app
            .send(request(method.clone(), &uri, Some(&app.admin), body))
            .await;
        assert!(
            !reply.status.is_server_error(),
            "{method} {uri}: {} {}",
            reply.status,
            reply.text()
        );
        if !reply.status.is_success() {
            let code = reply.json()["error"]["code"].clone();
            assert!(code.is_string(), "{method} {uri}: {}", reply.text());
        }
    }
}
