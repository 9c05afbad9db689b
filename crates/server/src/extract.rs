//! Extractors that replace axum's `Json`, `Query` and `Path` so that every rejection answers with
//! the API's JSON error shape instead of axum's plain text, and `OpenAiJson`, whose ill-typed
//! bodies are 400s as OpenAI clients expect.

use std::error::Error as _;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A JSON request body or response.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A deserialized query string.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub T);

/// Deserialized path parameters.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub T);

/// A JSON request body of the OpenAI-compatible API: like [`Json`], except that a well-formed
/// body of the wrong shape is a 400 `invalid_request` (OpenAI's status) rather than a 422.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpenAiJson<T>(pub T);

impl<T, S> FromRequest<S> for OpenAiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match ApiError::from(rejection) {
                ApiError::Invalid(message) => ApiError::InvalidRequest(message),
                other => other,
            }),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // axum's text wraps serde's "events[1].kind: invalid type…"; keep only that part.
            JsonRejection::JsonDataError(e) => ApiError::Invalid(
                e.source()
                    .map_or_else(|| e.body_text(), |inner| inner.to_string()),
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::InvalidJson(
                e.source()
                    .map_or_else(|| e.body_text(), |inner| inner.to_string()),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        if rejection.status().is_server_error() {
            // A route template and its handler disagree: our bug, not the caller's.
            ApiError::Internal(rejection.body_text())
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    }
}
