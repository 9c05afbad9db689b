//! Shared fixture: an engine over a fresh SQLite file, one key per role, and helpers that send a
//! request through the router in memory.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vitrine_core::Role;
use vitrine_engine::{Engine, EngineConfig};
use vitrine_server::{AppState, DEFAULT_BODY_LIMIT, router};

/// A well-formed key that was never issued.
pub const UNKNOWN_KEY: &str =
    "vtr_0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug)]
pub struct TestApp {
    pub engine: Engine,
    pub router: Router,
    pub reader: String,
    pub merchant: String,
    pub admin: String,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_body_limit(DEFAULT_BODY_LIMIT)
    }

    pub fn with_body_limit(body_limit: usize) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(&EngineConfig {
            db_path: dir.path().join("vitrine.db"),
            default_currency: "USD".into(),
        })
        .expect("engine opens");
        let key = |role: Role| {
            engine
                .create_key(&format!("test {role}"), role)
                .expect("key issued")
                .secret
        };
        let (reader, merchant, admin) = (key(Role::Reader), key(Role::Merchant), key(Role::Admin));
        let router = router(AppState::new(engine.clone(), body_limit));
        Self {
            engine,
            router,
            reader,
            merchant,
            admin,
            _dir: dir,
        }
    }

    /// Sends `request` through the router, in memory.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, key: &str) -> Reply {
        self.send(request(Method::GET, uri, Some(key), None)).await
    }

    pub async fn json(&self, method: Method, uri: &str, key: &str, body: Value) -> Reply {
        self.send(request(method, uri, Some(key), Some(body))).await
    }

    /// Creates a product as the merchant, asserting it worked.
    pub async fn product(&self, body: Value) -> Value {
        let reply = self
            .json(Method::POST, "/v1/products", &self.merchant, body)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()
    }
}

/// A request with an optional bearer key and an optional JSON body.
pub fn request(method: Method, uri: &str, key: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let body = match body {
        Some(json) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    builder.body(body).expect("valid request")
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts this is an error reply with `status` and `code`, and returns its message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "error replies are JSON"
        );
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        body["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("message is a string: {body}"))
            .to_string()
    }
}
