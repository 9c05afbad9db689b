//! `/v1/shoppers/{id}/recommendations`: products for a shopper from their latest behaviour.

use axum::extract::State;
use serde::Deserialize;
use vitrine_engine::rec::Recommendations;

use crate::extract::{Json, Path, Query};
use crate::{ApiError, AppState, ErrorBody};

/// How many recommendations, and whether to explain them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendParams {
    /// How many products, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    k: Option<u32>,
    /// Add to each product one sentence on why it is recommended (default false). It names
    /// only products of the shopper's history and the product's own attributes; the language
    /// model phrases it when its sentence passes the check, a template otherwise.
    explain: Option<bool>,
}

/// A shopper's recommendations: the sequence model over their latest views, carts and purchases
/// (events recorded after the model was fitted count too), purchased products left out; a
/// shopper with no known history gets the most popular products of the categories they looked
/// at lately, or overall. `strategy` says which answered.
#[utoipa::path(
    get,
    path = "/v1/shoppers/{id}/recommendations",
    operation_id = "shopper_recommendations",
    tag = "recommendations",
    params(("id" = String, Path, description = "Pseudonymous shopper id"), RecommendParams),
    responses(
        (status = 200, description = "Best first", body = Recommendations),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 404, description = "No event from this shopper was ever stored", body = ErrorBody),
        (status = 422, description = "k is outside 1 to 100", body = ErrorBody),
    )
)]
pub(crate) async fn shopper(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<RecommendParams>,
) -> Result<Json<Recommendations>, ApiError> {
    let k = p.k.unwrap_or(10) as usize;
    let explain = p.explain.unwrap_or(false);
    let recs = state
        .engine(move |engine| engine.recommend(&id, k, explain))
        .await?;
    Ok(Json(recs))
}
