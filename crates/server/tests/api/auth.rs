//! Authentication and role gating: the full route × credential matrix, revoked and malformed
//! keys, and auth running before any body parsing.

use crate::common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::fake::{FAKE_MODEL, FakeGenerator};
use common::{TestApp, UNKNOWN_KEY, request};
use serde_json::{Value, json};
use vitrine_core::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    BadKey,
    Key(Role),
}

const CALLERS: [(&str, Caller); 5] = [
    ("anonymous", Caller::Anonymous),
    ("badkey", Caller::BadKey),
    ("reader", Caller::Key(Role::Reader)),
    ("merchant", Caller::Key(Role::Merchant)),
    ("admin", Caller::Key(Role::Admin)),
];

/// One route: `{who}` in the path or body is replaced by the caller's name so that each caller
/// works on its own resource, and `{victim}` by a key id made for that caller to revoke.
struct Route {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    /// `None`: public.
    role: Option<Role>,
    success: StatusCode,
}

fn route(method: Method, path: &'static str, role: Option<Role>, success: u16) -> Route {
    Route {
        method,
        path,
        body: None,
        role,
        success: StatusCode::from_u16(success).unwrap(),
    }
}

fn with_body(mut r: Route, body: Value) -> Route {
    r.body = Some(body);
    r
}

fn routes() -> Vec<Route> {
    use Method as M;
    let (reader, merchant, admin) = (Some(Role::Reader), Some(Role::Merchant), Some(Role::Admin));
    let event = json!({"shopper": "s-{who}", "product": "p1", "kind": "view",
        "ts": "2026-10-01T00:00:00Z"});
    vec![
        route(M::GET, "/healthz", None, 200),
        route(M::GET, "/metrics", reader, 200),
        route(M::GET, "/openapi.json", reader, 200),
        route(M::GET, "/v1/products", reader, 200),
        with_body(
            route(M::POST, "/v1/products", merchant, 201),
            json!({"id": "new-{who}", "title": "New", "price": "1.00"}),
        ),
        route(M::GET, "/v1/products/p1", reader, 200),
        with_body(
            route(M::PUT, "/v1/products/p1", merchant, 200),
            json!({"title": "Replaced by {who}", "price": "2.00"}),
        ),
        with_body(
            route(M::PATCH, "/v1/products/p1", merchant, 200),
            json!({"brand": "{who}"}),
        ),
        route(M::DELETE, "/v1/products/doomed-{who}", merchant, 204),
        with_body(route(M::POST, "/v1/events", merchant, 201), event.clone()),
        with_body(
            route(M::POST, "/v1/events/batch", merchant, 201),
            json!({"events": [event]}),
        ),
        route(M::GET, "/v1/events", reader, 200),
        route(M::GET, "/v1/shoppers/s1/events", reader, 200),
        route(M::GET, "/v1/shoppers/s1/recommendations", reader, 200),
        route(M::GET, "/v1/keys", admin, 200),
        with_body(
            route(M::POST, "/v1/keys", admin, 201),
            json!({"name": "made by {who}", "role": "reader"}),
        ),
        route(M::DELETE, "/v1/keys/{victim}", admin, 204),
        with_body(
            route(M::POST, "/v1/chat/completions", reader, 200),
            json!({"model": FAKE_MODEL, "messages": [{"role": "user", "content": "hi {who}"}]}),
        ),
        with_body(
            route(M::POST, "/v1/completions", reader, 200),
            json!({"model": FAKE_MODEL, "prompt": "hi {who}"}),
        ),
        route(M::GET, "/v1/models", reader, 200),
        route(M::GET, "/v1/products/p2?content=published", reader, 200),
        with_body(
            route(M::POST, "/v1/products/p2/descriptions", merchant, 201),
            json!({"variants": 1, "audience": "{who}s"}),
        ),
        with_body(
            route(M::POST, "/v1/products/p2/ads", merchant, 201),
            json!({"channel": "email"}),
        ),
        with_body(
            route(M::POST, "/v1/products/p2/seo", merchant, 201),
            json!({}),
        ),
        route(M::GET, "/v1/drafts", merchant, 200),
        route(M::GET, "/v1/drafts/{draft}", merchant, 200),
        with_body(
            route(M::POST, "/v1/drafts/{draft}/review", merchant, 200),
            json!({"decision": "approve", "note": "fine by {who}"}),
        ),
        with_body(
            route(M::POST, "/v1/drafts/{draft}/edits", merchant, 201),
            json!({"content": {"subject": "Northfold Tee for {who}"}}),
        ),
        with_body(
            route(M::POST, "/v1/jobs", merchant, 202),
            json!({"kind": "descriptions", "category": "none-{who}"}),
        ),
        route(M::GET, "/v1/jobs", merchant, 200),
        route(M::GET, "/v1/jobs/{job}", merchant, 200),
        route(M::GET, "/v1/jobs/{job}/items", merchant, 200),
        route(M::GET, "/v1/jobs/{job}/events", merchant, 200),
        route(M::POST, "/v1/jobs/{job}/cancel", merchant, 200),
        // The store holds too little to train on (422), and no run exists (404): past the gate.
        with_body(
            route(M::POST, "/v1/trainings", admin, 422),
            json!({"run": "run-{who}"}),
        ),
        route(M::GET, "/v1/trainings", admin, 200),
        route(M::GET, "/v1/trainings/none", admin, 404),
        route(M::POST, "/v1/trainings/none/cancel", admin, 404),
        route(M::GET, "/v1/trainings/none/events", admin, 404),
        // No image model is trained (503), and the data folder does not exist (422).
        with_body(
            route(M::POST, "/v1/images", merchant, 503),
            json!({"category": "Sneaker"}),
        ),
        with_body(
            route(M::POST, "/v1/banners", merchant, 503),
            json!({"category": "Sneaker", "headline": "New in", "cta": "Shop"}),
        ),
        with_body(
            route(M::POST, "/v1/image-trainings", admin, 422),
            json!({"run": "img-{who}", "model": "gan", "data": "/no/such/folder"}),
        ),
        route(M::GET, "/v1/image-trainings", admin, 200),
        route(M::GET, "/v1/image-trainings/none", admin, 404),
        route(M::POST, "/v1/image-trainings/none/cancel", admin, 404),
        route(M::GET, "/v1/image-trainings/none/events", admin, 404),
    ]
}

