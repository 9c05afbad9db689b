//! Prometheus metrics: a request counter and a latency histogram per method, route template and
//! status, and the language model's generated tokens and time to first token, kept in a
//! registry of their own so that many routers can live in one process.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::{ApiError, AppState};

const LABELS: [&str; 3] = ["method", "route", "status"];

/// The route label of requests no route matched: the raw path would let any client mint new
/// time series.
const UNMATCHED: &str = "unmatched";

/// One router's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    generated_tokens: IntCounter,
    first_token: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new("vitrine_http_requests_total", "HTTP requests answered."),
            &LABELS,
        )
        .expect("the request counter's name and labels are valid");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "vitrine_http_request_duration_seconds",
                "Time to answer an HTTP request, in seconds.",
            ),
            &LABELS,
        )
        .expect("the latency histogram's name and labels are valid");
        let generated_tokens = IntCounter::new(
            "vitrine_llm_generated_tokens_total",
            "Tokens the language model generated for API requests.",
        )
        .expect("the token counter's name is valid");
        let first_token = Histogram::with_opts(
            HistogramOpts::new(
                "vitrine_llm_time_to_first_token_seconds",
                "Time from admitting a generation to its first text, queue wait included, in seconds.",
            )
            .buckets(vec![
                0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
        )
        .expect("the first-token histogram's name and buckets are valid");
        let registry = Registry::new();
        registry
            .register(Box::new(requests.clone()))
            .expect("a fresh registry has no request counter yet");
        registry
            .register(Box::new(duration.clone()))
            .expect("a fresh registry has no latency histogram yet");
        registry
            .register(Box::new(generated_tokens.clone()))
            .expect("a fresh registry has no token counter yet");
        registry
            .register(Box::new(first_token.clone()))
            .expect("a fresh registry has no first-token histogram yet");
        Self {
            registry,
            requests,
            duration,
            generated_tokens,
            first_token,
        }
    }

    /// Counts tokens a generation produced.
    pub(crate) fn generated(&self, tokens: u32) {
        self.generated_tokens.inc_by(u64::from(tokens));
    }

    /// Records how long a generation took to produce its first text.
    pub(crate) fn first_token(&self, elapsed: Duration) {
        self.first_token.observe(elapsed.as_secs_f64());
    }

    fn observe(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let labels = [method_label(method), route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Everything in the registry, in the Prometheus text format.
    pub(crate) fn render(&self) -> Result<String, ApiError> {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))
    }
}

/// Known methods by name, anything else lumped together, for the same cardinality reason as
/// [`UNMATCHED`].
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware counting and timing every request, labelled with the matched route template.
pub(crate) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    state
        .metrics()
        .observe(&method, &route, response.status(), start.elapsed());
    response
}
