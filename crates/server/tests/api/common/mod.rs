//! Shared fixture: an engine over a fresh SQLite file, one key per role, and helpers that send a
//! request through the router in memory or serve it on a real socket; a fake text generator and
//! the suite every text generator must pass.

// Not every helper is used by every build of the tests.
#![allow(dead_code)]

pub mod fake;
pub mod suite;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vitrine_core::{Role, TextGenerator};
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
        Self::build(body_limit, None)
    }

    /// An app whose engine generates text with `generator`.
    pub fn with_generator(generator: Arc<dyn TextGenerator>) -> Self {
        Self::build(DEFAULT_BODY_LIMIT, Some(generator))
    }

    fn build(body_limit: usize, generator: Option<Arc<dyn TextGenerator>>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut engine = Engine::open(&EngineConfig {
            db_path: dir.path().join("vitrine.db"),
            default_currency: "USD".into(),
        })
        .expect("engine opens");
        if let Some(generator) = generator {
            engine = engine.with_generator(generator);
        }
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

    /// The engine's runs folder.
    pub fn runs_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("runs")
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

    /// Records `(shopper, product, kind)` events as the merchant, one second apart in list
    /// order, asserting it worked.
    pub async fn events(&self, list: &[(&str, &str, &str)]) {
        let events: Vec<Value> = list
            .iter()
            .enumerate()
            .map(|(n, (shopper, product, kind))| {
                serde_json::json!({"shopper": shopper, "product": product, "kind": kind,
                    "ts": format!("2026-10-01T12:{:02}:{:02}Z", n / 60, n % 60)})
            })
            .collect();
        let reply = self
            .json(
                Method::POST,
                "/v1/events/batch",
                &self.merchant,
                serde_json::json!({"events": events}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
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

/// The router served over TCP on its own runtime, until dropped.
pub struct Served {
    pub addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    /// Serves `router` on an ephemeral port of 127.0.0.1.
    pub fn new(router: Router) -> Self {
        Self::at(router, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves `router` on `addr`.
    pub fn at(router: Router, addr: SocketAddr) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        runtime.spawn(axum::serve(listener, router).into_future());
        Self { addr, runtime }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").field("addr", &self.addr).finish()
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

/// How long an event stream may stay quiet before a test gives up on it.
pub const EVENT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// A server-sent event stream read frame by frame from the in-memory router.
pub struct Events {
    body: Body,
    buffer: String,
}

impl Events {
    pub async fn open(app: &TestApp, uri: &str, key: &str) -> (StatusCode, Option<String>, Events) {
        let response = app
            .router
            .clone()
            .oneshot(request(Method::GET, uri, Some(key), None))
            .await
            .expect("the router is infallible");
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (
            response.status(),
            content_type,
            Events {
                body: response.into_body(),
                buffer: String::new(),
            },
        )
    }

    /// The next event's name and data; `None` once the stream ends.
    pub async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event:") {
                        name = Some(n.trim().to_owned());
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                // Keep-alive comments carry neither.
                if let Some(name) = name {
                    let data = serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}"));
                    return Some((name, data));
                }
                continue;
            }
            let frame = tokio::time::timeout(EVENT_PATIENCE, self.body.frame())
                .await
                .expect("the event stream went quiet for the whole of the test's patience")?
                .expect("the event stream fails no frame");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }
}