/// Whether a concrete matrix path fits an OpenAPI path template.
fn matches_template(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

#[tokio::test]
async fn role_matrix() {
    let app = TestApp::with_generator(Arc::new(FakeGenerator::with_context(100_000)));
    app.product(json!({"id": "p1", "title": "Tee", "price": "9.99"}))
        .await;
    app.product(
        json!({"id": "p2", "title": "Northfold Tee", "brand": "Northfold",
        "price": "9.99", "attributes": {"color": "black"}}),
    )
    .await;
    let seeded = app
        .json(
            Method::POST,
            "/v1/events",
            &app.merchant,
            json!({"shopper": "s1", "product": "p1", "kind": "view"}),
        )
        .await;
    assert_eq!(seeded.status, StatusCode::CREATED);

    let all_routes = routes();
    // Every /v1 route the document lists is in the matrix, so a new route cannot skip it.
    let openapi: Value = serde_json::to_value(vitrine_server::openapi()).unwrap();
    let documented = openapi["paths"].as_object().unwrap();
    for (template, item) in documented {
        for method in item.as_object().unwrap().keys() {
            assert!(
                all_routes
                    .iter()
                    .any(|r| r.method.as_str().eq_ignore_ascii_case(method)
                        && matches_template(template, r.path)),
                "{method} {template} is missing from the matrix"
            );
        }
    }

    for (who, caller) in CALLERS {
        app.product(json!({"id": format!("doomed-{who}"), "title": "Doomed", "price": "1"}))
            .await;
        let victim = app
            .engine
            .create_key(&format!("victim of {who}"), Role::Reader)
            .unwrap()
            .key
            .id;
        let draft = app
            .engine
            .generate_ads(
                "p2",
                &vitrine_engine::options::AdOptions::new(vitrine_engine::options::Channel::Email),
                "test",
            )
            .unwrap()
            .drafts[0]
            .id
            .clone();
        let (job, _) = app
            .engine
            .start_description_job(
                &vitrine_engine::DescriptionJob {
                    category: Some(format!("empty-{who}")),
                    missing_only: false,
                    options: Default::default(),
                },
                "test",
            )
            .unwrap();
        let secret = match caller {
            Caller::Anonymous => None,
            Caller::BadKey => Some(UNKNOWN_KEY),
            Caller::Key(Role::Reader) => Some(app.reader.as_str()),
            Caller::Key(Role::Merchant) => Some(app.merchant.as_str()),
            Caller::Key(Role::Admin) => Some(app.admin.as_str()),
        };
        for r in &all_routes {
            let fill = |s: &str| {
                s.replace("{who}", who)
                    .replace("{victim}", &victim)
                    .replace("{draft}", &draft)
                    .replace("{job}", &job.id)
            };
            let path = fill(r.path);
            let body = r
                .body
                .as_ref()
                .map(|b| serde_json::from_str(&fill(&b.to_string())).unwrap());
            let reply = app
                .send(request(r.method.clone(), &path, secret, body))
                .await;
            let context = format!("{} {path} as {who}: {}", r.method, reply.text());
            match (r.role, caller) {
                (None, _) => assert_eq!(reply.status, r.success, "{context}"),
                (Some(_), Caller::Anonymous | Caller::BadKey) => {
                    reply.assert_error(401, "unauthorized");
                    assert_eq!(
                        reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
                        "Bearer",
                        "{context}"
                    );
                }
                (Some(required), Caller::Key(role)) if role.allows(required) => {
                    assert_eq!(reply.status, r.success, "{context}");
                }
                (Some(_), Caller::Key(_)) => {
                    let message = reply.assert_error(403, "forbidden");
                    assert!(message.contains("role"), "{context}");
                }
            }
        }
    }
}

#[tokio::test]
async fn revoked_keys_are_refused() {
    let app = TestApp::new();
    let issued = app
        .json(
            Method::POST,
            "/v1/keys",
            &app.admin,
            json!({"name": "temp", "role": "merchant"}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    let issued = issued.json();
    let secret = issued["secret"].as_str().unwrap();
    assert!(secret.starts_with("vtr_"));
    assert_eq!(app.get("/v1/products", secret).await.status, StatusCode::OK);

    let id = issued["key"]["id"].as_str().unwrap();
    let revoked = app
        .send(request(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(&app.admin),
            None,
        ))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    app.get("/v1/products", secret)
        .await
        .assert_error(401, "unauthorized");

    // The list shows the key as revoked, and never a secret.
    let keys = app.get("/v1/keys", &app.admin).await;
    assert_eq!(keys.status, StatusCode::OK);
    assert!(!keys.text().contains("vtr_"), "{}", keys.text());
    let listed = keys.json();
    let listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert_eq!(listed["revoked"], true);
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let app = TestApp::new();
    for value in [
        "Basic dXNlcjpwYXNz".to_string(),
        "Bearer".to_string(),
        format!("Token {}", app.admin),
        app.admin.clone(),
        "Bearer not-a-vitrine-key".to_string(),
    ] {
        let reply = app
            .send(
                Request::get("/v1/products")
                    .header(header::AUTHORIZATION, &value)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        reply.assert_error(401, "unauthorized");
    }
    let bytes = Request::get("/v1/products")
        .header(
            header::AUTHORIZATION,
            axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    app.send(bytes).await.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn auth_runs_before_the_body_is_read() {
    let app = TestApp::with_body_limit(64);
    let big = "x".repeat(1024);
    let cases: [(Option<&str>, &str, String); 3] = [
        (Some("application/json"), "malformed", "{not json".into()),
        (Some("text/plain"), "wrong type", "{}".into()),
        (Some("application/json"), "too large", format!("\"{big}\"")),
    ];
    for (content_type, what, body) in cases {
        let build = |key: Option<&str>| {
            let mut b = Request::post("/v1/products");
            if let Some(ct) = content_type {
                b = b.header(header::CONTENT_TYPE, ct);
            }
            if let Some(k) = key {
                b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
            }
            b.body(Body::from(body.clone())).unwrap()
        };
        let anonymous = app.send(build(None)).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{what}");
        // A reader is known but may not write: 403, still before the body.
        let reader = app.send(build(Some(&app.reader))).await;
        assert_eq!(reader.status, StatusCode::FORBIDDEN, "{what}");
        let merchant = app.send(build(Some(&app.merchant))).await;
        assert!(merchant.status.is_client_error(), "{what}");
        assert!(
            ![401, 403].contains(&merchant.status.as_u16()),
            "{what}: {}",
            merchant.text()
        );
    }
}
