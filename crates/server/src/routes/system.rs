//! Operational routes: the health check (database and language model), Prometheus metrics and
//! the OpenAPI document.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;
use vitrine_core::GeneratorHealth;

use crate::extract::Json;
use crate::{ApiError, AppState};

/// The health check's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// "ok" when everything answers, "unavailable" (with status 503) when the language model
    /// cannot serve.
    #[schema(example = "ok")]
    status: &'static str,
    /// "ok" when the database answers.
    #[schema(example = "ok")]
    database: &'static str,
    /// The language model; absent when the server runs without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    llm: Option<LlmHealth>,
}

/// Whether the language model can serve.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LlmHealth {
    /// The model id requests name.
    #[schema(example = "smollm2-135m")]
    model: String,
    /// `local` or `remote`.
    #[schema(example = "local")]
    backend: String,
    /// "ok" or "failed"; why it failed is in the server log.
    #[schema(example = "ok")]
    status: &'static str,
    /// Requests being generated (when ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<usize>,
    /// Requests waiting for a slot (when ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    queued: Option<usize>,
}

/// Whether the server, its database and its language model answer. Needs no key, for load
/// balancers and probes.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "system",
    security(()),
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The language model cannot serve (this body, with \
            `llm.status` \"failed\"), or the database does not answer (an error body)",
            body = Health),
    )
)]
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state
        .engine(|engine| engine.health())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let llm = state.generator().map(|generator| {
        let info = generator.info();
        let (status, active, queued) = match generator.health() {
            GeneratorHealth::Ok { active, queued } => ("ok", Some(active), Some(queued)),
            GeneratorHealth::Failed { reason } => {
                // The reason can name hosts and files: it is for the operator, not the caller.
                tracing::error!(model = %info.model, reason, "the language model cannot serve");
                ("failed", None, None)
            }
        };
        LlmHealth {
            model: info.model,
            backend: info.backend,
            status,
            active,
            queued,
        }
    });
    let failed = llm.as_ref().is_some_and(|l| l.status != "ok");
    let health = Health {
        status: if failed { "unavailable" } else { "ok" },
        database: "ok",
        llm,
    };
    let status = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((status, Json(health)).into_response())
}

/// Request counts and latencies, in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "system",
    responses((status = 200, description = "Prometheus text format", body = String,
        content_type = "text/plain; version=0.0.4"))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let text = state.metrics().render()?;
    Ok(([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text))
}

/// The document is the same for every router, so it is built once per process.
static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(crate::openapi);

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "system",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub(crate) async fn openapi_json() -> Json<&'static OpenApi> {
    Json(&DOCUMENT)
}
