//! Who is calling and what they may do: `authenticate` turns the bearer key into an `ApiKey` for
//! the whole protected API, and `require` gates a group of routes on a role. Both run before any
//! extractor reads the body, so an unauthenticated caller learns nothing from 400/413/415/422.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use vitrine_core::{ApiKey, Role};

use crate::{ApiError, AppState};

/// Middleware: resolves `Authorization: Bearer <key>` to a live key and stores it in the request
/// extensions, or answers 401.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let secret = bearer(request.headers())
        .ok_or(ApiError::Unauthorized(
            "send an API key as 'Authorization: Bearer <key>'",
        ))?
        .to_owned();
    let key = state
        .engine(move |engine| engine.authenticate(&secret))
        .await?
        .ok_or(ApiError::Unauthorized("unknown or revoked API key"))?;
    tracing::debug!(key = %key.id, role = %key.role, "authenticated");
    request.extensions_mut().insert(key);
    Ok(next.run(request).await)
}

/// Middleware for a route group: the authenticated key must have at least `required`'s rights.
pub(crate) async fn require(
    State(required): State<Role>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match request.extensions().get::<ApiKey>() {
        Some(key) if key.role.allows(required) => Ok(next.run(request).await),
        Some(key) => Err(ApiError::Forbidden {
            role: key.role,
            required,
        }),
        // Only reachable if `authenticate` was not layered over this route: fail closed.
        None => Err(ApiError::Unauthorized("authentication is required")),
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is exactly that.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn parses_only_bearer_tokens() {
        let cases = [
            ("Bearer vtr_abc", Some("vtr_abc")),
            ("bearer   vtr_abc ", Some("vtr_abc")),
            ("Basic dXNlcjpwYXNz", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("vtr_abc", None),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&headers), expected, "{value:?}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
