//! Operational routes: the health check, Prometheus metrics and the OpenAPI document.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use crate::extract::Json;
use crate::{ApiError, AppState, ErrorBody};

/// The health check's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always "ok" when the server answers 200.
    #[schema(example = "ok")]
    status: &'static str,
    /// "ok" when the database answers.
    #[schema(example = "ok")]
    database: &'static str,
}

/// Whether the server and its database answer. Needs no key, for load balancers and probes.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "system",
    security(()),
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    )
)]
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .engine(|engine| engine.health())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(Health {
        status: "ok",
        database: "ok",
    }))
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
