//! `/v1/trainings`: training the recommender in the background (admin): start or resume a run
//! on the store's events, watch it as server-sent events, cancel it, list the runs.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use vitrine_engine::rec::{Training, TrainingRequest, TrainingState};

use crate::extract::{Json, Path};
use crate::sse::{polled, training_turn};
use crate::{ApiError, AppState, ErrorBody};

/// How often a training's event stream looks at it.
const POLL: Duration = Duration::from_millis(250);

/// Starts training SASRec on the store's views, carts and purchases in the background, into the
/// run folder `run` under the server's runs folder; a run that was cancelled or interrupted
/// resumes after its last finished epoch. One training runs at a time. With `serve`, the
/// server recommends with the run once it is trained. Progress: `GET /v1/trainings/{run}` or
/// the event stream `GET /v1/trainings/{run}/events`.
#[utoipa::path(
    post,
    path = "/v1/trainings",
    operation_id = "start_training",
    tag = "training",
    request_body = TrainingRequest,
    responses(
        (status = 202, description = "The training, running", body = Training),
        (status = 409, description = "Another training runs, or the run folder holds a run with other settings or data", body = ErrorBody),
        (status = 422, description = "A setting is out of range, or the store has too few events", body = ErrorBody),
    )
)]
pub(crate) async fn start(
    State(state): State<AppState>,
    Json(request): Json<TrainingRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let training = state
        .engine(move |engine| engine.start_training(&request))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(training)))
}

/// Every run in the runs folder, with where it stands.
#[utoipa::path(
    get,
    path = "/v1/trainings",
    operation_id = "list_trainings",
    tag = "training",
    responses((status = 200, description = "The runs, by name", body = Vec<Training>))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<Training>>, ApiError> {
    Ok(Json(state.engine(|engine| engine.trainings()).await?))
}

/// One run: live progress while this server trains it, else what its folder holds.
#[utoipa::path(
    get,
    path = "/v1/trainings/{run}",
    operation_id = "get_training",
    tag = "training",
    params(("run" = String, Path, description = "The run's name")),
    responses(
        (status = 200, description = "The run", body = Training),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(run): Path<String>,
) -> Result<Json<Training>, ApiError> {
    Ok(Json(
        state.engine(move |engine| engine.training(&run)).await?,
    ))
}

/// Stops a running training after its current batch; its finished epochs are kept, and
/// starting the run again resumes from them.
#[utoipa::path(
    post,
    path = "/v1/trainings/{run}/cancel",
    operation_id = "cancel_training",
    tag = "training",
    params(("run" = String, Path, description = "The run's name")),
    responses(
        (status = 200, description = "The run (still `running` until the batch ends)", body = Training),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(run): Path<String>,
) -> Result<Json<Training>, ApiError> {
    Ok(Json(
        state
            .engine(move |engine| engine.cancel_training(&run))
            .await?,
    ))
}

/// The run's progress as server-sent events: `progress` (the run, as `GET` gives it) whenever
/// it changes (batches are coalesced to at most four a second), `epoch` once per finished epoch
/// (its loss and validation metrics), and `end` (the run) when it is done, failed or cancelled.
#[utoipa::path(
    get,
    path = "/v1/trainings/{run}/events",
    operation_id = "training_events",
    tag = "training",
    params(("run" = String, Path, description = "The run's name")),
    responses(
        (status = 200, description = "text/event-stream of `progress`, `epoch` and `end` events", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(run): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let first = {
        let run = run.clone();
        state.engine(move |engine| engine.training(&run)).await?
    };
    let turn = training_turn(
        &first,
        |t: &Training| &t.history,
        |t: &Training| t.updates,
        |t: &Training| t.state == TrainingState::Running,
    );
    let read = move |engine: &vitrine_engine::Engine| engine.training(&run);
    Ok(polled(state, POLL, Some(first), read, turn))
}
