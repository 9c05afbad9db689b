//! The server's errors: `Error` for starting and running the server, and `ApiError`, the one place
//! a failure becomes an HTTP status and the JSON body `{"error":{"code","message"}}`.

use std::any::Any;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_core::{Error as CoreError, GenerateError, Role};

/// Errors from starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The server stopped on an I/O error.
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Result with the server's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a request can fail with, each variant with its own status and code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`: a query string or path that does not parse.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `invalid_json`: a body that is not JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// 400 `invalid_request`: an OpenAI-compatible request with a bad field, or a prompt the
    /// model refuses (too long, invalid schema); the message starts with the field, as OpenAI
    /// clients expect a 400 where the rest of the API answers 422.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 `unauthorized`: no usable bearer key.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403 `forbidden`: the key's role is below the route's.
    #[error("this route needs the {required} role; the key has {role}")]
    Forbidden {
        /// The caller's role.
        role: Role,
        /// The role the route needs.
        required: Role,
    },
    /// 404 `not_found`: no such resource, or no such route.
    #[error("{0}")]
    NotFound(String),
    /// 404 `model_not_found`: the request names a model this server does not serve.
    #[error("the model '{0}' does not exist; GET /v1/models lists the one served")]
    ModelNotFound(String),
    /// 405 `method_not_allowed`: the route exists, the method does not.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 409 `conflict`: the resource already exists.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`: the body is over the configured limit.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: a JSON body without `Content-Type: application/json`.
    #[error("expected a request body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422 `invalid`: well-formed input that breaks a rule; the message starts with the field.
    #[error("{0}")]
    Invalid(String),
    /// 429 `busy`: the language model's or the image model's queue is full; `Retry-After` says
    /// when to come back.
    #[error("{message}")]
    Busy {
        /// A fair wait before retrying.
        retry_after: Duration,
        /// What the generator said.
        message: String,
    },
    /// 503 `unavailable`: a dependency (the database) is down. The detail is logged only.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 503 `unavailable`: the server runs without a language model.
    #[error(
        "no language model is configured; start the server with --model NAME|PATH or --llm-url URL"
    )]
    NoModel,
    /// 503 `unavailable`: the language model cannot serve (its worker failed, its remote server
    /// is unreachable). The detail is logged only.
    #[error("text generation is unavailable: {0}")]
    ModelUnavailable(String),
    /// 503 `unavailable`: no trained image model can serve yet; the message says what to run.
    #[error("{0}")]
    NotTrained(String),
    /// 504 `timeout`: the generation ran out of time, queue wait included.
    #[error("{0}")]
    Timeout(String),
    /// 500 `internal`: a bug or a storage failure. The detail is logged only.
    #[error("internal: {0}")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and message of an error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: bad_request, invalid_json, invalid_request, unauthorized,
    /// forbidden, not_found, model_not_found, method_not_allowed, conflict, payload_too_large,
    /// unsupported_media_type, invalid, busy, unavailable, timeout or internal.
    #[schema(example = "invalid")]
    pub code: &'static str,
    /// Human-readable explanation; for `invalid` and `invalid_request`, "field: reason".
    #[schema(example = "price: 'ten' is not a number")]
    pub message: String,
}

impl ApiError {
    /// The status and code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::ModelNotFound(_) => (StatusCode::NOT_FOUND, "model_not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Busy { .. } => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            ApiError::Unavailable(_)
            | ApiError::NoModel
            | ApiError::ModelUnavailable(_)
            | ApiError::NotTrained(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl ApiError {
    /// The body the client sees, logging what it must not see. Also sent as the last event of
    /// a stream that fails after it started.
    pub(crate) fn body(&self) -> ErrorBody {
        let (_, code) = self.status_and_code();
        // 5xx details can name files, SQL or internals: they go to the log, never to the client.
        let message = match self {
            ApiError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                "internal server error".to_string()
            }
            ApiError::Unavailable(_) => {
                tracing::error!(error = %self, "dependency unavailable");
                "the database is not answering".to_string()
            }
            ApiError::ModelUnavailable(_) => {
                tracing::error!(error = %self, "language model unavailable");
                "text generation is unavailable; the server log says why".to_string()
            }
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail { code, message },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = self.status_and_code();
        let body = axum::Json(self.body());
        match self {
            ApiError::Unauthorized(_) => {
                (status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
            }
            ApiError::Busy { retry_after, .. } => {
                // Whole seconds, rounded up: retrying early would only be refused again.
                let seconds = retry_after.as_millis().div_ceil(1000).max(1);
                (status, [(header::RETRY_AFTER, seconds.to_string())], body).into_response()
            }
            _ => (status, body).into_response(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid { .. } => ApiError::Invalid(e.to_string()),
            CoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            CoreError::Conflict(message) => ApiError::Conflict(message),
            CoreError::Storage(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<vitrine_engine::Error> for ApiError {
    fn from(e: vitrine_engine::Error) -> Self {
        match e {
            vitrine_engine::Error::Domain(d) => d.into(),
            vitrine_engine::Error::Generate(g) => g.into(),
            vitrine_engine::Error::NoModel => ApiError::NoModel,
            vitrine_engine::Error::NoImageModel(m) => ApiError::NotTrained(m),
            busy @ vitrine_engine::Error::ImagesBusy(_) => ApiError::Busy {
                retry_after: Duration::from_secs(1),
                message: busy.to_string(),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<GenerateError> for ApiError {
    fn from(e: GenerateError) -> Self {
        match e {
            GenerateError::Invalid { .. } => ApiError::InvalidRequest(e.to_string()),
            GenerateError::Busy { retry_after, .. } => ApiError::Busy {
                retry_after,
                message: e.to_string(),
            },
            GenerateError::Timeout(_) => ApiError::Timeout(e.to_string()),
            GenerateError::Unavailable(reason) => ApiError::ModelUnavailable(reason),
            GenerateError::Backend(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("engine task failed: {e}"))
    }
}

/// The answer for a path no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("no route for this path".into())
}

/// The answer for a known path called with a method it does not have.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Turns a caught panic into the usual 500, logging what the panic said.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into());
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_become_generic_500s() {
        use http_body_util::BodyExt;

        let response = panic_response(Box::new("secret detail"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "internal", "message": "internal server error"}})
        );
    }

    #[test]
    fn domain_errors_map_to_their_status() {
        let cases = [
            (CoreError::invalid("price", "is negative"), 422),
            (
                CoreError::NotFound {
                    kind: "product",
                    id: "p".into(),
                },
                404,
            ),
            (CoreError::Conflict("exists".into()), 409),
            (CoreError::Storage("disk on fire".into()), 500),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(e).status_and_code().0.as_u16(), status);
        }
        let open = vitrine_engine::Error::Format("nope".into());
        assert_eq!(ApiError::from(open).status_and_code().1, "internal");
    }

    #[test]
    fn generation_errors_map_to_their_status() {
        let cases = [
            (GenerateError::invalid("prompt", "too long"), 400),
            (
                GenerateError::Busy {
                    queued: 3,
                    retry_after: Duration::from_millis(1500),
                },
                429,
            ),
            (GenerateError::Timeout(Duration::from_secs(1)), 504),
            (GenerateError::Unavailable("worker died".into()), 503),
            (GenerateError::Backend("decode failed".into()), 500),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(e).status_and_code().0.as_u16(), status);
        }
    }

    #[test]
    fn busy_answers_carry_retry_after_rounded_up() {
        let busy = ApiError::from(GenerateError::Busy {
            queued: 3,
            retry_after: Duration::from_millis(1500),
        });
        let response = busy.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
