//! `/v1/events` and `/v1/shoppers/{id}/events`: recording shopper behaviour and reading it back.
//! A write is answered only once the engine has committed it.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_core::{Error as CoreError, Event, EventInput, EventKind, EventQuery, Page};

use crate::extract::{Json, Path, Query};
use crate::{ApiError, AppState, ErrorBody};

/// A batch of events, stored all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventBatch {
    /// 1 to 10000 events.
    events: Vec<EventInput>,
}

/// The stored batch.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchAccepted {
    /// How many events the batch held; re-sent events count, and keep their first id.
    accepted: usize,
    /// The stored events, in request order.
    events: Vec<Event>,
}

/// Filters and paging for the event list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Only this shopper's events.
    shopper: Option<String>,
    /// Only events about this product.
    product: Option<String>,
    /// Only this kind: view, cart, purchase, impression or click.
    kind: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Rows to skip (default 0).
    offset: Option<u64>,
}

/// Filters and paging for one shopper's events.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShopperParams {
    /// Only events about this product.
    product: Option<String>,
    /// Only this kind: view, cart, purchase, impression or click.
    kind: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Rows to skip (default 0).
    offset: Option<u64>,
}

fn event_query(
    shopper: Option<String>,
    product: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
) -> Result<EventQuery, CoreError> {
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(EventQuery {
        shopper: given(shopper),
        product: given(product),
        kind: given(kind).map(|k| k.parse::<EventKind>()).transpose()?,
        limit: limit.unwrap_or(super::DEFAULT_LIMIT),
        offset: offset.unwrap_or(0),
    })
}

/// Records one event. Re-sending an identical event stores nothing and returns the first one.
#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "record_event",
    tag = "events",
    request_body = EventInput,
    responses(
        (status = 201, description = "Stored (durably) or already stored", body = Event),
        (status = 422, description = "The event breaks a rule", body = ErrorBody),
    )
)]
pub(crate) async fn record(
    State(state): State<AppState>,
    Json(input): Json<EventInput>,
) -> Result<(StatusCode, Json<Event>), ApiError> {
    let event = state
        .engine(move |engine| engine.record_event(input))
        .await?;
    Ok((StatusCode::CREATED, Json(event)))
}

/// Records a batch of events, all or none.
#[utoipa::path(
    post,
    path = "/v1/events/batch",
    operation_id = "record_events",
    tag = "events",
    request_body = EventBatch,
    responses(
        (status = 201, description = "All events stored (durably)", body = BatchAccepted),
        (status = 422, description = "An event breaks a rule; the message names events[i].field \
            and nothing was stored", body = ErrorBody),
    )
)]
pub(crate) async fn record_batch(
    State(state): State<AppState>,
    Json(batch): Json<EventBatch>,
) -> Result<(StatusCode, Json<BatchAccepted>), ApiError> {
    let events = state
        .engine(move |engine| engine.record_event_batch(batch.events))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BatchAccepted {
            accepted: events.len(),
            events,
        }),
    ))
}

/// Lists events, newest first.
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "list_events",
    tag = "events",
    params(ListParams),
    responses(
        (status = 200, description = "One page of events", body = Page<Event>),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 422, description = "A filter is out of range", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Page<Event>>, ApiError> {
    let query = event_query(p.shopper, p.product, p.kind, p.limit, p.offset)?;
    Ok(Json(
        state.engine(move |engine| engine.events(&query)).await?,
    ))
}

/// One shopper's events, newest first.
#[utoipa::path(
    get,
    path = "/v1/shoppers/{id}/events",
    operation_id = "shopper_events",
    tag = "events",
    params(("id" = String, Path, description = "Pseudonymous shopper id"), ShopperParams),
    responses(
        (status = 200, description = "One page of the shopper's events", body = Page<Event>),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 404, description = "No event from this shopper was ever stored", body = ErrorBody),
        (status = 422, description = "A filter is out of range", body = ErrorBody),
    )
)]
pub(crate) async fn shopper(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<ShopperParams>,
) -> Result<Json<Page<Event>>, ApiError> {
    let query = event_query(None, p.product, p.kind, p.limit, p.offset)?;
    let page = state
        .engine(move |engine| engine.shopper_events(&id, query))
        .await?;
    Ok(Json(page))
}
