//! `/v1/keys`: issuing, listing and revoking API keys. A secret is returned once, at creation.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_core::{ApiKey, Role};

use crate::extract::{Json, Path};
use crate::{ApiError, AppState, ErrorBody};

/// A key to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKeyRequest {
    /// A human label ("storefront", "analytics job").
    name: String,
    /// What the key may do.
    role: Role,
}

/// A freshly issued key.
#[derive(Serialize, ToSchema)]
pub(crate) struct IssuedKey {
    /// The stored record.
    key: ApiKey,
    /// The bearer token: shown this once, never retrievable again.
    #[schema(example = "vtr_…")]
    secret: String,
}

// By hand, so that a stray `{:?}` can never put a live secret in a log.
impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Every key, revoked ones included, without secrets.
#[utoipa::path(
    get,
    path = "/v1/keys",
    operation_id = "list_keys",
    tag = "keys",
    responses((status = 200, description = "All keys", body = Vec<ApiKey>))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(state.engine(|engine| engine.list_keys()).await?))
}

/// Issues a key.
#[utoipa::path(
    post,
    path = "/v1/keys",
    operation_id = "create_key",
    tag = "keys",
    request_body = NewKeyRequest,
    responses(
        (status = 201, description = "Issued; the secret is shown only now", body = IssuedKey),
        (status = 422, description = "Missing name or unknown role", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Json(request): Json<NewKeyRequest>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let issued = state
        .engine(move |engine| engine.create_key(&request.name, request.role))
        .await?;
    tracing::info!(key = %issued.key.id, role = %issued.key.role, "issued API key");
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            key: issued.key,
            secret: issued.secret,
        }),
    ))
}

/// Revokes a key; requests with it are refused from now on.
#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    operation_id = "revoke_key",
    tag = "keys",
    params(("id" = String, Path, description = "Public key id (key_…)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key", body = ErrorBody),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let revoked = id.clone();
    state.engine(move |engine| engine.revoke_key(&id)).await?;
    tracing::info!(key = %revoked, "revoked API key");
    Ok(StatusCode::NO_CONTENT)
}
